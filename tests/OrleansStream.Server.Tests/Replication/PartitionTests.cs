using Microsoft.Extensions.Time.Testing;
using OrleansStream.Records;
using OrleansStream.Server.Replication;
using OrleansStream.Storage;

namespace OrleansStream.Server.Tests.Replication;

/// <summary>
/// The leader's side of one partition (Kafka's Partition and DelayedProduce) on a real log in a temporary directory
/// and a fake clock: replica 0 leads, replicas 1 and 2 follow.
/// </summary>
public sealed class PartitionTests : IDisposable
{
    private const long LagMaxMs = 10_000;
    private static readonly Guid TopicId = Guid.NewGuid();

    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "os-partition-" + Guid.NewGuid().ToString("N"));
    private readonly PartitionLog _log;
    private readonly Partition _partition;
    private readonly RecordBatchBuilder _batch = new();

    public PartitionTests()
    {
        Directory.CreateDirectory(_directory);
        _log = PartitionLog.Open(_directory, new LogConfig(), _time);
        _partition = new Partition("orders", 0, localReplicaId: 0, LagMaxMs, _time);
    }

    public void Dispose()
    {
        _batch.Dispose();
        _log.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public void The_high_watermark_is_the_smallest_log_end_over_the_isr_and_never_moves_back()
    {
        _partition.MakeLeader(State(isr: [0, 1, 2]), _log);
        Append(5);
        Assert.Equal(0, _log.HighWatermark);

        Assert.Equal(0, HighWatermarkAfterFetch(1, 5));
        Assert.Equal(3, HighWatermarkAfterFetch(2, 3));
        Assert.Equal(5, HighWatermarkAfterFetch(2, 5));

        Assert.Equal(5, HighWatermarkAfterFetch(1, 2));
    }

    [Fact]
    public void A_follower_outside_the_isr_does_not_hold_the_high_watermark_back()
    {
        _partition.MakeLeader(State(isr: [0, 1]), _log);
        Append(4);

        Assert.Equal(0, HighWatermarkAfterFetch(2, 1));
        Assert.Equal(4, HighWatermarkAfterFetch(1, 4));
    }

    [Fact]
    public void An_append_wakes_replica_fetches_and_a_high_watermark_advance_wakes_consumer_fetches()
    {
        _partition.MakeLeader(State(isr: [0, 1]), _log);
        var logEnd = _partition.LogEndAdvanced;
        var highWatermark = _partition.HighWatermarkAdvanced;

        Append(2);
        Assert.True(logEnd.IsCompleted);
        Assert.False(highWatermark.IsCompleted);

        _partition.UpdateFollowerFetchState(1, 2);
        Assert.True(highWatermark.IsCompleted);
        Assert.False(_partition.HighWatermarkAdvanced.IsCompleted);
    }

    [Fact]
    public void A_parked_acks_all_produce_completes_when_every_isr_member_has_its_last_offset()
    {
        var produce = LeadAndPark(isr: [0, 1, 2], records: 3);

        _partition.UpdateFollowerFetchState(1, 3);
        Assert.False(produce.Task.IsCompleted);
        _partition.UpdateFollowerFetchState(2, 2);
        Assert.False(produce.Task.IsCompleted);
        _partition.UpdateFollowerFetchState(2, 3);

        Assert.True(produce.Task.IsCompletedSuccessfully);
        Assert.Null(_partition.CompleteDelayedProduce(produce));
    }

    [Fact]
    public async Task A_parked_produce_times_out_with_request_timed_out_on_the_clock()
    {
        var produce = LeadAndPark(isr: [0, 1], records: 3, timeoutMs: 1_000);

        _time.Advance(TimeSpan.FromMilliseconds(999));
        Assert.False(produce.Task.IsCompleted);
        _time.Advance(TimeSpan.FromMilliseconds(1));

        Assert.True(produce.Task.IsCompleted);
        var failed = _partition.CompleteDelayedProduce(produce);
        Assert.Equal(ErrorCode.RequestTimedOut, failed?.Error);
        Assert.Contains("offset 2 within 1000 ms", failed?.Message, StringComparison.Ordinal);

        // Replication that arrives afterwards still commits the record; the timed-out produce stays failed.
        Assert.Equal(3, HighWatermarkAfterFetch(1, 3));
        Assert.Equal(ErrorCode.RequestTimedOut, await produce.Task);
    }

    [Fact]
    public void A_parked_produce_given_up_ends_at_once_and_is_forgotten()
    {
        using var silo = new CancellationTokenSource();
        _partition.MakeLeader(State([0, 1]), _log);
        var produce = _partition.DelayProduce(Append(2).LastOffset, 30_000, silo.Token);

        silo.Cancel();

        Assert.True(produce.Task.IsCompleted);
        Assert.Equal(ErrorCode.RequestTimedOut, _partition.CompleteDelayedProduce(produce)?.Error);
        // Forgotten: replication that arrives afterwards does not complete it again.
        Assert.Equal(2, HighWatermarkAfterFetch(1, 2));
    }

    [Fact]
    public void A_produce_with_no_timeout_times_out_at_once()
    {
        var produce = LeadAndPark(isr: [0, 1], records: 1, timeoutMs: 0);

        Assert.Equal(ErrorCode.RequestTimedOut, _partition.CompleteDelayedProduce(produce)?.Error);
    }

    [Fact]
    public void Acks_all_is_refused_with_not_enough_replicas_below_min_insync_replicas()
    {
        _partition.MakeLeader(State(isr: [0], minInsyncReplicas: 2), _log);
        var refused = _partition.CheckEnoughReplicas();
        Assert.Equal(ErrorCode.NotEnoughReplicas, refused?.Error);
        Assert.Contains("min.insync.replicas=2", refused?.Message, StringComparison.Ordinal);

        _partition.UpdateLeaderAndIsr(State(isr: [0, 1], minInsyncReplicas: 2, partitionEpoch: 1));
        Assert.Null(_partition.CheckEnoughReplicas());
    }

    [Fact]
    public void A_produce_committed_by_an_isr_shrunk_below_min_insync_replicas_fails_with_not_enough_replicas_after_append()
    {
        var produce = LeadAndPark(isr: [0, 1, 2], records: 2, minInsyncReplicas: 2);

        // Both followers left the ISR: the leader alone commits the append, which is then under-replicated.
        _partition.UpdateLeaderAndIsr(State(isr: [0], minInsyncReplicas: 2, partitionEpoch: 1));

        Assert.True(produce.Task.IsCompletedSuccessfully);
        Assert.Equal(2, _log.HighWatermark);
        Assert.Equal(ErrorCode.NotEnoughReplicasAfterAppend, _partition.CompleteDelayedProduce(produce)?.Error);
    }

    [Fact]
    public async Task Parked_produces_fail_with_the_given_error_when_the_replica_stops_leading()
    {
        var produce = LeadAndPark(isr: [0, 1], records: 1);

        _partition.StopLeading(ErrorCode.NotLeaderOrFollower);

        Assert.False(_partition.IsLeader);
        Assert.Equal(ErrorCode.NotLeaderOrFollower, _partition.CompleteDelayedProduce(produce)?.Error);
        // Its timer is gone with it: the clock passing the timeout changes nothing.
        _time.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(ErrorCode.NotLeaderOrFollower, await produce.Task);
    }

    [Fact]
    public async Task Parked_consumer_and_follower_fetches_wake_when_the_replica_stops_leading()
    {
        _partition.MakeLeader(State(isr: [0, 1]), _log);
        var consumerFetch = _partition.WaitForHighWatermarkAsync(TimeSpan.FromMinutes(1));
        var followerFetch = _partition.WaitForLogEndAsync(TimeSpan.FromMinutes(1));

        _partition.StopLeading(ErrorCode.NotLeaderOrFollower);

        // The fake clock stands still: only the stop can end the waits.
        await Task.WhenAll(consumerFetch, followerFetch).WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);
    }

    [Fact]
    public void Parked_produces_survive_a_new_leader_epoch_of_the_same_leader()
    {
        var produce = LeadAndPark(isr: [0, 1], records: 2);

        _partition.MakeLeader(State(isr: [0, 1], leaderEpoch: 1), _log);
        _partition.UpdateFollowerFetchState(1, 2);

        Assert.Null(_partition.CompleteDelayedProduce(produce));
    }

    [Fact]
    public void A_follower_not_caught_up_within_replica_lag_time_max_ms_leaves_the_isr()
    {
        _partition.MakeLeader(State(isr: [0, 1, 2]), _log);
        Append(5);
        _time.Advance(TimeSpan.FromSeconds(6));
        _partition.UpdateFollowerFetchState(1, 5);
        _partition.UpdateFollowerFetchState(2, 2);

        _time.Advance(TimeSpan.FromMilliseconds(LagMaxMs - 6_000));
        Assert.Null(_partition.MaybeShrinkIsr());
        _time.Advance(TimeSpan.FromMilliseconds(1));

        Assert.Equal([0, 1], _partition.MaybeShrinkIsr());
    }

    [Fact]
    public void A_follower_that_reaches_the_high_watermark_in_this_epoch_is_proposed_for_the_isr()
    {
        Append(5, epoch: 0);
        _log.UpdateHighWatermark(2);
        _partition.MakeLeader(State(isr: [0, 1], leaderEpoch: 1), _log);

        // At the HW but before the start of the leader's epoch (offset 5): not yet.
        Assert.Null(_partition.UpdateFollowerFetchState(2, 3));
        Assert.Equal(5, HighWatermarkAfterFetch(1, 5));
        Assert.Null(_partition.UpdateFollowerFetchState(2, 4));

        Assert.Equal([0, 1, 2], _partition.UpdateFollowerFetchState(2, 5));
        Assert.Null(_partition.UpdateFollowerFetchState(1, 5));
    }

    [Fact]
    public void A_follower_moved_to_another_broker_starts_from_nothing()
    {
        _partition.MakeLeader(State(isr: [0, 1, 2]), _log);
        Append(5);
        _partition.UpdateFollowerFetchState(1, 5);
        Assert.Equal(5, HighWatermarkAfterFetch(2, 5));

        _partition.UpdateLeaderAndIsr(State(isr: [0, 1, 2], partitionEpoch: 1, replica2Broker: "b3"));
        Append(5);

        Assert.Equal(5, HighWatermarkAfterFetch(1, 10));
        Assert.Equal(10, HighWatermarkAfterFetch(2, 10));
    }

    [Fact]
    public void A_follower_learns_the_high_watermark_up_to_its_own_log_end()
    {
        _partition.MakeLeader(State(isr: [0]), _log);
        Append(3);
        _partition.StopLeading(ErrorCode.NotLeaderOrFollower);
        _log.TruncateTo(0);
        var woken = _partition.HighWatermarkAdvanced;

        _partition.AppendRecordsToFollower(_log, Batch(2, epoch: 0).Span);
        _partition.UpdateFollowerHighWatermark(_log, 7);

        Assert.Equal(2, _log.LogEndOffset);
        Assert.Equal(2, _log.HighWatermark);
        Assert.True(woken.IsCompleted);
    }

    /// <summary>Leads with <paramref name="isr"/>, appends <paramref name="records"/> and parks an acks=all produce for them.</summary>
    private DelayedProduce LeadAndPark(int[] isr, int records, int timeoutMs = 30_000, int minInsyncReplicas = 1)
    {
        _partition.MakeLeader(State(isr, minInsyncReplicas: minInsyncReplicas), _log);
        var info = Append(records);
        return _partition.DelayProduce(info.LastOffset, timeoutMs, CancellationToken.None);
    }

    private long HighWatermarkAfterFetch(int replicaId, long fetchOffset)
    {
        _partition.UpdateFollowerFetchState(replicaId, fetchOffset);
        return _log.HighWatermark;
    }

    private LogAppendInfo Append(int records, int epoch = -1)
    {
        if (epoch < 0) return _partition.AppendRecordsToLeader(Batch(records, 0).Span);
        return _log.AppendAsLeader(Batch(records, 0).Span, epoch);
    }

    private ReadOnlyMemory<byte> Batch(int records, int epoch)
    {
        _batch.Reset();
        var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        for (var i = 0; i < records; i++) _batch.Append(now, [(byte)i], [(byte)epoch]);
        var batch = _batch.Seal().ToArray();
        // A follower appends batches as its leader stamped them: offsets from its log end, in the leader's epoch.
        System.Buffers.Binary.BinaryPrimitives.WriteInt64BigEndian(batch, _log.LogEndOffset);
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(batch.AsSpan(12), epoch);
        return batch;
    }

    private static PartitionState State(int[] isr, int leaderEpoch = 0, int partitionEpoch = 0, int minInsyncReplicas = 1, string replica2Broker = "b2") =>
        new("orders", TopicId, 0, Leader: 0, leaderEpoch, partitionEpoch,
            [new ReplicaInfo(0, "b0"), new ReplicaInfo(1, "b1"), new ReplicaInfo(2, replica2Broker)],
            isr,
            new Dictionary<string, string> { ["min.insync.replicas"] = minInsyncReplicas.ToString(System.Globalization.CultureInfo.InvariantCulture) });
}
