using System.Text.RegularExpressions;
using OrleansStream.Records;
using OrleansStream.Storage;
using OrleansStream.Storage.Producers;
using OrleansStream.Storage.Tiering;

namespace OrleansStream.Tiering.Tests;

[Trait("Category", "Slow")]
public sealed partial class RemoteLogManagerTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private AzureBlobTierStore NewStore(int maxRetries = 4) => new(new AzureBlobTierStoreSettings
    {
        ConnectionString = azurite.Azurite.ConnectionString,
        Container = AzuriteFixture.NewContainerName(),
        MaxRetries = maxRetries,
    });

    [GeneratedRegex(@"^orders/0/(\d{20})-([0-9a-f]{32})\.(log|index|timeindex|epoch)$")]
    private static partial Regex SegmentKey();

    [Fact]
    public async Task Closed_segments_are_tiered_local_copies_go_and_offset_zero_reads_everything_in_order()
    {
        using var t = new TieredLog(NewStore(), TieredLog.SmallSegments(localRetentionBytes: 8192));
        t.Produce(800);
        var closed = t.Log.Segments.Count(s => !s.IsActive);
        Assert.True(closed >= 20, $"only {closed} closed segments");

        TieringPassResult pass;
        do pass = await t.Manager.RunOnceAsync(leaderEpoch: 0, Ct);
        while (pass.SegmentsCopied > 0 && !pass.Failed);
        Assert.Null(pass.Error);

        // Every closed segment is in Azurite under the documented names, four objects each.
        var keys = await t.RemoteKeysAsync();
        var manifest = t.Manager.Manifest!;
        Assert.Contains("orders/0/manifest.json", keys);
        Assert.Equal(closed, manifest.Segments.Count);
        Assert.All(manifest.Segments, s => Assert.Equal(RemoteLogSegmentState.CopySegmentFinished, s.State));
        Assert.Equal(closed * 4, keys.Count(k => SegmentKey().IsMatch(k)));
        foreach (var s in manifest.Segments)
            Assert.Contains($"orders/0/{s.BaseOffset:D20}-{s.SegmentId}.log", keys);
        Assert.Equal(0, t.Manager.UploadLagSegments);

        // Local retention (8 KiB) removed the tiered local copies but kept the log start.
        Assert.True(t.Log.SizeInBytes <= 8192 + 4096 * 2);
        Assert.True(t.Log.LocalLogStartOffset > 0);
        Assert.Equal(0, t.Log.LogStartOffset);
        Assert.Equal(0, t.Manager.LogStartOffset);

        Assert.Equal(800, await t.ConsumeAndVerifyAsync(0));
        Assert.Equal(400, await t.ConsumeAndVerifyAsync(400));
        Assert.Equal(1, await t.ConsumeAndVerifyAsync(799));
    }

    [Fact]
    public async Task Nothing_above_the_high_watermark_or_in_the_active_segment_is_tiered()
    {
        using var t = new TieredLog(NewStore(), TieredLog.SmallSegments());
        t.Produce(300);
        t.Log.UpdateHighWatermark(40);
        await t.Manager.RunOnceAsync(0, Ct);

        Assert.All(t.Manager.Manifest!.Segments, s => Assert.True(s.NextOffset <= 40));
        Assert.True(t.Log.LocalLogStartOffset <= 40);
        Assert.True(t.Manager.UploadLagSegments == 0);
    }

    [Fact]
    public async Task Azurite_stopped_during_uploads_keeps_local_data_and_later_completes_without_duplicates()
    {
        await using var own = await Azurite.StartAsync();
        var store = new AzureBlobTierStore(new AzureBlobTierStoreSettings
        {
            ConnectionString = own.ConnectionString,
            Container = "outage",
            MaxRetries = 1,
            RetryDelay = TimeSpan.FromMilliseconds(10),
            NetworkTimeout = TimeSpan.FromSeconds(5),
        });
        using var t = new TieredLog(store, TieredLog.SmallSegments(localRetentionBytes: 0) with { SegmentBytes = 8192 });
        t.Produce(1200);
        var closedBefore = t.Log.Segments.Count(s => !s.IsActive);

        // The first segments go up, then the tier disappears in the middle of the pass.
        var pass = t.Manager.RunOnceAsync(0, Ct);
        await Eventually.WaitUntilAsync(() => t.Manager.Manifest is { } m && m.Segments.Any(s => s.State == RemoteLogSegmentState.CopySegmentFinished),
            "the first segment is tiered", TimeSpan.FromSeconds(60));
        await own.StopAsync();
        await pass;

        var failed = await t.Manager.RunOnceAsync(0, Ct);
        Assert.True(failed.Failed);
        var copiedDuringOutage = t.Manager.Manifest!.Segments.Count(s => s.State == RemoteLogSegmentState.CopySegmentFinished);
        Assert.True(copiedDuringOutage < closedBefore);

        // Produce continues and nothing untiered was deleted locally.
        t.Produce(400);
        var tieredNext = t.Manager.Manifest!.CopiedNextOffset();
        Assert.True(t.Log.LocalLogStartOffset <= Math.Max(tieredNext, 0));
        Assert.Equal(1600, t.Log.LogEndOffset);

        await own.StartAgainAsync();
        TieringPassResult again;
        var deadline = DateTime.UtcNow.AddSeconds(60);
        do again = await t.Manager.RunOnceAsync(0, Ct);
        while ((again.Failed || again.SegmentsCopied > 0 || t.Manager.UploadLagSegments > 0) && DateTime.UtcNow < deadline);
        Assert.Null(again.Error);

        // Exactly one copy per closed segment, contiguous, no gaps or duplicates, and no stray blobs.
        var manifest = t.Manager.Manifest!;
        var finished = manifest.Segments.Where(s => s.State == RemoteLogSegmentState.CopySegmentFinished).OrderBy(s => s.BaseOffset).ToList();
        Assert.Equal(manifest.Segments.Count, finished.Count);
        Assert.Equal(0, finished[0].BaseOffset);
        for (var i = 1; i < finished.Count; i++) Assert.Equal(finished[i - 1].NextOffset, finished[i].BaseOffset);
        Assert.Equal(t.Log.Segments.First(s => s.IsActive).BaseOffset, finished[^1].NextOffset);
        var keys = await t.RemoteKeysAsync();
        var segmentKeys = keys.Where(k => SegmentKey().IsMatch(k)).ToList();
        Assert.Equal(finished.Count * 4, segmentKeys.Count);
        Assert.Equal(finished.Count, segmentKeys.Select(k => SegmentKey().Match(k).Groups[1].Value).Distinct().Count());

        Assert.Equal(1600, await t.ConsumeAndVerifyAsync(0));
    }

    [Fact]
    public async Task Retention_removes_remote_segments_and_moves_the_log_start()
    {
        var config = TieredLog.SmallSegments(localRetentionBytes: 0) with { RetentionMs = 60_000 };
        using var t = new TieredLog(NewStore(), config);
        t.Produce(500);
        await RunUntilIdleAsync(t);
        var oldSegments = t.Manager.Manifest!.Segments.Count;
        Assert.True(oldSegments > 5);

        t.Time.Advance(TimeSpan.FromMinutes(5));
        t.Produce(250);
        await RunUntilIdleAsync(t);

        var manifest = t.Manager.Manifest!;
        Assert.All(manifest.Segments, s => Assert.True(s.BaseOffset >= 500 - 100, $"segment {s.BaseOffset} survived retention"));
        Assert.True(t.Log.LogStartOffset >= 400);
        Assert.Equal(t.Log.LogStartOffset, t.Manager.LogStartOffset);
        var keys = await t.RemoteKeysAsync();
        Assert.Equal(manifest.Segments.Count * 5 + 1, keys.Count); // log, index, time index, epochs, producer snapshot; the manifest
        var ex = await Assert.ThrowsAsync<OrleansStreamException>(() => t.Manager.ReadAsync(0, 1024, cancellationToken: Ct));
        Assert.Equal(ErrorCode.OffsetOutOfRange, ex.Code);
        await t.ConsumeAndVerifyAsync(t.Manager.LogStartOffset);
    }

    [Fact]
    public async Task Retention_bytes_counts_local_and_remote_data()
    {
        var config = TieredLog.SmallSegments(localRetentionBytes: 0) with { RetentionBytes = 40_000 };
        using var t = new TieredLog(NewStore(), config);
        t.Produce(1000);
        await RunUntilIdleAsync(t);

        var remote = t.Manager.Manifest!.Segments.Where(s => s.NextOffset <= t.Log.LocalLogStartOffset).Sum(s => (long)s.SegmentSizeInBytes);
        var total = remote + t.Log.SizeInBytes;
        Assert.True(total <= 40_000 + 4096, $"total {total}");
        Assert.True(t.Manager.LogStartOffset > 0);
        await t.ConsumeAndVerifyAsync(t.Manager.LogStartOffset);
    }

    [Fact]
    public async Task A_rebuilt_replica_starts_at_the_leader_local_log_start_and_downloads_no_history()
    {
        var store = NewStore();
        using var leader = new TieredLog(store, TieredLog.SmallSegments(localRetentionBytes: 8192));
        leader.Produce(600, leaderEpoch: 3);
        await RunUntilIdleAsync(leader, epoch: 3);
        var localStart = leader.Log.LocalLogStartOffset;
        Assert.True(localStart > 0);

        var counting = new CountingTierStore(store);
        using var follower = new TieredLog(counting, TieredLog.SmallSegments(localRetentionBytes: 8192), directory: null);
        var fetchFrom = await RemoteLogManager.PrepareFollowerAsync(follower.Log, "orders", 0, counting, localStart, Ct);
        Assert.Equal(localStart, fetchFrom);

        // Replicate the local tail only, as a follower fetch loop does.
        while (fetchFrom < leader.Log.LogEndOffset)
        {
            var chunk = leader.Log.Read(fetchFrom, 64 * 1024);
            follower.Log.AppendAsFollower(chunk.Span);
            fetchFrom = follower.Log.LogEndOffset;
        }
        Assert.Equal(leader.Log.LogEndOffset, follower.Log.LogEndOffset);
        Assert.Equal(localStart, follower.Log.LocalLogStartOffset);
        Assert.Equal(0, follower.Log.LogStartOffset);
        Assert.Equal(0, counting.BytesRead);
        Assert.Equal(3, follower.Log.LeaderEpochCache.LatestEpoch);
        Assert.True(follower.Log.SizeInBytes <= leader.Log.SizeInBytes + 4096);

        // The replica, once leader, still serves history from the tier.
        follower.Log.UpdateHighWatermark(follower.Log.LogEndOffset);
        await follower.Manager.RunOnceAsync(4, Ct);
        Assert.Equal(0, follower.Manager.LogStartOffset);
        Assert.Equal(600, await follower.ConsumeAndVerifyAsync(0));
    }

    [Fact]
    public async Task A_stale_leader_is_fenced_by_the_manifest_epoch()
    {
        var store = NewStore();
        using var newer = new TieredLog(store, TieredLog.SmallSegments());
        newer.Produce(300);
        await newer.Manager.RunOnceAsync(leaderEpoch: 5, Ct);

        using var zombie = new TieredLog(store, TieredLog.SmallSegments());
        zombie.Produce(300);
        var pass = await zombie.Manager.RunOnceAsync(leaderEpoch: 4, Ct);
        Assert.True(pass.Fenced);
        Assert.True(zombie.Manager.IsFenced);
        Assert.Equal(0, pass.SegmentsCopied);
    }

    [Fact]
    public async Task A_rebuilt_replica_restores_the_producer_state_tiered_with_the_segment_before_its_local_log_start()
    {
        const long pid = 77;
        var store = NewStore();
        using var leader = new TieredLog(store, TieredLog.SmallSegments(localRetentionBytes: 8192));
        // The idempotent producer's batches all end up in the tier only; plain traffic fills the local log after them.
        using var builder = new RecordBatchBuilder();
        byte[] last = [];
        for (var seq = 0; seq < 5; seq++)
        {
            builder.Reset(pid, 0, seq);
            builder.Append(leader.Time.GetUtcNow().ToUnixTimeMilliseconds(), "k"u8.ToArray(), "v"u8.ToArray());
            last = builder.ToArray();
            leader.Log.AppendAsLeader(last, 0);
        }
        leader.Produce(600);
        await RunUntilIdleAsync(leader);
        var localStart = leader.Log.LocalLogStartOffset;
        Assert.True(localStart > 5);

        using var follower = new TieredLog(store, TieredLog.SmallSegments(localRetentionBytes: 8192));
        var fetchFrom = await RemoteLogManager.PrepareFollowerAsync(follower.Log, "orders", 0, store, localStart, Ct);
        while (fetchFrom < leader.Log.LogEndOffset)
        {
            follower.Log.AppendAsFollower(leader.Log.Read(fetchFrom, 64 * 1024).Span);
            fetchFrom = follower.Log.LogEndOffset;
        }

        Assert.True(follower.Log.ProducerStateManager.TryGetLastEntry(pid, out var entry));
        Assert.Equal(4, entry.LastSeq);
        // The replica, once leader, answers the producer's retry of its last batch with the original offset.
        var retry = follower.Log.AppendAsLeader(last, 1);
        Assert.Equal((true, 4L), (retry.IsDuplicate, retry.FirstOffset));
    }

    private static async Task RunUntilIdleAsync(TieredLog t, int epoch = 0)
    {
        for (var i = 0; i < 100; i++)
        {
            var pass = await t.Manager.RunOnceAsync(epoch, Ct);
            Assert.Null(pass.Error);
            if (pass.SegmentsCopied == 0 && pass.RemoteSegmentsDeleted == 0 && pass.LocalSegmentsDeleted == 0) return;
        }
        Assert.Fail("tiering did not settle");
    }
}

