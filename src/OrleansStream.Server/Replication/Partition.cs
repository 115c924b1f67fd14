using OrleansStream.Server.Controller;
using OrleansStream.Storage;
using OrleansStream.Storage.Producers;

namespace OrleansStream.Server.Replication;

/// <summary>
/// Kafka's Partition as seen by the local replica: while it leads, what each follower has and when it was last caught
/// up, the high watermark (the smallest log end over the ISR), the ISR changes to propose (Kafka's AlterPartition),
/// the acks=all produces parked until the ISR has them (Kafka's DelayedProduce), and the DeleteRecords parked until the
/// ISR's log start offsets passed theirs (Kafka's DelayedDeleteRecords). It also wakes long-polls:
/// consumer fetches when the high watermark moves, replica fetches when the log end moves. Plain and single-threaded:
/// the replica grain calls it on its turn.
/// </summary>
internal sealed class Partition(string topic, int partition, int localReplicaId, long replicaLagTimeMaxMs, TimeProvider time)
{
    private readonly Dictionary<int, FollowerProgress> _followers = [];
    private readonly List<DelayedProduce> _delayedProduces = [];
    private readonly List<DelayedProduce> _delayedDeleteRecords = [];
    private readonly Signal _highWatermarkAdvanced = new();
    private readonly Signal _logEndAdvanced = new();

    // Set while this replica leads; the replica grain keeps them in step with LeaderAndIsr.
    private PartitionState? _state;
    private PartitionLog? _log;

    public bool IsLeader => _log is not null;

    /// <summary>Completes when the high watermark moves.</summary>
    public Task HighWatermarkAdvanced => _highWatermarkAdvanced.Next;

    /// <summary>Completes when the log end moves.</summary>
    public Task LogEndAdvanced => _logEndAdvanced.Next;

    /// <summary>A consumer fetch parks until the high watermark moves or <paramref name="timeout"/> passes.</summary>
    public Task WaitForHighWatermarkAsync(TimeSpan timeout) => _highWatermarkAdvanced.WaitAsync(timeout, time);

    /// <summary>A follower fetch parks until the log end moves or <paramref name="timeout"/> passes.</summary>
    public Task WaitForLogEndAsync(TimeSpan timeout) => _logEndAdvanced.WaitAsync(timeout, time);

    /// <summary>Kafka's makeLeader: the new epoch starts at the log end, and no follower is known to have anything yet.</summary>
    public void MakeLeader(PartitionState state, PartitionLog log)
    {
        _state = state;
        _log = log;
        if (log.LeaderEpochCache.LatestEpoch < state.LeaderEpoch) log.LeaderEpochCache.Assign(state.LeaderEpoch, log.LogEndOffset);
        _followers.Clear();
        var now = time.GetUtcNow();
        foreach (var r in state.Replicas)
            if (r.ReplicaId != localReplicaId) _followers[r.ReplicaId] = new FollowerProgress(-1, now, -1);
        MaybeIncrementLeaderHighWatermark();
    }

    /// <summary>A newer LeaderAndIsr in the same leader epoch (ISR or replicas changed).</summary>
    public void UpdateLeaderAndIsr(PartitionState state)
    {
        var previous = _state!;
        _state = state;
        // A follower replica that the controller moved to another broker starts from nothing there.
        foreach (var r in state.Replicas)
            foreach (var old in previous.Replicas)
                if (old.ReplicaId == r.ReplicaId && old.BrokerId != r.BrokerId && r.ReplicaId != localReplicaId)
                    _followers[r.ReplicaId] = new FollowerProgress(-1, time.GetUtcNow(), -1);
        MaybeIncrementLeaderHighWatermark();
        MaybeCompleteDelayedDeleteRecords();
    }

    /// <summary>
    /// This replica no longer leads (or no longer exists): parked produces fail with <paramref name="error"/>, and
    /// parked fetches wake to find out (Kafka completes its purgatories when leadership moves).
    /// </summary>
    public void StopLeading(ErrorCode error)
    {
        _state = null;
        _log = null;
        _followers.Clear();
        foreach (var produce in _delayedProduces) produce.Complete(error);
        _delayedProduces.Clear();
        foreach (var delete in _delayedDeleteRecords) delete.Complete(error);
        _delayedDeleteRecords.Clear();
        _highWatermarkAdvanced.Fire();
        _logEndAdvanced.Fire();
    }

