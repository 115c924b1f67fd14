using System.Text;
using Microsoft.Extensions.Time.Testing;
using OrleansStream.Records;
using OrleansStream.Storage.Producers;

namespace OrleansStream.Storage.Tests;

public sealed class CompactionTests : IDisposable
{
    private const long T0 = 1_700_000_000_000;
    private readonly TempDirectory _dir = new();
    private readonly FakeTimeProvider _time = new(DateTimeOffset.FromUnixTimeMilliseconds(T0));

    public void Dispose() => _dir.Dispose();

    private PartitionLog Open(LogConfig config) => PartitionLog.Open(_dir.Path, config, _time);

    private static LogConfig Compacted(CleanupPolicy policy = CleanupPolicy.Compact) =>
        new() { CleanupPolicy = policy, SegmentBytes = 400, DeleteRetentionMs = 10_000 };

    /// <summary>(offset, key, value) of every record in the log, in order.</summary>
    private static List<(long Offset, string Key, string? Value)> Records(PartitionLog log)
    {
        var result = new List<(long, string, string?)>();
        var bytes = RecoveryTests.ReadAll(log);
        foreach (var batch in RecordBatchReader.Batches(bytes))
        {
            Assert.Equal(ErrorCode.None, batch.Validate());
            foreach (var record in batch.Records())
                result.Add((record.Offset, Encoding.UTF8.GetString(record.Key), record.ValueIsNull ? null : Encoding.UTF8.GetString(record.Value)));
        }
        return result;
    }

    [Fact]
    public async Task Compaction_keeps_an_active_producers_last_batch_as_an_empty_batch_so_its_state_survives()
    {
        const long pid = 1000;
        using (var log = Open(Compacted()))
        {
            log.AppendAsLeader(ProducerBatches.Data(0, pid, 0, 0), 0);
            log.AppendAsLeader(ProducerBatches.Data(0, pid, 0, 1), 0);
            log.AppendAsLeader(TestBatches.Create(TestRecord.Of("k0", "newest")), 0);
            log.Roll();
            log.AppendAsLeader(TestBatches.Create(TestRecord.Of("x", "active")), 0);

            var result = await log.CompactAsync();

            Assert.Equal(2, result.RecordsRemoved);
            var batches = TestBatches.Walk(RecoveryTests.ReadAll(log));
            Assert.Equal([(1L, 1L), (2L, 2L), (3L, 3L)], batches.Select(b => (b.Base, b.Last)));
            var kept = RecordBatchHeader.Read(log.Read(1, 1).Span);
            Assert.Equal((0, pid, 1), (kept.RecordCount, kept.ProducerId, kept.BaseSequence));
            Assert.Equal([(2L, "k0", "newest"), (3L, "x", "active")], Records(log));
        }
        // Without snapshots the state is rebuilt from the log alone: the empty batch still carries the producer's sequence.
        foreach (var snapshot in Directory.GetFiles(_dir.Path, "*" + ProducerStateSnapshot.Suffix))
            File.Delete(snapshot);

        using var reopened = Open(Compacted());

        var retry = reopened.AppendAsLeader(ProducerBatches.Data(0, pid, 0, 1), 0);
        Assert.Equal((true, 1L), (retry.IsDuplicate, retry.FirstOffset));
        Assert.Equal(ErrorCode.OutOfOrderSequenceNumber,
            Assert.Throws<OrleansStreamException>(() => reopened.AppendAsLeader(ProducerBatches.Data(0, pid, 0, 5), 0)).Code);
    }

