using Microsoft.Extensions.Time.Testing;
using OrleansStream.Storage.Producers;
using static OrleansStream.Storage.Tests.ProducerBatches;

namespace OrleansStream.Storage.Tests;

/// <summary>
/// Producer state rebuilt from a real <see cref="PartitionLog"/>'s segments the way Kafka's LogLoader does it: stray
/// snapshots removed, the latest snapshot loaded, the log replayed from there, a snapshot at the log end.
/// </summary>
public sealed class ProducerStateRecoveryTests : IDisposable
{
    private const long Pid = 1000;
    private readonly TempDirectory _dir = new();
    private readonly FakeTimeProvider _time = new(DateTimeOffset.FromUnixTimeMilliseconds(T0));

    public void Dispose() => _dir.Dispose();

    private static ProducerStateManager Rebuild(PartitionLog log, TimeProvider time)
    {
        var manager = new ProducerStateManager(log.Directory, time: time);
        var baseOffsets = new List<long>();
        foreach (var segment in log.Segments)
            baseOffsets.Add(segment.BaseOffset);
        manager.RemoveStraySnapshots(baseOffsets);
        manager.TruncateAndReload(log.LogStartOffset, log.LogEndOffset);
        while (manager.MapEndOffset < log.LogEndOffset)
        {
            var chunk = log.Read(manager.MapEndOffset, 4096);
            if (chunk.IsEmpty)
                break;
            manager.LoadProducersFromRecords(chunk.Span);
        }
        manager.UpdateMapEndOffset(log.LogEndOffset);
        manager.TakeSnapshot();
        manager.OnHighWatermarkUpdated(log.HighWatermark);
        return manager;
    }

    private static void Produce(PartitionLog log, ProducerStateManager manager, byte[] batch)
    {
        Assert.True(manager.Analyze(batch, AppendOrigin.Client).IsAppendable);
        var info = log.AppendAsLeader(batch, 0);
        manager.CompleteAppend(info.LastOffset + 1);
    }

    [Fact]
    public void State_rebuilt_after_a_crash_replays_the_log_after_the_rolls_snapshot()
    {
        var log = PartitionLog.Open(_dir.Path, new LogConfig(), _time);
        var manager = Rebuild(log, _time);
        Produce(log, manager, Data(0, Pid, 0, 0, 2));
        Produce(log, manager, Data(2, Pid, 0, 2, 2));
        log.Roll();
        manager.UpdateMapEndOffset(log.LogEndOffset);
        manager.TakeSnapshot();
        Produce(log, manager, Data(4, 7, 3, 0, 1, transactional: true));
        Produce(log, manager, Data(5, Pid, 0, 4, 3));
        log.Dispose(); // no producer snapshot at the end: the state after offset 4 lives only in the log

        using var reopened = PartitionLog.Open(_dir.Path, new LogConfig(), _time);
        var rebuilt = Rebuild(reopened, _time);

        Assert.Equal(8, rebuilt.MapEndOffset);
        Assert.Equal([4L, 8L], rebuilt.SnapshotOffsets);
        Assert.Equal(4, rebuilt.FirstUndecidedOffset);
        Assert.True(rebuilt.TryGetLastEntry(Pid, out var entry));
        Assert.Equal(6, entry.LastSeq);
        Assert.Equal(2, entry.BatchCount); // the snapshot's last batch, then the replayed one
        Assert.True(rebuilt.Analyze(Data(8, Pid, 0, 2, 2), AppendOrigin.Client).IsDuplicate);
        Assert.True(rebuilt.Analyze(Data(8, Pid, 0, 4, 3), AppendOrigin.Client).IsDuplicate);
        Assert.True(rebuilt.Analyze(Data(8, Pid, 0, 7), AppendOrigin.Client).IsAppendable);
    }

    [Fact]
    public void A_truncated_log_rebuilds_the_state_it_still_holds()
    {
        using var log = PartitionLog.Open(_dir.Path, new LogConfig(), _time);
        var manager = Rebuild(log, _time);
        Produce(log, manager, Data(0, Pid, 0, 0));
        log.Roll();
        manager.UpdateMapEndOffset(log.LogEndOffset);
        manager.TakeSnapshot();
        Produce(log, manager, Data(1, Pid, 0, 1));
        log.Roll();
        manager.UpdateMapEndOffset(log.LogEndOffset);
        manager.TakeSnapshot();
        Produce(log, manager, Data(2, 7, 0, 0, transactional: true));
        Produce(log, manager, Data(3, Pid, 0, 2));

        log.TruncateTo(2);
        manager.TruncateAndReload(log.LogStartOffset, log.LogEndOffset);

        Assert.Equal(2, manager.MapEndOffset);
        Assert.Null(manager.FirstUnstableOffset);
        Assert.False(manager.TryGetLastEntry(7, out _));
        Assert.True(manager.TryGetLastEntry(Pid, out var entry));
        Assert.Equal(1, entry.LastSeq);
        Produce(log, manager, Data(2, Pid, 0, 2));
    }
}
