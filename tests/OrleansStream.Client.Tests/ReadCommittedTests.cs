using System.Buffers.Binary;
using OrleansStream.Client;
using OrleansStream.Records;

namespace OrleansStream.Client.Tests;

/// <summary>The consumer's isolation level and Kafka's read_committed rule for skipping aborted transactions.</summary>
public sealed class ReadCommittedTests
{
    private const long A = 10, B = 20;

    private static byte[] Data(long offset, long producerId, bool transactional = true)
    {
        using var builder = new RecordBatchBuilder();
        builder.Reset(producerId, 0, (int)offset, isTransactional: transactional);
        builder.Append(1_000, "k"u8.ToArray(), "v"u8.ToArray());
        var batch = builder.ToArray();
        BinaryPrimitives.WriteInt64BigEndian(batch, offset);
        return batch;
    }

    /// <summary>A control batch holding Kafka's EndTransactionMarker: key (version 0, type), value (version 0, coordinator epoch).</summary>
    private static byte[] Marker(long offset, long producerId, bool commit)
    {
        using var builder = new RecordBatchBuilder();
        builder.Reset(producerId, 0, -1, isTransactional: true, isControl: true);
        builder.Append(1_000, [0, 0, 0, (byte)(commit ? 1 : 0)], [0, 0, 0, 0, 0, 0]);
        var batch = builder.ToArray();
        BinaryPrimitives.WriteInt64BigEndian(batch, offset);
        return batch;
    }

    private static List<long> Skipped(AbortedTransactionFilter filter, params byte[][] batches)
    {
        var skipped = new List<long>();
        foreach (var batch in batches)
        {
            var header = RecordBatchHeader.Read(batch);
            if (filter.IsAborted(header, batch))
                skipped.Add(header.BaseOffset);
        }
        return skipped;
    }

    [Fact]
    public void An_aborted_producer_is_skipped_from_its_first_offset_up_to_its_abort_marker_and_no_further()
    {
        var filter = AbortedTransactionFilter.For([new AbortedTransaction(A, 1)])!;

        var skipped = Skipped(filter,
            Data(0, A),              // A's earlier, committed transaction ends before the aborted one begins
            Marker(0, A, commit: true),
            Data(1, A),
            Data(2, B),
            Data(3, A),
            Marker(4, A, commit: false),
            Data(5, A),              // A's next transaction, not aborted
            Marker(6, B, commit: true),
            Data(7, 99, transactional: false));

        Assert.Equal([1L, 3L], skipped);
    }

    [Fact]
    public void Interleaved_aborts_are_taken_in_first_offset_order_whatever_the_answer_lists()
    {
        var filter = AbortedTransactionFilter.For([new AbortedTransaction(B, 3), new AbortedTransaction(A, 0)])!;

        var skipped = Skipped(filter,
            Data(0, A),
            Data(1, B),              // B's aborted transaction has not begun here: committed data of an earlier one
            Marker(2, B, commit: true),
            Data(3, B),
            Data(4, A),
            Marker(5, A, commit: false),
            Data(6, B),
            Marker(7, B, commit: false),
            Data(8, B));

        Assert.Equal([0L, 3L, 4L, 6L], skipped);
    }

    [Fact]
    public void A_batch_that_begins_before_the_aborted_first_offset_but_reaches_it_is_skipped()
    {
        // Kafka compares the first offset with the batch's last offset: a fetch may start inside a batch.
        using var builder = new RecordBatchBuilder();
        builder.Reset(A, 0, 0, isTransactional: true);
        for (var i = 0; i < 3; i++)
            builder.Append(1_000, "k"u8.ToArray(), "v"u8.ToArray());
        var batch = builder.ToArray();   // offsets 0-2

        Assert.Equal([0L], Skipped(AbortedTransactionFilter.For([new AbortedTransaction(A, 2)])!, batch));
    }

    [Fact]
    public void No_aborted_transactions_need_no_filter()
    {
        Assert.Null(AbortedTransactionFilter.For(null));
        Assert.Null(AbortedTransactionFilter.For([]));
    }

    [Fact]
    public void Isolation_level_is_read_committed_by_default_and_takes_Kafkas_values()
    {
        Assert.Equal(IsolationLevel.ReadCommitted, new ConsumerConfig().Resolve().IsolationLevel);
        var uncommitted = new ConsumerConfig(new Dictionary<string, string> { ["isolation.level"] = "read_uncommitted" });
        Assert.Equal(IsolationLevel.ReadUncommitted, uncommitted.IsolationLevel);
        Assert.Equal(IsolationLevel.ReadUncommitted, uncommitted.Resolve().IsolationLevel);
        Assert.Equal("read_committed", new ConsumerConfig { IsolationLevel = IsolationLevel.ReadCommitted }.Get("isolation.level"));
        var bad = Assert.Throws<OrleansStreamException>(() => new ConsumerConfig(new Dictionary<string, string> { ["isolation.level"] = "dirty" }).Resolve());
        Assert.Equal(ErrorCode.InvalidConfig, bad.Code);
    }
}
