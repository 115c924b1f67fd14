using Microsoft.Extensions.Time.Testing;

namespace OrleansStream.Storage.Tests;

/// <summary>
/// <see cref="PartitionLog.WritebackBytes"/>: once that many bytes were appended, the append queues the start of their
/// write-out to the device (Linux <c>sync_file_range</c>) on the log's background scheduler, never in the append itself.
/// </summary>
public sealed class SegmentWritebackTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly FakeTimeProvider _time = new(DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_000));
    private readonly HeldTaskScheduler _scheduler = new();

    public void Dispose() => _dir.Dispose();

    private PartitionLog Open(long writebackBytes)
    {
        var log = PartitionLog.Open(_dir.Path, new LogConfig(), _time, _scheduler);
        log.WritebackBytes = writebackBytes;
        return log;
    }

    private static long Size(PartitionLog log) => log.Segments[^1].SizeInBytes;

    [Fact]
    public void An_append_that_reaches_the_threshold_queues_the_write_out_of_everything_appended_since_the_last()
    {
        using var log = Open(writebackBytes: 4096);
        while (Size(log) < 4096)
        {
            Assert.Equal(0, _scheduler.Pending);
            log.AppendAsLeader(TestBatches.Sized(3, 300), 0);
        }
        var first = Size(log);

        // Queued, not run: the append did not make the call.
        Assert.Equal(1, _scheduler.Pending);
        Assert.Equal(0, log.WritebackStartedBytes);
        _scheduler.RunPending();
        Assert.Equal(first, log.WritebackStartedBytes);

        // The next request covers only what came after, and only once it reaches the threshold again.
        log.AppendAsLeader(TestBatches.Sized(3, 300), 0);
        Assert.Equal(0, _scheduler.Pending);
        while (Size(log) - first < 4096)
            log.AppendAsLeader(TestBatches.Sized(3, 300), 0);
        _scheduler.RunPending();
        Assert.Equal(Size(log), log.WritebackStartedBytes);
    }

    [Fact]
    public void Zero_leaves_the_writing_to_the_kernel()
    {
        using var log = Open(writebackBytes: 0);
        while (Size(log) < 64 * 1024)
            log.AppendAsLeader(TestBatches.Sized(10, 1000), 0);

        Assert.Equal(0, _scheduler.Pending);
        Assert.Equal(0, log.WritebackStartedBytes);
    }

    [Fact]
    public void A_write_out_queued_before_the_log_closes_runs_on_the_file_it_was_queued_for()
    {
        var log = Open(writebackBytes: 1024);
        while (_scheduler.Pending == 0)
            log.AppendAsLeader(TestBatches.Sized(3, 300), 0);
        var queued = Size(log);

        // The close does not wait for it, and closing the segment's file must not pull the descriptor from under it
        // (the request holds it: on a closed descriptor the call fails and nothing would be started).
        log.Dispose();
        _scheduler.RunPending();

        Assert.Equal(queued, log.WritebackStartedBytes);
    }

    [Fact]
    public void A_negative_threshold_is_refused()
    {
        using var log = Open(writebackBytes: 0);
        Assert.Throws<ArgumentOutOfRangeException>(() => log.WritebackBytes = -1);
        Assert.Equal(0, log.WritebackBytes);
    }
}
