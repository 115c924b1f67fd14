using System.Text;
using OrleansStream.Records;
using OrleansStream.Storage;
using OrleansStream.Storage.Tiering;

namespace OrleansStream.Tiering.Tests;

/// <summary>
/// Tiering of <c>cleanup.policy=compact</c> logs (Kafka refuses it): compaction results are tiered, the tier is
/// compacted against the whole log, and tombstones leave the tier after <c>delete.retention.ms</c>.
/// </summary>
[Trait("Category", "Slow")]
public sealed class CompactedTieringTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>
{
    private const long DeleteRetentionMs = 3_600_000;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private AzureBlobTierStore NewStore() => new(new AzureBlobTierStoreSettings
    {
        ConnectionString = azurite.Azurite.ConnectionString,
        Container = AzuriteFixture.NewContainerName(),
    });

    private static LogConfig Compacted(long localRetentionBytes = 8192) => TieredLog.SmallSegments(localRetentionBytes) with
    {
        CleanupPolicy = CleanupPolicy.Compact,
        DeleteRetentionMs = DeleteRetentionMs,
    };

    /// <summary>The value and 90 hex digits of its hash: compressed batches still fill several segments.</summary>
    private static string Padded(string value) =>
        value + "-" + Convert.ToHexString(System.Security.Cryptography.SHA512.HashData(Encoding.UTF8.GetBytes(value)))[..90];

    /// <summary>One batch per call: the given keys, with <c>r{round}-{key}</c> values or tombstones.</summary>
    private static void Append(TieredLog t, RecordBatchBuilder builder, int round, IEnumerable<int> keys, bool tombstones = false,
        CompressionType codec = CompressionType.None)
    {
        builder.Reset(compression: codec);
        foreach (var k in keys)
            builder.Append(t.Time.GetUtcNow().ToUnixTimeMilliseconds(), Encoding.UTF8.GetBytes($"key-{k}"),
                tombstones ? null : Encoding.UTF8.GetBytes(Padded($"r{round}-key-{k}")));
        t.Log.AppendAsLeader(builder.Seal().Span, 0);
        t.Log.UpdateHighWatermark(t.Log.LogEndOffset);
    }

    /// <summary>
    /// Every record from <paramref name="from"/> to the high watermark, tier first, as a consumer reads them; every
    /// batch must have the codec <paramref name="codec"/>.
    /// </summary>
    private static async Task<List<(long Offset, string Key, string? Value)>> ReadAllAsync(TieredLog t, long from = 0,
        CompressionType codec = CompressionType.None)
    {
        var records = new List<(long, string, string?)>();
        using var plain = new PooledBuffer();
        var offset = from;
        while (offset < t.Log.HighWatermark)
        {
            var data = t.Manager.IsRemote(offset)
                ? await t.Manager.ReadAsync(offset, 16 * 1024, t.Log.HighWatermark, Ct)
                : t.Log.Read(offset, 16 * 1024, t.Log.HighWatermark);
            Assert.False(data.IsEmpty, $"no data at offset {offset}");
            foreach (var batch in RecordBatchReader.Batches(data.Span))
            {
                Assert.True(batch.IsCrcValid);
                Assert.Equal(codec, batch.Compression);
                foreach (var r in RecordBatchReader.Batch(RecordBatchCompression.Decompress(batch.Span, plain)).Records())
                    if (r.Offset >= offset)
                        records.Add((r.Offset, Encoding.UTF8.GetString(r.Key), r.ValueIsNull ? null : Encoding.UTF8.GetString(r.Value)));
                offset = batch.NextOffset;
            }
        }
        for (var i = 1; i < records.Count; i++) Assert.True(records[i].Item1 > records[i - 1].Item1, "offsets go up");
        return records;
    }

    private static async Task TierUntilIdleAsync(TieredLog t)
    {
        TieringPassResult pass;
        var passes = 0;
        do pass = await t.Manager.RunOnceAsync(0, Ct);
        while (pass is { Failed: false, SegmentsCopied: > 0 } && ++passes < 100);
        Assert.Null(pass.Error);
    }

