using Microsoft.Extensions.Time.Testing;
using OrleansStream.Records;

namespace OrleansStream.Storage.Tests;

public sealed class RecoveryTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly FakeTimeProvider _time = new(DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_000));

    public void Dispose() => _dir.Dispose();

    private string LogDir => Path.Combine(_dir.Path, "log");
    private string SegmentFile(long baseOffset, string suffix = ".log") => Path.Combine(LogDir, $"{baseOffset:D20}{suffix}");

    /// <summary>Three batches (offsets 0-1, 2-4, 5-5) in one segment, closed cleanly; returns the bytes of each.</summary>
    private byte[][] WriteThreeBatches(LogConfig? config = null)
    {
        var batches = new[] { TestBatches.Sized(2, 7), TestBatches.Sized(3, 4, keySeed: 10), TestBatches.Sized(1, 3, keySeed: 20) };
        using var log = PartitionLog.Open(LogDir, config ?? new LogConfig(), _time);
        foreach (var batch in batches)
            log.AppendAsLeader(batch, 0);
        return [.. TestBatches.Walk(log.Read(0, 1 << 20).Span).Select((b, i) => log.Read(b.Base, 1).ToArray())];
    }

    private Dictionary<string, byte[]> Snapshot() =>
        Directory.GetFiles(LogDir).ToDictionary(f => f, File.ReadAllBytes);

    private void Restore(Dictionary<string, byte[]> files)
    {
        foreach (var file in Directory.GetFiles(LogDir))
            File.Delete(file);
        foreach (var (file, bytes) in files)
            File.WriteAllBytes(file, bytes);
    }

    private void AssertValidPrefix(byte[][] batches, int keptBatches)
    {
        long[] ends = [0, 2, 5, 6];
        using (var log = PartitionLog.Open(LogDir, new LogConfig(), _time))
        {
            Assert.Equal(ends[keptBatches], log.LogEndOffset);
            var expected = batches.Take(keptBatches).SelectMany(b => b).ToArray();
            Assert.Equal(expected, log.Read(0, 1 << 20).ToArray());
            Assert.Equal(expected.Length, new FileInfo(SegmentFile(0)).Length);
            var info = log.AppendAsLeader(TestBatches.Sized(2, 1), 0);
            Assert.Equal(ends[keptBatches], info.FirstOffset);
        }
        using (var log = PartitionLog.Open(LogDir, new LogConfig(), _time))
            Assert.Equal(ends[keptBatches] + 2, log.LogEndOffset);
    }

    [Fact]
    public void Truncating_the_last_batch_at_every_byte_keeps_exactly_the_valid_prefix()
    {
        var batches = WriteThreeBatches();
        var files = Snapshot();
        var lastStart = batches[0].Length + batches[1].Length;
        var end = lastStart + batches[2].Length;
        for (var cut = lastStart; cut < end; cut++)
        {
            Restore(files);
            using (var handle = File.OpenHandle(SegmentFile(0), FileMode.Open, FileAccess.Write))
                RandomAccess.SetLength(handle, cut);
            AssertValidPrefix(batches, keptBatches: 2);
        }
    }

    [Fact]
    public void Flipping_any_checked_byte_of_the_last_batch_drops_that_batch()
    {
        var batches = WriteThreeBatches();
        var files = Snapshot();
        var lastStart = batches[0].Length + batches[1].Length;
        for (var i = 0; i < batches[2].Length; i++)
        {
            // Kafka's CRC does not cover baseOffset's low bytes nor partitionLeaderEpoch (a broker stamps them);
            // a flipped high byte of baseOffset is caught by the relative-offset check.
            if (i is >= 5 and < 8 or >= RecordBatchHeader.PartitionLeaderEpochOffset and < RecordBatchHeader.MagicOffset)
                continue;
            Restore(files);
            var bytes = files[SegmentFile(0)].ToArray();
            bytes[lastStart + i] ^= 0xFF;
            File.WriteAllBytes(SegmentFile(0), bytes);
            AssertValidPrefix(batches, keptBatches: 2);
        }
    }

    [Fact]
    public void A_corrupt_middle_batch_cuts_the_log_there()
    {
        var batches = WriteThreeBatches();
        var bytes = File.ReadAllBytes(SegmentFile(0));
        bytes[batches[0].Length + RecordBatchHeader.Size + 1] ^= 0x01;
        File.WriteAllBytes(SegmentFile(0), bytes);
        AssertValidPrefix(batches, keptBatches: 1);
    }

    [Fact]
    public void Missing_or_damaged_indexes_of_closed_segments_are_rebuilt()
    {
        var config = new LogConfig { SegmentBytes = 300, IndexIntervalBytes = 1 };
        byte[] all;
        using (var log = PartitionLog.Open(LogDir, config, _time))
        {
            for (var i = 0; i < 20; i++)
                log.AppendAsLeader(TestBatches.Sized(2, 20, timestamp: 1_700_000_000_000 + i), 0);
            Assert.True(log.SegmentCount > 4);
            all = ReadAll(log);
        }
        var segments = Directory.GetFiles(LogDir, "*.log").Order().ToArray();
        File.Delete(Path.ChangeExtension(segments[0], ".index"));
        File.WriteAllBytes(Path.ChangeExtension(segments[1], ".index"), [1, 2, 3]);
        File.WriteAllBytes(Path.ChangeExtension(segments[2], ".timeindex"), new byte[12 * 3]); // zero timestamps: not increasing
        var garbage = File.ReadAllBytes(Path.ChangeExtension(segments[3], ".index"));
        Array.Reverse(garbage); // entries out of order
        File.WriteAllBytes(Path.ChangeExtension(segments[3], ".index"), garbage);

        using (var log = PartitionLog.Open(LogDir, config, _time))
        {
            Assert.Equal(40, log.LogEndOffset);
            Assert.Equal(all, ReadAll(log));
            for (var offset = 0; offset < 40; offset++)
                Assert.Equal(offset - offset % 2, TestBatches.BaseOffset(log.Read(offset, 1).Span));
            Assert.Equal(new TimestampOffset(1_700_000_000_005, 10), log.FindOffsetByTimestamp(1_700_000_000_005));
        }
        Assert.True(new FileInfo(Path.ChangeExtension(segments[0], ".index")).Length > 0);
        Assert.Equal(0, new FileInfo(Path.ChangeExtension(segments[1], ".index")).Length % 8);
    }

    [Fact]
    public void After_an_unclean_shutdown_segments_from_the_recovery_point_are_scanned()
    {
        var config = new LogConfig { SegmentBytes = 300 };
        var crashed = Path.Combine(_dir.Path, "crashed");
        // The rolls' background flushes wait until the files are copied, so nothing writes while they are.
        var scheduler = new HeldTaskScheduler();
        using (var log = PartitionLog.Open(LogDir, config, _time, scheduler))
        {
            for (var i = 0; i < 6; i++)
                log.AppendAsLeader(TestBatches.Sized(2, 20), 0);
            log.Flush(); // recovery point = 12
            var checkpoint = File.ReadAllBytes(Path.Combine(LogDir, "partition-offsets-checkpoint"));
            for (var i = 0; i < 6; i++)
                log.AppendAsLeader(TestBatches.Sized(2, 20), 0);
            // A crash before the rolls' checkpoints reached the disk: the files as they are now, the checkpoint as it
            // was at the flush, and no clean shutdown marker.
            LogFiles.CopyAsCrashed(LogDir, crashed);
            File.WriteAllBytes(Path.Combine(crashed, "partition-offsets-checkpoint"), checkpoint);
            scheduler.RunPending();
        }
        Assert.False(File.Exists(Path.Combine(crashed, PartitionLog.CleanShutdownFileName)));
        var segments = Directory.GetFiles(crashed, "*.log").Order().ToArray();
        Assert.True(segments.Length >= 4);
        // Damage a closed segment after the recovery point: recovery cuts it and drops the segments after it.
        var victim = segments[^2];
        var bytes = File.ReadAllBytes(victim);
        bytes[^1] ^= 0xFF;
        File.WriteAllBytes(victim, bytes);
        var victimBase = long.Parse(Path.GetFileNameWithoutExtension(victim));

        using var recovered = PartitionLog.Open(crashed, config, _time);
        Assert.Equal(victimBase + 2, recovered.LogEndOffset);
        Assert.Equal(victimBase + 4, recovered.SegmentCount * 4L);
        Assert.Equal(recovered.LogEndOffset, recovered.AppendAsLeader(TestBatches.Sized(1, 1), 0).FirstOffset);
        Assert.Equal(recovered.LogEndOffset, TestBatches.Walk(ReadAll(recovered)).Sum(b => b.Last - b.Base + 1));
    }

    [Fact]
    public void Stray_files_from_interrupted_work_are_cleaned_up()
    {
        WriteThreeBatches();
        File.WriteAllBytes(SegmentFile(0, ".log.cleaned"), [1, 2, 3]);
        File.WriteAllBytes(SegmentFile(99, ".index"), [1, 2, 3]);
        File.WriteAllBytes(Path.Combine(LogDir, "leader-epoch-checkpoint.tmp"), [1]);
        using var log = PartitionLog.Open(LogDir, new LogConfig(), _time);
        Assert.Equal(6, log.LogEndOffset);
        Assert.False(File.Exists(SegmentFile(0, ".log.cleaned")));
        Assert.False(File.Exists(SegmentFile(99, ".index")));
        Assert.False(File.Exists(Path.Combine(LogDir, "leader-epoch-checkpoint.tmp")));
    }

    internal static byte[] ReadAll(PartitionLog log)
    {
        var output = new List<byte>();
        var offset = log.LogStartOffset;
        while (offset < log.LogEndOffset)
        {
            var chunk = log.Read(offset, 1 << 20);
            if (chunk.IsEmpty)
                break;
            output.AddRange(chunk.ToArray());
            var batches = TestBatches.Walk(chunk.Span);
            offset = batches[^1].Last + 1;
        }
        return [.. output];
    }
}