/// <summary>Counts what is read from a real tier store (to show a follower downloads no history).</summary>
public sealed class CountingTierStore(ITierStore inner) : ITierStore
{
    public long BytesRead;

    public Task<bool> UploadAsync(string key, Stream content, CancellationToken cancellationToken = default) => inner.UploadAsync(key, content, cancellationToken);

    public async Task<int> ReadAsync(string key, long position, Memory<byte> destination, CancellationToken cancellationToken = default)
    {
        var n = await inner.ReadAsync(key, position, destination, cancellationToken);
        Interlocked.Add(ref BytesRead, n);
        return n;
    }

    public async Task<TierObject?> GetAsync(string key, CancellationToken cancellationToken = default)
    {
        var o = await inner.GetAsync(key, cancellationToken);
        // History only: the manifest and a segment's producer snapshot are a replica's auxiliary state.
        if (o is not null && !key.EndsWith(RemoteLogManifest.FileName, StringComparison.Ordinal) && !key.EndsWith(ProducerStateSnapshot.Suffix, StringComparison.Ordinal))
            Interlocked.Add(ref BytesRead, o.Content.Length);
        return o;
    }

    public Task<string> WriteConditionalAsync(string key, ReadOnlyMemory<byte> content, string? ifMatch, CancellationToken cancellationToken = default)
        => inner.WriteConditionalAsync(key, content, ifMatch, cancellationToken);

    public Task<bool> DeleteAsync(string key, CancellationToken cancellationToken = default) => inner.DeleteAsync(key, cancellationToken);

    public IAsyncEnumerable<TierObjectInfo> ListAsync(string prefix, CancellationToken cancellationToken = default) => inner.ListAsync(prefix, cancellationToken);
}
