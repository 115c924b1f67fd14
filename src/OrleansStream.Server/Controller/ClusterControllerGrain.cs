using Microsoft.Extensions.Options;
using Orleans.Runtime;
using Orleans.Storage;
using OrleansStream.Server.Partitions;
using OrleansStream.Server.Placement;

namespace OrleansStream.Server.Controller;

[GrainType("os-controller")]
internal sealed partial class ClusterControllerGrain(
    [PersistentState("controller", OrleansStreamDefaults.GrainStorageName)] IPersistentState<ControllerState> state,
    BrokerLocator brokers,
    IOptions<BrokerOptions> options,
    TimeProvider time,
    ILogger<ClusterControllerGrain> logger)
    : Grain, IClusterControllerGrain, IControllerInternalGrain
{
    // Metadata reads interleave with changes, and auto-creation changes state from such a read: changes queue here.
    private readonly SemaphoreSlim _changes = new(1, 1);
    private readonly BrokerOptions _options = options.Value;
    private HashSet<string> _knownAlive = new(StringComparer.Ordinal);

    // When each broker holding replicas was last seen leaving membership (this activation's clock: a new controller
    // activation starts the reassignment delay again), and the replicas moved to other brokers that have not caught up.
    private readonly Dictionary<string, long> _notLiveSince = new(StringComparer.Ordinal);
    private readonly HashSet<(string Topic, int Partition, int ReplicaId)> _moved = [];
    private IGrainTimer? _reconcileTimer;

    private ControllerState State => state.State;

    public async Task<IReadOnlyList<TopicResult>> CreateTopics(IReadOnlyList<NewTopic> topics, bool validateOnly = false)
    {
        ArgumentNullException.ThrowIfNull(topics);
        await _changes.WaitAsync();
        try
        {
            var results = new List<TopicResult>(topics.Count);
            var created = new List<TopicState>();
            var live = LiveBrokerIds();
            var assigner = new ReplicaAssigner(live, State);
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var topic in topics)
            {
                var (error, message, newTopic) = PrepareTopic(topic, live, assigner, seen);
                results.Add(new TopicResult(topic?.Name ?? "", error, message));
                if (newTopic is not null && !validateOnly) created.Add(newTopic);
            }
            if (created.Count > 0)
            {
                foreach (var t in created) State.Topics.Add(t.Name, t);
                if (!await TryCommitAsync()) return StaleWrite(results, created.Select(static t => t.Name));
                foreach (var t in created) LogTopicCreated(t.Name, t.Partitions.Count, t.Partitions[0].Replicas.Count);
                await PushStatesAsync(created, null);
            }
            return results;
        }
        finally
        {
            _changes.Release();
        }
    }

    public async Task<IReadOnlyList<TopicResult>> DeleteTopics(IReadOnlyList<string> topics)
    {
        ArgumentNullException.ThrowIfNull(topics);
        await _changes.WaitAsync();
        try
        {
            var results = new List<TopicResult>(topics.Count);
            var deleted = new List<TopicState>();
            foreach (var name in topics)
            {
                if (!_options.DeleteTopicEnable)
                    results.Add(new TopicResult(name, ErrorCode.TopicDeletionDisabled, "Topic deletion is disabled (DeleteTopicEnable=false)."));
                else if (name is null || !State.Topics.Remove(name, out var topic))
                    results.Add(new TopicResult(name ?? "", ErrorCode.UnknownTopicOrPartition, $"Topic '{name}' does not exist."));
                else
                {
                    deleted.Add(topic);
                    results.Add(new TopicResult(name, ErrorCode.None));
                }
            }
            if (deleted.Count > 0)
            {
                if (!await TryCommitAsync()) return StaleWrite(results, deleted.Select(static t => t.Name));
                foreach (var t in deleted)
                {
                    LogTopicDeleted(t.Name);
                    await DeleteReplicasAsync(t);
                }
            }
            return results;
        }
        finally
        {
            _changes.Release();
        }
    }

    public async Task<IReadOnlyList<TopicResult>> CreatePartitions(IReadOnlyList<PartitionsIncrease> increases, bool validateOnly = false)
    {
        ArgumentNullException.ThrowIfNull(increases);
        await _changes.WaitAsync();
        try
        {
            var results = new List<TopicResult>(increases.Count);
            var changed = new List<(TopicState Topic, int From)>();
            var live = LiveBrokerIds();
            var assigner = new ReplicaAssigner(live, State);
            foreach (var inc in increases)
            {
                if (inc is null || !State.Topics.TryGetValue(inc.Topic, out var topic))
                {
                    results.Add(new TopicResult(inc?.Topic ?? "", ErrorCode.UnknownTopicOrPartition, $"Topic '{inc?.Topic}' does not exist."));
                    continue;
                }
                var current = topic.Partitions.Count;
                if (inc.TotalCount <= current)
                {
                    results.Add(new TopicResult(inc.Topic, ErrorCode.InvalidPartitions,
                        $"Topic '{inc.Topic}' has {current} partitions; the new count {inc.TotalCount} must be larger."));
                    continue;
                }
                var rf = topic.Partitions[0].Replicas.Count;
                if (rf > live.Count)
                {
                    results.Add(new TopicResult(inc.Topic, ErrorCode.InvalidReplicationFactor,
                        $"Replication factor {rf} is larger than the {live.Count} live brokers."));
                    continue;
                }
                results.Add(new TopicResult(inc.Topic, ErrorCode.None));
                if (validateOnly) continue;
                assigner.NextTopic();
                for (var p = current; p < inc.TotalCount; p++) topic.Partitions.Add(NewPartition(p, assigner.Assign(rf)));
                changed.Add((topic, current));
            }
            if (changed.Count > 0)
            {
                if (!await TryCommitAsync()) return StaleWrite(results, changed.Select(static c => c.Topic.Name));
                foreach (var (topic, from) in changed) await PushStatesAsync([topic], from);
            }
            return results;
        }
        finally
        {
            _changes.Release();
        }
    }

    public async Task<ClusterMetadata> GetMetadata(MetadataRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.Topics is { } wanted && request.AllowAutoTopicCreation && _options.AutoCreateTopicsEnable)
        {
            List<NewTopic>? missing = null;
            foreach (var name in wanted)
                if (!State.Topics.ContainsKey(name) && TopicRules.ValidateName(name) is null) (missing ??= []).Add(new NewTopic(name));
            if (missing is not null)
            {
                var results = await CreateTopics(missing);
                foreach (var r in results)
                    if (r.Error is not (ErrorCode.None or ErrorCode.TopicAlreadyExists)) LogAutoCreateFailed(r.Topic, r.Error, r.ErrorMessage);
            }
        }

        var topics = new List<TopicMetadata>();
        if (request.Topics is null)
        {
            foreach (var t in State.Topics.Values) topics.Add(Describe(t));
            topics.Sort(static (a, b) => string.CompareOrdinal(a.Name, b.Name));
        }
        else
        {
            foreach (var name in request.Topics)
            {
                if (name is not null && State.Topics.TryGetValue(name, out var t)) topics.Add(Describe(t));
                else if (TopicRules.ValidateName(name) is { } invalid)
                    topics.Add(new TopicMetadata(name ?? "", Guid.Empty, ErrorCode.InvalidTopic, [], EmptyConfigs, invalid));
                else
                    topics.Add(new TopicMetadata(name!, Guid.Empty, ErrorCode.UnknownTopicOrPartition, [], EmptyConfigs, $"Topic '{name}' does not exist."));
            }
        }
        return new ClusterMetadata(State.MetadataVersion, DescribeBrokers(), topics);
    }

    public Task<string?> GetReplicaBroker(string topic, int partition, int replicaId)
    {
        string? broker = null;
        if (TryGetPartition(topic, partition, out _, out var p) && (uint)replicaId < (uint)p.Replicas.Count) broker = p.Replicas[replicaId];
        return Task.FromResult(broker);
    }

    public Task<IReadOnlyList<string>> GetBrokerReplicas(string brokerId)
    {
        var keys = new List<string>();
        foreach (var t in State.Topics.Values)
            foreach (var p in t.Partitions)
                for (var r = 0; r < p.Replicas.Count; r++)
                    if (p.Replicas[r] == brokerId) keys.Add(GrainKeys.Replica(t.Name, p.Partition, r));
        return Task.FromResult<IReadOnlyList<string>>(keys);
    }

    public Task<PartitionState?> GetPartitionState(string topic, int partition) =>
        Task.FromResult(TryGetPartition(topic, partition, out var t, out var p) ? ToState(t, p) : null);

    public async Task<AlterPartitionResult> AlterPartition(string topic, int partition, int leaderReplicaId, int leaderEpoch, int partitionEpoch, IReadOnlyList<int> isr)
    {
        ArgumentNullException.ThrowIfNull(isr);
        await _changes.WaitAsync();
        try
        {
            if (!TryGetPartition(topic, partition, out var t, out var p)) return new AlterPartitionResult(ErrorCode.UnknownTopicOrPartition, null);
            if (leaderEpoch != p.LeaderEpoch) return new AlterPartitionResult(ErrorCode.FencedLeaderEpoch, ToState(t, p));
            if (leaderReplicaId != p.Leader) return new AlterPartitionResult(ErrorCode.NotLeaderOrFollower, ToState(t, p));
            // Two requests of one leader epoch may cross; only the one based on the current state may apply.
            if (partitionEpoch != p.PartitionEpoch) return new AlterPartitionResult(ErrorCode.InvalidUpdateVersion, ToState(t, p));
            var next = new List<int>(isr.Count);
            foreach (var id in isr)
            {
                if ((uint)id >= (uint)p.Replicas.Count || next.Contains(id)) return new AlterPartitionResult(ErrorCode.InvalidRequest, ToState(t, p));
                // A follower on a broker membership declared dead does not come back in through a late request.
                if (id != p.Leader && !p.Isr.Contains(id) && !brokers.IsAlive(p.Replicas[id])) continue;
                next.Add(id);
            }
            if (!next.Contains(p.Leader)) return new AlterPartitionResult(ErrorCode.InvalidRequest, ToState(t, p));
            next.Sort();
            if (next.SequenceEqual(p.Isr)) return new AlterPartitionResult(ErrorCode.None, ToState(t, p));
            LogIsrChanged(t.Name, p.Partition, string.Join(",", p.Isr), string.Join(",", next), p.LeaderEpoch);
            p.Isr = next;
            p.PartitionEpoch++;
            await CommitAsync();
            await PushPartitionsAsync([(t, p)]);
            return new AlterPartitionResult(ErrorCode.None, ToState(t, p));
        }
        finally
        {
            _changes.Release();
        }
    }

    public async Task BrokersChanged()
    {
        await _changes.WaitAsync();
        try
        {
            await ReconcileAsync();
        }
        finally
        {
            _changes.Release();
        }
    }

    public Task<IReadOnlyList<LocalPartition>> FindStrayPartitions(string brokerId, IReadOnlyList<LocalPartition> local)
    {
        ArgumentNullException.ThrowIfNull(local);
        var strays = new List<LocalPartition>();
        foreach (var l in local)
            // Only a partition the controller knows under the same topic id and has assigned elsewhere: an unknown
            // topic (or a controller with empty state) never makes a broker remove data.
            if (l is not null && TryGetPartition(l.Topic, l.Partition, out var t, out var p) && t.TopicId == l.TopicId && !p.Replicas.Contains(brokerId))
                strays.Add(l);
        return Task.FromResult<IReadOnlyList<LocalPartition>>(strays);
    }

    /// <summary>
    /// Brings assignments in line with membership (callers hold <see cref="_changes"/>): elections off brokers that
    /// left, reassignment of the replicas of brokers out for longer than <c>ReplicaReassignmentDelayMs</c>, and
    /// LeaderAndIsr to brokers that came back and to moved replicas that have not caught up yet.
    /// </summary>
    private async Task ReconcileAsync()
    {
        var liveIds = LiveBrokerIds();
        var live = new HashSet<string>(liveIds, StringComparer.Ordinal);
        var returned = new HashSet<string>(live, StringComparer.Ordinal);
        returned.ExceptWith(_knownAlive);
        _knownAlive = live;
        var now = time.GetTimestamp();
        _moved.RemoveWhere(m => !TryGetPartition(m.Topic, m.Partition, out _, out var p) || p.Isr.Contains(m.ReplicaId));
        foreach (var b in live) _notLiveSince.Remove(b);
        foreach (var t in State.Topics.Values)
            foreach (var p in t.Partitions)
                foreach (var b in p.Replicas)
                    if (!live.Contains(b)) _notLiveSince.TryAdd(b, now);

        var assigner = new ReplicaAssigner(liveIds, State);
        var delay = TimeSpan.FromMilliseconds(_options.ReplicaReassignmentDelayMs);
        TimeSpan? nextCheck = null;
        var changed = new List<(TopicState, PartitionAssignment)>();
        var woken = new List<(TopicState, PartitionAssignment)>();
        foreach (var t in State.Topics.Values)
            foreach (var p in t.Partitions)
            {
                var c = Reelect(t, p, live, excluded: null);
                c |= ReassignLost(t, p, live, assigner, now, delay, ref nextCheck);
                if (c) changed.Add((t, p));
                else if (NeedsWaking(t, p, returned)) woken.Add((t, p));
            }
        if (changed.Count > 0) await CommitAsync();
        changed.AddRange(woken);
        await PushPartitionsAsync(changed);

        // A moved replica that missed its LeaderAndIsr (or whose old activation answered it) is woken again until it is in sync.
        if (_moved.Count > 0) nextCheck = nextCheck is { } n && n < MovedReplicaCheck ? n : MovedReplicaCheck;
        ScheduleReconcile(nextCheck);
    }

    private bool NeedsWaking(TopicState t, PartitionAssignment p, HashSet<string> returned)
    {
        foreach (var b in p.Replicas)
            if (returned.Contains(b)) return true;
        for (var r = 0; r < p.Replicas.Count; r++)
            if (_moved.Contains((t.Name, p.Partition, r))) return true;
        return false;
    }

    /// <summary>
    /// Moves the replicas of brokers out of membership for at least <paramref name="delay"/> to live brokers that hold
    /// no replica of the partition (fewest replicas first). Only out-of-sync replicas of a partition with a leader
    /// move: the leader is what the new replica rebuilds from, and a replica kept as the last ISR member may be the
    /// only copy of acknowledged records. Sets <paramref name="nextCheck"/> to when a waiting broker becomes due.
    /// </summary>
    private bool ReassignLost(TopicState t, PartitionAssignment p, HashSet<string> live, ReplicaAssigner assigner, long now,
        TimeSpan delay, ref TimeSpan? nextCheck)
    {
        if (p.Leader < 0) return false;
        var moved = false;
        for (var r = 0; r < p.Replicas.Count; r++)
        {
            var broker = p.Replicas[r];
            if (live.Contains(broker) || p.Isr.Contains(r)) continue;
            var left = delay - time.GetElapsedTime(_notLiveSince[broker], now);
            if (left > TimeSpan.Zero)
            {
                if (nextCheck is not { } n || left < n) nextCheck = left;
                continue;
            }
            if (assigner.Replace(p.Replicas) is not { } target) continue;
            p.Replicas[r] = target;
            _moved.Add((t.Name, p.Partition, r));
            LogReplicaMoved(t.Name, p.Partition, r, broker, target);
            moved = true;
        }
        if (moved) p.PartitionEpoch++;
        return moved;
    }

    private void ScheduleReconcile(TimeSpan? due)
    {
        if (due is not { } d)
        {
            _reconcileTimer?.Dispose();
            _reconcileTimer = null;
            return;
        }
        if (d < TimeSpan.Zero) d = TimeSpan.Zero;
        if (_reconcileTimer is { } timer) timer.Change(d, Timeout.InfiniteTimeSpan);
        else
            // KeepAlive: a pending reassignment must not be lost to idle collection of the controller.
            _reconcileTimer = this.RegisterGrainTimer(static (self, _) => self.BrokersChanged(), this,
                new GrainTimerCreationOptions(d, Timeout.InfiniteTimeSpan) { KeepAlive = true });
    }

    private static readonly TimeSpan MovedReplicaCheck = TimeSpan.FromSeconds(5);

    public async Task<int> ControlledShutdown(string brokerId)
    {
        await _changes.WaitAsync();
        try
        {
            var live = new HashSet<string>(LiveBrokerIds(), StringComparer.Ordinal);
            live.Remove(brokerId);
            var changed = new List<(TopicState, PartitionAssignment)>();
            var moved = 0;
            foreach (var t in State.Topics.Values)
                foreach (var p in t.Partitions)
                {
                    var led = p.Leader >= 0 && p.Replicas[p.Leader] == brokerId;
                    if (!p.Replicas.Contains(brokerId)) continue;
                    if (Reelect(t, p, live, excluded: brokerId))
                    {
                        changed.Add((t, p));
                        if (led && p.Leader >= 0 && p.Replicas[p.Leader] != brokerId) moved++;
                    }
                }
            if (changed.Count > 0)
            {
                await CommitAsync();
                await PushPartitionsAsync(changed);
            }
            LogControlledShutdown(brokerId, moved);
            return moved;
        }
        finally
        {
            _changes.Release();
        }
    }

    /// <summary>
    /// Drops replicas on brokers not in <paramref name="live"/> from the ISR (never the last member: Kafka keeps it so a
    /// clean election can wait for it) and moves leadership when the leader's broker is gone.
    /// </summary>
    private bool Reelect(TopicState t, PartitionAssignment p, HashSet<string> live, string? excluded)
    {
        var changed = false;
        if (p.Leader < 0 || !live.Contains(p.Replicas[p.Leader]))
        {
            var candidate = -1;
            foreach (var id in p.Isr)
                if (live.Contains(p.Replicas[id])) { candidate = id; break; }
            if (candidate < 0 && excluded is null && TopicRules.UncleanLeaderElection(t.Configs))
                for (var id = 0; id < p.Replicas.Count && candidate < 0; id++)
                    if (live.Contains(p.Replicas[id])) { candidate = id; LogUncleanElection(t.Name, p.Partition, id); }
            // A controlled shutdown with nobody to take over keeps its leader; a dead leader is removed regardless.
            if (candidate >= 0 || (excluded is null && p.Leader >= 0))
            {
                var old = p.Leader;
                p.Leader = candidate;
                p.LeaderEpoch++;
                if (candidate >= 0 && !p.Isr.Contains(candidate)) p.Isr = [candidate];
                LogLeaderElected(t.Name, p.Partition, candidate, p.LeaderEpoch, old);
                changed = true;
            }
        }
        var isr = new List<int>(p.Isr.Count);
        foreach (var id in p.Isr)
            if (id == p.Leader || live.Contains(p.Replicas[id])) isr.Add(id);
        if (isr.Count == 0 && p.Isr.Count > 0) isr.Add(p.Isr[0]);
        if (!isr.SequenceEqual(p.Isr))
        {
            p.Isr = isr;
            changed = true;
        }
        if (changed) p.PartitionEpoch++;
        return changed;
    }

    /// <summary>
    /// Sends LeaderAndIsr to every live replica of the partitions. Waits at most <see cref="PushWait"/>: a broker
    /// that died a moment ago would otherwise hold the controller for a whole response timeout, and a replica that
    /// misses a push pulls its state when it activates.
    /// </summary>
    private async Task PushPartitionsAsync(List<(TopicState Topic, PartitionAssignment Partition)> partitions)
    {
        var calls = new List<(string Key, Task<ErrorCode> Call)>();
        foreach (var (t, p) in partitions)
        {
            var partitionState = ToState(t, p);
            for (var r = 0; r < p.Replicas.Count; r++)
            {
                if (!brokers.IsAlive(p.Replicas[r])) continue;
                var key = GrainKeys.Replica(t.Name, p.Partition, r);
                calls.Add((key, CallReplica(key, p.Replicas[r], g => g.LeaderAndIsr(partitionState))));
            }
        }
        if (calls.Count == 0) return;
        var all = new Task[calls.Count];
        for (var i = 0; i < calls.Count; i++) all[i] = calls[i].Call;
        await Task.WhenAll(all).WaitAsync(PushWait).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing | ConfigureAwaitOptions.ContinueOnCapturedContext);
        foreach (var (key, call) in calls)
        {
            if (!call.IsCompleted) LogLeaderAndIsrSlow(key);
            else if (call.IsFaulted) LogLeaderAndIsrFailed(call.Exception!.GetBaseException(), key);
            else if (call.Result != ErrorCode.None) LogLeaderAndIsrRejected(key, call.Result);
        }
    }

    private static readonly TimeSpan PushWait = TimeSpan.FromSeconds(2);

    private (ErrorCode, string?, TopicState?) PrepareTopic(NewTopic? topic, List<string> live, ReplicaAssigner assigner, HashSet<string> seen)
    {
        if (topic is null) return (ErrorCode.InvalidRequest, "Topic is null.", null);
        if (TopicRules.ValidateName(topic.Name) is { } badName) return (ErrorCode.InvalidTopic, badName, null);
        if (!seen.Add(topic.Name)) return (ErrorCode.InvalidRequest, $"Topic '{topic.Name}' appears more than once in the request.", null);
        if (State.Topics.ContainsKey(topic.Name)) return (ErrorCode.TopicAlreadyExists, $"Topic '{topic.Name}' already exists.", null);

        var partitions = topic.NumPartitions == -1 ? _options.NumPartitions : topic.NumPartitions;
        if (partitions < 1) return (ErrorCode.InvalidPartitions, $"Number of partitions must be at least 1, not {topic.NumPartitions}.", null);
        var rf = topic.ReplicationFactor == -1 ? _options.DefaultReplicationFactor : topic.ReplicationFactor;
        if (rf < 1) return (ErrorCode.InvalidReplicationFactor, $"Replication factor must be at least 1, not {topic.ReplicationFactor}.", null);
        if (rf > live.Count) return (ErrorCode.InvalidReplicationFactor, $"Replication factor {rf} is larger than the {live.Count} live brokers.", null);

        var configs = new Dictionary<string, string>(StringComparer.Ordinal);
        if (topic.Configs is not null)
        {
            foreach (var (key, value) in topic.Configs)
            {
                if (key is null || value is null) return (ErrorCode.InvalidConfig, "Config keys and values must not be null.", null);
                configs[key] = value;
            }
        }
        if (TopicConfigs.Validate(configs, _options) is { } badConfig) return (ErrorCode.InvalidConfig, badConfig, null);

        var state = new TopicState { Name = topic.Name, TopicId = Guid.NewGuid(), Configs = configs };
        assigner.NextTopic();
        for (var p = 0; p < partitions; p++) state.Partitions.Add(NewPartition(p, assigner.Assign(rf)));
        return (ErrorCode.None, null, state);
    }

    private static PartitionAssignment NewPartition(int partition, List<string> replicas)
    {
        var isr = new List<int>(replicas.Count);
        for (var i = 0; i < replicas.Count; i++) isr.Add(i);
        return new PartitionAssignment { Partition = partition, Replicas = replicas, Leader = 0, LeaderEpoch = 0, Isr = isr };
    }

    private async Task CommitAsync()
    {
        State.MetadataVersion++;
        try
        {
            await state.WriteStateAsync();
        }
        catch
        {
            // The write may not have happened: forget the in-memory change rather than serve what is not durable.
            await state.ReadStateAsync();
            throw;
        }
    }

    /// <summary>
    /// Commits an admin change; false when another activation wrote the state first (its ETag moved). The state is then
    /// reloaded, so nothing of this request was applied, and the caller answers Kafka's retriable NotController.
    /// </summary>
    private async Task<bool> TryCommitAsync()
    {
        try
        {
            await CommitAsync();
            return true;
        }
        catch (InconsistentStateException e)
        {
            LogStaleWrite(e);
            return false;
        }
    }

    private static List<TopicResult> StaleWrite(List<TopicResult> results, IEnumerable<string> changed)
    {
        var refused = new HashSet<string>(changed, StringComparer.Ordinal);
        for (var i = 0; i < results.Count; i++)
            if (results[i].Error == ErrorCode.None && refused.Contains(results[i].Topic))
                results[i] = new TopicResult(results[i].Topic, ErrorCode.NotController,
                    "The controller's state was changed by another activation first; nothing was applied. Retry.");
        return results;
    }

    /// <summary>Sends LeaderAndIsr to every replica of the topics (from partition <paramref name="fromPartition"/> on).</summary>
    private Task PushStatesAsync(List<TopicState> topics, int? fromPartition)
    {
        var partitions = new List<(TopicState, PartitionAssignment)>();
        foreach (var topic in topics)
            for (var p = fromPartition ?? 0; p < topic.Partitions.Count; p++) partitions.Add((topic, topic.Partitions[p]));
        return PushPartitionsAsync(partitions);
    }

    private async Task DeleteReplicasAsync(TopicState topic)
    {
        var calls = new List<(string Key, Task<bool> Call)>();
        foreach (var p in topic.Partitions)
            for (var r = 0; r < p.Replicas.Count; r++)
            {
                if (!brokers.IsAlive(p.Replicas[r])) continue;
                var key = GrainKeys.Replica(topic.Name, p.Partition, r);
                calls.Add((key, CallReplica(key, p.Replicas[r], async g => { await g.DeleteReplica(); return true; })));
            }
        if (calls.Count == 0) return;
        var all = new Task[calls.Count];
        for (var i = 0; i < calls.Count; i++) all[i] = calls[i].Call;
        await Task.WhenAll(all).WaitAsync(PushWait).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing | ConfigureAwaitOptions.ContinueOnCapturedContext);
        foreach (var (key, call) in calls)
            // A replica left behind is recognised by its topic id and wiped if the name is reused.
            if (call.IsFaulted) LogDeleteReplicaFailed(call.Exception!.GetBaseException(), key);
    }

    /// <summary>Calls a replica, telling placement its broker so an activation needs no round trip back here.</summary>
    private async Task<T> CallReplica<T>(string key, string broker, Func<IPartitionReplicaGrain, Task<T>> call)
    {
        // Request context set inside this async method flows into the call but not back to the caller.
        RequestContext.Set(BrokerPlacementDirector.BrokerHintKey, broker);
        RequestContext.Set(BrokerPlacementDirector.BrokerHintReplicaKey, key);
        return await call(GrainFactory.GetGrain<IPartitionReplicaGrain>(key));
    }

    private bool TryGetPartition(string topic, int partition, out TopicState t, out PartitionAssignment p)
    {
        if (topic is not null && State.Topics.TryGetValue(topic, out t!) && (uint)partition < (uint)t.Partitions.Count)
        {
            p = t.Partitions[partition];
            return true;
        }
        t = null!;
        p = null!;
        return false;
    }

    private List<string> LiveBrokerIds()
    {
        var live = brokers.LiveBrokers();
        var ids = new List<string>(live.Count);
        foreach (var (id, _) in live) ids.Add(id);
        return ids;
    }

    private List<BrokerInfo> DescribeBrokers()
    {
        var result = new List<BrokerInfo>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (id, silo) in brokers.LiveBrokers())
            if (seen.Add(id)) result.Add(new BrokerInfo(id, silo.ToString(), true));
        foreach (var topic in State.Topics.Values)
            foreach (var p in topic.Partitions)
                foreach (var b in p.Replicas)
                    if (seen.Add(b)) result.Add(new BrokerInfo(b, null, false));
        result.Sort(static (a, b) => string.CompareOrdinal(a.BrokerId, b.BrokerId));
        return result;
    }

    private static TopicMetadata Describe(TopicState t)
    {
        var partitions = new List<PartitionMetadata>(t.Partitions.Count);
        foreach (var p in t.Partitions)
            partitions.Add(new PartitionMetadata(p.Partition, p.Leader, p.LeaderEpoch, Replicas(p), p.Isr.ToArray(),
                p.Leader < 0 ? ErrorCode.LeaderNotAvailable : ErrorCode.None));
        return new TopicMetadata(t.Name, t.TopicId, ErrorCode.None, partitions, new Dictionary<string, string>(t.Configs));
    }

    // Replicas get the effective configs (broker defaults under the topic's overrides); metadata shows only the overrides.
    private PartitionState ToState(TopicState t, PartitionAssignment p) =>
        new(t.Name, t.TopicId, p.Partition, p.Leader, p.LeaderEpoch, p.PartitionEpoch, Replicas(p), p.Isr.ToArray(),
            TopicDefaults.Apply(_options.TopicConfigDefaults, t.Configs));

    private static ReplicaInfo[] Replicas(PartitionAssignment p)
    {
        var replicas = new ReplicaInfo[p.Replicas.Count];
        for (var i = 0; i < replicas.Length; i++) replicas[i] = new ReplicaInfo(i, p.Replicas[i]);
        return replicas;
    }

    private static readonly IReadOnlyDictionary<string, string> EmptyConfigs = new Dictionary<string, string>();

    [LoggerMessage(Level = LogLevel.Information, Message = "Created topic {Topic} with {Partitions} partitions, replication factor {ReplicationFactor}")]
    private partial void LogTopicCreated(string topic, int partitions, int replicationFactor);

    [LoggerMessage(Level = LogLevel.Information, Message = "ISR of {Topic}-{Partition} changed from [{Old}] to [{New}] in epoch {Epoch}")]
    private partial void LogIsrChanged(string topic, int partition, string old, string @new, int epoch);

    [LoggerMessage(Level = LogLevel.Warning, Message = "A controller state write was refused: another activation wrote first; the state was reloaded")]
    private partial void LogStaleWrite(Exception e);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Leader of {Topic}-{Partition} is now replica {Leader} in epoch {Epoch} (was {OldLeader})")]
    private partial void LogLeaderElected(string topic, int partition, int leader, int epoch, int oldLeader);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Unclean election: replica {Replica} of {Topic}-{Partition} leads without being in sync")]
    private partial void LogUncleanElection(string topic, int partition, int replica);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Replica {Replica} of {Topic}-{Partition} moves from broker {From}, out of membership, to {To}")]
    private partial void LogReplicaMoved(string topic, int partition, int replica, string from, string to);

    [LoggerMessage(Level = LogLevel.Information, Message = "Controlled shutdown of broker {Broker} moved {Moved} leaderships")]
    private partial void LogControlledShutdown(string broker, int moved);

    [LoggerMessage(Level = LogLevel.Information, Message = "Deleted topic {Topic}")]
    private partial void LogTopicDeleted(string topic);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Auto-creating topic {Topic} failed: {Error} {Message}")]
    private partial void LogAutoCreateFailed(string topic, ErrorCode error, string? message);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Replica {Replica} rejected LeaderAndIsr: {Error}")]
    private partial void LogLeaderAndIsrRejected(string replica, ErrorCode error);

    [LoggerMessage(Level = LogLevel.Information, Message = "Replica {Replica} has not answered LeaderAndIsr yet; it pulls its state when it activates")]
    private partial void LogLeaderAndIsrSlow(string replica);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Sending LeaderAndIsr to replica {Replica} failed")]
    private partial void LogLeaderAndIsrFailed(Exception e, string replica);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Deleting replica {Replica} failed")]
    private partial void LogDeleteReplicaFailed(Exception e, string replica);
}
