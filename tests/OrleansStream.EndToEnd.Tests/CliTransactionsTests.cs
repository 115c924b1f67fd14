using System.Globalization;
using System.Text;
using OrleansStream.Cli.Connection;
using OrleansStream.Client;
using OrleansStream.Client.Admin;
using OrleansStream.Records;

namespace OrleansStream.EndToEnd.Tests;

/// <summary>
/// <c>transactions describe-producers</c>, <c>transactions abort</c> and <c>transactions find-hanging</c> of the real CLI
/// against a silo process, kafka-transactions.sh's flags.
/// </summary>
[Trait("Category", "Slow")]
public sealed class CliTransactionsTests(SiloFixture silo) : IClassFixture<SiloFixture>
{
    private const string Topic = "e2e-producers";
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private static readonly string[] HangingHeader =
        ["Topic", "Partition", "ProducerId", "ProducerEpoch", "CoordinatorEpoch", "StartOffset", "LastTimestamp", "Duration(min)"];

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Describe_producers_lists_a_producers_state_and_abort_writes_its_marker_or_refuses_bad_flags()
    {
        Assert.Equal(0, (await silo.RunCliAsync("topics", "create", "--topic", Topic)).ExitCode);
        var produce = await silo.RunCliWithInputAsync("a\nb\nc\n", "produce", "--topic", Topic, "--partition", "0");
        Assert.True(produce.ExitCode == 0, produce.ToString());

        // The CLI's producer is idempotent (acks=all): sequences 0-2, no marker yet, no transaction open.
        var before = Assert.Single(await DescribeProducersAsync());
        Assert.Equal(["-1", "2", "None"], [before[2], before[3], before[5]]);
        var (producerId, epoch) = (before[0], before[1]);

        var usage = await silo.RunCliAsync("transactions", "abort", "--topic", Topic, "--partition", "0", "--producer-id", producerId);
        Assert.True(usage.ExitCode == 2 && usage.Stdout.Length == 0, usage.ToString());
        Assert.Contains("--producer-id, --producer-epoch and --coordinator-epoch go together", usage.Stderr);

        var notOpen = await silo.RunCliAsync("transactions", "abort", "--topic", Topic, "--partition", "0", "--start-offset", "0");
        Assert.True(notOpen.ExitCode == 1, notOpen.ToString());
        Assert.Equal($"orleansstream: no open transaction starts at offset 0 of {Topic}-0", notOpen.Stderr.Trim());

        // Kafka's tool sends a coordinator epoch of -1 (no marker yet) as 0; the marker ends nothing here but is the producer's last.
        var abort = await silo.RunCliAsync("transactions", "abort", "--topic", Topic, "--partition", "0",
            "--producer-id", producerId, "--producer-epoch", epoch, "--coordinator-epoch", "-1");
        Assert.True(abort.ExitCode == 0 && abort.Stdout.Length == 0, abort.ToString());
        var after = Assert.Single(await DescribeProducersAsync());
        Assert.Equal([producerId, epoch, "0", "2", "None"], [after[0], after[1], after[2], after[3], after[5]]);
    }

    [Fact]
    public async Task Find_hanging_does_not_report_a_transaction_its_coordinator_has_ongoing_with_the_partition()
    {
        const string topic = "e2e-ongoing";
        Assert.Equal(0, (await silo.RunCliAsync("topics", "create", "--topic", topic, "--partitions", "1")).ExitCode);
        await using var connection = await ConnectAsync();
        using var producer = Transactional(connection.Client, "e2e-ongoing-tx");
        producer.InitTransactions(Timeout);
        producer.BeginTransaction();
        await producer.ProduceAsync(new TopicPartition(topic, 0), new Message<string, string> { Key = "k", Value = "open" }, Ct);

        // Open at offset 0 and, with a timeout of 0 minutes, a candidate; its coordinator has the partition in the transaction.
        Assert.Equal("0", Assert.Single(await DescribeProducersAsync(topic, 0))[5]);
        var byTopic = await FindHangingAsync("--topic", topic, "--max-transaction-timeout", "0");
        var byPartition = await FindHangingAsync("--topic", topic, "--partition", "0", "--max-transaction-timeout", "0");

        Assert.Empty(byTopic);
        Assert.Empty(byPartition);
        producer.AbortTransaction(Timeout);
    }