    [Fact]
    public async Task Compaction_keeps_the_newest_record_per_key_with_offsets_and_order_unchanged()
    {
        using var log = Open(Compacted());
        string[] keys = ["a", "b", "c", "a", "d", "b", "a", "e", "c", "a", "f", "g"];
        for (var i = 0; i < keys.Length; i++)
            log.AppendAsLeader(TestBatches.Create(TestRecord.Of(keys[i], $"{keys[i]}{i}", T0 + i)), 0);
        log.AppendAsLeader(TestBatches.Create(TestRecord.Of("a", "a-active", T0 + 100)), 0);
        Assert.True(log.SegmentCount > 2);
        var before = Records(log);

        var result = await log.CompactAsync();

        var after = Records(log);
        // Within the closed segments a key's older records go; the active segment is not touched (its "a" stays).
        var closedEnd = log.Segments[^1].BaseOffset;
        var expected = before.Where(r => r.Offset >= closedEnd
            || r.Offset == before.Where(o => o.Key == r.Key && o.Offset < closedEnd).Max(o => o.Offset)).ToList();
        Assert.Equal(expected, after);
        Assert.Equal(before.Count - after.Count, result.RecordsRemoved);
        Assert.True(result.BytesAfter < result.BytesBefore);
        Assert.Equal(13, log.LogEndOffset);
        Assert.Equal(0, log.LogStartOffset);

        // Reads by offset still land on the right batch, including offsets whose records are gone.
        Assert.Equal(after.First(r => r.Offset >= 1).Offset, RecordBatchHeader.Read(log.Read(1, 1).Span).BaseOffset);
        Assert.Equal(after, Records(log));
        Assert.Equal(0, (await log.CompactAsync()).RecordsRemoved); // idempotent
    }

    [Fact]
    public async Task Records_are_filtered_inside_a_batch_keeping_its_offsets()
    {
        using var log = Open(Compacted());
        log.AppendAsLeader(TestBatches.Create(TestRecord.Of("x", "1"), TestRecord.Of("y", "2"), TestRecord.Of("x", "3"), TestRecord.Of("z", "4")), 0);
        log.AppendAsLeader(TestBatches.Create(TestRecord.Of("y", "5")), 0);
        log.Roll();
        log.AppendAsLeader(TestBatches.Create(TestRecord.Of("w", "6")), 0);

        await log.CompactAsync();

        Assert.Equal([(2L, "x", "3"), (3L, "z", "4"), (4L, "y", "5"), (5L, "w", "6")], Records(log));
        var first = RecordBatchHeader.Read(log.Read(0, 1).Span);
        Assert.Equal((0L, 3L, 2), (first.BaseOffset, first.LastOffset, first.RecordCount));
    }

    [Fact]
    public async Task Tombstones_stay_for_delete_retention_ms_and_then_go()
    {
        using var log = Open(Compacted());
        log.AppendAsLeader(TestBatches.Create(TestRecord.Of("k", "v1", T0), TestRecord.Of("j", "v2", T0)), 0);
        log.AppendAsLeader(TestBatches.Create(TestRecord.Of("k", null, T0 + 1)), 0);
        log.Roll();
        log.AppendAsLeader(TestBatches.Create(TestRecord.Of("other", "x", T0 + 2)), 0);

        var first = await log.CompactAsync();
        Assert.Equal((1L, 0L), (first.RecordsRemoved, first.TombstonesRemoved));
        Assert.Equal([(1L, "j", "v2"), (2L, "k", (string?)null), (3L, "other", "x")], Records(log));

        _time.Advance(TimeSpan.FromMilliseconds(10_002));
        var second = await log.CompactAsync();
        Assert.Equal((1L, 1L), (second.RecordsRemoved, second.TombstonesRemoved));
        Assert.Equal([(1L, "j", "v2"), (3L, "other", "x")], Records(log));
        Assert.Equal(4, log.LogEndOffset);
    }

    [Fact]
    public async Task Min_compaction_lag_keeps_recent_segments_out_of_the_cleaner()
    {
        using var log = Open(Compacted() with { MinCompactionLagMs = 60_000 });
        log.AppendAsLeader(TestBatches.Create(TestRecord.Of("k", "1", T0), TestRecord.Of("k", "2", T0)), 0);
        log.Roll();
        log.AppendAsLeader(TestBatches.Create(TestRecord.Of("k", "3", T0)), 0);
        Assert.Equal(0, (await log.CompactAsync()).RecordsRemoved);
        _time.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(1, (await log.CompactAsync()).RecordsRemoved);
    }