    /// <summary>Kafka's check before an acks=all append: null when the ISR has at least min.insync.replicas members.</summary>
    public (ErrorCode Error, string Message)? CheckEnoughReplicas()
    {
        var state = _state!;
        var minIsr = TopicRules.MinInsyncReplicas(state.Configs);
        return state.Isr.Count < minIsr
            ? (ErrorCode.NotEnoughReplicas, $"{topic}-{partition} has {state.Isr.Count} in-sync replicas, fewer than min.insync.replicas={minIsr}.")
            : null;
    }

    /// <summary>
    /// Kafka's appendRecordsToLeader: stamps the leader epoch, wakes the followers, moves the HW if it can.
    /// <paramref name="origin"/> is <see cref="AppendOrigin.Coordinator"/> for transaction markers.
    /// </summary>
    public LogAppendInfo AppendRecordsToLeader(ReadOnlySpan<byte> records, AppendOrigin origin = AppendOrigin.Client) =>
        Appended(_log!.AppendAsLeader(records, _state!.LeaderEpoch, origin));

    /// <summary><see cref="AppendRecordsToLeader"/> for records the caller owns: stamped where they lie (<see cref="PartitionLog.AppendAsLeaderInPlace"/>).</summary>
    public LogAppendInfo AppendOwnedRecordsToLeader(Span<byte> records) =>
        Appended(_log!.AppendAsLeaderInPlace(records, _state!.LeaderEpoch));

    private LogAppendInfo Appended(LogAppendInfo info)
    {
        _logEndAdvanced.Fire();
        MaybeIncrementLeaderHighWatermark();
        return info;
    }

    /// <summary>Parks an acks=all produce whose last offset is <paramref name="lastOffset"/> until the HW passes it, or it is given up.</summary>
    public DelayedProduce DelayProduce(long lastOffset, int timeoutMs, CancellationToken giveUp)
    {
        var produce = new DelayedProduce(lastOffset + 1, timeoutMs, time, giveUp);
        _delayedProduces.Add(produce);
        return produce;
    }

    /// <summary>What a parked produce answers once it has ended; null when it succeeded.</summary>
    public (ErrorCode Error, string Message)? CompleteDelayedProduce(DelayedProduce produce)
    {
        switch (produce.Task.Result)
        {
            case ErrorCode.None:
                return _state is { } now && now.Isr.Count < TopicRules.MinInsyncReplicas(now.Configs)
                    ? (ErrorCode.NotEnoughReplicasAfterAppend, $"{topic}-{partition} shrank to {now.Isr.Count} in-sync replicas while the append was replicated.")
                    : null;
            case ErrorCode.RequestTimedOut:
                _delayedProduces.Remove(produce);
                return (ErrorCode.RequestTimedOut,
                    $"Not every in-sync replica of {topic}-{partition} had offset {produce.RequiredOffset - 1} within {produce.TimeoutMs} ms; the record may still be committed.");
            case var error:
                return (error, $"Replica {localReplicaId} of {topic}-{partition} stopped leading before the append was replicated.");
        }
    }

    /// <summary>
    /// Kafka's updateFollowerFetchState: a follower fetching at <paramref name="fetchOffset"/> has everything below it.
    /// Returns the ISR to propose when the follower caught up with the HW in this epoch and is not in the ISR yet.
    /// </summary>
    public List<int>? UpdateFollowerFetchState(int replicaId, long fetchOffset, long logStartOffset = -1)
    {
        var log = _log!;
        var now = time.GetUtcNow();
        var caughtUp = _followers.TryGetValue(replicaId, out var old) ? old.LastCaughtUp : now;
        // Kafka's rule: a fetch at the log end means the follower was caught up at the time of the fetch.
        if (fetchOffset >= log.LogEndOffset) caughtUp = now;
        _followers[replicaId] = new FollowerProgress(fetchOffset, caughtUp, logStartOffset);
        MaybeIncrementLeaderHighWatermark();
        MaybeCompleteDelayedDeleteRecords();
        var state = _state!;
        if (state.Isr.Contains(replicaId) || fetchOffset < log.HighWatermark || fetchOffset < EpochStart(state.LeaderEpoch)) return null;
        var isr = new List<int>(state.Isr) { replicaId };
        isr.Sort();
        return isr;
    }

    /// <summary>
    /// Kafka's lowWatermarkIfLeader: the smallest log start offset over the ISR, the leader's own included (a follower
    /// not heard from since this replica leads counts as -1).
    /// </summary>
    public long LowWatermark
    {
        get
        {
            var low = _log!.LogStartOffset;
            foreach (var member in _state!.Isr)
                if (member != localReplicaId) low = Math.Min(low, _followers.TryGetValue(member, out var f) ? f.LogStartOffset : -1);
            return low;
        }
    }

