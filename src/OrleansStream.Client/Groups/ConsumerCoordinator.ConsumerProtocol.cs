namespace OrleansStream.Client.Groups;

/// <summary>
/// The member side of Kafka's consumer group protocol (KIP-848), Kafka's <c>ConsumerMembershipManager</c> in short:
/// one loop heartbeats (at the coordinator's interval, or at once when Poll has something to tell), the coordinator's
/// answer carries the member's epoch and, when it changed, its assignment; Poll applies the assignment on the
/// consumer's thread (revoking first, committing with auto commit, then assigning) and the next heartbeat reports the
/// partitions the member holds, which lets the coordinator move on. Commits carry the member epoch.
/// </summary>
internal sealed partial class ConsumerCoordinator
{
    private readonly SemaphoreSlim _heartbeatSignal = new(0, 1);

    /// <summary>
    /// One heartbeat in flight, the leave included (Kafka's heartbeat request manager): Orleans does not order two
    /// calls from different tasks, so a join still in flight could otherwise reach the coordinator after the leave and
    /// make the member again, which only its session timeout would remove.
    /// </summary>
    private readonly SemaphoreSlim _heartbeatGate = new(1, 1);

    /// <summary>
    /// Whether the coordinator may hold this member: from its first join until a leave or an answer that it is not a
    /// member (fenced, unknown). A join whose answer never came may have made the member, so leaving is owed then too.
    /// </summary>
    private bool _maybeMember;
    private readonly Dictionary<string, Guid> _topicIds = new(StringComparer.Ordinal);
    private readonly Dictionary<Guid, string> _topicNames = [];
    private JoinOutcome? _heartbeatAssignment;

    /// <summary>Wakes the consumer protocol's heartbeat loop so that it reports now (a subscription, a revocation).</summary>
    private void HeartbeatNow()
    {
        if (!_settings.ConsumerProtocol) return;
        try
        {
            if (_heartbeatSignal.CurrentCount == 0) _heartbeatSignal.Release();
        }
        catch (SemaphoreFullException)
        {
            // Already signalled.
        }
    }

    /// <summary>Poll's part: the last assignment the coordinator sent, applied once; the next heartbeat acknowledges it.</summary>
    private void ApplyHeartbeatAssignment()
    {
        JoinOutcome? outcome;
        lock (_lock)
        {
            outcome = _heartbeatAssignment;
            _heartbeatAssignment = null;
        }
        if (outcome is null) return;
        ApplyAssignment(outcome);
        HeartbeatNow();
    }

    private async Task ConsumerHeartbeatLoopAsync()
    {
        var token = _closing.Token;
        var intervalMs = _settings.HeartbeatIntervalMs;
        while (!token.IsCancellationRequested)
        {
            try
            {
                await _heartbeatSignal.WaitAsync(TimeSpan.FromMilliseconds(intervalMs), token).ConfigureAwait(false);
                await _heartbeatGate.WaitAsync(token).ConfigureAwait(false);
                try
                {
                    // The consumer may have closed (and left) while this waited for the gate.
                    if (token.IsCancellationRequested) return;
                    if (await HeartbeatAsync(intervalMs, token).ConfigureAwait(false) is not { } next) return;
                    intervalMs = next;
                }
                finally
                {
                    _heartbeatGate.Release();
                }
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                if (HeartbeatLoopEnds(ex, token)) return;
            }
        }
    }

    /// <summary>One heartbeat and what its answer says; the next interval, or null when the loop ends (a fatal error).</summary>
    private async Task<int?> HeartbeatAsync(int intervalMs, CancellationToken token)
    {
        string memberId;
        int epoch;
        List<string>? topics;
        List<TopicPartition> owned;
        lock (_lock)
        {
            // KIP-1082: the member makes its own id and keeps it for its life, across rejoins.
            if (_memberId.Length == 0) _memberId = Guid.NewGuid().ToString("N");
            memberId = _memberId;
            epoch = Math.Max(_generation, 0);
            topics = _topics;
            owned = [.. _owned];
        }
        if (topics is null) return intervalMs;

        if (epoch > 0 && NowMs - Volatile.Read(ref _lastPollMs) > _settings.MaxPollIntervalMs)
        {
            // Kafka's max.poll.interval.ms: a member that stopped polling leaves (a static one for now), so its
            // partitions move on; its next poll finds them lost and it joins again.
            await SendLeaveAsync(memberId).ConfigureAwait(false);
            lock (_lock) _maybeMember = false;
            MarkLost();
            return intervalMs;
        }

        var ids = await TopicIdsAsync(topics, refresh: false).ConfigureAwait(false);
        var request = epoch == 0
            ? new ConsumerGroupHeartbeatRequest(memberId, 0, _settings.GroupInstanceId, null, _settings.MaxPollIntervalMs, topics, null,
                _settings.RemoteAssignor, [], _settings.ClientId)
            : new ConsumerGroupHeartbeatRequest(memberId, epoch, null, null, -1, topics, null, null, ById(owned, ids), _settings.ClientId);
        if (epoch == 0)
            lock (_lock) _maybeMember = true;
        var response = await _calls.Call(_group.ConsumerGroupHeartbeat(request)).ConfigureAwait(false);
        switch (response.Error)
        {
            case ErrorCode.None:
                if (response.HeartbeatIntervalMs > 0) intervalMs = response.HeartbeatIntervalMs;
                List<TopicPartition>? assigned = null;
                if (response.Assignment is { } assignment) assigned = await NamesAsync(assignment, topics).ConfigureAwait(false);
                lock (_lock)
                {
                    _memberId = response.MemberId ?? memberId;
                    _generation = response.MemberEpoch;
                    if (assigned is not null) _heartbeatAssignment = new JoinOutcome(response.MemberEpoch, assigned);
                }
                if (assigned is not null) _host.Wakeup();
                return intervalMs;
            case ErrorCode.FencedMemberEpoch or ErrorCode.UnknownMemberId:
                // Kafka's fenced member: its partitions may be someone else's now; it gives them up uncommitted
                // and joins again at epoch 0 with its id.
                lock (_lock)
                {
                    _generation = -1;
                    _maybeMember = false;
                    _heartbeatAssignment = null;
                    _lost = true;
                }
                _host.Wakeup();
                HeartbeatNow();
                return intervalMs;
            case ErrorCode.NotCoordinator or ErrorCode.CoordinatorNotAvailable or ErrorCode.CoordinatorLoadInProgress:
                await Task.Delay(TimeSpan.FromMilliseconds(Math.Max(1, _settings.RetryBackoffMs)), _time, token).ConfigureAwait(false);
                return intervalMs;
            default:
                // Kafka's fatal heartbeat errors (InvalidRequest, UnsupportedAssignor, FencedInstanceId,
                // UnreleasedInstanceId, GroupMaxSizeReached, GroupIdNotFound for a classic group): the next Consume throws.
                Volatile.Write(ref _fatal, GroupError(response.Error, response.ErrorMessage));
                _host.Wakeup();
                return null;
        }
    }

