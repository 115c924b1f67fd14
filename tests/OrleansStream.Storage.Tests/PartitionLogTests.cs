using System.Text;
using Microsoft.Extensions.Time.Testing;
using OrleansStream.Records;

namespace OrleansStream.Storage.Tests;

public sealed class PartitionLogTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly FakeTimeProvider _time = new(DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_000));

    public void Dispose() => _dir.Dispose();

    private PartitionLog Open(LogConfig? config = null) => PartitionLog.Open(_dir.Path, config ?? new LogConfig(), _time);

    [Fact]
    public void Append_assigns_offsets_and_read_returns_the_stamped_batches()
    {
        using var log = Open();
        var first = log.AppendAsLeader(TestBatches.Sized(3, 10), leaderEpoch: 5);
        var second = log.AppendAsLeader(TestBatches.Sized(2, 10), leaderEpoch: 5);

        Assert.Equal(new LogAppendInfo(0, 2, 1_700_000_000_000, -1, 3, 1, first.Bytes), first);
        Assert.Equal((3L, 4L), (second.FirstOffset, second.LastOffset));
        Assert.Equal(5, log.LogEndOffset);
        Assert.Equal(0, log.LogStartOffset);

        var all = log.Read(0, 1 << 20);
        var batches = TestBatches.Walk(all.Span);
        Assert.Equal([(0L, 2L), (3L, 4L)], batches.Select(b => (b.Base, b.Last)));
        Assert.Equal(5, TestBatches.LeaderEpoch(all.Span));

        // From an offset inside the second batch, the whole second batch comes back.
        var fromInside = TestBatches.Walk(log.Read(4, 1 << 20).Span);
        Assert.Equal([(3L, 4L)], fromInside.Select(b => (b.Base, b.Last)));
        Assert.True(log.Read(5, 1 << 20).IsEmpty);
        Assert.Equal([new EpochEntry(5, 0)], log.LeaderEpochCache.Entries);
    }

    [Fact]
    public void Read_honours_max_bytes_but_returns_at_least_one_batch_and_stops_at_the_bound()
    {
        using var log = Open();
        var batch = TestBatches.Sized(4, 100);
        for (var i = 0; i < 5; i++)
            log.AppendAsLeader(batch, 0);

        Assert.Single(TestBatches.Walk(log.Read(0, 10).Span)); // minOneMessage
        Assert.Equal(2, TestBatches.Walk(log.Read(0, batch.Length * 2 + 10).Span).Count);
        Assert.Equal(2, TestBatches.Walk(log.Read(0, 1 << 20, maxOffsetExclusive: 8).Span).Count);
        Assert.Equal(2, TestBatches.Walk(log.Read(0, 1 << 20, maxOffsetExclusive: 10).Span).Count); // 10 is inside batch 3
        Assert.True(log.Read(8, 1 << 20, maxOffsetExclusive: 8).IsEmpty);

        var destination = new byte[batch.Length * 3 - 1];
        Assert.Equal(batch.Length * 2, log.Read(4, destination));
        Assert.Equal(-batch.Length, log.Read(4, destination.AsSpan(0, 10)));
        Assert.Equal(0, log.Read(20, destination));
    }

    [Fact]
    public void Read_outside_the_log_is_offset_out_of_range()
    {
        using var log = Open();
        log.AppendAsLeader(TestBatches.Sized(2, 1), 0);
        Assert.Equal(ErrorCode.OffsetOutOfRange, Assert.Throws<OrleansStreamException>(() => log.Read(3, 100)).Code);
        Assert.Equal(ErrorCode.OffsetOutOfRange, Assert.Throws<OrleansStreamException>(() => log.Read(-1, 100)).Code);
        log.DeleteRecordsBefore(1);
        Assert.Equal(ErrorCode.OffsetOutOfRange, Assert.Throws<OrleansStreamException>(() => log.Read(0, 100)).Code);
        Assert.Equal(1, log.LogStartOffset);
    }

    [Fact]
    public void Bad_batches_are_rejected_with_typed_errors_and_leave_the_log_unchanged()
    {
        using var log = Open(new LogConfig { MaxMessageBytes = 500 });
        var good = TestBatches.Sized(2, 10);
        log.AppendAsLeader(good, 0);
        var before = log.Read(0, 1 << 20).ToArray();

        var badCrc = (byte[])good.Clone();
        badCrc[^1] ^= 0xFF;
        var badMagic = (byte[])good.Clone();
        badMagic[RecordBatchHeader.MagicOffset] = 1;
        var badCount = (byte[])good.Clone();
        badCount[RecordBatchHeader.LastOffsetDeltaOffset + 3] = 7;
        badCount = Recrc(badCount);

        AssertRejected(ErrorCode.CorruptMessage, TestBatches.Concat(good, badCrc)); // first batch fine, second bad: nothing written
        AssertRejected(ErrorCode.UnsupportedVersion, badMagic);
        AssertRejected(ErrorCode.CorruptMessage, good.AsSpan(0, good.Length - 1).ToArray());
        AssertRejected(ErrorCode.CorruptMessage, good.AsSpan(0, 20).ToArray());
        AssertRejected(ErrorCode.RecordTooLarge, TestBatches.Sized(3, 200));
        AssertRejected(ErrorCode.InvalidRecord, badCount);
        AssertRejected(ErrorCode.InvalidRecord, []);

        Assert.Equal(2, log.LogEndOffset);
        Assert.Equal(before, log.Read(0, 1 << 20).ToArray());

        void AssertRejected(ErrorCode code, byte[] batches) =>
            Assert.Equal(code, Assert.Throws<OrleansStreamException>(() => log.AppendAsLeader(batches, 0)).Code);
    }

    [Fact]
    public void Follower_append_keeps_offsets_and_epochs_and_refuses_to_go_backwards()
    {
        using var leader = PartitionLog.Open(Path.Combine(_dir.Path, "leader"), new LogConfig(), _time);
        using var follower = PartitionLog.Open(Path.Combine(_dir.Path, "follower"), new LogConfig(), _time);
        leader.AppendAsLeader(TestBatches.Sized(3, 5), 1);
        leader.AppendAsLeader(TestBatches.Sized(2, 5), 2);

        var fetched = leader.Read(0, 1 << 20);
        var info = follower.AppendAsFollower(fetched.Span);

        Assert.Equal((0L, 4L, 5, 2), (info.FirstOffset, info.LastOffset, info.RecordCount, info.BatchCount));
        Assert.Equal(leader.Read(0, 1 << 20).ToArray(), follower.Read(0, 1 << 20).ToArray());
        Assert.Equal([new EpochEntry(1, 0), new EpochEntry(2, 3)], follower.LeaderEpochCache.Entries);
        Assert.Equal(ErrorCode.OffsetOutOfRange,
            Assert.Throws<OrleansStreamException>(() => follower.AppendAsFollower(fetched.Span)).Code);
    }

    [Fact]
    public void Reopen_restores_offsets_high_watermark_and_epochs()
    {
        using (var log = Open())
        {
            log.AppendAsLeader(TestBatches.Sized(3, 5), 3);
            log.AppendAsLeader(TestBatches.Sized(3, 5), 4);
            log.UpdateHighWatermark(4);
            log.UpdateHighWatermark(100); // clamped to the log end offset
            Assert.Equal(6, log.HighWatermark);
            log.UpdateHighWatermark(3);
        }
        Assert.True(File.Exists(Path.Combine(_dir.Path, PartitionLog.CleanShutdownFileName)));
        using (var log = Open())
        {
            Assert.False(File.Exists(Path.Combine(_dir.Path, PartitionLog.CleanShutdownFileName)));
            Assert.Equal((0L, 6L, 3L), (log.LogStartOffset, log.LogEndOffset, log.HighWatermark));
            Assert.Equal([new EpochEntry(3, 0), new EpochEntry(4, 3)], log.LeaderEpochCache.Entries);
            Assert.Equal(6, log.AppendAsLeader(TestBatches.Sized(1, 5), 4).FirstOffset);
        }
        Assert.Equal("0\n2\n3 0\n4 3\n", File.ReadAllText(Path.Combine(_dir.Path, "leader-epoch-checkpoint")));
    }

    [Fact]
    public void Log_append_time_topics_stamp_the_clock_and_keep_the_crc_valid()
    {
        using var log = Open(new LogConfig { MessageTimestampType = TimestampType.LogAppendTime });
        _time.Advance(TimeSpan.FromSeconds(5));
        var info = log.AppendAsLeader(TestBatches.Sized(2, 5, timestamp: 42), 0);

        Assert.Equal(1_700_000_005_000, info.LogAppendTimeMs);
        Assert.Equal(1_700_000_005_000, info.MaxTimestamp);
        var stored = log.Read(0, 1 << 20).Span;
        Assert.Equal(ErrorCode.None, RecordBatchHeader.Validate(stored, out var header));
        Assert.True(header.IsLogAppendTime);
        Assert.Equal(1_700_000_005_000, header.MaxTimestamp);
    }

    internal static byte[] Recrc(byte[] batch)
    {
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(batch.AsSpan(RecordBatchHeader.CrcOffset), RecordBatchHeader.ComputeCrc(batch));
        return batch;
    }

    internal static string Text(ReadOnlySpan<byte> bytes) => Encoding.UTF8.GetString(bytes);
}
