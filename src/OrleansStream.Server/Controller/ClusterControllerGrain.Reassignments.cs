namespace OrleansStream.Server.Controller;

/// <summary>
/// Kafka's partition reassignment (KIP-455, <c>ReplicationControlManager.alterPartitionReassignments</c>): the rules are
/// <see cref="PartitionChangeBuilder"/>'s; this part validates targets as Kafka does, stores each step and tells the
/// replicas. An adding replica starts on its broker from the LeaderAndIsr push and rebuilds from the leader, as a replica
/// moved off a lost broker does; the reassignment completes in the AlterPartition that brings the last one into the ISR.
/// </summary>
internal sealed partial class ClusterControllerGrain
{
    public Task<IReadOnlyList<ReassignmentResult>> AlterPartitionReassignments(IReadOnlyList<ReassignmentTarget> targets)
    {
        ArgumentNullException.ThrowIfNull(targets);
        if (_stateLost is { } lost)
        {
            var refused = new List<ReassignmentResult>(targets.Count);
            foreach (var target in targets) refused.Add(new ReassignmentResult(target.Topic, target.Partition, ErrorCode.InconsistentClusterId, lost));
            return Task.FromResult<IReadOnlyList<ReassignmentResult>>(refused);
        }
        return Serialized(async () =>
        {
            var brokersByNode = new Dictionary<int, string>();
            foreach (var (broker, nodeId) in State.NodeIds)
                if (!_refused.Contains(broker)) brokersByNode[nodeId] = broker;
            var electable = LiveBrokerSet();
            electable.ExceptWith(_shuttingDown);
            var results = new List<ReassignmentResult>(targets.Count);
            var changed = new List<(TopicState, PartitionAssignment)>();
            var steps = new List<(TopicState, PartitionAssignment, ReassignmentStep)>();
            foreach (var target in targets)
            {
                var (error, message) = AlterReassignment(target, brokersByNode, electable, changed, steps);
                results.Add(new ReassignmentResult(target.Topic, target.Partition, error, message));
            }
            if (changed.Count == 0) return (IReadOnlyList<ReassignmentResult>)results;
            if (!await TryCommitAsync())
            {
                for (var i = 0; i < results.Count; i++)
                    if (results[i].Error == ErrorCode.None) results[i] = results[i] with { Error = ErrorCode.NotController, ErrorMessage = StaleWriteMessage };
                return results;
            }
            foreach (var (t, p) in changed)
                for (var r = 0; r < p.Replicas.Count; r++)
                    if (!p.Isr.Contains(r)) _moved.Add((t.Name, p.Partition, p.ReplicaIdAt(r)));
            // The replicas it adds are woken until in sync, as moved replicas are.
            if (_reconcileTimer is null) ScheduleReconcile(MovedReplicaCheck);
            await PushPartitions(changed);
            foreach (var (t, p, step) in steps) StopRemovedReplicas(t, p, step);
            return results;
        });
    }

    /// <summary>One partition of an AlterPartitionReassignments, with Kafka's errors and messages; applied to the state when it changes it.</summary>
    private (ErrorCode, string?) AlterReassignment(ReassignmentTarget target, Dictionary<int, string> brokersByNode, HashSet<string> electable,
        List<(TopicState, PartitionAssignment)> changed, List<(TopicState, PartitionAssignment, ReassignmentStep)> steps)
    {
        if (target.Topic is null || !State.Topics.TryGetValue(target.Topic, out var t))
            return (ErrorCode.UnknownTopicOrPartition, $"Unable to find a topic named {target.Topic}.");
        if ((uint)target.Partition >= (uint)t.Partitions.Count)
            return (ErrorCode.UnknownTopicOrPartition, $"Unable to find partition {target.Topic}:{target.Partition}.");
        var p = t.Partitions[target.Partition];
        ReassignmentStep? step;
        if (target.Replicas is null)
        {
            if (!p.IsReassigning) return (ErrorCode.NoReassignmentInProgress, "No partition reassignment is in progress.");
            step = PartitionChangeBuilder.RevertReassignment(p, TopicRules.UncleanLeaderElection(t.Configs), electable);
            if (step is null)
                return (ErrorCode.InvalidReplicaAssignment,
                    $"Unable to revert partition assignment for {target.Topic}:{target.Partition} because it would require an unclean leader election.");
            LogReassignmentCancelled(t.Name, p.Partition, string.Join(",", p.Replicas));
        }
        else
        {
            if (ValidateTarget(target.Replicas, brokersByNode) is { } invalid) return (ErrorCode.InvalidReplicaAssignment, invalid);
            var brokerIds = new List<string>(target.Replicas.Count);
            foreach (var nodeId in target.Replicas) brokerIds.Add(brokersByNode[nodeId]);
            step = PartitionChangeBuilder.ChangeReassignment(p, brokerIds, electable);
            if (step is null) return (ErrorCode.None, null);
            LogReassignmentChanged(t.Name, p.Partition, string.Join(",", p.Replicas), string.Join(",", p.AddingReplicas ?? []),
                string.Join(",", p.RemovingReplicas ?? []));
        }
        changed.Add((t, p));
        if (step.Removed.Count > 0) steps.Add((t, p, step));
        return (ErrorCode.None, null);
    }

