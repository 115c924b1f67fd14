using OrleansStream.Storage.Tiering;

namespace OrleansStream.Tiering.Tests;

/// <summary>ListOffsets by timestamp below the local log start: the tier's time indexes answer.</summary>
[Trait("Category", "Slow")]
public sealed class RemoteTimeIndexTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Timestamps_below_the_local_log_start_are_found_in_the_remote_time_indexes()
    {
        var store = new AzureBlobTierStore(new AzureBlobTierStoreSettings
        {
            ConnectionString = azurite.Azurite.ConnectionString,
            Container = AzuriteFixture.NewContainerName(),
        });
        using var t = new TieredLog(store, TieredLog.SmallSegments(localRetentionBytes: 8192));
        // 200 batches of 5 records, batch b stamped Start + b seconds.
        for (var b = 0; b < 200; b++)
        {
            t.Produce(5);
            t.Time.Advance(TimeSpan.FromSeconds(1));
        }
        TieringPassResult pass;
        do pass = await t.Manager.RunOnceAsync(0, Ct);
        while (pass is { Failed: false, SegmentsCopied: > 0 });
        Assert.Null(pass.Error);
        var localStart = t.Log.LocalLogStartOffset;
        Assert.True(localStart >= 500, $"local log start {localStart}");

        long At(int batch) => TieredLog.Start.AddSeconds(batch).ToUnixTimeMilliseconds();
        // Exact batch times, times between batches, and the first time of all, across many remote segments.
        for (var b = 0; b < localStart / 5; b += 7)
        {
            Assert.Equal(new(At(b), 5L * b), await t.Manager.FindOffsetByTimestampAsync(At(b), Ct));
            Assert.Equal(new(At(b + 1), 5L * (b + 1)), await t.Manager.FindOffsetByTimestampAsync(At(b) + 400, Ct));
        }
        Assert.Equal(new(At(0), 0L), await t.Manager.FindOffsetByTimestampAsync(0, Ct));

        // Above the tiered part the tier has no answer and the local log has: together they are one log.
        var firstLocalBatch = (int)(localStart / 5);
        Assert.Null(await t.Manager.FindOffsetByTimestampAsync(At(firstLocalBatch), Ct));
        Assert.Equal(new(At(firstLocalBatch), localStart), t.Log.FindOffsetByTimestamp(At(firstLocalBatch)));
        Assert.Null(await t.Manager.FindOffsetByTimestampAsync(At(500), Ct));

        // KIP-734's MAX_TIMESTAMP: the tier's largest timestamp is its last batch's, the local log's the last one's.
        Assert.Equal(At(firstLocalBatch - 1), await t.Manager.MaxTimestampAsync(Ct));
        Assert.Equal(At(199), t.Log.MaxTimestamp);

        // DeleteRecords / retention moved the log start: the answer is never below it.
        t.Log.DeleteRecordsBefore(12);
        Assert.Equal(12, (await t.Manager.FindOffsetByTimestampAsync(0, Ct))!.Value.Offset);
        // Nor can a fetch read below it from the tier, though the segment holding offset 5 is still there.
        var below = await Assert.ThrowsAsync<OrleansStreamException>(() => t.Manager.ReadAsync(5, 1024, cancellationToken: Ct));
        Assert.Equal(ErrorCode.OffsetOutOfRange, below.Code);
    }
}
