using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using OrleansStream.Records;

namespace OrleansStream.EndToEnd.Tests;

/// <summary>Drives the built <c>orleansstream</c> CLI against a real silo process.</summary>
[Trait("Category", "Slow")]
public class CliEndToEndTests(SiloFixture silo) : IClassFixture<SiloFixture>
{
    [Fact]
    public async Task Topics_create_list_describe_delete()
    {
        var create = await silo.RunCliAsync("topics", "create", "--topic", "e2e-topics", "--partitions", "3", "--config", "retention.ms=3600000");
        Assert.True(create.ExitCode == 0, create.ToString());
        Assert.Equal("Created topic e2e-topics.", create.Stdout.Trim());

        var list = await silo.RunCliAsync("topics", "list");
        Assert.True(list.ExitCode == 0, list.ToString());
        Assert.Contains("e2e-topics", list.StdoutLines);

        var describe = await silo.RunCliAsync("topics", "describe", "--topic", "e2e-topics");
        Assert.True(describe.ExitCode == 0, describe.ToString());
        var lines = describe.StdoutLines;
        Assert.StartsWith("Topic: e2e-topics\t", lines[0]);
        Assert.Contains("PartitionCount: 3", lines[0]);
        Assert.Contains("retention.ms=3600000", lines[0]);
        Assert.Equal(4, lines.Length);
        for (int p = 0; p < 3; p++)
        {
            Assert.Contains($"\tPartition: {p}\t", lines[p + 1]);
            Assert.Contains("Leader: 0@e2e-broker", lines[p + 1]);
            Assert.Contains("LogStartOffset: 0\tLogEndOffset: 0", lines[p + 1]);
        }

        var delete = await silo.RunCliAsync("topics", "delete", "--topic", "e2e-topics");
        Assert.True(delete.ExitCode == 0, delete.ToString());
        var after = await silo.RunCliAsync("topics", "list");
        Assert.DoesNotContain("e2e-topics", after.StdoutLines);
    }

    [Fact]
    public async Task Produce_with_keys_then_consume_from_beginning_as_json()
    {
        const string topic = "e2e-keyed";
        const int partitions = 3;
        Assert.Equal(0, (await silo.RunCliAsync("topics", "create", "--topic", topic, "--partitions", $"{partitions}")).ExitCode);
        var input = new StringBuilder();
        var expected = new Dictionary<string, string>();
        for (int i = 0; i < 30; i++)
        {
            expected[$"key-{i}"] = $"value {i} ✓";
            input.Append($"key-{i}:value {i} ✓\n");
        }

        var produce = await silo.RunCliWithInputAsync(input.ToString(), "produce", "--topic", topic, "--key-separator", ":", "--acks", "1",
            "--compression", "zstd");
        Assert.True(produce.ExitCode == 0, produce.ToString());

        var consume = await silo.RunCliAsync("consume", "--topic", topic, "--from-beginning", "--format", "json",
            "--max-messages", "30", "--timeout-ms", "20000");
        Assert.True(consume.ExitCode == 0, consume.ToString());
        var lines = consume.StdoutLines;
        Assert.Equal(30, lines.Length);
        var nextOffset = new long[partitions];
        var seen = new HashSet<string>();
        foreach (var line in lines)
        {
            using var json = JsonDocument.Parse(line);
            var root = json.RootElement;
            Assert.Equal(topic, root.GetProperty("topic").GetString());
            string key = root.GetProperty("key").GetString()!;
            int partition = root.GetProperty("partition").GetInt32();
            long offset = root.GetProperty("offset").GetInt64();
            Assert.Equal(expected[key], root.GetProperty("value").GetString());
            Assert.Equal(Murmur2.Partition(Encoding.UTF8.GetBytes(key), partitions), partition);
            Assert.Equal(nextOffset[partition]++, offset);
            Assert.True(root.GetProperty("timestamp").GetInt64() > 1_700_000_000_000);
            Assert.Equal(JsonValueKind.Array, root.GetProperty("headers").ValueKind);
            Assert.True(seen.Add(key), $"{key} consumed twice");
        }
        Assert.Equal("Processed a total of 30 messages", consume.Stderr.Trim());

        var describe = await silo.RunCliAsync("topics", "describe", "--topic", topic);
        Assert.True(describe.ExitCode == 0, describe.ToString());
        for (int p = 0; p < partitions; p++)
            Assert.Contains($"LogEndOffset: {nextOffset[p]}", describe.StdoutLines[p + 1]);
    }