    /// <summary>Kafka's <c>validateManualPartitionAssignment</c>: its checks in its order (sorted ids) and with its messages.</summary>
    internal static string? ValidateTarget(IReadOnlyList<int> replicas, IReadOnlyDictionary<int, string> brokersByNode)
    {
        if (replicas.Count == 0) return "The manual partition assignment includes an empty replica list.";
        var sorted = new List<int>(replicas);
        sorted.Sort();
        for (var i = 0; i < sorted.Count; i++)
        {
            if (!brokersByNode.ContainsKey(sorted[i]))
                return $"The manual partition assignment includes broker {sorted[i]}, but no such broker is registered.";
            if (i > 0 && sorted[i] == sorted[i - 1]) return $"The manual partition assignment includes the broker {sorted[i]} more than once.";
        }
        return null;
    }

    public Task<IReadOnlyList<OngoingReassignment>> ListPartitionReassignments(IReadOnlyList<ElectionPartitions>? partitions)
    {
        ThrowIfStateLost();
        var image = _image;
        var result = new List<OngoingReassignment>();
        if (partitions is null)
        {
            foreach (var t in image.Topics.Values)
                foreach (var p in t.Partitions)
                    if (p.IsReassigning) result.Add(Ongoing(image, t, p));
            result.Sort(static (a, b) => string.CompareOrdinal(a.Topic, b.Topic) is var c and not 0 ? c : a.Partition.CompareTo(b.Partition));
        }
        else
        {
            foreach (var wanted in partitions)
            {
                if (wanted?.Topic is null || !image.Topics.TryGetValue(wanted.Topic, out var t)) continue;
                foreach (var index in wanted.Partitions)
                    if ((uint)index < (uint)t.Partitions.Count && t.Partitions[index] is { IsReassigning: true } p) result.Add(Ongoing(image, t, p));
            }
        }
        return Task.FromResult<IReadOnlyList<OngoingReassignment>>(result);
    }

    private static OngoingReassignment Ongoing(ControllerState image, TopicState t, PartitionAssignment p) =>
        new(t.Name, p.Partition, NodeIdsOf(image, p.Replicas), NodeIdsOf(image, p.AddingReplicas), NodeIdsOf(image, p.RemovingReplicas));

    private static int[] NodeIdsOf(ControllerState image, List<string>? brokerIds)
    {
        if (brokerIds is null) return [];
        var ids = new int[brokerIds.Count];
        for (var i = 0; i < ids.Length; i++) ids[i] = image.NodeIds.TryGetValue(brokerIds[i], out var id) ? id : -1;
        return ids;
    }

    /// <summary>
    /// Completes the partition's reassignment when its ISR now allows it (the AlterPartition that brought the last
    /// adding replica in); null when none completes.
    /// </summary>
    private ReassignmentStep? CompleteReassignment(TopicState t, PartitionAssignment p)
    {
        if (!p.IsReassigning) return null;
        var electable = LiveBrokerSet();
        electable.ExceptWith(_shuttingDown);
        if (PartitionChangeBuilder.CompleteReassignment(p, electable) is not { } step) return null;
        LogReassignmentCompleted(t.Name, p.Partition, string.Join(",", p.Replicas), p.Leader >= 0 ? p.Replicas[p.Leader] : "none");
        return step;
    }

    /// <summary>
    /// Sends the replicas a reassignment removed the partition's state, in which they are no longer: each on a live
    /// broker stops and deletes its log, as a replica moved to another broker does. One whose broker is down, or that
    /// misses the push, is removed as a stray directory when its broker registers again.
    /// </summary>
    private void StopRemovedReplicas(TopicState t, PartitionAssignment p, ReassignmentStep step)
    {
        var state = ToState(t, p);
        foreach (var removed in step.Removed)
        {
            if (!brokers.IsAlive(removed.BrokerId)) continue;
            var key = GrainKeys.Replica(t.Name, p.Partition, removed.ReplicaId);
            _ = StopRemovedReplicaAsync(key, removed.BrokerId, state);
        }
    }

    private async Task StopRemovedReplicaAsync(string key, string broker, PartitionState state)
    {
        try
        {
            await CallReplica(key, broker, g => g.LeaderAndIsr(state)).WaitAsync(PushWait);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            LogRemovedReplicaNotStopped(e, key, broker);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Reassignment of {Topic}-{Partition}: replicas {Replicas}, adding {Adding}, removing {Removing}")]
    private partial void LogReassignmentChanged(string topic, int partition, string replicas, string adding, string removing);

    [LoggerMessage(Level = LogLevel.Information, Message = "Reassignment of {Topic}-{Partition} completed: replicas {Replicas}, leader on {Leader}")]
    private partial void LogReassignmentCompleted(string topic, int partition, string replicas, string leader);

    [LoggerMessage(Level = LogLevel.Information, Message = "Reassignment of {Topic}-{Partition} cancelled: replicas {Replicas}")]
    private partial void LogReassignmentCancelled(string topic, int partition, string replicas);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Replica {Replica} removed by a reassignment did not take its stop on broker {Broker}; its data goes when the broker registers again")]
    private partial void LogRemovedReplicaNotStopped(Exception e, string replica, string broker);
}
