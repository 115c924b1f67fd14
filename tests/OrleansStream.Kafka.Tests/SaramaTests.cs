using System.Globalization;
using System.Text.Json;
using Confluent.Kafka;

namespace OrleansStream.Kafka.Tests;

/// <summary>
/// sarama, the Go client with its own protocol code (Debian's golang-github-shopify-sarama-dev 1.22.1, which .ci/run
/// installs with Debian's Go as it does kcat), against the brokers: admin, an idempotent producer with each codec, a
/// consumer group of two and a plain partition consumer, through <c>sarama/client.go</c>; what it did is checked with
/// Confluent.Kafka and the grains.
/// </summary>
[Collection(KafkaClusterCollection.Name)]
public sealed class SaramaTests(KafkaCluster cluster)
{
    private const int PerCodec = 20;
    private static readonly string[] Codecs = ["none", "gzip", "snappy", "lz4", "zstd"];
    private static readonly Lazy<Task<string>> Binary = new(BuildAsync);

    [Fact]
    public async Task Sarama_administers_a_topic_produces_idempotently_in_each_codec_and_consumes_in_a_group_of_two_that_commits()
    {
        var topic = "sarama-" + Guid.NewGuid().ToString("N")[..8];
        var group = "sarama-group-" + topic;

        var run = await ExternalProcess.RunAsync(await Binary.Value, [cluster.BootstrapServers, topic, group, PerCodec.ToString(CultureInfo.InvariantCulture)],
            timeout: TimeSpan.FromMinutes(2));

        Assert.True(run.ExitCode == 0, $"sarama/client.go exited with {run.ExitCode}:\n{run.Output}");
        using var document = JsonDocument.Parse(run.StdoutLines[^1]);
        var root = document.RootElement;

        // Admin: the topic as created (CreateTopics v2 with a config), its metadata and configs; validate_only on an existing name.
        Assert.True(root.GetProperty("listed").GetBoolean());
        Assert.Equal((0, 3, 2), (root.GetProperty("described").GetProperty("error").GetInt32(),
            root.GetProperty("described").GetProperty("partitions").GetInt32(), root.GetProperty("described").GetProperty("replicas").GetInt32()));
        Assert.Equal("delete", root.GetProperty("configs").GetProperty("cleanup.policy").GetString());
        Assert.Contains("already exists", root.GetProperty("validateOnlyExisting").GetString(), StringComparison.OrdinalIgnoreCase);

        // The idempotent producer: every record once, offsets dense per partition from 0, read back by Confluent.Kafka.
        var produced = Records(root.GetProperty("produced"));
        Assert.Equal(Codecs.SelectMany(c => Enumerable.Range(0, PerCodec).Select(i => $"k{i}={c}-v{i}")).Order(), produced.Select(r => $"{r.Key}={r.Value}").Order());
        foreach (var partition in produced.GroupBy(r => r.Partition))
            Assert.Equal(Enumerable.Range(0, partition.Count()).Select(i => (long)i), partition.Select(r => r.Offset).Order());
        var watermarks = root.GetProperty("watermarks");
        for (var p = 0; p < 3; p++)
            Assert.Equal([0L, produced.Count(r => r.Partition == p)], watermarks.GetProperty(p.ToString(CultureInfo.InvariantCulture)).EnumerateArray().Select(o => o.GetInt64()));

        // Two members split the partitions before the produce; each consumed only its own, together every record once.
        Assert.Equal(3, root.GetProperty("firstAlone").GetInt32());
        var assignments = root.GetProperty("assignments").EnumerateArray().Select(a => a.EnumerateArray().Select(p => p.GetInt32()).ToHashSet()).ToList();
        Assert.Equal([0, 1, 2], assignments[0].Concat(assignments[1]).Order());
        var consumed = root.GetProperty("consumed").EnumerateArray().Select(Records).ToList();
        for (var i = 0; i < 2; i++) Assert.All(consumed[i], r => Assert.Contains(r.Partition, assignments[i]));
        Assert.Equal(produced.Order(), consumed.SelectMany(r => r).Order());
        Assert.Equal(("Stable", 2, "range"), (root.GetProperty("groupState").GetString(), root.GetProperty("groupMembers").GetInt32(), root.GetProperty("groupProtocol").GetString()));
        Assert.True(root.GetProperty("groupListed").GetBoolean());
        // DescribeGroups hands back each member's subscription and assignment as sarama wrote them (it reads them strictly).
        var described = root.GetProperty("describedMembers").EnumerateArray().ToList();
        Assert.Equal(2, described.Count);
        Assert.All(described, m => Assert.Equal([topic], m.GetProperty("topics").EnumerateArray().Select(t => t.GetString())));
        Assert.Equal([0, 1, 2], described.SelectMany(m => m.GetProperty("partitions").EnumerateArray().Select(p => p.GetInt32())).Order());
        // Each member's commits (OffsetCommit v2), read back by sarama's admin (OffsetFetch v1) and by the group's grain.
        for (var p = 0; p < 3; p++)
            Assert.Equal(produced.Count(r => r.Partition == p), root.GetProperty("committed").GetProperty(p.ToString(CultureInfo.InvariantCulture)).GetInt64());
        var fetched = await cluster.Silos.Client.GetGrain<IConsumerGroupGrain>(group).OffsetFetch(new OffsetFetchRequest());
        Assert.Equal(produced.Count, fetched.Offsets.Sum(o => o.Offset));

        // The plain partition consumer (Fetch v4 from the oldest offset) read partition 0 as it was produced.
        Assert.Equal(produced.Where(r => r.Partition == 0).OrderBy(r => r.Offset), Records(root.GetProperty("partitionZero")));

        Assert.False(root.GetProperty("listedAfterDelete").GetBoolean());
        var metadata = await cluster.Controller.GetMetadata(new MetadataRequest([topic]));
        Assert.DoesNotContain(metadata.Topics, t => t.Error == ErrorCode.None);
    }