    [Fact]
    public async Task Consume_text_of_one_partition_from_an_offset()
    {
        const string topic = "e2e-text";
        Assert.Equal(0, (await silo.RunCliAsync("topics", "create", "--topic", topic, "--partitions", "1")).ExitCode);
        var produce = await silo.RunCliWithInputAsync("a\nb\nc\nd\n", "produce", "--topic", topic, "--partition", "0");
        Assert.True(produce.ExitCode == 0, produce.ToString());

        // --timeout-ms also bounds the wait for the first record (the first fetch, still JIT-compiling on a busy machine),
        // so it is not a few seconds: the run ends 10 s after "d".
        var consume = await silo.RunCliAsync("consume", "--topic", topic, "--partition", "0", "--offset", "2", "--timeout-ms", "10000",
            "--isolation-level", "read_uncommitted");

        Assert.True(consume.ExitCode == 0, consume.ToString());
        Assert.Equal(["c", "d"], consume.StdoutLines);
    }

    [Fact]
    public async Task Topic_offsets_for_a_time_and_delete_records_below_an_offset()
    {
        const string topic = "e2e-offsets";
        Assert.Equal(0, (await silo.RunCliAsync("topics", "create", "--topic", topic, "--partitions", "2")).ExitCode);
        var produce = await silo.RunCliWithInputAsync("a\nb\nc\nd\ne\n", "produce", "--topic", topic, "--partition", "0");
        Assert.True(produce.ExitCode == 0, produce.ToString());

        var latest = await silo.RunCliAsync("topics", "offsets", "--topic", topic);
        Assert.True(latest.ExitCode == 0, latest.ToString());
        Assert.Equal([$"{topic}:0:5", $"{topic}:1:0"], latest.StdoutLines);

        var deleted = await silo.RunCliAsync("topics", "delete-records", "--topic", topic, "--partition", "0", "--offset", "3");
        Assert.True(deleted.ExitCode == 0, deleted.ToString());
        Assert.Equal($"Partition: {topic}-0\tlow_watermark: 3", deleted.Stdout.Trim());

        var earliest = await silo.RunCliAsync("topics", "offsets", "--topic", topic, "--partition", "0", "--time", "earliest");
        Assert.True(earliest.ExitCode == 0, earliest.ToString());
        Assert.Equal([$"{topic}:0:3"], earliest.StdoutLines);

        var beyond = await silo.RunCliAsync("topics", "delete-records", "--topic", topic, "--partition", "0", "--offset", "9");
        Assert.True(beyond.ExitCode != 0 && beyond.StderrLines.Length == 1, beyond.ToString());
        Assert.Contains("OffsetOutOfRange", beyond.Stderr);

        var badTime = await silo.RunCliRawAsync(null, ["topics", "offsets", "--topic", topic, "--time", "soon"]);
        Assert.Equal(2, badTime.ExitCode);
        Assert.Contains("max-timestamp", badTime.Stderr);
    }

    [Theory]
    [InlineData("consume", "--topic", "e2e-no-such-topic", "--timeout-ms", "1000")]
    [InlineData("topics", "describe", "--topic", "e2e-no-such-topic")]
    [InlineData("topics", "delete", "--topic", "e2e-no-such-topic")]
    public async Task Unknown_topic_is_one_stderr_line_and_a_non_zero_exit(params string[] args)
    {
        var result = await silo.RunCliAsync(args);

        Assert.True(result.ExitCode != 0 && result.StderrLines.Length == 1 && result.Stdout.Length == 0, result.ToString());
        Assert.Contains("UnknownTopicOrPartition", result.Stderr);
    }

