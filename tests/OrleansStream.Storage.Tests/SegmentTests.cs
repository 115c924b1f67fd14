using Microsoft.Extensions.Time.Testing;
using OrleansStream.Records;

namespace OrleansStream.Storage.Tests;

public sealed class SegmentTests : IDisposable
{
    private const long T0 = 1_700_000_000_000;
    private readonly TempDirectory _dir = new();
    private readonly FakeTimeProvider _time = new(DateTimeOffset.FromUnixTimeMilliseconds(T0));

    public void Dispose() => _dir.Dispose();

    private PartitionLog Open(LogConfig config) => PartitionLog.Open(_dir.Path, config, _time);

    [Fact]
    public void Segments_roll_at_segment_bytes_and_are_named_by_base_offset()
    {
        var batch = TestBatches.Sized(2, 50);
        using var log = Open(new LogConfig { SegmentBytes = batch.Length * 3 });
        for (var i = 0; i < 10; i++)
            log.AppendAsLeader(batch, 0);

        Assert.Equal(4, log.SegmentCount);
        var segments = log.Segments;
        Assert.Equal([0L, 6, 12, 18], segments.Select(s => s.BaseOffset));
        Assert.Equal([6L, 12, 18, 20], segments.Select(s => s.NextOffset));
        Assert.Equal([false, false, false, true], segments.Select(s => s.IsActive));
        Assert.Equal(batch.Length * 3, segments[0].SizeInBytes);
        Assert.Equal(Path.Combine(_dir.Path, "00000000000000000006.log"), segments[1].LogPath);
        Assert.Equal(Path.Combine(_dir.Path, "00000000000000000006.index"), segments[1].OffsetIndexPath);
        Assert.Equal(Path.Combine(_dir.Path, "00000000000000000006.timeindex"), segments[1].TimeIndexPath);
        Assert.All(segments, s => Assert.True(File.Exists(s.LogPath) && File.Exists(s.OffsetIndexPath) && File.Exists(s.TimeIndexPath)));
        Assert.Equal(batch.Length * 10L, log.SizeInBytes);
    }

    [Fact]
    public void Segments_roll_at_segment_ms_measured_on_batch_timestamps()
    {
        using var log = Open(new LogConfig { SegmentMs = 1000 });
        log.AppendAsLeader(TestBatches.Sized(1, 5, timestamp: T0), 0);
        log.AppendAsLeader(TestBatches.Sized(1, 5, timestamp: T0 + 1000), 0);
        Assert.Equal(1, log.SegmentCount);
        log.AppendAsLeader(TestBatches.Sized(1, 5, timestamp: T0 + 1001), 0);
        Assert.Equal(2, log.SegmentCount);
        Assert.Equal(2, log.Segments[^1].BaseOffset);
    }

    [Fact]
    public void Segments_roll_at_segment_ms_on_the_clock_for_log_append_time()
    {
        using var log = Open(new LogConfig { SegmentMs = 1000, MessageTimestampType = TimestampType.LogAppendTime });
        log.AppendAsLeader(TestBatches.Sized(1, 5), 0);
        _time.Advance(TimeSpan.FromMilliseconds(1000));
        log.AppendAsLeader(TestBatches.Sized(1, 5), 0);
        Assert.Equal(1, log.SegmentCount);
        _time.Advance(TimeSpan.FromMilliseconds(1));
        log.AppendAsLeader(TestBatches.Sized(1, 5), 0);
        Assert.Equal(2, log.SegmentCount);
    }

    [Fact]
    public void A_full_index_rolls_the_segment()
    {
        using var log = Open(new LogConfig { SegmentIndexBytes = 8 * 3, IndexIntervalBytes = 0 });
        for (var i = 0; i < 10; i++)
            log.AppendAsLeader(TestBatches.Sized(1, 5), 0);
        Assert.True(log.SegmentCount >= 3);
        Assert.Equal(10, log.LogEndOffset);
        Assert.Equal(10, TestBatches.Walk(RecoveryTests.ReadAll(log)).Count);
    }

