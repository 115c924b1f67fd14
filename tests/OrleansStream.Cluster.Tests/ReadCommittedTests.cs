using System.Text;
using OrleansStream.Client;
using OrleansStream.Cluster.Tests.Transactions;
using OrleansStream.Records;
using static OrleansStream.TestKit.PartitionTestKit;

namespace OrleansStream.Cluster.Tests;

/// <summary>Fetch and ListOffsets with an isolation level on the partition leader: the last stable offset bounds read_committed.</summary>
[Collection(ClusterCollection.Name)]
public sealed class ReadCommittedTests(ClusterFixture fixture)
{
    private static byte[] TransactionalBatch(long producerId, params string[] values)
    {
        using var builder = new RecordBatchBuilder();
        builder.Reset(producerId, 0, 0, isTransactional: true);
        var timestampMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        for (var i = 0; i < values.Length; i++)
            builder.Append(timestampMs, Encoding.UTF8.GetBytes($"k{i}"), Encoding.UTF8.GetBytes(values[i]));
        return builder.ToArray();
    }

    /// <summary>A topic holding "before" (0), an open transaction's "open" (1) and "after" (2), and its leader.</summary>
    private async Task<(string Topic, IPartitionReplicaGrain Leader)> WithOpenTransactionAsync(string prefix, long producerId)
    {
        var topic = UniqueTopic(prefix);
        await fixture.CreateTopic(topic);
        var leader = await fixture.Leader(topic, 0);
        await leader.Produce(new ProduceRequest(Acks.Leader, 5000, Batch("before")));
        var txn = await leader.Produce(new ProduceRequest(Acks.Leader, 5000, TransactionalBatch(producerId, "open")));
        Assert.Equal((ErrorCode.None, 1L), (txn.Error, txn.BaseOffset));
        await leader.Produce(new ProduceRequest(Acks.Leader, 5000, Batch("after")));
        return (topic, leader);
    }

    [Fact]
    public async Task Without_transactions_the_last_stable_offset_is_the_high_watermark()
    {
        var topic = UniqueTopic("lso-plain");
        await fixture.CreateTopic(topic);
        var leader = await fixture.Leader(topic, 0);
        await leader.Produce(new ProduceRequest(Acks.Leader, 5000, Batch("a", "b")));

        var committed = await leader.Fetch(new FetchRequest(0, 1 << 20, IsolationLevel: IsolationLevel.ReadCommitted));
        var uncommitted = await leader.Fetch(new FetchRequest(0, 1 << 20));
        var latest = await leader.ListOffsets(new ListOffsetsRequest(ListOffsetsTimestamp.Latest, IsolationLevel: IsolationLevel.ReadCommitted));

        Assert.Equal((ErrorCode.None, 2L, 2L), (committed.Error, committed.HighWatermark, committed.LastStableOffset));
        Assert.Equal([(0L, "a"), (1L, "b")], RecordsOf(committed.Records.Memory));
        Assert.Null(committed.AbortedTransactions);
        Assert.Equal(2, uncommitted.LastStableOffset);
        Assert.Equal(2, latest.Offset);
    }

    [Fact]
    public async Task An_open_transaction_holds_read_committed_fetches_and_offset_lookups_at_its_first_offset()
    {
        var (_, leader) = await WithOpenTransactionAsync("lso-open", 4242);

        var committed = await leader.Fetch(new FetchRequest(0, 1 << 20, IsolationLevel: IsolationLevel.ReadCommitted));
        var uncommitted = await leader.Fetch(new FetchRequest(0, 1 << 20));
        Assert.Equal((3L, 1L), (committed.HighWatermark, committed.LastStableOffset));
        Assert.Equal([(0L, "before")], RecordsOf(committed.Records.Memory));
        Assert.Equal([(0L, "before"), (1L, "open"), (2L, "after")], RecordsOf(uncommitted.Records.Memory));
        Assert.Equal(1, uncommitted.LastStableOffset);

        Assert.Equal(1, (await leader.ListOffsets(new ListOffsetsRequest(ListOffsetsTimestamp.Latest, IsolationLevel: IsolationLevel.ReadCommitted))).Offset);
        Assert.Equal(3, (await leader.ListOffsets(new ListOffsetsRequest(ListOffsetsTimestamp.Latest))).Offset);

        // A read_committed long-poll at the last stable offset: new data moves the high watermark, not the LSO, so it
        // ends at its deadline with nothing.
        var waiting = leader.Fetch(new FetchRequest(1, 1 << 20, MinBytes: 1, MaxWaitMs: 1000, IsolationLevel: IsolationLevel.ReadCommitted));
        await leader.Produce(new ProduceRequest(Acks.Leader, 5000, Batch("later")));
        var polled = await waiting;
        Assert.Equal((ErrorCode.None, 1L), (polled.Error, polled.LastStableOffset));
        Assert.True(polled.Records.IsEmpty);
        Assert.Equal(4, polled.HighWatermark);
    }

    [Fact]
    public async Task The_SDK_consumer_reads_committed_by_default_and_reaches_its_end_at_the_last_stable_offset()
    {
        var (topic, _) = await WithOpenTransactionAsync("sdk-lso", 4343);
        var tp = new TopicPartition(topic, 0);

        using var committed = Consume(tp, null);
        using var uncommitted = Consume(tp, IsolationLevel.ReadUncommitted);

        Assert.Equal(["before", "@1"], TransactionTestKit.UntilEof(committed));
        Assert.Equal(1, committed.Position(tp));
        Assert.Equal(1, committed.QueryWatermarkOffsets(tp, TimeSpan.FromSeconds(30)).High);
        Assert.Equal(["before", "open", "after", "@3"], TransactionTestKit.UntilEof(uncommitted));
        Assert.Equal(3, uncommitted.QueryWatermarkOffsets(tp, TimeSpan.FromSeconds(30)).High);
    }

    private IConsumer<byte[], byte[]> Consume(TopicPartition tp, IsolationLevel? isolation)
    {
        var config = new ConsumerConfig { EnablePartitionEof = true, FetchWaitMaxMs = 100, IsolationLevel = isolation };
        var consumer = new ConsumerBuilder<byte[], byte[]>(fixture.Client, config).Build();
        consumer.Assign(new TopicPartitionOffset(tp, Offset.Beginning));
        return consumer;
    }
}