    [Fact]
    public async Task Bad_arguments_and_an_unreachable_gateway_are_one_line_each()
    {
        var missing = await silo.RunCliRawAsync(null, ["topics", "create"]);
        Assert.Equal(2, missing.ExitCode);
        Assert.Single(missing.StderrLines);
        Assert.Contains("--topic", missing.Stderr);

        var badAcks = await silo.RunCliRawAsync(null, ["produce", "--topic", "t", "--acks", "2"]);
        Assert.Equal(2, badAcks.ExitCode);
        Assert.Single(badAcks.StderrLines);

        var badCodec = await silo.RunCliRawAsync(null, ["perf", "produce", "--topic", "t", "--num-records", "1", "--record-size", "1", "--compression", "brotli"]);
        Assert.Equal(2, badCodec.ExitCode);
        Assert.Single(badCodec.StderrLines);
        Assert.Contains("'brotli' not recognized", badCodec.Stderr);

        var badIsolation = await silo.RunCliRawAsync(null, ["consume", "--topic", "t", "--isolation-level", "dirty"]);
        Assert.Equal(2, badIsolation.ExitCode);
        Assert.Contains("read_committed", badIsolation.Stderr);

        int closed = ExternalProcess.FreeTcpPort();
        var unreachable = await silo.RunCliRawAsync(null, ["topics", "list"],
            new Dictionary<string, string> { ["ORLEANSSTREAM_GATEWAY"] = $"127.0.0.1:{closed}" });
        Assert.Equal(3, unreachable.ExitCode);
        Assert.Single(unreachable.StderrLines);
        Assert.Contains($"127.0.0.1:{closed}", unreachable.Stderr);
    }

    [Fact]
    public async Task Gateway_comes_from_the_environment_when_not_given()
    {
        var list = await silo.RunCliRawAsync(null, ["topics", "list"],
            new Dictionary<string, string> { ["ORLEANSSTREAM_GATEWAY"] = silo.Gateway });
        Assert.True(list.ExitCode == 0, list.ToString());
    }

    [Fact]
    public async Task Perf_produce_and_consume_print_Kafka_style_summaries()
    {
        const string topic = "e2e-perf";
        Assert.Equal(0, (await silo.RunCliAsync("topics", "create", "--topic", topic, "--partitions", "2")).ExitCode);

        var produce = await silo.RunCliAsync("perf", "produce", "--topic", topic, "--num-records", "5000", "--record-size", "100", "--acks", "1",
            "--compression", "lz4");
        Assert.True(produce.ExitCode == 0, produce.ToString());
        Assert.Matches(new Regex(@"^5000 records sent, [\d.]+ records/sec \([\d.]+ MB/sec\), [\d.]+ ms avg latency, [\d.]+ ms max latency, [\d.]+ ms 50th, [\d.]+ ms 95th, [\d.]+ ms 99th, [\d.]+ ms 99\.9th\.$"),
            produce.StdoutLines[^1]);

        // Kafka's flags: several props after one --producer-props, and a warm-up left out of a second, steady-state line.
        var warmed = await silo.RunCliAsync("perf", "produce", "--topic", topic, "--num-records", "3000", "--record-size", "100",
            "--producer-props", "linger.ms=0", "batch.size=4096", "--warmup-records", "1000");
        Assert.True(warmed.ExitCode == 0, warmed.ToString());
        Assert.StartsWith("3000 records sent, ", warmed.StdoutLines[^2]);
        Assert.Matches(new Regex(@"^2000 steady state records sent, [\d.]+ records/sec \([\d.]+ MB/sec\), [\d.]+ ms avg latency, [\d.]+ ms max latency, [\d.]+ ms 50th, [\d.]+ ms 95th, [\d.]+ ms 99th, [\d.]+ ms 99\.9th\.$"),
            warmed.StdoutLines[^1]);
        var tooMuchWarmup = await silo.RunCliAsync("perf", "produce", "--topic", topic, "--num-records", "10", "--record-size", "1", "--warmup-records", "10");
        Assert.NotEqual(0, tooMuchWarmup.ExitCode);
        Assert.Contains("--warmup-records", tooMuchWarmup.Stderr);
        var badProp = await silo.RunCliAsync("perf", "produce", "--topic", topic, "--num-records", "10", "--record-size", "1", "--producer-props", "linger.ms=0", "batch.size");
        Assert.NotEqual(0, badProp.ExitCode);

        var consume = await silo.RunCliAsync("perf", "consume", "--topic", topic, "--messages", "8000");
        Assert.True(consume.ExitCode == 0, consume.ToString());
        Assert.Matches(new Regex(@"^8000 records consumed, [\d.]+ records/sec \([\d.]+ MB/sec\), 0\.76 MB in [\d.]+ s\.$"), consume.StdoutLines[^1]);
        var steady = await silo.RunCliAsync("perf", "consume", "--topic", topic, "--messages", "8000", "--warmup-records", "2000");
        Assert.True(steady.ExitCode == 0, steady.ToString());
        Assert.Matches(new Regex(@"^Steady state: [\d.]+ bytes allocated per record \([\d.]+ MB\), GC gen0 \d+, gen1 \d+, gen2 \d+, \d+ ms paused\.$"), steady.StdoutLines[^2]);
        Assert.StartsWith("8000 records consumed, ", steady.StdoutLines[^1]);
    }