    [Fact]
    public void Every_offset_is_found_across_many_segments_with_a_sparse_index()
    {
        var config = new LogConfig { SegmentBytes = 2000, IndexIntervalBytes = 300 };
        var sizes = new List<(long Base, long Last)>();
        using (var log = Open(config))
        {
            for (var i = 0; i < 120; i++)
            {
                var info = log.AppendAsLeader(TestBatches.Sized(1 + i % 4, 10 + i % 30, keySeed: i), 0);
                sizes.Add((info.FirstOffset, info.LastOffset));
            }
            Assert.True(log.SegmentCount > 5, $"{log.SegmentCount} segments");
            AssertEveryOffset(log);
            Assert.True(new FileInfo(log.Segments[0].OffsetIndexPath).Length > 0, string.Join(",", log.Segments.Select(s => $"{s.BaseOffset}:{s.SizeInBytes}:{new FileInfo(s.OffsetIndexPath).Length}")));
        }
        using (var reopened = Open(config))
            AssertEveryOffset(reopened);

        void AssertEveryOffset(PartitionLog log)
        {
            foreach (var (first, last) in sizes)
            {
                for (var offset = first; offset <= last; offset++)
                {
                    var read = TestBatches.Walk(log.Read(offset, 1).Span);
                    Assert.Equal((first, last), (read[0].Base, read[0].Last));
                }
            }
        }
    }

    [Fact]
    public void Offset_and_time_index_files_use_kafkas_entry_format()
    {
        using var log = Open(new LogConfig { IndexIntervalBytes = 0, SegmentBytes = 10_000 });
        var a = TestBatches.Sized(2, 5, timestamp: T0 + 10);
        var b = TestBatches.Sized(3, 5, timestamp: T0 + 20);
        var c = TestBatches.Sized(1, 5, timestamp: T0 + 15);
        log.AppendAsLeader(a, 0);
        log.AppendAsLeader(b, 0);
        log.AppendAsLeader(c, 0);
        log.Roll();

        var index = File.ReadAllBytes(log.Segments[0].OffsetIndexPath);
        // The first batch is never indexed (position 0 is implied); then (relative last offset, position).
        Assert.Equal(new byte[] { 0, 0, 0, 4, 0, 0, 0, (byte)a.Length, 0, 0, 0, 5, 0, 0, 0, (byte)(a.Length + b.Length) }, index);
        var timeIndex = File.ReadAllBytes(log.Segments[0].TimeIndexPath);
        Assert.Equal(12, timeIndex.Length); // T0+20 at offset 4; T0+15 is not larger
        Assert.Equal(T0 + 20, System.Buffers.Binary.BinaryPrimitives.ReadInt64BigEndian(timeIndex));
        Assert.Equal(4, System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(timeIndex.AsSpan(8)));
    }

    [Fact]
    public void Timestamp_lookup_finds_the_first_batch_at_or_after_the_time()
    {
        var config = new LogConfig { SegmentBytes = 600, IndexIntervalBytes = 100 };
        using var log = Open(config);
        long[] timestamps = [100, 200, 200, 150, 300, 400, 390, 500, 600, 700, 650, 800];
        foreach (var ts in timestamps)
            log.AppendAsLeader(TestBatches.Sized(2, 20, timestamp: T0 + ts), 0);
        Assert.True(log.SegmentCount > 2);

        for (var target = 0L; target <= 850; target += 10)
        {
            var expected = Array.FindIndex(timestamps, ts => ts >= target);
            var found = log.FindOffsetByTimestamp(T0 + target);
            if (expected < 0)
                Assert.Null(found);
            else
                Assert.Equal(new TimestampOffset(T0 + timestamps[expected], expected * 2), found);
        }

        log.DeleteRecordsBefore(5);
        Assert.Equal(new TimestampOffset(T0 + 200, 5), log.FindOffsetByTimestamp(T0 + 50));
    }

