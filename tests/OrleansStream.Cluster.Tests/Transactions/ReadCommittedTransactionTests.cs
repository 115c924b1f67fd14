using System.Text;
using OrleansStream.Client;
using OrleansStream.Records;
using static OrleansStream.TestKit.PartitionTestKit;
using static OrleansStream.Cluster.Tests.Transactions.TransactionTestKit;

namespace OrleansStream.Cluster.Tests.Transactions;

/// <summary>
/// read_committed over real markers: the coordinator's COMMIT and ABORT move the last stable offset, the leader lists
/// the aborted transaction, a parked read_committed fetch returns the committed data, and the SDK consumer skips the
/// aborted batch and every marker.
/// </summary>
public sealed class ReadCommittedTransactionTests(TransactionFixture fixture) : IClassFixture<TransactionFixture>
{
    [Fact]
    public async Task Read_committed_sees_committed_data_and_skips_aborted_data_once_the_markers_are_written()
    {
        var (topic, abortedId, committedId) = (UniqueTopic("rc"), UniqueTopic("rc-aborted"), UniqueTopic("rc-committed"));
        await fixture.CreateTopic(topic, partitions: 1, replicationFactor: 2);
        var tp = new TopicPartition(topic, 0);
        TopicPartition[] partitions = [tp];
        var leader = await fixture.Leader(topic, 0);

        var (abortedCoordinator, aborted) = await fixture.BeginTransaction(abortedId, partitions);
        var (committedCoordinator, committed) = await fixture.BeginTransaction(committedId, partitions);
        var a = await leader.Produce(new ProduceRequest(Acks.All, 10_000,
            TransactionalBatch(aborted.ProducerId, aborted.ProducerEpoch, 0, "a1", "a2"), TransactionalId: abortedId));
        var b = await leader.Produce(new ProduceRequest(Acks.All, 10_000,
            TransactionalBatch(committed.ProducerId, committed.ProducerEpoch, 0, "b1"), TransactionalId: committedId));
        var plain = await leader.Produce(new ProduceRequest(Acks.All, 10_000, Batch("p")));
        Assert.Equal((0L, 2L, 3L), (a.BaseOffset, b.BaseOffset, plain.BaseOffset));

        Assert.Equal(ErrorCode.None, (await abortedCoordinator.EndTxn(new EndTxnRequest(abortedId, aborted.ProducerId, aborted.ProducerEpoch, Commit: false))).Error);
        await fixture.WaitForState(abortedId, "CompleteAbort");
        await WaitForReplication(leader, 5);

        // The ABORT marker (4) is stable, but the open transaction at 2 holds the LSO there.
        var beforeCommit = await leader.Fetch(new FetchRequest(0, 1 << 20, MinBytes: 0, MaxWaitMs: 0, IsolationLevel: IsolationLevel.ReadCommitted));
        Assert.Equal(ErrorCode.None, beforeCommit.Error);
        Assert.Equal(2, beforeCommit.LastStableOffset);
        Assert.Equal([new AbortedTransaction(aborted.ProducerId, 0)], beforeCommit.AbortedTransactions);
        Assert.Equal([0L], BaseOffsets(beforeCommit.Records.Memory));

        // A read_committed fetch parked at the LSO returns once the COMMIT marker is stable.
        var parked = leader.Fetch(new FetchRequest(2, 1 << 20, MinBytes: 1, MaxWaitMs: 25_000, IsolationLevel: IsolationLevel.ReadCommitted));
        Assert.Equal(ErrorCode.None, (await committedCoordinator.EndTxn(new EndTxnRequest(committedId, committed.ProducerId, committed.ProducerEpoch, Commit: true))).Error);
        var woken = await parked;
        Assert.Equal(ErrorCode.None, woken.Error);
        Assert.Contains(2L, BaseOffsets(woken.Records.Memory));
        await fixture.WaitForState(committedId, "CompleteCommit");
        await WaitForReplication(leader, 6);

        var listed = await leader.ListOffsets(new ListOffsetsRequest(ListOffsetsTimestamp.Latest, IsolationLevel: IsolationLevel.ReadCommitted));
        Assert.Equal(6, listed.Offset);
        Assert.Equal(["b1", "p", "@6"], fixture.ReadUntilEof(tp, IsolationLevel.ReadCommitted));
        Assert.Equal(["a1", "a2", "b1", "p", "@6"], fixture.ReadUntilEof(tp, IsolationLevel.ReadUncommitted));
    }

    private static List<long> BaseOffsets(ReadOnlyMemory<byte> records)
    {
        var offsets = new List<long>();
        foreach (var batch in RecordBatchReader.Batches(records.Span))
            offsets.Add(batch.BaseOffset);
        return offsets;
    }
}