    [Theory]
    [InlineData(CompressionType.None)]
    [InlineData(CompressionType.Zstd)]
    public async Task The_tier_holds_the_compacted_view_and_tombstones_leave_it_after_delete_retention(CompressionType codec)
    {
        // Compressed batches are about half as large: half the local retention keeps the same share of the log local.
        using var t = new TieredLog(NewStore(), Compacted(codec == CompressionType.None ? 8192 : 4096));
        using var builder = new RecordBatchBuilder();
        // Rounds 0-9 write keys 0-19, round 10 deletes keys 0-4, rounds 11-19 update keys 5-19: many superseded values.
        // Compressed batches keep their codec through local and tier compaction.
        for (var round = 0; round < 10; round++) Append(t, builder, round, Enumerable.Range(0, 20), codec: codec);
        Append(t, builder, 10, Enumerable.Range(0, 5), tombstones: true, codec: codec);
        for (var round = 11; round < 20; round++) Append(t, builder, round, Enumerable.Range(5, 15), codec: codec);

        // Copied as produced, then compacted locally (and re-tiered) or in the tier, once the local copy is gone.
        await TierUntilIdleAsync(t);
        await t.Log.CompactAsync();
        await TierUntilIdleAsync(t);
        Assert.True(t.Log.LocalLogStartOffset > 0, "local retention moved the local log start");
        Assert.Equal(0, t.Manager.LogStartOffset);
        var manifest = t.Manager.Manifest!;
        Assert.Contains(manifest.Segments, s => s.Compacted && s.NextOffset <= t.Log.LocalLogStartOffset);

        var view = await ReadAllAsync(t, codec: codec);
        var remote = view.Where(r => r.Offset < t.Log.LocalLogStartOffset).ToList();
        Assert.Equal(remote.Count, remote.Select(r => r.Key).Distinct().Count()); // the tier holds each key once
        // Every key's newest state survives; a deleted key shows its tombstone and none of its old values.
        for (var k = 0; k < 5; k++)
        {
            var key = $"key-{k}";
            Assert.Equal([(string?)null], view.Where(r => r.Key == key).Select(r => r.Value));
        }
        for (var k = 5; k < 20; k++)
            Assert.Equal(Padded($"r19-key-{k}"), view.Last(r => r.Key == $"key-{k}").Value);
        var tombstones = view.Where(r => r.Value is null).Select(r => r.Offset).ToList();
        Assert.All(tombstones, o => Assert.True(o < t.Log.LocalLogStartOffset, $"tombstone {o} is tiered"));

        // Within delete.retention.ms the tombstones stay, even when the tier is compacted again.
        var interval = new RemoteLogManagerOptions().RemoteCompactionInterval;
        Assert.True(interval * 2 < TimeSpan.FromMilliseconds(DeleteRetentionMs));
        t.Time.Advance(interval * 1.5);
        await t.Log.CompactAsync();
        await TierUntilIdleAsync(t);
        Assert.Equal(5, (await ReadAllAsync(t, codec: codec)).Count(r => r.Value is null));

        // After it, the tier's compaction removes them, and the deleted keys do not come back.
        t.Time.Advance(TimeSpan.FromMilliseconds(DeleteRetentionMs));
        await TierUntilIdleAsync(t);
        var after = await ReadAllAsync(t, codec: codec);
        Assert.DoesNotContain(after, r => r.Key is "key-0" or "key-1" or "key-2" or "key-3" or "key-4");
        for (var k = 5; k < 20; k++)
            Assert.Equal(Padded($"r19-key-{k}"), after.Last(r => r.Key == $"key-{k}").Value);

        // Nothing but the manifest's segments is left in the tier (replaced copies were deleted).
        var keys = await t.RemoteKeysAsync();
        var live = t.Manager.Manifest!.Segments;
        Assert.All(live, s => Assert.Equal(RemoteLogSegmentState.CopySegmentFinished, s.State));
        Assert.Equal(live.Count * 5 + 1, keys.Count); // log, index, time index, epochs, producer snapshot; the manifest
    }