    /// <summary>KIP-734's MAX_TIMESTAMP: the largest timestamp from the segments, a closed one's from its time index after a reopen.</summary>
    [Fact]
    public void The_max_timestamp_comes_from_the_segments_and_survives_a_reopen()
    {
        var config = new LogConfig { SegmentBytes = 600, IndexIntervalBytes = 100 };
        long[] timestamps = [100, 200, 900, 150, 300, 400, 900, 500, 600, 700, 650, 800];
        using (var log = Open(config))
        {
            Assert.Equal(-1, log.MaxTimestamp);
            foreach (var ts in timestamps)
                log.AppendAsLeader(TestBatches.Sized(2, 20, timestamp: T0 + ts), 0);
            Assert.True(log.SegmentCount > 2);
            Assert.Equal(T0 + 900, log.MaxTimestamp);
            Assert.Equal(new TimestampOffset(T0 + 900, 4), log.FindOffsetByTimestamp(log.MaxTimestamp));
        }
        using var reopened = Open(config);
        Assert.Equal(T0 + 900, reopened.MaxTimestamp);
        Assert.Equal(new TimestampOffset(T0 + 900, 4), reopened.FindOffsetByTimestamp(reopened.MaxTimestamp));
    }

    [Fact]
    public void Truncate_drops_everything_from_the_offset_and_appends_continue_there()
    {
        var config = new LogConfig { SegmentBytes = 500 };
        using var log = Open(config);
        for (var i = 0; i < 20; i++)
            log.AppendAsLeader(TestBatches.Sized(2, 20, timestamp: T0 + i), i / 5);
        log.UpdateHighWatermark(40);
        var before = RecoveryTests.ReadAll(log);

        log.TruncateTo(17); // inside batch 16-17: the whole batch goes
        Assert.Equal(16, log.LogEndOffset);
        Assert.Equal(16, log.HighWatermark);
        Assert.Equal(before.AsSpan(0, TestBatches.Walk(before).Take(8).Sum(b => b.Size)).ToArray(), RecoveryTests.ReadAll(log));
        Assert.Equal([new EpochEntry(0, 0), new EpochEntry(1, 10)], log.LeaderEpochCache.Entries);
        Assert.Equal(new TimestampOffset(T0 + 7, 14), log.FindOffsetByTimestamp(T0 + 7));
        Assert.Null(log.FindOffsetByTimestamp(T0 + 8));
        Assert.Equal(16, log.AppendAsLeader(TestBatches.Sized(1, 1), 4).FirstOffset);

        log.TruncateTo(0);
        Assert.Equal((0L, 0L, 1), (log.LogEndOffset, log.LogStartOffset, log.SegmentCount));
        Assert.Empty(log.LeaderEpochCache.Entries);
    }

    /// <summary>
    /// Kafka's UnifiedLog.truncateTo: a replica that led an epoch and appended nothing in it holds that epoch's entry at
    /// its log end. Truncating to the log end keeps every record but drops the entry, or the follower names that epoch
    /// in every fetch, is told it diverged at the log end, and truncates again without end.
    /// </summary>
    [Fact]
    public void Truncating_at_the_log_end_drops_an_epoch_that_started_there()
    {
        using (var log = Open(new LogConfig()))
        {
            log.AppendAsLeader(TestBatches.Sized(4, 1), 0);
            log.LeaderEpochCache.Assign(1, log.LogEndOffset);

            log.TruncateTo(log.LogEndOffset);

            Assert.Equal(4, log.LogEndOffset);
            Assert.Equal([new EpochEntry(0, 0)], log.LeaderEpochCache.Entries);
            Assert.Equal((0, 4L), log.LeaderEpochCache.EndOffsetFor(0));
        }
        using var reopened = Open(new LogConfig());
        Assert.Equal([new EpochEntry(0, 0)], reopened.LeaderEpochCache.Entries);
    }

