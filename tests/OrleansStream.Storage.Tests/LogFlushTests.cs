using Microsoft.Extensions.Time.Testing;

namespace OrleansStream.Storage.Tests;

/// <summary>A roll's fsync runs in the background (Kafka's UnifiedLog.roll schedules flush-log), never in the append.</summary>
public sealed class LogFlushTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly FakeTimeProvider _time = new(DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_000));
    private readonly HeldTaskScheduler _scheduler = new();

    public void Dispose() => _dir.Dispose();

    private string CheckpointPath => Path.Combine(_dir.Path, "partition-offsets-checkpoint");

    private PartitionLog Open() => PartitionLog.Open(_dir.Path, new LogConfig { SegmentBytes = 300 }, _time, _scheduler);

    /// <summary>Appends 2-record batches until the log has rolled once; returns the base offset of the new segment.</summary>
    private static long AppendUntilRolled(PartitionLog log)
    {
        while (log.SegmentCount == 1)
            log.AppendAsLeader(TestBatches.Sized(2, 20), 0);
        return log.Segments[1].BaseOffset;
    }

    [Fact]
    public void The_append_that_rolls_returns_before_the_flush_and_the_recovery_point_moves_only_when_it_completes()
    {
        var log = Open();
        try
        {
            var rolledAt = AppendUntilRolled(log);

            // The append returned with the closed segment's fsync still queued and the recovery point where it was.
            Assert.Equal(1, _scheduler.Pending);
            Assert.Equal(0, log.RecoveryPoint);
            Assert.False(File.Exists(CheckpointPath));
            // Appends and reads go on while the flush waits.
            var next = log.AppendAsLeader(TestBatches.Sized(2, 20), 0);
            Assert.Equal(rolledAt, TestBatches.BaseOffset(log.Read(rolledAt, 1).Span));
            Assert.Equal(next.FirstOffset, TestBatches.BaseOffset(log.Read(next.FirstOffset, 1).Span));
            Assert.Equal(0, log.RecoveryPoint);

            _scheduler.RunPending();

            Assert.Equal(rolledAt, log.RecoveryPoint);
            Assert.Contains($"recovery-point {rolledAt}\n", File.ReadAllText(CheckpointPath));
        }
        finally
        {
            _scheduler.RunPending();
            log.Dispose();
        }
    }

    [Fact]
    public void Flushes_of_successive_rolls_advance_the_recovery_point_in_order()
    {
        using var log = Open();
        AppendUntilRolled(log);
        while (log.SegmentCount < 3)
            log.AppendAsLeader(TestBatches.Sized(2, 20), 0);
        Assert.Equal(0, log.RecoveryPoint);

        _scheduler.RunPending();

        Assert.Equal(log.Segments[2].BaseOffset, log.RecoveryPoint);
    }

    [Fact]
    public void A_truncation_before_the_flush_runs_keeps_the_recovery_point_at_or_below_the_log_end()
    {
        using var log = Open();
        var rolledAt = AppendUntilRolled(log);
        log.TruncateTo(2);

        _scheduler.RunPending();

        Assert.Equal(2, log.LogEndOffset);
        Assert.True(log.RecoveryPoint <= log.LogEndOffset, $"recovery point {log.RecoveryPoint} past the log end {log.LogEndOffset}");
        Assert.True(rolledAt > log.LogEndOffset);
    }

    [Fact]
    public void Dispose_waits_for_the_pending_flush_and_closes_cleanly()
    {
        _scheduler.RunWhenWaitedOn = true;
        var log = Open();
        AppendUntilRolled(log);
        var end = log.LogEndOffset;
        Assert.Equal(1, _scheduler.Pending);

        log.Dispose();

        Assert.Equal(0, _scheduler.Pending);
        Assert.True(File.Exists(Path.Combine(_dir.Path, PartitionLog.CleanShutdownFileName)));
        Assert.Contains($"recovery-point {end}\n", File.ReadAllText(CheckpointPath));
    }
}
