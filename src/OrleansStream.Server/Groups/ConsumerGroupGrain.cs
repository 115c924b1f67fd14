using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Orleans.Runtime;
using OrleansStream.Server.Diagnostics;

namespace OrleansStream.Server.Groups;

/// <summary>
/// Kafka's classic group coordinator for one group. Membership lives in memory (members rejoin after a failover, as
/// they do when a Kafka coordinator moves); the generation and committed offsets are persisted.
/// Join and Sync long-poll and interleave; every state change happens between awaits, so the turns stay consistent.
/// </summary>
[GrainType("os-group")]
internal sealed partial class ConsumerGroupGrain : Grain, IConsumerGroupGrain
{
    private readonly IPersistentState<ConsumerGroupState> _state;
    private readonly ConsumerGroupOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<ConsumerGroupGrain> _logger;
    private readonly LogEndOffsetCache _logEnds;

    // Insertion order matters: the first member is the leader, and a new leader is the oldest remaining member.
    private readonly List<Member> _members = [];
    private readonly Dictionary<TopicPartition, string> _owners = [];
    private readonly Dictionary<TopicPartition, string> _previousOwners = [];
    private readonly Dictionary<TopicPartition, StoredOffset> _offsets = [];
    // What the last successful write stored: a failed write puts its commits back to these.
    private readonly Dictionary<TopicPartition, StoredOffset> _durable = [];
    // KIP-394: member ids issued with MemberIdRequired, not members until they rejoin with them; id → expiry (ms).
    private readonly Dictionary<string, long> _pendingMembers = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly CancellationTokenSource _deactivating = new();
    private ConsumerLagProbe? _lag;

    private CommitBatch? _nextBatch;
    private bool _flushing;
    private GroupState _phase = GroupState.Empty;
    private string? _leaderId;
    private string? _protocolName;
    private long _rebalanceDeadlineMs;
    private long _initialDelayDeadlineMs;
    private long _rebalanceStartMs;

    public ConsumerGroupGrain(
        [PersistentState("group", OrleansStreamDefaults.GrainStorageName)] IPersistentState<ConsumerGroupState> state,
        IOptions<ConsumerGroupOptions> options,
        IServiceProvider services,
        IGrainFactory grains,
        ILogger<ConsumerGroupGrain> logger)
    {
        _state = state;
        _options = options.Value;
        _time = services.GetKeyedService<TimeProvider>(ConsumerGroupOptions.TimeProviderKey) ?? services.GetService<TimeProvider>() ?? TimeProvider.System;
        _logger = logger;
        _logEnds = new LogEndOffsetCache(grains);
    }

    private string GroupId => this.GetPrimaryKeyString();

    private long NowMs => _time.GetUtcNow().ToUnixTimeMilliseconds();