    [Fact]
    public void Truncate_fully_restarts_the_log_at_an_offset()
    {
        using (var log = Open(new LogConfig()))
        {
            log.AppendAsLeader(TestBatches.Sized(3, 1), 2);
            log.TruncateFullyAndStartAt(1000);
            Assert.Equal((1000L, 1000L, 1000L), (log.LogStartOffset, log.LogEndOffset, log.HighWatermark));
            Assert.Equal(1000, log.AppendAsLeader(TestBatches.Sized(1, 1), 3).FirstOffset);
        }
        using (var log = Open(new LogConfig()))
        {
            Assert.Equal((1000L, 1001L), (log.LogStartOffset, log.LogEndOffset));
            Assert.Equal([new EpochEntry(3, 1000)], log.LeaderEpochCache.Entries);
            Assert.True(File.Exists(Path.Combine(_dir.Path, "00000000000000001000.log")));
        }
    }

    [Fact]
    public void Retention_by_time_deletes_whole_closed_segments_older_than_retention_ms()
    {
        var config = new LogConfig { SegmentBytes = 300, RetentionMs = 10_000 };
        using var log = Open(config);
        for (var i = 0; i < 10; i++)
            log.AppendAsLeader(TestBatches.Sized(2, 20, timestamp: T0 + i * 1000), 0);
        var segments = log.Segments;
        Assert.Equal(5, segments.Count);

        _time.SetUtcNow(DateTimeOffset.FromUnixTimeMilliseconds(T0 + 12_000)); // segment 0 (ts <= 1000) is 11 s old
        var result = log.DeleteOldSegments();
        Assert.Equal(new RetentionResult(1, segments[0].SizeInBytes, 4), result);
        Assert.Equal(4, log.LogStartOffset);
        Assert.False(File.Exists(segments[0].LogPath));

        _time.SetUtcNow(DateTimeOffset.FromUnixTimeMilliseconds(T0 + 1_000_000));
        Assert.Equal(3, log.DeleteOldSegments().SegmentsDeleted); // never the active one
        Assert.Equal(1, log.SegmentCount);
        Assert.Equal(16, log.LogStartOffset);
        Assert.Equal(ErrorCode.OffsetOutOfRange, Assert.Throws<OrleansStreamException>(() => log.Read(10, 100)).Code);
        Assert.Equal(2, TestBatches.Walk(log.Read(16, 1 << 20).Span).Count);
    }

    [Fact]
    public void Retention_by_bytes_deletes_the_oldest_segments_while_the_log_is_too_large()
    {
        var batch = TestBatches.Sized(2, 20);
        var config = new LogConfig { SegmentBytes = batch.Length * 2, RetentionBytes = batch.Length * 5L, RetentionMs = -1 };
        using (var log = Open(config))
        {
            for (var i = 0; i < 9; i++)
                log.AppendAsLeader(batch, 0);
            Assert.Equal(5, log.SegmentCount); // 2+2+2+2+1 batches
            var result = log.DeleteOldSegments();
            Assert.Equal(2, result.SegmentsDeleted); // 9 → 5 batches
            Assert.Equal(batch.Length * 5L, log.SizeInBytes);
            Assert.Equal(8, log.LogStartOffset);
            Assert.Equal(0, log.DeleteOldSegments().SegmentsDeleted);
        }
        using (var log = Open(config))
            Assert.Equal((8L, 18L), (log.LogStartOffset, log.LogEndOffset));
    }

    [Fact]
    public void Compact_only_topics_are_not_deleted_by_retention()
    {
        var batch = TestBatches.Sized(2, 20);
        using var log = Open(new LogConfig { SegmentBytes = batch.Length, RetentionBytes = 1, CleanupPolicy = CleanupPolicy.Compact });
        for (var i = 0; i < 4; i++)
            log.AppendAsLeader(batch, 0);
        Assert.Equal(0, log.DeleteOldSegments().SegmentsDeleted);
    }

