using System.Text;
using Microsoft.Extensions.Time.Testing;
using OrleansStream.Records;

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
    public void Compaction_keeps_the_newest_record_per_key_with_offsets_and_order_unchanged()
    {
        using var log = Open(Compacted());
        string[] keys = ["a", "b", "c", "a", "d", "b", "a", "e", "c", "a", "f", "g"];
        for (var i = 0; i < keys.Length; i++)
            log.AppendAsLeader(TestBatches.Create(TestRecord.Of(keys[i], $"{keys[i]}{i}", T0 + i)), 0);
        log.AppendAsLeader(TestBatches.Create(TestRecord.Of("a", "a-active", T0 + 100)), 0);
        Assert.True(log.SegmentCount > 2);
        var before = Records(log);

        var result = log.Compact();

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
        Assert.Equal(0, log.Compact().RecordsRemoved); // idempotent
    }

    [Fact]
    public void Records_are_filtered_inside_a_batch_keeping_its_offsets()
    {
        using var log = Open(Compacted());
        log.AppendAsLeader(TestBatches.Create(TestRecord.Of("x", "1"), TestRecord.Of("y", "2"), TestRecord.Of("x", "3"), TestRecord.Of("z", "4")), 0);
        log.AppendAsLeader(TestBatches.Create(TestRecord.Of("y", "5")), 0);
        log.Roll();
        log.AppendAsLeader(TestBatches.Create(TestRecord.Of("w", "6")), 0);

        log.Compact();

        Assert.Equal([(2L, "x", "3"), (3L, "z", "4"), (4L, "y", "5"), (5L, "w", "6")], Records(log));
        var first = RecordBatchHeader.Read(log.Read(0, 1).Span);
        Assert.Equal((0L, 3L, 2), (first.BaseOffset, first.LastOffset, first.RecordCount));
    }

    [Fact]
    public void Tombstones_stay_for_delete_retention_ms_and_then_go()
    {
        using var log = Open(Compacted());
        log.AppendAsLeader(TestBatches.Create(TestRecord.Of("k", "v1", T0), TestRecord.Of("j", "v2", T0)), 0);
        log.AppendAsLeader(TestBatches.Create(TestRecord.Of("k", null, T0 + 1)), 0);
        log.Roll();
        log.AppendAsLeader(TestBatches.Create(TestRecord.Of("other", "x", T0 + 2)), 0);

        var first = log.Compact();
        Assert.Equal((1L, 0L), (first.RecordsRemoved, first.TombstonesRemoved));
        Assert.Equal([(1L, "j", "v2"), (2L, "k", (string?)null), (3L, "other", "x")], Records(log));

        _time.Advance(TimeSpan.FromMilliseconds(10_002));
        var second = log.Compact();
        Assert.Equal((1L, 1L), (second.RecordsRemoved, second.TombstonesRemoved));
        Assert.Equal([(1L, "j", "v2"), (3L, "other", "x")], Records(log));
        Assert.Equal(4, log.LogEndOffset);
    }

    [Fact]
    public void Min_compaction_lag_keeps_recent_segments_out_of_the_cleaner()
    {
        using var log = Open(Compacted() with { MinCompactionLagMs = 60_000 });
        log.AppendAsLeader(TestBatches.Create(TestRecord.Of("k", "1", T0), TestRecord.Of("k", "2", T0)), 0);
        log.Roll();
        log.AppendAsLeader(TestBatches.Create(TestRecord.Of("k", "3", T0)), 0);
        Assert.Equal(0, log.Compact().RecordsRemoved);
        _time.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(1, log.Compact().RecordsRemoved);
    }

    [Fact]
    public void Compact_and_delete_applies_both_and_compacted_logs_survive_reopen()
    {
        var config = Compacted(CleanupPolicy.Compact | CleanupPolicy.Delete) with { RetentionMs = 5_000 };
        using (var log = Open(config))
        {
            for (var i = 0; i < 12; i++)
                log.AppendAsLeader(TestBatches.Create(TestRecord.Of("k" + i % 3, "v" + i, T0 + i * 1000)), 0);
            log.Compact();
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
    public void Delete_only_topics_are_not_compacted()
    {
        using var log = Open(new LogConfig { SegmentBytes = 100 });
        log.AppendAsLeader(TestBatches.Create(TestRecord.Of("k", "1")), 0);
        log.AppendAsLeader(TestBatches.Create(TestRecord.Of("k", "2")), 0);
        log.AppendAsLeader(TestBatches.Create(TestRecord.Of("k", "3")), 0);
        Assert.Equal(default, log.Compact());
    }
}
