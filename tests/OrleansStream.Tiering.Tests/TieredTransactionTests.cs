using System.Buffers.Binary;
using OrleansStream.Records;
using OrleansStream.Storage;
using OrleansStream.Storage.Producers;
using OrleansStream.Storage.Tiering;

namespace OrleansStream.Tiering.Tests;

/// <summary>Tiered segments carry their <c>.txnindex</c>, and read_committed reads of tiered data get the aborted transactions.</summary>
public sealed class TieredTransactionTests : IDisposable
{
    private const long Early = 5, Late = 6;
    private static CancellationToken Ct => TestContext.Current.CancellationToken;
    private readonly string _root = Path.Combine(Path.GetTempPath(), "os-tier-txn-" + Guid.NewGuid().ToString("N"));
    private readonly RecordBatchBuilder _builder = new();

    public void Dispose()
    {
        _builder.Dispose();
        if (Directory.Exists(_root)) Directory.Delete(_root, recursive: true);
    }

    private void Send(TieredLog t, long producerId, int sequence)
    {
        _builder.Reset(producerId, 0, sequence, isTransactional: true);
        _builder.Append(t.Time.GetUtcNow().ToUnixTimeMilliseconds(), "k"u8.ToArray(), "aborted"u8.ToArray());
        t.Log.AppendAsLeader(_builder.Seal().Span, 0);
    }

    private void Abort(TieredLog t, long producerId)
    {
        new EndTransactionMarker(ControlRecordType.Abort, 0).WriteBatch(_builder, producerId, 0, t.Time.GetUtcNow().ToUnixTimeMilliseconds());
        t.Log.AppendAsLeader(_builder.Seal().Span, 0, AppendOrigin.Coordinator);
    }

    [Fact]
    public async Task Aborted_transactions_of_tiered_data_are_served_from_the_tiered_txnindex_and_then_the_local_one()
    {
        using var t = new TieredLog(new FolderTierStore(_root), TieredLog.SmallSegments(localRetentionBytes: 0));
        Send(t, Early, 0);   // 0
        Send(t, Late, 0);    // 1: aborted only after everything below is tiered
        Abort(t, Early);     // 2
        t.Produce(400);
        for (var i = 0; i < 100; i++)
        {
            var pass = await t.Manager.RunOnceAsync(0, Ct);
            Assert.Null(pass.Error);
            if (pass.SegmentsCopied == 0 && pass.LocalSegmentsDeleted == 0) break;
        }
        Abort(t, Late);
        t.Log.UpdateHighWatermark(t.Log.LogEndOffset);
        Assert.True(t.Manager.IsRemote(0) && t.Log.LocalLogStartOffset > 3);

        // The first tiered segment's .txnindex holds Early's abort in Kafka's 34-byte layout; the others have none
        // (KIP-1058's txnIdxEmpty), so read_committed reads never ask the tier for them.
        var segments = t.Manager.Manifest!.Segments;
        Assert.Equal([false, .. Enumerable.Repeat(true, segments.Count - 1)], segments.Select(s => s.TxnIndexEmpty));
        Assert.DoesNotContain(await t.RemoteKeysAsync(), k => k.EndsWith(".txnindex", StringComparison.Ordinal) && !k.Contains(segments[0].SegmentId));
        var first = segments[0];
        var txnIndex = await t.Store.GetAsync(first.KeyPrefix("orders", 0) + ".txnindex", Ct);
        var entry = txnIndex!.Content.ToArray();
        Assert.Equal(34, entry.Length);
        Assert.Equal(0, BinaryPrimitives.ReadInt16BigEndian(entry));
        Assert.Equal(new AbortedTxn(Early, 0, 2, 1), new AbortedTxn(
            BinaryPrimitives.ReadInt64BigEndian(entry.AsSpan(2)), BinaryPrimitives.ReadInt64BigEndian(entry.AsSpan(10)),
            BinaryPrimitives.ReadInt64BigEndian(entry.AsSpan(18)), BinaryPrimitives.ReadInt64BigEndian(entry.AsSpan(26))));

        var records = await t.Manager.ReadAsync(0, 1 << 20, t.Log.LastStableOffset, Ct);
        Assert.False(records.IsEmpty);
        var upper = PartitionLog.NextOffsetAfter(records.Span);
        var aborted = await t.Manager.CollectAbortedTransactionsAsync(0, upper, Ct);
        Assert.Equal([new AbortedTxn(Early, 0, 2, 1), new AbortedTxn(Late, 1, t.Log.LogEndOffset - 1, t.Log.LogEndOffset)], aborted);
        // Past Early's marker only Late's transaction overlaps.
        Assert.Equal([Late], (await t.Manager.CollectAbortedTransactionsAsync(3, upper, Ct))!.Select(a => a.ProducerId));
    }
}