    [Fact]
    public async Task Perf_produce_commits_transactions_that_transactions_list_describe_and_stats_show()
    {
        const string topic = "e2e-perf-txn";
        const string transactionalId = "e2e-perf-txn-id";
        Assert.Equal(0, (await silo.RunCliAsync("topics", "create", "--topic", topic, "--partitions", "2")).ExitCode);

        var produce = await silo.RunCliAsync("perf", "produce", "--topic", topic, "--num-records", "2000", "--record-size", "50",
            "--throughput", "4000", "--transactional-id", transactionalId, "--transaction-duration-ms", "100");
        Assert.True(produce.ExitCode == 0, produce.ToString());
        Assert.StartsWith("2000 records sent, ", produce.StdoutLines[^2]);
        var committed = int.Parse(new Regex(@"^(\d+) transactions committed, commit latency p50 [\d.]+ ms, p99 [\d.]+ ms, max [\d.]+ ms\.$").Match(produce.StdoutLines[^1]).Groups[1].Value, CultureInfo.InvariantCulture);
        Assert.True(committed > 1, produce.ToString());

        var list = await silo.RunCliAsync("transactions", "list");
        Assert.True(list.ExitCode == 0, list.ToString());
        Assert.Equal(["TRANSACTIONAL-ID", "PRODUCER-ID", "STATE"], list.StdoutLines[0].Split(' ', StringSplitOptions.RemoveEmptyEntries));
        var row = Assert.Single(list.StdoutLines, l => l.StartsWith(transactionalId + " ", StringComparison.Ordinal));
        // EndTxn answers once PrepareCommit is durable; the markers (and CompleteCommit) follow.
        Assert.Contains(row.Split(' ', StringSplitOptions.RemoveEmptyEntries)[2], (string[])["PrepareCommit", "CompleteCommit"]);

        var describe = await silo.RunCliAsync("transactions", "describe", "--transactional-id", transactionalId);
        Assert.True(describe.ExitCode == 0, describe.ToString());
        var fields = describe.StdoutLines[1].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal([transactionalId, "60000"], [fields[0], fields[4]]);
        Assert.Contains(fields[3], (string[])["PrepareCommit", "CompleteCommit"]);
        var unknown = await silo.RunCliAsync("transactions", "describe", "--transactional-id", "e2e-no-such-id");
        Assert.NotEqual(0, unknown.ExitCode);
        Assert.Contains("TransactionalIdNotFound", unknown.Stderr);

        var stats = await silo.RunCliAsync("transactions", "stats");
        Assert.True(stats.ExitCode == 0, stats.ToString());
        Assert.Equal(["SHARD", "COMMITS", "ABORTS-CLIENT", "ABORTS-TIMEOUT", "ABORTS-FENCED", "FENCINGS-INIT-PRODUCER-ID", "FENCINGS-TIMEOUT"],
            stats.StdoutLines[0].Split(' ', StringSplitOptions.RemoveEmptyEntries));
        var total = stats.StdoutLines[^1].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("TOTAL", total[0]);
        // Every commit perf produce reported was counted when its PrepareCommit was stored.
        Assert.True(long.Parse(total[1], CultureInfo.InvariantCulture) >= committed, stats.ToString());
        Assert.Equal("0", stats.StdoutLines[1].Split(' ', StringSplitOptions.RemoveEmptyEntries)[0]);

        var consume = await silo.RunCliAsync("perf", "consume", "--topic", topic, "--messages", "2000", "--consumer-props", "isolation.level=read_committed");
        Assert.True(consume.ExitCode == 0, consume.ToString());
        Assert.StartsWith("2000 records consumed, ", consume.StdoutLines[^1]);
    }
}