    private bool Exists => _members.Count > 0 || _offsets.Count > 0 || _state.State.Registered || _state.RecordExists;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        foreach (var o in _state.State.Offsets)
            _offsets[new TopicPartition(o.Topic, o.Partition)] = _durable[new TopicPartition(o.Topic, o.Partition)] = o;
        if (_state.State.EmptySinceMs < 0 && _state.RecordExists)
            _state.State.EmptySinceMs = NowMs; // members do not survive a failover; retention restarts from here
        _ = RunExpirationLoopAsync();
        _lag = new ConsumerLagProbe(this, GrainFactory, ServiceProvider.GetRequiredService<OrleansStreamMetrics>(), _offsets);
        return Task.CompletedTask;
    }

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        _deactivating.Cancel();
        _lag?.Dispose();
        foreach (var m in _members)
        {
            m.AwaitingJoin?.TrySetResult(JoinError(ErrorCode.NotCoordinator, m.MemberId, "the coordinator is moving"));
            m.AwaitingSync?.TrySetResult(new SyncGroupResponse(ErrorCode.NotCoordinator, null, "the coordinator is moving"));
        }
        return Task.CompletedTask;
    }

    // ---- membership ---------------------------------------------------------------------------------------------

    public Task<JoinGroupResponse> JoinGroup(JoinGroupRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var memberId = request.MemberId ?? "";
        if (request.SessionTimeoutMs < _options.GroupMinSessionTimeoutMs || request.SessionTimeoutMs > _options.GroupMaxSessionTimeoutMs)
            return Task.FromResult(JoinError(ErrorCode.InvalidSessionTimeout, memberId,
                $"session.timeout.ms {request.SessionTimeoutMs} is outside [{_options.GroupMinSessionTimeoutMs}, {_options.GroupMaxSessionTimeoutMs}]"));
        if (request.ProtocolType != GroupKeys.ConsumerProtocolType || request.Protocols is null || request.Protocols.Count == 0)
            return Task.FromResult(JoinError(ErrorCode.InconsistentGroupProtocol, memberId,
                $"protocol type must be '{GroupKeys.ConsumerProtocolType}' with at least one assignor"));
        if (_phase == GroupState.Dead) _phase = GroupState.Empty;

        var member = Find(memberId);
        var returning = memberId.Length > 0 && member is null && _pendingMembers.Remove(memberId, out var expiresMs) && expiresMs > NowMs;
        if (memberId.Length > 0 && member is null && !returning)
            return Task.FromResult(JoinError(ErrorCode.UnknownMemberId, memberId, $"member '{memberId}' is not in group '{GroupId}'"));
        if (!HasCommonProtocol(request.Protocols, member))
            return Task.FromResult(JoinError(ErrorCode.InconsistentGroupProtocol, memberId,
                "none of the member's assignors is supported by every other member"));

        var rebalanceTimeoutMs = request.RebalanceTimeoutMs > 0 ? request.RebalanceTimeoutMs : request.SessionTimeoutMs;
        if (member is null)
        {
            if (_members.Count >= _options.GroupMaxSize)
                return Task.FromResult(JoinError(ErrorCode.GroupMaxSizeReached, "", $"group '{GroupId}' has {_members.Count} members (group.max.size)"));
            if (!returning)
            {
                // KIP-394: the id comes back first and the member joins only when it rejoins with it, so a join whose
                // answer was lost (and is retried without an id) leaves no phantom member holding up the rebalance.
                var issued = $"{(string.IsNullOrEmpty(request.ClientId) ? "consumer" : request.ClientId)}-{Guid.NewGuid():N}";
                _pendingMembers[issued] = NowMs + request.SessionTimeoutMs;
                return Task.FromResult(JoinError(ErrorCode.MemberIdRequired, issued, "rejoin with the issued member id"));
            }
            member = new Member(memberId, request.ClientId ?? "");
            member.Update(request, rebalanceTimeoutMs);
            member.HeartbeatDeadlineMs = NowMs + request.SessionTimeoutMs;
            _members.Add(member);
            _leaderId ??= member.MemberId;
            _state.State.EmptySinceMs = -1;
            LogMemberJoined(GroupId, member.MemberId, request.Reason ?? "new member");
            var joining = member.StartJoin();
            if (_phase == GroupState.PreparingRebalance && _initialDelayDeadlineMs > 0)
                _initialDelayDeadlineMs = Math.Min(NowMs + _options.GroupInitialRebalanceDelayMs, _rebalanceStartMs + MaxRebalanceTimeoutMs());
            PrepareRebalance($"member {member.MemberId} joined");
            return joining;
        }

        var changed = !member.Matches(request.Protocols);
        member.Update(request, rebalanceTimeoutMs);
        member.HeartbeatDeadlineMs = NowMs + request.SessionTimeoutMs;
        switch (_phase)
        {
            case GroupState.PreparingRebalance:
                {
                    var pending = member.StartJoin();
                    TryCompleteJoin();
                    return pending;
                }
            case GroupState.CompletingRebalance when !changed:
            case GroupState.Stable when !changed && member.MemberId != _leaderId:
                // A retried join or a follower rejoining with nothing new: the current generation stands.
                return Task.FromResult(JoinResult(member));
            default:
                {
                    var pending = member.StartJoin();
                    PrepareRebalance(changed ? $"member {member.MemberId} changed its subscription" : $"leader {member.MemberId} rejoined");
                    return pending;
                }
        }
    }

    public Task<SyncGroupResponse> SyncGroup(SyncGroupRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var member = Find(request.MemberId);
        if (member is null)
            return Task.FromResult(new SyncGroupResponse(ErrorCode.UnknownMemberId, null, $"member '{request.MemberId}' is not in group '{GroupId}'"));
        if (request.GenerationId != _state.State.GenerationId)
            return Task.FromResult(new SyncGroupResponse(ErrorCode.IllegalGeneration, null,
                $"generation {request.GenerationId} is not the group's generation {_state.State.GenerationId}"));
        switch (_phase)
        {
            case GroupState.PreparingRebalance:
                return Task.FromResult(new SyncGroupResponse(ErrorCode.RebalanceInProgress, null));
            case GroupState.Stable:
                return Task.FromResult(new SyncGroupResponse(ErrorCode.None, member.Assignment));
            case GroupState.CompletingRebalance:
                member.HeartbeatDeadlineMs = NowMs + member.SessionTimeoutMs;
                var pending = member.StartSync();
                if (member.MemberId == _leaderId)
                    CompleteSync(request.Assignments);
                return pending;
            default:
                return Task.FromResult(new SyncGroupResponse(ErrorCode.UnknownMemberId, null, $"group '{GroupId}' is {_phase}"));
        }
    }

    public Task<GroupResponse> Heartbeat(HeartbeatRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var member = Find(request.MemberId);
        if (member is null)
            return Task.FromResult(new GroupResponse(ErrorCode.UnknownMemberId, $"member '{request.MemberId}' is not in group '{GroupId}'"));
        if (request.GenerationId != _state.State.GenerationId)
            return Task.FromResult(new GroupResponse(ErrorCode.IllegalGeneration,
                $"generation {request.GenerationId} is not the group's generation {_state.State.GenerationId}"));
        member.HeartbeatDeadlineMs = NowMs + member.SessionTimeoutMs;
        return Task.FromResult(_phase == GroupState.PreparingRebalance ? new GroupResponse(ErrorCode.RebalanceInProgress) : GroupResponse.Ok);
    }

    public Task<GroupResponse> LeaveGroup(LeaveGroupRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var member = Find(request.MemberId);
        if (member is null)
            return Task.FromResult(new GroupResponse(ErrorCode.UnknownMemberId, $"member '{request.MemberId}' is not in group '{GroupId}'"));
        RemoveMember(member, request.Reason ?? "left the group");
        return Task.FromResult(GroupResponse.Ok);
    }

    private void RemoveMember(Member member, string reason)
    {
        _members.Remove(member);
        member.AwaitingJoin?.TrySetResult(JoinError(ErrorCode.UnknownMemberId, member.MemberId, "removed from the group"));
        member.AwaitingSync?.TrySetResult(new SyncGroupResponse(ErrorCode.UnknownMemberId, null, "removed from the group"));
        member.AwaitingJoin = null;
        member.AwaitingSync = null;
        if (_leaderId == member.MemberId) _leaderId = _members.Count > 0 ? _members[0].MemberId : null;
        LogMemberRemoved(GroupId, member.MemberId, reason);
        if (_phase is GroupState.Stable or GroupState.CompletingRebalance)
            PrepareRebalance($"member {member.MemberId} {reason}");
        else if (_phase == GroupState.PreparingRebalance)
            TryCompleteJoin();
    }

    private void PrepareRebalance(string reason)
    {
        if (_phase == GroupState.CompletingRebalance)
        {
            // The leader's assignment for this generation will never be accepted: send the waiting members back to join.
            foreach (var m in _members)
            {
                m.AwaitingSync?.TrySetResult(new SyncGroupResponse(ErrorCode.RebalanceInProgress, null));
                m.AwaitingSync = null;
            }
        }
        if (_phase != GroupState.PreparingRebalance)
        {
            var wasEmpty = _phase == GroupState.Empty;
            _phase = GroupState.PreparingRebalance;
            _rebalanceStartMs = NowMs;
            _initialDelayDeadlineMs = wasEmpty && _options.GroupInitialRebalanceDelayMs > 0
                ? _rebalanceStartMs + Math.Min(_options.GroupInitialRebalanceDelayMs, MaxRebalanceTimeoutMs())
                : 0;
            LogPreparingRebalance(GroupId, _state.State.GenerationId, reason);
        }
        _rebalanceDeadlineMs = _rebalanceStartMs + MaxRebalanceTimeoutMs();
        TryCompleteJoin();
    }

    private void TryCompleteJoin()
    {
        if (_phase != GroupState.PreparingRebalance) return;
        var now = NowMs;
        if (_initialDelayDeadlineMs > now) return;
        var allJoined = true;
        foreach (var m in _members)
            if (m.AwaitingJoin is null) { allJoined = false; break; }
        if (allJoined || now >= _rebalanceDeadlineMs)
            CompleteJoin();
    }

    private void CompleteJoin()
    {
        _initialDelayDeadlineMs = 0;
        for (var i = _members.Count - 1; i >= 0; i--)
            if (_members[i].AwaitingJoin is null)
                RemoveMemberQuietly(_members[i], "did not rejoin within the rebalance timeout");

        _state.State.GenerationId++;
        if (_members.Count == 0)
        {
            _phase = GroupState.Empty;
            _leaderId = null;
            _protocolName = null;
            _state.State.EmptySinceMs = NowMs;
            _owners.Clear();
            _previousOwners.Clear();
            LogGroupEmpty(GroupId, _state.State.GenerationId);
            _ = PersistQuietlyAsync();
            return;
        }

        _protocolName = SelectProtocol();
        if (_leaderId is null || Find(_leaderId) is null) _leaderId = _members[0].MemberId;
        _phase = GroupState.CompletingRebalance;
        _state.State.ProtocolName = _protocolName;
        var now = NowMs;
        foreach (var m in _members)
        {
            var join = m.AwaitingJoin!;
            m.AwaitingJoin = null;
            m.HeartbeatDeadlineMs = now + m.SessionTimeoutMs;
            join.TrySetResult(JoinResult(m));
        }
        LogRebalanced(GroupId, _state.State.GenerationId, _members.Count, _leaderId, _protocolName);
        _ = PersistQuietlyAsync();
    }

    private void RemoveMemberQuietly(Member member, string reason)
    {
        _members.Remove(member);
        member.AwaitingSync?.TrySetResult(new SyncGroupResponse(ErrorCode.UnknownMemberId, null, reason));
        member.AwaitingSync = null;
        if (_leaderId == member.MemberId) _leaderId = null;
        LogMemberRemoved(GroupId, member.MemberId, reason);
    }

    private void CompleteSync(IReadOnlyDictionary<string, ConsumerProtocolAssignment>? assignments)
    {
        _previousOwners.Clear();
        foreach (var (tp, owner) in _owners) _previousOwners[tp] = owner;
        _owners.Clear();
        foreach (var m in _members)
        {
            m.Assignment = assignments is not null && assignments.TryGetValue(m.MemberId, out var a) && a is not null
                ? a
                : ConsumerProtocolAssignment.Empty;
            foreach (var tp in m.Assignment.Partitions) _owners[tp] = m.MemberId;
        }
        _phase = GroupState.Stable;
        foreach (var m in _members)
        {
            m.AwaitingSync?.TrySetResult(new SyncGroupResponse(ErrorCode.None, m.Assignment));
            m.AwaitingSync = null;
        }
        LogStable(GroupId, _state.State.GenerationId);
    }

    private JoinGroupResponse JoinResult(Member member)
    {
        IReadOnlyList<JoinGroupMember> members = [];
        if (member.MemberId == _leaderId)
        {
            var list = new List<JoinGroupMember>(_members.Count);
            foreach (var m in _members)
                list.Add(new JoinGroupMember(m.MemberId, m.ClientId, m.SubscriptionFor(_protocolName!)));
            members = list;
        }
        return new JoinGroupResponse(ErrorCode.None, _state.State.GenerationId, _protocolName, _leaderId!, member.MemberId, members);
    }

    private static JoinGroupResponse JoinError(ErrorCode error, string memberId, string? message) =>
        new(error, -1, null, "", memberId, [], message);

    private bool HasCommonProtocol(IReadOnlyList<JoinGroupProtocol> protocols, Member? self)
    {
        foreach (var p in protocols)
        {
            var everyone = true;
            foreach (var m in _members)
                if (m != self && !m.Supports(p.Name)) { everyone = false; break; }
            if (everyone) return true;
        }
        return false;
    }

    /// <summary>Kafka's vote: every member votes for its most preferred protocol that all members support.</summary>
    private string SelectProtocol()
    {
        var candidates = new List<string>();
        foreach (var p in _members[0].Protocols)
        {
            var everyone = true;
            foreach (var m in _members)
                if (!m.Supports(p.Name)) { everyone = false; break; }
            if (everyone) candidates.Add(p.Name);
        }
        var votes = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var m in _members)
            foreach (var p in m.Protocols)
                if (candidates.Contains(p.Name))
                {
                    votes[p.Name] = votes.GetValueOrDefault(p.Name) + 1;
                    break;
                }
        string? best = null;
        foreach (var c in candidates)
            if (best is null || votes.GetValueOrDefault(c) > votes.GetValueOrDefault(best)) best = c;
        return best ?? _members[0].Protocols[0].Name;
    }

    private int MaxRebalanceTimeoutMs()
    {
        var max = 0;
        foreach (var m in _members) max = Math.Max(max, m.RebalanceTimeoutMs);
        return max;
    }

    private Member? Find(string? memberId)
    {
        if (string.IsNullOrEmpty(memberId)) return null;
        foreach (var m in _members)
            if (m.MemberId == memberId) return m;
        return null;
    }

    // ---- expiration ---------------------------------------------------------------------------------------------

    private async Task RunExpirationLoopAsync()
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(_options.ExpirationCheckIntervalMs), _time);
        try
        {
            while (await timer.WaitForNextTickAsync(_deactivating.Token))
            {
                try
                {
                    await CheckExpirationsAsync();
                }
                catch (Exception ex)
                {
                    LogExpirationFailed(ex, GroupId);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>Evicts members whose session expired, completes rebalances whose deadline passed, expires offsets.</summary>
    internal async Task CheckExpirationsAsync()
    {
        var now = NowMs;
        for (var i = _members.Count - 1; i >= 0 && i < _members.Count; i--)
        {
            var m = _members[i];
            // A member waiting in Join or Sync is alive: the coordinator owes it an answer.
            if (m.AwaitingJoin is null && m.AwaitingSync is null && now >= m.HeartbeatDeadlineMs)
                RemoveMember(m, $"missed its session timeout ({m.SessionTimeoutMs} ms)");
        }
        ExpirePendingMembers(now);
        TryCompleteJoin();
        await ExpireOffsetsAsync();
    }

    /// <summary>Issued member ids that never came back expire after the session timeout they asked for, as in Kafka.</summary>
    private void ExpirePendingMembers(long now)
    {
        if (_pendingMembers.Count == 0) return;
        List<string>? expired = null;
        foreach (var (id, expiresMs) in _pendingMembers)
            if (now >= expiresMs) (expired ??= []).Add(id);
        if (expired is null) return;
        foreach (var id in expired)
        {
            _pendingMembers.Remove(id);
            LogPendingMemberExpired(GroupId, id);
        }
    }

    private async Task ExpireOffsetsAsync()
    {
        if (_phase != GroupState.Empty || _members.Count > 0 || _offsets.Count == 0) return;
        var now = NowMs;
        var retentionMs = (long)_options.OffsetsRetentionMinutes * 60_000;
        List<TopicPartition>? expired = null;
        foreach (var (tp, o) in _offsets)
            if (now >= Math.Max(_state.State.EmptySinceMs, o.CommitTimestampMs) + retentionMs)
                (expired ??= []).Add(tp);
        if (expired is null) return;
        foreach (var tp in expired) _offsets.Remove(tp);
        LogOffsetsExpired(GroupId, expired.Count);
        if (_offsets.Count == 0)
            await RemoveGroupAsync();
        else
            await PersistAsync();
    }

    private async Task RemoveGroupAsync()
    {
        _phase = GroupState.Dead;
        _offsets.Clear();
        await _writeLock.WaitAsync();
        try
        {
            // A commit or a join while this waited came after the removal: the group lives on with just that.
            if (_phase != GroupState.Dead)
            {
                await PersistLockedAsync();
                return;
            }
            if (_state.State.Registered)
                await GrainFactory.GetGrain<IConsumerGroupDirectoryGrain>(GroupKeys.Directory).Unregister(GroupId);
            var generation = _state.State.GenerationId;
            await _state.ClearStateAsync();
            _durable.Clear();
            _state.State = new ConsumerGroupState { GenerationId = generation };
        }
        finally
        {
            _writeLock.Release();
        }
        LogGroupRemoved(GroupId);
    }

    // ---- offsets ------------------------------------------------------------------------------------------------

    public async Task<OffsetCommitResponse> OffsetCommit(OffsetCommitRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var offsets = request.Offsets ?? [];
        var simple = string.IsNullOrEmpty(request.MemberId) && request.GenerationId < 0;
        var error = ValidateCommitter(request.MemberId, request.GenerationId, simple);
        if (error is not null) return error;

        var bad = await ValidateOffsetsAsync(offsets);
        if (bad is not null) return bad;

        // The checks above awaited: the group may have moved on meanwhile.
        error = ValidateCommitter(request.MemberId, request.GenerationId, simple);
        if (error is not null) return error;
        if (!simple)
        {
            List<PartitionError>? unowned = null;
            foreach (var o in offsets)
                if (!MayCommit(request.MemberId, o.TopicPartition))
                    (unowned ??= []).Add(new PartitionError(o.TopicPartition, ErrorCode.IllegalGeneration,
                        $"{o.TopicPartition} is not assigned to member '{request.MemberId}' in generation {_state.State.GenerationId}"));
            if (unowned is not null)
                return new OffsetCommitResponse(ErrorCode.IllegalGeneration, unowned, unowned[0].ErrorMessage);
        }
        return await StoreAsync(offsets);
    }

    public async Task<OffsetCommitResponse> ResetOffsets(IReadOnlyList<OffsetToCommit> offsets)
    {
        ArgumentNullException.ThrowIfNull(offsets);
        if (_members.Count > 0)
            return new OffsetCommitResponse(ErrorCode.NonEmptyGroup, [],
                $"group '{GroupId}' has {_members.Count} active members; offsets can only be reset while it is empty");
        var bad = await ValidateOffsetsAsync(offsets);
        if (bad is not null) return bad;
        if (_members.Count > 0)
            return new OffsetCommitResponse(ErrorCode.NonEmptyGroup, [], $"group '{GroupId}' gained members during the reset");
        return await StoreAsync(offsets);
    }

    private OffsetCommitResponse? ValidateCommitter(string memberId, int generationId, bool simple)
    {
        if (simple)
        {
            return _members.Count == 0 ? null : new OffsetCommitResponse(ErrorCode.UnknownMemberId, [],
                $"group '{GroupId}' has active members; commit with a member id and generation");
        }
        var member = Find(memberId);
        if (member is null)
            return new OffsetCommitResponse(ErrorCode.UnknownMemberId, [], $"member '{memberId}' is not in group '{GroupId}'");
        if (generationId != _state.State.GenerationId)
            return new OffsetCommitResponse(ErrorCode.IllegalGeneration, [],
                $"generation {generationId} is not the group's generation {_state.State.GenerationId}");
        if (_phase == GroupState.CompletingRebalance)
            return new OffsetCommitResponse(ErrorCode.RebalanceInProgress, [], "the group is completing a rebalance");
        member.HeartbeatDeadlineMs = NowMs + member.SessionTimeoutMs;
        return null;
    }

    /// <summary>
    /// A member commits what it owns in this generation, or what it owned before while nobody owns it yet: the
    /// cooperative protocol withholds a moving partition for one generation while its old owner commits and revokes.
    /// </summary>
    private bool MayCommit(string memberId, TopicPartition tp) =>
        _owners.TryGetValue(tp, out var owner)
            ? owner == memberId
            : _previousOwners.TryGetValue(tp, out var previous) && previous == memberId;

    private async Task<OffsetCommitResponse?> ValidateOffsetsAsync(IReadOnlyList<OffsetToCommit> offsets)
    {
        List<PartitionError>? errors = null;
        foreach (var o in offsets)
        {
            if (o is null || string.IsNullOrEmpty(o.TopicPartition.Topic) || o.TopicPartition.Partition < 0)
                (errors ??= []).Add(new PartitionError(o?.TopicPartition ?? default, ErrorCode.UnknownTopicOrPartition, "no such partition"));
            else if (o.Offset < 0)
                (errors ??= []).Add(new PartitionError(o.TopicPartition, ErrorCode.OffsetOutOfRange, $"offset {o.Offset} is negative"));
            else if (o.Metadata is not null && Encoding.UTF8.GetByteCount(o.Metadata) > _options.OffsetMetadataMaxBytes)
                (errors ??= []).Add(new PartitionError(o.TopicPartition, ErrorCode.InvalidCommitOffsetSize,
                    $"metadata is longer than offset.metadata.max.bytes ({_options.OffsetMetadataMaxBytes})"));
        }
        if (errors is null)
        {
            foreach (var o in offsets)
            {
                var (code, logEnd) = await _logEnds.CheckAsync(o.TopicPartition, o.Offset);
                if (code == ErrorCode.OffsetOutOfRange)
                    (errors ??= []).Add(new PartitionError(o.TopicPartition, code, $"offset {o.Offset} is beyond the log end {logEnd}"));
                else if (code != ErrorCode.None)
                    (errors ??= []).Add(new PartitionError(o.TopicPartition, code, $"{o.TopicPartition}: {code}"));
            }
        }
        return errors is null ? null : new OffsetCommitResponse(errors[0].Error, errors, errors[0].ErrorMessage);
    }

    /// <summary>
    /// Group commit: the offsets take effect at once and are acknowledged when a storage write that includes them has
    /// succeeded. Commits that arrive while a write is in flight share the next write, so concurrent commits cost one
    /// write, not one each. A failed write fails every commit in it and puts their partitions back to what storage holds.
    /// </summary>
    private async Task<OffsetCommitResponse> StoreAsync(IReadOnlyList<OffsetToCommit> offsets)
    {
        if (offsets.Count == 0) return new OffsetCommitResponse(ErrorCode.None, []);
        var now = NowMs;
        if (_phase == GroupState.Dead) _phase = GroupState.Empty;   // a commit creates the group again, as in Kafka
        var batch = _nextBatch ??= new CommitBatch();
        foreach (var o in offsets)
        {
            var stored = new StoredOffset(o.TopicPartition.Topic, o.TopicPartition.Partition, o.Offset, o.Metadata, o.LeaderEpoch, now);
            _offsets[o.TopicPartition] = stored;
            batch.Applied.Add((o.TopicPartition, stored));
        }
        if (!_flushing) _ = FlushCommitsAsync();
        try
        {
            await batch.Written.Task;
        }
        catch (Exception ex)
        {
            LogCommitFailed(ex, GroupId);
            return new OffsetCommitResponse(ErrorCode.CoordinatorNotAvailable, [], $"the group's offsets could not be stored: {ex.Message}");
        }
        _lag?.Committed(offsets);
        return new OffsetCommitResponse(ErrorCode.None, []);
    }

    private async Task FlushCommitsAsync()
    {
        _flushing = true;
        try
        {
            while (_nextBatch is { } batch)
            {
                _nextBatch = null;
                try
                {
                    await PersistAsync();
                    batch.Written.TrySetResult();
                }
                catch (Exception ex)
                {
                    // Nothing half-committed. A partition a later commit (next batch) has set again keeps that value.
                    foreach (var (tp, applied) in batch.Applied)
                    {
                        if (!_offsets.TryGetValue(tp, out var current) || !ReferenceEquals(current, applied)) continue;
                        if (_durable.TryGetValue(tp, out var durable)) _offsets[tp] = durable; else _offsets.Remove(tp);
                    }
                    batch.Written.TrySetException(ex);
                }
            }
        }
        finally
        {
            _flushing = false;
        }
    }

    private sealed class CommitBatch
    {
        public TaskCompletionSource Written { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public List<(TopicPartition Tp, StoredOffset Applied)> Applied { get; } = [];
    }

    public Task<OffsetFetchResponse> OffsetFetch(OffsetFetchRequest request)
    {
        var list = new List<CommittedOffset>();
        if (request?.Partitions is { } partitions)
        {
            foreach (var tp in partitions)
                list.Add(_offsets.TryGetValue(tp, out var o)
                    ? new CommittedOffset(tp, o.Offset, o.Metadata, o.LeaderEpoch, o.CommitTimestampMs)
                    : new CommittedOffset(tp, -1, null, -1, -1));
        }
        else
        {
            foreach (var (tp, o) in _offsets)
                list.Add(new CommittedOffset(tp, o.Offset, o.Metadata, o.LeaderEpoch, o.CommitTimestampMs));
            list.Sort(static (a, b) => CompareTopicPartitions(a.TopicPartition, b.TopicPartition));
        }
        var error = request?.Partitions is null && !Exists ? ErrorCode.GroupIdNotFound : ErrorCode.None;
        return Task.FromResult(new OffsetFetchResponse(error, list, error == ErrorCode.None ? null : $"group '{GroupId}' does not exist"));
    }

    private static int CompareTopicPartitions(TopicPartition a, TopicPartition b)
    {
        var c = string.CompareOrdinal(a.Topic, b.Topic);
        return c != 0 ? c : a.Partition.CompareTo(b.Partition);
    }

    // ---- admin --------------------------------------------------------------------------------------------------

    public Task<GroupDescription> Describe()
    {
        if (!Exists)
            return Task.FromResult(new GroupDescription(GroupId, ErrorCode.GroupIdNotFound, GroupState.Dead, "", null, -1, null, []));
        var members = new List<GroupMemberDescription>(_members.Count);
        foreach (var m in _members)
        {
            var topics = _protocolName is not null ? m.SubscriptionFor(_protocolName).Topics : m.Protocols[0].Metadata.Topics;
            members.Add(new GroupMemberDescription(m.MemberId, m.ClientId, topics, m.Assignment));
        }
        return Task.FromResult(new GroupDescription(GroupId, ErrorCode.None, _phase,
            _members.Count > 0 || _state.State.ProtocolName is not null ? GroupKeys.ConsumerProtocolType : "",
            _protocolName, _state.State.GenerationId, _leaderId, members));
    }

    public async Task<GroupResponse> DeleteGroup()
    {
        if (_members.Count > 0)
            return new GroupResponse(ErrorCode.NonEmptyGroup, $"group '{GroupId}' has {_members.Count} active members");
        if (!Exists)
            return new GroupResponse(ErrorCode.GroupIdNotFound, $"group '{GroupId}' does not exist");
        await RemoveGroupAsync();
        return GroupResponse.Ok;
    }

    // ---- persistence --------------------------------------------------------------------------------------------

    /// <summary>Writes are serialized: Join and Sync interleave with commits, and grain storage takes one write at a time.</summary>
    private async Task PersistAsync()
    {
        await _writeLock.WaitAsync();
        try
        {
            // Commits whose write queued behind the group's removal were removed with it: writing now would register
            // an empty group again that nothing ever expires.
            if (_phase == GroupState.Dead && _offsets.Count == 0 && _members.Count == 0) return;
            await PersistLockedAsync();
        }
        finally
        {
            _writeLock.Release();
        }
    }

    private async Task PersistLockedAsync()
    {
        if (!_state.State.Registered)
        {
            await GrainFactory.GetGrain<IConsumerGroupDirectoryGrain>(GroupKeys.Directory).Register(GroupId);
            _state.State.Registered = true;
        }
        var list = _state.State.Offsets;
        list.Clear();
        foreach (var o in _offsets.Values) list.Add(o);
        await _state.WriteStateAsync();
        _durable.Clear();
        foreach (var o in list) _durable[new TopicPartition(o.Topic, o.Partition)] = o;
    }

    private async Task PersistQuietlyAsync()
    {
        try
        {
            await PersistAsync();
        }
        catch (Exception ex)
        {
            LogPersistFailed(ex, GroupId);
        }
    }

    private sealed class Member(string memberId, string clientId)
    {
        public string MemberId { get; } = memberId;
        public string ClientId { get; } = clientId;
        public int SessionTimeoutMs { get; private set; }
        public int RebalanceTimeoutMs { get; private set; }
        public IReadOnlyList<JoinGroupProtocol> Protocols { get; private set; } = [];
        public ConsumerProtocolAssignment Assignment { get; set; } = ConsumerProtocolAssignment.Empty;
        public long HeartbeatDeadlineMs { get; set; }
        public TaskCompletionSource<JoinGroupResponse>? AwaitingJoin { get; set; }
        public TaskCompletionSource<SyncGroupResponse>? AwaitingSync { get; set; }

        public void Update(JoinGroupRequest request, int rebalanceTimeoutMs)
        {
            SessionTimeoutMs = request.SessionTimeoutMs;
            RebalanceTimeoutMs = rebalanceTimeoutMs;
            Protocols = request.Protocols;
        }

        public Task<JoinGroupResponse> StartJoin()
        {
            // A duplicate join replaces the earlier one, which is told to retry.
            AwaitingJoin?.TrySetResult(JoinError(ErrorCode.RebalanceInProgress, MemberId, "superseded by a newer join"));
            AwaitingJoin = new TaskCompletionSource<JoinGroupResponse>(TaskCreationOptions.RunContinuationsAsynchronously);
            return AwaitingJoin.Task;
        }

        public Task<SyncGroupResponse> StartSync()
        {
            AwaitingSync?.TrySetResult(new SyncGroupResponse(ErrorCode.RebalanceInProgress, null, "superseded by a newer sync"));
            AwaitingSync = new TaskCompletionSource<SyncGroupResponse>(TaskCreationOptions.RunContinuationsAsynchronously);
            return AwaitingSync.Task;
        }

        public bool Supports(string protocol)
        {
            foreach (var p in Protocols)
                if (p.Name == protocol) return true;
            return false;
        }

        public ConsumerProtocolSubscription SubscriptionFor(string protocol)
        {
            foreach (var p in Protocols)
                if (p.Name == protocol) return p.Metadata;
            return Protocols[0].Metadata;
        }

        /// <summary>Same assignors and same subscriptions (topics and owned partitions); generations may differ.</summary>
        public bool Matches(IReadOnlyList<JoinGroupProtocol> protocols)
        {
            if (protocols.Count != Protocols.Count) return false;
            for (var i = 0; i < protocols.Count; i++)
            {
                var a = protocols[i];
                var b = Protocols[i];
                if (a.Name != b.Name
                    || !a.Metadata.Topics.SequenceEqual(b.Metadata.Topics)
                    || !a.Metadata.OwnedPartitions.SequenceEqual(b.Metadata.OwnedPartitions))
                    return false;
            }
            return true;
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Group {GroupId}: member {MemberId} joined ({Reason})")]
    private partial void LogMemberJoined(string groupId, string memberId, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Group {GroupId}: member {MemberId} removed: {Reason}")]
    private partial void LogMemberRemoved(string groupId, string memberId, string reason);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Group {GroupId}: pending member {MemberId} did not rejoin within its session timeout")]
    private partial void LogPendingMemberExpired(string groupId, string memberId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Group {GroupId}: preparing to rebalance generation {Generation}: {Reason}")]
    private partial void LogPreparingRebalance(string groupId, int generation, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Group {GroupId}: generation {Generation} with {Members} members, leader {Leader}, protocol {Protocol}")]
    private partial void LogRebalanced(string groupId, int generation, int members, string? leader, string? protocol);

    [LoggerMessage(Level = LogLevel.Information, Message = "Group {GroupId}: generation {Generation} is stable")]
    private partial void LogStable(string groupId, int generation);

    [LoggerMessage(Level = LogLevel.Information, Message = "Group {GroupId}: empty at generation {Generation}")]
    private partial void LogGroupEmpty(string groupId, int generation);

    [LoggerMessage(Level = LogLevel.Information, Message = "Group {GroupId}: {Count} committed offsets expired (offsets.retention.minutes)")]
    private partial void LogOffsetsExpired(string groupId, int count);

    [LoggerMessage(Level = LogLevel.Information, Message = "Group {GroupId}: removed")]
    private partial void LogGroupRemoved(string groupId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Group {GroupId}: storing offsets failed")]
    private partial void LogCommitFailed(Exception ex, string groupId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Group {GroupId}: storing group state failed")]
    private partial void LogPersistFailed(Exception ex, string groupId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Group {GroupId}: expiration check failed")]
    private partial void LogExpirationFailed(Exception ex, string groupId);
}