    [Fact]
    public async Task A_compaction_swap_during_a_copy_never_tiers_the_new_files_under_the_old_segments_metadata()
    {
        var store = new GatedTierStore(NewStore());
        using var t = new TieredLog(store, Compacted());
        using var builder = new RecordBatchBuilder();
        Append(t, builder, 0, Enumerable.Range(0, 10));
        Append(t, builder, 1, Enumerable.Range(0, 10));
        t.Log.Roll();
        Append(t, builder, 2, Enumerable.Range(10, 2));
        var listedSize = t.Log.Segments[0].SizeInBytes;

        // The pass lists the closed segment, then waits on its CopySegmentStarted manifest write while the cleaner
        // swaps a compacted copy in under the same file names.
        var pass = t.Manager.RunOnceAsync(0, Ct);
        await store.FirstWriteReached.WaitAsync(TimeSpan.FromSeconds(30), Ct);
        Assert.Equal(1, (await t.Log.CompactAsync()).SegmentsCleaned);
        Assert.True(t.Log.Segments[0].SizeInBytes < listedSize);
        store.Release();
        Assert.Null((await pass).Error);

        // What was tiered is the segment the metadata describes, byte for byte as long.
        var copy = Assert.Single(t.Manager.Manifest!.Segments, s => s.State == RemoteLogSegmentState.CopySegmentFinished);
        Assert.Equal(listedSize, copy.SegmentSizeInBytes);
        var tiered = await store.GetAsync(copy.KeyPrefix(t.Topic, t.PartitionId) + ".log", Ct);
        Assert.Equal(copy.SegmentSizeInBytes, tiered!.Content.Length);

        // The next passes tier the compacted segment in its place.
        await TierUntilIdleAsync(t);
        var replaced = Assert.Single(t.Manager.Manifest!.Segments, s => s.State == RemoteLogSegmentState.CopySegmentFinished);
        Assert.Equal(t.Log.Segments[0].SizeInBytes, replaced.SegmentSizeInBytes);
        Assert.Equal((await store.GetAsync(replaced.KeyPrefix(t.Topic, t.PartitionId) + ".log", Ct))!.Content.Length, replaced.SegmentSizeInBytes);
    }
}

/// <summary>A real tier store whose first manifest write waits until the test releases it.</summary>
public sealed class GatedTierStore(ITierStore inner) : ITierStore
{
    private readonly TaskCompletionSource _reached = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _writes;

    public Task FirstWriteReached => _reached.Task;

    public void Release() => _release.TrySetResult();

    public async Task<string> WriteConditionalAsync(string key, ReadOnlyMemory<byte> content, string? ifMatch, CancellationToken cancellationToken = default)
    {
        if (Interlocked.Increment(ref _writes) == 1)
        {
            _reached.TrySetResult();
            await _release.Task.WaitAsync(cancellationToken);
        }
        return await inner.WriteConditionalAsync(key, content, ifMatch, cancellationToken);
    }

    public Task<bool> UploadAsync(string key, Stream content, CancellationToken cancellationToken = default) => inner.UploadAsync(key, content, cancellationToken);

    public Task<int> ReadAsync(string key, long position, Memory<byte> destination, CancellationToken cancellationToken = default) =>
        inner.ReadAsync(key, position, destination, cancellationToken);

    public Task<TierObject?> GetAsync(string key, CancellationToken cancellationToken = default) => inner.GetAsync(key, cancellationToken);

    public Task<bool> DeleteAsync(string key, CancellationToken cancellationToken = default) => inner.DeleteAsync(key, cancellationToken);

    public IAsyncEnumerable<TierObjectInfo> ListAsync(string prefix, CancellationToken cancellationToken = default) => inner.ListAsync(prefix, cancellationToken);
}