    [Fact]
    public async Task Compact_and_delete_applies_both_and_compacted_logs_survive_reopen()
    {
        var config = Compacted(CleanupPolicy.Compact | CleanupPolicy.Delete) with { RetentionMs = 5_000 };
        using (var log = Open(config))
        {
            for (var i = 0; i < 12; i++)
                log.AppendAsLeader(TestBatches.Create(TestRecord.Of("k" + i % 3, "v" + i, T0 + i * 1000)), 0);
            await log.CompactAsync();
            _time.SetUtcNow(DateTimeOffset.FromUnixTimeMilliseconds(T0 + 12_000));
            Assert.True(log.DeleteOldSegments().SegmentsDeleted > 0);
            Assert.True(log.LogStartOffset > 0);
        }
        using (var log = Open(config))
        {
            var records = Records(log);
            Assert.Equal(records.OrderBy(r => r.Offset), records);
            Assert.Equal(12, log.LogEndOffset);
            Assert.Equal(12, log.AppendAsLeader(TestBatches.Create(TestRecord.Of("k", "new")), 0).FirstOffset);
        }
    }

    [Fact]
    public void A_compacted_topic_rejects_records_without_a_key()
    {
        using var log = Open(Compacted());
        var error = Assert.Throws<OrleansStreamException>(() =>
            log.AppendAsLeader(TestBatches.Create(TestRecord.Of("k", "v"), TestRecord.Of(null, "v")), 0));
        Assert.Equal(ErrorCode.InvalidRecord, error.Code);
        Assert.Equal(0, log.LogEndOffset);
    }

    [Fact]
    public async Task Delete_only_topics_are_not_compacted()
    {
        using var log = Open(new LogConfig { SegmentBytes = 100 });
        log.AppendAsLeader(TestBatches.Create(TestRecord.Of("k", "1")), 0);
        log.AppendAsLeader(TestBatches.Create(TestRecord.Of("k", "2")), 0);
        log.AppendAsLeader(TestBatches.Create(TestRecord.Of("k", "3")), 0);
        Assert.Equal(default, await log.CompactAsync());
    }

    private readonly HeldTaskScheduler _scheduler = new() { RunWhenWaitedOn = true };

    /// <summary>A compacted log whose background work (the cleaner, the rolls' flushes) waits for the test.</summary>
    private PartitionLog OpenHeld(LogConfig? config = null) =>
        PartitionLog.Open(_dir.Path, config ?? Compacted() with { SegmentBytes = 1 << 20 }, _time, _scheduler);

    private static void Append(PartitionLog log, string key, string? value, long timestamp = T0) =>
        log.AppendAsLeader(TestBatches.Create(TestRecord.Of(key, value, timestamp)), 0);

    private void AssertNoCleanedFilesLeft() =>
        Assert.Empty(Directory.GetFiles(_dir.Path, "*.cleaned"));

    [Fact]
    public async Task Appends_and_reads_go_on_while_the_cleaner_runs_and_the_swap_applies_the_compacted_view()
    {
        using var log = OpenHeld();
        Append(log, "a", "a0");
        Append(log, "b", "b1");
        Append(log, "a", "a2");
        log.Roll();
        Append(log, "b", "b3");
        Append(log, "c", "c4");
        log.Roll();
        _scheduler.RunPending(); // the rolls' flushes
        var before = Records(log);

        var compaction = log.CompactAsync();

        // The clean waits on the scheduler: the call returned without rewriting anything, and the log works meanwhile.
        Assert.False(compaction.IsCompleted);
        Assert.Equal(1, _scheduler.Pending);
        Append(log, "a", "a5");
        log.Roll();
        Append(log, "d", "d6");
        List<(long, string, string?)> meanwhile = [.. before, (5L, "a", "a5"), (6L, "d", "d6")];
        Assert.Equal(meanwhile, Records(log));
        Assert.Equal(0L, RecordBatchHeader.Read(log.Read(0, 1).Span).BaseOffset);

        _scheduler.RunPending();
        var result = await compaction;

        // Segment 0-2 lost a0 and b1 to the newer values in 0-4; the segments written meanwhile are untouched.
        Assert.Equal((1, 2L), (result.SegmentsCleaned, result.RecordsRemoved));
        Assert.Equal([(2L, "a", "a2"), (3L, "b", "b3"), (4L, "c", "c4"), (5L, "a", "a5"), (6L, "d", "d6")], Records(log));
        Assert.Equal(2L, RecordBatchHeader.Read(log.Read(0, 1).Span).BaseOffset);
        AssertNoCleanedFilesLeft();
        Append(log, "e", "e7");
        Assert.Equal(8, log.LogEndOffset);
    }