    [Fact]
    public void Delete_records_moves_the_log_start_and_drops_segments_below_it()
    {
        var batch = TestBatches.Sized(2, 20);
        using (var log = Open(new LogConfig { SegmentBytes = batch.Length * 2 }))
        {
            for (var i = 0; i < 6; i++)
                log.AppendAsLeader(batch, 0);
            log.DeleteRecordsBefore(5);
            Assert.Equal((5L, 2), (log.LogStartOffset, log.SegmentCount));
            Assert.Equal(4, TestBatches.BaseOffset(log.Read(5, 1).Span));
            Assert.Equal(ErrorCode.OffsetOutOfRange, Assert.Throws<OrleansStreamException>(() => log.DeleteRecordsBefore(13)).Code);
        }
        using (var log = Open(new LogConfig { SegmentBytes = batch.Length * 2 }))
            Assert.Equal(5, log.LogStartOffset);
    }

    [Fact]
    public void Local_segments_below_a_tiered_offset_go_without_moving_the_log_start()
    {
        var batch = TestBatches.Sized(2, 20);
        var config = new LogConfig { SegmentBytes = batch.Length * 2, RemoteStorageEnable = true };
        using (var log = Open(config))
        {
            for (var i = 0; i < 6; i++)
                log.AppendAsLeader(batch, 0);
            log.DeleteLocalSegmentsBefore(9);
            Assert.Equal((0L, 8L, 1), (log.LogStartOffset, log.LocalLogStartOffset, log.SegmentCount));
            Assert.Equal(ErrorCode.OffsetOutOfRange, Assert.Throws<OrleansStreamException>(() => log.Read(3, 100)).Code);
            Assert.Equal(8, TestBatches.BaseOffset(log.Read(8, 1).Span));
        }
        using (var log = Open(config))
            Assert.Equal((0L, 8L), (log.LogStartOffset, log.LocalLogStartOffset));
    }

    [Fact]
    public void Flush_messages_fsyncs_and_checkpoints_the_recovery_point()
    {
        using var log = Open(new LogConfig { FlushMessages = 3 });
        log.AppendAsLeader(TestBatches.Sized(2, 1), 0);
        var checkpoint = Path.Combine(_dir.Path, "partition-offsets-checkpoint");
        Assert.False(File.Exists(checkpoint));
        log.AppendAsLeader(TestBatches.Sized(1, 1), 0);
        Assert.Contains("recovery-point 3", File.ReadAllText(checkpoint));
    }

    [Fact]
    public void A_rebuilt_closed_segment_keeps_its_max_timestamp_across_clean_reopens()
    {
        var config = new LogConfig { SegmentBytes = 300, IndexIntervalBytes = 1_000_000, RetentionMs = 10_000 };
        using (var log = Open(config))
        {
            for (var i = 0; i < 6; i++)
                log.AppendAsLeader(TestBatches.Sized(2, 20, timestamp: T0 + i * 1000), 0);
        }
        File.Delete(Path.Combine(_dir.Path, "00000000000000000000.timeindex"));
        using (Open(config))
        {
        }
        using (var log = Open(config))
        {
            Assert.Equal(T0 + 1000, log.Segments[0].MaxTimestamp);
            _time.SetUtcNow(DateTimeOffset.FromUnixTimeMilliseconds(T0 + 11_001));
            Assert.Equal(1, log.DeleteOldSegments().SegmentsDeleted);
        }
    }

    [Fact]
    public void Delete_removes_the_directory()
    {
        var log = Open(new LogConfig());
        log.AppendAsLeader(TestBatches.Sized(1, 1), 0);
        log.Delete();
        Assert.False(Directory.Exists(_dir.Path));
    }
}