    [Fact]
    public async Task What_sarama_produced_in_each_codec_reads_back_through_Confluent_Kafka()
    {
        var topic = "sarama-read-" + Guid.NewGuid().ToString("N")[..8];

        var run = await ExternalProcess.RunAsync(await Binary.Value, [cluster.BootstrapServers, topic, "sarama-read-group-" + topic, PerCodec.ToString(CultureInfo.InvariantCulture), "produce"],
            timeout: TimeSpan.FromMinutes(2));

        Assert.True(run.ExitCode == 0, $"sarama/client.go exited with {run.ExitCode}:\n{run.Output}");
        using var document = JsonDocument.Parse(run.StdoutLines[^1]);
        var produced = Records(document.RootElement.GetProperty("produced"));
        using var consumer = new ConsumerBuilder<string, string>(new ConsumerConfig
        {
            BootstrapServers = cluster.BootstrapServers,
            GroupId = "confluent-" + topic,
            AutoOffsetReset = AutoOffsetReset.Earliest,
            EnableAutoCommit = false,
            EnablePartitionEof = true,
        }).Build();
        consumer.Assign(Enumerable.Range(0, 3).Select(p => new Confluent.Kafka.TopicPartitionOffset(topic, p, 0)));
        var read = Consuming.ToEnd(consumer, 3, produced.Count).Select(r => (r.Message.Key, r.Message.Value, r.Partition.Value, r.Offset.Value));
        Assert.Equal(produced.Order(), read.Order());
    }

    private static List<(string Key, string Value, int Partition, long Offset)> Records(JsonElement records) =>
        [.. records.EnumerateArray().Select(r => (r.GetProperty("key").GetString()!, r.GetProperty("value").GetString()!, r.GetProperty("partition").GetInt32(), r.GetProperty("offset").GetInt64()))];

    /// <summary>Builds sarama/client.go once per run with Debian's Go in GOPATH mode (no module download: Debian's sources in /usr/share/gocode).</summary>
    private static async Task<string> BuildAsync()
    {
        var output = Path.Combine(AppContext.BaseDirectory, "sarama-client");
        var build = await ExternalProcess.RunAsync("go", ["build", "-o", output, "client.go"],
            workingDirectory: Repository.Path("tests", "OrleansStream.Kafka.Tests", "sarama"),
            environment: new Dictionary<string, string?>
            {
                ["GO111MODULE"] = "off", ["GOPATH"] = "/usr/share/gocode", ["GOFLAGS"] = "", ["GOCACHE"] = Path.Combine(AppContext.BaseDirectory, "go-cache"),
            },
            timeout: TimeSpan.FromMinutes(5));
        Assert.True(build.ExitCode == 0, $"go build of sarama/client.go exited with {build.ExitCode} (Debian's golang-go and golang-github-shopify-sarama-dev):\n{build.Output}");
        return output;
    }
}