    [Fact]
    public async Task Retention_while_the_cleaner_runs_drops_only_the_copies_of_deleted_segments()
    {
        using var log = OpenHeld(Compacted(CleanupPolicy.Compact | CleanupPolicy.Delete) with { SegmentBytes = 1 << 20, RetentionMs = 5_000 });
        Append(log, "a", "a0", T0);
        Append(log, "a", "a1", T0);
        log.Roll();
        Append(log, "b", "b2", T0 + 10_000);
        Append(log, "b", "b3", T0 + 10_000);
        log.Roll();
        Append(log, "c", "c4", T0 + 10_000);
        _scheduler.RunPending();

        var compaction = log.CompactAsync();
        _time.SetUtcNow(DateTimeOffset.FromUnixTimeMilliseconds(T0 + 6_000));
        Assert.Equal(1, log.DeleteOldSegments().SegmentsDeleted); // the first segment, whose copy is being written
        _scheduler.RunPending();
        var result = await compaction;

        Assert.Equal((1, 1L), (result.SegmentsCleaned, result.RecordsRemoved));
        Assert.Equal([(3L, "b", "b3"), (4L, "c", "c4")], Records(log));
        Assert.Equal(2, log.LogStartOffset);
        AssertNoCleanedFilesLeft();
    }

    [Fact]
    public async Task A_truncation_while_the_cleaner_runs_drops_every_copy_cleaned_against_what_it_removed()
    {
        using var log = OpenHeld();
        Append(log, "k", "k0");
        Append(log, "j", "j1");
        log.Roll();
        Append(log, "x", "x2");
        log.Roll();
        Append(log, "k", "k3"); // the newest "k": the clean drops k0 against it
        log.Roll();
        Append(log, "y", "y4");
        _scheduler.RunPending();

        var compaction = log.CompactAsync();
        log.TruncateTo(3); // a follower's divergence: "k3" goes
        _scheduler.RunPending();
        var result = await compaction;

        Assert.Equal(0, result.SegmentsCleaned);
        Assert.Equal([(0L, "k", "k0"), (1L, "j", "j1"), (2L, "x", "x2")], Records(log));
        AssertNoCleanedFilesLeft();
        log.Dispose();
        using var reopened = PartitionLog.Open(_dir.Path, Compacted(), _time);
        Assert.Equal([(0L, "k", "k0"), (1L, "j", "j1"), (2L, "x", "x2")], Records(reopened));
    }

    [Fact]
    public async Task Closing_the_log_while_the_cleaner_is_pending_cancels_it_and_leaves_the_segments_as_they_were()
    {
        var log = OpenHeld();
        Append(log, "k", "k0");
        Append(log, "k", "k1");
        log.Roll();
        Append(log, "z", "z2");
        _scheduler.RunPending();
        var before = Records(log);

        var compaction = log.CompactAsync();
        log.Dispose();

        Assert.Equal(default, await compaction);
        AssertNoCleanedFilesLeft();
        using var reopened = PartitionLog.Open(_dir.Path, Compacted(), _time);
        Assert.Equal(before, Records(reopened));
    }
}