    /// <summary>
    /// The leader moved its log start (DeleteRecords): parked follower fetches return at once with it, so the ISR
    /// follows without waiting out its fetch wait.
    /// </summary>
    public void LogStartAdvanced() => _logEndAdvanced.Fire();

    /// <summary>Parks a DeleteRecords until the low watermark reaches <paramref name="offset"/> (Kafka's DelayedDeleteRecords).</summary>
    public DelayedProduce DelayDeleteRecords(long offset, int timeoutMs)
    {
        var delete = new DelayedProduce(offset, timeoutMs, time);
        _delayedDeleteRecords.Add(delete);
        MaybeCompleteDelayedDeleteRecords();
        return delete;
    }

    /// <summary>What a parked DeleteRecords answers once it has ended; null when every in-sync replica moved its log start.</summary>
    public (ErrorCode Error, string Message)? CompleteDelayedDeleteRecords(DelayedProduce delete)
    {
        switch (delete.Task.Result)
        {
            case ErrorCode.None:
                return null;
            case ErrorCode.RequestTimedOut:
                _delayedDeleteRecords.Remove(delete);
                return (ErrorCode.RequestTimedOut,
                    $"Not every in-sync replica of {topic}-{partition} moved its log start to {delete.RequiredOffset} within {delete.TimeoutMs} ms.");
            case var error:
                return (error, $"Replica {localReplicaId} of {topic}-{partition} stopped leading before its followers deleted the records.");
        }
    }

    private void MaybeCompleteDelayedDeleteRecords()
    {
        if (_delayedDeleteRecords.Count > 0) CompleteUpTo(_delayedDeleteRecords, LowWatermark);
    }

    /// <summary>Kafka's maybeShrinkIsr: the ISR without the followers not caught up within replica.lag.time.max.ms; null when none lag.</summary>
    public List<int>? MaybeShrinkIsr()
    {
        var state = _state!;
        var now = time.GetUtcNow();
        List<int>? shrunk = null;
        foreach (var member in state.Isr)
        {
            if (member == localReplicaId) continue;
            var lagging = !_followers.TryGetValue(member, out var f)
                || (now - f.LastCaughtUp).TotalMilliseconds > replicaLagTimeMaxMs;
            if (lagging) (shrunk ??= new List<int>(state.Isr)).Remove(member);
        }
        return shrunk;
    }

    /// <summary>A follower's append of what its leader sent.</summary>
    public void AppendRecordsToFollower(PartitionLog log, ReadOnlySpan<byte> records)
    {
        log.AppendAsFollower(records);
        _logEndAdvanced.Fire();
    }

    /// <summary>A follower learns the high watermark from its leader, never beyond its own log end.</summary>
    public void UpdateFollowerHighWatermark(PartitionLog log, long leaderHighWatermark)
    {
        var hw = Math.Min(leaderHighWatermark, log.LogEndOffset);
        if (hw <= log.HighWatermark) return;
        log.UpdateHighWatermark(hw);
        _highWatermarkAdvanced.Fire();
    }

    /// <summary>HW = the smallest log end over the ISR (the leader's own included); it never moves back.</summary>
    private void MaybeIncrementLeaderHighWatermark()
    {
        var log = _log!;
        var hw = log.LogEndOffset;
        foreach (var member in _state!.Isr)
        {
            if (member == localReplicaId) continue;
            hw = Math.Min(hw, _followers.TryGetValue(member, out var f) ? f.LogEndOffset : -1);
        }
        if (hw <= log.HighWatermark) return;
        log.UpdateHighWatermark(hw);
        _highWatermarkAdvanced.Fire();
        CompleteUpTo(_delayedProduces, hw);
    }

    /// <summary>Completes and forgets the parked operations whose offset <paramref name="reached"/> covers.</summary>
    private static void CompleteUpTo(List<DelayedProduce> parked, long reached)
    {
        for (var i = parked.Count - 1; i >= 0; i--)
            if (parked[i].RequiredOffset <= reached)
            {
                parked[i].Complete(ErrorCode.None);
                parked.RemoveAt(i);
            }
    }

    private long EpochStart(int epoch)
    {
        foreach (var e in _log!.LeaderEpochCache.Entries)
            if (e.Epoch == epoch) return e.StartOffset;
        return _log.LogEndOffset;
    }

    private readonly record struct FollowerProgress(long LogEndOffset, DateTimeOffset LastCaughtUp, long LogStartOffset);
}