    /// <summary>The subscribed topics' ids from the controller's metadata, kept: a topic keeps its id while it lives.</summary>
    private async Task<Dictionary<string, Guid>> TopicIdsAsync(List<string> topics, bool refresh)
    {
        List<string>? missing = null;
        lock (_lock)
            foreach (var t in topics)
                if (refresh || !_topicIds.ContainsKey(t)) (missing ??= []).Add(t);
        if (missing is not null)
        {
            var metadata = await _calls.Call(_controller.GetMetadata(new MetadataRequest(missing))).ConfigureAwait(false);
            lock (_lock)
                foreach (var t in metadata.Topics)
                {
                    if (t.Error != ErrorCode.None || t.TopicId == Guid.Empty) continue;
                    if (_topicIds.Remove(t.Name, out var old)) _topicNames.Remove(old);
                    _topicIds[t.Name] = t.TopicId;
                    _topicNames[t.TopicId] = t.Name;
                }
        }
        lock (_lock) return new Dictionary<string, Guid>(_topicIds, StringComparer.Ordinal);
    }

    private static List<TopicIdPartitions> ById(List<TopicPartition> owned, Dictionary<string, Guid> ids)
    {
        var byTopic = new Dictionary<Guid, List<int>>();
        foreach (var tp in owned)
        {
            if (!ids.TryGetValue(tp.Topic, out var id)) continue;
            if (!byTopic.TryGetValue(id, out var list)) byTopic[id] = list = [];
            list.Add(tp.Partition);
        }
        var result = new List<TopicIdPartitions>(byTopic.Count);
        foreach (var (id, partitions) in byTopic) result.Add(new TopicIdPartitions(id, partitions));
        return result;
    }

    /// <summary>The assignment by topic name; an id not known yet (a topic made again) is looked up once more.</summary>
    private async Task<List<TopicPartition>> NamesAsync(IReadOnlyList<TopicIdPartitions> assignment, List<string> topics)
    {
        var unknown = false;
        lock (_lock)
            foreach (var t in assignment)
                unknown |= !_topicNames.ContainsKey(t.TopicId);
        if (unknown) await TopicIdsAsync(topics, refresh: true).ConfigureAwait(false);
        var partitions = new List<TopicPartition>();
        lock (_lock)
            foreach (var t in assignment)
                if (_topicNames.TryGetValue(t.TopicId, out var name))
                    foreach (var p in t.Partitions) partitions.Add(new TopicPartition(name, p));
        return partitions;
    }

    /// <summary>Leaves the group (epoch -1; a static member -2, keeping its place for its restart), as Kafka's member does on close.</summary>
    /// <summary>
    /// Leaves after the heartbeat in flight, if any, has its answer (it holds the gate), when the coordinator may hold
    /// the member: joined, or joining (Kafka's member leaves from its JOINING state too).
    /// </summary>
    private void LeaveConsumerGroup()
    {
        // A heartbeat's call is bounded by the Orleans response timeout; past the session timeout leaving is moot.
        var gated = _heartbeatGate.Wait(TimeSpan.FromMilliseconds(_settings.SessionTimeoutMs));
        try
        {
            string memberId;
            bool maybeMember;
            lock (_lock)
            {
                memberId = _memberId;
                maybeMember = _maybeMember;
                _maybeMember = false;
                _generation = -1;
            }
            if (memberId.Length == 0 || !maybeMember) return;
            Blocking.Wait(() => SendLeaveAsync(memberId));
        }
        catch (ObjectDisposedException ex)
        {
            LogClientDisposed(_settings.GroupId, "the member does not leave; its session expires", ex.ObjectName);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            LogLeaveFailed(ex, _settings.GroupId);
        }
        finally
        {
            if (gated) _heartbeatGate.Release();
        }
    }

    private Task<ConsumerGroupHeartbeatResponse> SendLeaveAsync(string memberId) =>
        _calls.Call(_group.ConsumerGroupHeartbeat(new ConsumerGroupHeartbeatRequest(memberId, _settings.GroupInstanceId is null ? -1 : -2,
            _settings.GroupInstanceId, null, -1, null, null, null, null, _settings.ClientId)));
}