    [Fact]
    public async Task Find_hanging_reports_a_transactional_batch_its_coordinator_does_not_have_until_transactions_abort_ends_it()
    {
        const string topic = "e2e-hanging";
        Assert.Equal(0, (await silo.RunCliAsync("topics", "create", "--topic", topic, "--partitions", "2")).ExitCode);
        await using var connection = await ConnectAsync();
        using var admin = new AdminClientBuilder(connection.Client).Build();
        using var producer = Transactional(connection.Client, "e2e-hanging-tx");
        producer.InitTransactions(Timeout);
        producer.BeginTransaction();
        await producer.ProduceAsync(new TopicPartition(topic, 0), new Message<string, string> { Key = "k", Value = "open" }, Ct);
        var open = Assert.Single(Assert.Single(await admin.DescribeProducersAsync([new TopicPartition(topic, 0)])).ActiveProducers);

        // The same producer's transactional batch on partition 1, which its coordinator never added to the transaction:
        // a request without a transactional id is not verified (KIP-890), as a pre-3.6 client's could land. Written
        // 20 minutes ago by its timestamp, so it is older than the default --max-transaction-timeout without a wait.
        var writtenMs = DateTimeOffset.UtcNow.AddMinutes(-20).ToUnixTimeMilliseconds();
        var p1 = await connection.Client.GetGrain<IClusterControllerGrain>(GrainKeys.Controller).Partition(topic, 1);
        var leader = connection.Client.GetGrain<IPartitionReplicaGrain>(GrainKeys.Replica(topic, 1, p1.Leader));
        Assert.Equal(ErrorCode.None, (await leader.Produce(new ProduceRequest(Acks.All, 10_000, StrayBatch(open.ProducerId, (short)open.ProducerEpoch, writtenMs)))).Error);

        var found = await FindHangingAsync("--topic", topic);
        var node = Assert.Single((await admin.DescribeClusterAsync()).Nodes);
        var onBroker = await FindHangingAsync("--broker-id", node.Id.ToString(CultureInfo.InvariantCulture), "--max-transaction-timeout", "0");
        var newerTimeout = await FindHangingAsync("--topic", topic, "--max-transaction-timeout", "30");

        var row = Assert.Single(found);
        Assert.Equal([topic, "1", N(open.ProducerId), N(open.ProducerEpoch), "-1", "0", N(writtenMs)], row[..7]);
        Assert.InRange(long.Parse(row[7], CultureInfo.InvariantCulture), 20, long.MaxValue);
        Assert.Equal(row[..7], Assert.Single(onBroker, r => r[0] == topic)[..7]);
        Assert.Empty(newerTimeout);

        var abort = await silo.RunCliAsync("transactions", "abort", "--topic", row[0], "--partition", row[1],
            "--producer-id", row[2], "--producer-epoch", row[3], "--coordinator-epoch", row[4]);
        Assert.True(abort.ExitCode == 0, abort.ToString());
        Assert.Empty(await FindHangingAsync("--topic", topic, "--max-transaction-timeout", "0"));
        Assert.Equal("None", Assert.Single(await DescribeProducersAsync(topic, 1))[5]);
        producer.AbortTransaction(Timeout);
    }

    [Fact]
    public async Task Find_hanging_without_a_topic_or_broker_or_with_a_partition_alone_is_a_usage_error_and_an_unknown_broker_or_topic_fails()
    {
        var neither = await silo.RunCliAsync("transactions", "find-hanging");
        var partitionAlone = await silo.RunCliAsync("transactions", "find-hanging", "--broker-id", "0", "--partition", "0");
        var unknownBroker = await silo.RunCliAsync("transactions", "find-hanging", "--broker-id", "999");
        var unknownTopic = await silo.RunCliAsync("transactions", "find-hanging", "--topic", "e2e-no-such-topic");

        Assert.True(neither.ExitCode == 2 && neither.Stdout.Length == 0, neither.ToString());
        Assert.Contains("find-hanging requires either --topic or --broker-id", neither.Stderr);
        Assert.True(partitionAlone.ExitCode == 2, partitionAlone.ToString());
        Assert.Contains("--partition requires --topic", partitionAlone.Stderr);
        Assert.True(unknownBroker.ExitCode == 1 && unknownBroker.Stdout.Length == 0, unknownBroker.ToString());
        Assert.Equal("orleansstream: broker 999 is not a live broker of the cluster", unknownBroker.Stderr.Trim());
        Assert.True(unknownTopic.ExitCode == 1 && unknownTopic.Stdout.Length == 0, unknownTopic.ToString());
        Assert.StartsWith("orleansstream: UnknownTopicOrPartition", unknownTopic.Stderr, StringComparison.Ordinal);
    }

    /// <summary>find-hanging's rows below kafka-transactions.sh's header, each cell without its padding.</summary>
    private async Task<List<string[]>> FindHangingAsync(params string[] args)
    {
        var find = await silo.RunCliAsync(["transactions", "find-hanging", .. args]);
        Assert.True(find.ExitCode == 0, find.ToString());
        var lines = find.StdoutLines;
        Assert.Equal(HangingHeader, Cells(lines[0]));
        return [.. lines.Skip(1).Select(Cells)];
    }

    private Task<ClusterConnection> ConnectAsync() => ClusterConnection.ConnectAsync(ConnectionSettings.Resolve([silo.Gateway], null, null), Ct);

    private static IProducer<string, string> Transactional(IClusterClient client, string transactionalId) =>
        new ProducerBuilder<string, string>(client, new ProducerConfig { TransactionalId = transactionalId, LingerMs = 0 }).Build();

    private static byte[] StrayBatch(long producerId, short epoch, long timestampMs)
    {
        using var builder = new RecordBatchBuilder();
        builder.Reset(producerId, epoch, baseSequence: 0, isTransactional: true);
        builder.Append(timestampMs, Encoding.UTF8.GetBytes("k"), Encoding.UTF8.GetBytes("stray"));
        return builder.ToArray();
    }

    private static string N(long value) => value.ToString(CultureInfo.InvariantCulture);

    /// <summary>The rows below kafka-transactions.sh's header, each cell without its padding.</summary>
    private async Task<List<string[]>> DescribeProducersAsync(string topic = Topic, int partition = 0)
    {
        var describe = await silo.RunCliAsync("transactions", "describe-producers", "--topic", topic, "--partition", partition.ToString(CultureInfo.InvariantCulture));
        Assert.True(describe.ExitCode == 0, describe.ToString());
        var lines = describe.StdoutLines;
        Assert.Equal(["ProducerId", "ProducerEpoch", "LatestCoordinatorEpoch", "LastSequence", "LastTimestamp", "CurrentTransactionStartOffset"], Cells(lines[0]));
        return [.. lines.Skip(1).Select(Cells)];
    }

    private static string[] Cells(string line) => [.. line.Split('\t').Select(static c => c.Trim())];
}
