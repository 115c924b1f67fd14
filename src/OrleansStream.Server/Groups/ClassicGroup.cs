using OrleansStream.Protocol;

namespace OrleansStream.Server.Groups;

/// <summary>
/// Kafka's classic consumer group (<c>ClassicGroup</c>, once <c>GroupMetadata</c>) with the classic coordinator's
/// JoinGroup, SyncGroup, Heartbeat and LeaveGroup: members, generations, the rebalance barrier and its deadlines
/// (session, rebalance, <c>group.initial.rebalance.delay.ms</c>), and KIP-394's issued member ids.
/// Join and Sync answer with tasks that complete when the rebalance does (Kafka's delayed join and sync); the owner
/// calls <see cref="CheckExpirations"/> periodically (Kafka's delayed heartbeat and rebalance operations) and calls
/// everything from one thread at a time. Time comes from the <see cref="TimeProvider"/>.
/// The group's metadata (<see cref="Membership"/>) is stored as Kafka stores it in <c>__consumer_offsets</c>: a
/// generation's assignment before SyncGroup hands it out, a completed join and a removed member after, so a new
/// coordinator takes the members over in their generation (<see cref="Load"/>) instead of making them rejoin.
/// </summary>
/// <param name="storeGroup">Writes the group's state, <see cref="Membership"/> included, to storage; completes when it is durable.</param>
internal sealed partial class ClassicGroup(string groupId, ConsumerGroupOptions options, TimeProvider time, ILogger logger, Func<Task> storeGroup)
{
    // Insertion order matters: the first member is the leader, and a new leader is the oldest remaining member.
    private readonly List<ClassicGroupMember> _members = [];
    // KIP-394: member ids issued with MemberIdRequired, not members until they rejoin with them; id → expiry (ms).
    private readonly Dictionary<string, long> _pendingMembers = new(StringComparer.Ordinal);
    private long _rebalanceDeadlineMs;
    private long _initialDelayDeadlineMs;
    private long _rebalanceStartMs;
    // The generation's assignment while its write is on the way; SyncGroup hands it out once it is durable.
    private StoredGroupMembership? _storingAssignment;
    // The coordinator is moving (Kafka's unloaded group): no call waits here any more and no rebalance completes.
    private bool _unloaded;
    // Dead, and the removal not yet stored: see IsBeingRemoved.
    private bool _removing;

    public string GroupId { get; } = groupId;

    internal const string GroupIdTooLong = "the group id is longer than the 32,767 bytes Kafka stores and answers";

    /// <summary>
    /// Whether the id fits Kafka's non-flexible string (32,767 bytes of UTF-8), in which Kafka stores a group's id and
    /// protocol type and ListGroups v0-2 answers them: a group with a longer one is never made (joins and commits are
    /// refused), or every ListGroups v0-2 of the cluster would fail on it.
    /// </summary>
    public bool IdFitsKafka { get; } = KafkaWriter.FitsString(groupId);

    public GroupState State { get; private set; } = GroupState.Empty;

    public int GenerationId { get; private set; }

    public string? LeaderId { get; private set; }

    /// <summary>The protocol (assignor) of the current generation; null while the group is empty.</summary>
    public string? ProtocolName { get; private set; }

    /// <summary>The protocol last chosen, kept while the group is empty, as its <see cref="ProtocolType"/> is.</summary>
    public string? LastProtocolName { get; private set; }

    /// <summary>
    /// Kafka's <c>protocolType</c>: "consumer" for consumers, another name for other users of the classic group
    /// protocol (Kafka Connect's "connect", Schema Registry's "sr"), whose metadata and assignments are opaque bytes.
    /// The first member of an empty group sets it and every other member must name it; kept while the group is empty.
    /// </summary>
    public string? ProtocolType { get; private set; }

    /// <summary>Whether the members speak the consumer protocol, so their subscriptions name topics.</summary>
    public bool IsConsumerGroup => (ProtocolType ?? GroupKeys.ConsumerProtocolType) == GroupKeys.ConsumerProtocolType;

    /// <summary>When the group last became empty (ms since the epoch), -1 while it has members; offsets expire from here.</summary>
    public long EmptySinceMs { get; private set; } = -1;

    public int MemberCount => _members.Count;

    private long NowMs => time.GetUtcNow().ToUnixTimeMilliseconds();

    /// <summary>
    /// Takes over what was stored (Kafka's coordinator loading a group from <c>__consumer_offsets</c>). The members
    /// come back with a fresh session deadline; a group stored stable in this generation is stable again, so members
    /// keep heartbeating and committing with their ids and generation. A group stored in a rebalance finishes it with
    /// the same members, which rejoin with their ids. A stored group without members starts empty from now.
    /// </summary>
    public void Load(int generationId, long emptySinceMs, string? lastProtocolName, bool stored, StoredGroupMembership? membership = null,
        string? protocolType = null)
    {
        // A group stored before the protocol type was: only consumers could join then.
        ProtocolType = protocolType ?? (lastProtocolName is not null || membership is { Members.Count: > 0 } ? GroupKeys.ConsumerProtocolType : null);
        GenerationId = generationId;
        EmptySinceMs = emptySinceMs < 0 && stored ? NowMs : emptySinceMs;
        LastProtocolName = lastProtocolName;
        if (membership is not { Members.Count: > 0 }) return;

        var now = NowMs;
        foreach (var m in membership.Members)
        {
            var member = ClassicGroupMember.Load(m);
            member.HeartbeatDeadlineMs = now + member.SessionTimeoutMs;
            _members.Add(member);
        }
        LeaderId = Find(membership.LeaderId)?.MemberId ?? _members[0].MemberId;
        ProtocolName = membership.ProtocolName ?? SelectProtocol();
        LastProtocolName ??= ProtocolName;
        EmptySinceMs = -1;
        if (!membership.Rebalancing && membership.GenerationId == generationId)
        {
            State = GroupState.Stable;
            LogLoaded(GroupId, GenerationId, _members.Count, "stable");
            return;
        }
        State = GroupState.PreparingRebalance;
        _rebalanceStartMs = now;
        _rebalanceDeadlineMs = now + MaxRebalanceTimeoutMs();
        LogLoaded(GroupId, GenerationId, _members.Count, "rebalancing");
    }

    /// <summary>What to store of the members: the assignment on its way to durability, else the members as they are.</summary>
    public StoredGroupMembership? Membership()
    {
        if (_storingAssignment is not null) return _storingAssignment;
        if (_members.Count == 0 || State is GroupState.Empty or GroupState.Dead) return null;
        var members = new List<StoredGroupMember>(_members.Count);
        foreach (var m in _members) members.Add(m.ToStored(m.Assignment));
        return new StoredGroupMembership(GenerationId, ProtocolName, LeaderId, State != GroupState.Stable, members);
    }

    // ---- JoinGroup, SyncGroup, Heartbeat, LeaveGroup ------------------------------------------------------------

    public Task<JoinGroupResponse> Join(JoinGroupRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var memberId = request.MemberId ?? "";
        if (_unloaded) return Task.FromResult(JoinError(ErrorCode.NotCoordinator, memberId, Moving));
        if (request.SessionTimeoutMs < options.GroupMinSessionTimeoutMs || request.SessionTimeoutMs > options.GroupMaxSessionTimeoutMs)
            return Task.FromResult(JoinError(ErrorCode.InvalidSessionTimeout, memberId,
                $"session.timeout.ms {request.SessionTimeoutMs} is outside [{options.GroupMinSessionTimeoutMs}, {options.GroupMaxSessionTimeoutMs}]"));
        // Kafka's supportsProtocols: an empty group takes any protocol type with at least one protocol; otherwise the
        // type must be the group's (the protocols in common are checked below).
        if (string.IsNullOrEmpty(request.ProtocolType) || request.Protocols is null || request.Protocols.Count == 0)
            return Task.FromResult(JoinError(ErrorCode.InconsistentGroupProtocol, memberId, "a protocol type and at least one protocol are required"));
        if (!IdFitsKafka)
            return Task.FromResult(JoinError(ErrorCode.InvalidGroupId, memberId, GroupIdTooLong));
        if (!KafkaWriter.FitsString(request.ProtocolType))
            return Task.FromResult(JoinError(ErrorCode.InconsistentGroupProtocol, memberId, "the protocol type is longer than the 32,767 bytes Kafka stores"));
        if (_members.Count > 0 && request.ProtocolType != ProtocolType)
            return Task.FromResult(JoinError(ErrorCode.InconsistentGroupProtocol, memberId,
                $"group '{GroupId}' speaks protocol type '{ProtocolType}', not '{request.ProtocolType}'"));
        if (_removing) return Task.FromResult(JoinError(ErrorCode.CoordinatorNotAvailable, memberId, Removing));
        Revive();

        var rebalanceTimeoutMs = request.RebalanceTimeoutMs > 0 ? request.RebalanceTimeoutMs : request.SessionTimeoutMs;
        var instanceId = string.IsNullOrEmpty(request.GroupInstanceId) ? null : request.GroupInstanceId;
        if (instanceId is not null && memberId.Length == 0)
        {
            // KIP-345: a static member joins at once (no MemberIdRequired round), and a known instance takes its old place.
            var known = FindStatic(instanceId);
            if (!HasCommonProtocol(request.Protocols, known))
                return Task.FromResult(JoinError(ErrorCode.InconsistentGroupProtocol, memberId,
                    "none of the member's assignors is supported by every other member"));
            return known is not null
                ? RejoinStatic(known, request, rebalanceTimeoutMs)
                : AddMember(NewMemberId(instanceId), request, rebalanceTimeoutMs, WithClientReason("new static member", request));
        }

        var (member, error, message) = instanceId is not null ? Validate(memberId, instanceId) : (Find(memberId), ErrorCode.None, null);
        if (error != ErrorCode.None)
            return Task.FromResult(JoinError(error, memberId, message));
        var returning = memberId.Length > 0 && member is null && _pendingMembers.Remove(memberId, out var expiresMs) && expiresMs > NowMs;
        if (memberId.Length > 0 && member is null && !returning)
            return Task.FromResult(JoinError(ErrorCode.UnknownMemberId, memberId, $"member '{memberId}' is not in group '{GroupId}'"));
        if (!HasCommonProtocol(request.Protocols, member))
            return Task.FromResult(JoinError(ErrorCode.InconsistentGroupProtocol, memberId,
                "none of the member's assignors is supported by every other member"));

        if (member is null)
        {
            if (returning || IsFull) return AddMember(memberId, request, rebalanceTimeoutMs, WithClientReason("new member", request));
            if (!request.RequireKnownMemberId) return AddMember(NewMemberId(request.ClientId), request, rebalanceTimeoutMs, WithClientReason("new member", request));
            // KIP-394: the id comes back first and the member joins only when it rejoins with it, so a join whose
            // answer was lost (and is retried without an id) leaves no phantom member holding up the rebalance.
            var issued = NewMemberId(request.ClientId);
            _pendingMembers[issued] = NowMs + request.SessionTimeoutMs;
            return Task.FromResult(JoinError(ErrorCode.MemberIdRequired, issued, "rejoin with the issued member id"));
        }

        var changed = !member.Matches(request.Protocols);
        member.Update(request, rebalanceTimeoutMs);
        member.HeartbeatDeadlineMs = NowMs + request.SessionTimeoutMs;
        switch (State)
        {
            case GroupState.PreparingRebalance:
                {
                    var pending = member.StartJoin();
                    TryCompleteJoin();
                    return pending;
                }
            case GroupState.CompletingRebalance when !changed:
            case GroupState.Stable when !changed && member.MemberId != LeaderId:
                // A retried join or a follower rejoining with nothing new: the current generation stands.
                return Task.FromResult(JoinResult(member));
            default:
                {
                    var pending = member.StartJoin();
                    PrepareRebalance(WithClientReason(changed ? $"member {member.MemberId} changed its subscription" : $"leader {member.MemberId} rejoined", request));
                    return pending;
                }
        }
    }

    private bool IsFull => _members.Count >= options.GroupMaxSize;

    private Task<JoinGroupResponse> AddMember(string memberId, JoinGroupRequest request, int rebalanceTimeoutMs, string reason)
    {
        if (IsFull)
            return Task.FromResult(JoinError(ErrorCode.GroupMaxSizeReached, "", $"group '{GroupId}' has {_members.Count} members (group.max.size)"));
        var member = new ClassicGroupMember(memberId, request.ClientId ?? "", string.IsNullOrEmpty(request.GroupInstanceId) ? null : request.GroupInstanceId);
        member.Update(request, rebalanceTimeoutMs);
        if (_members.Count == 0) ProtocolType = request.ProtocolType;
        member.HeartbeatDeadlineMs = NowMs + request.SessionTimeoutMs;
        _members.Add(member);
        LeaderId ??= member.MemberId;
        EmptySinceMs = -1;
        LogMemberJoined(GroupId, member.MemberId, reason);
        var joining = member.StartJoin();
        if (State == GroupState.PreparingRebalance && _initialDelayDeadlineMs > 0)
            _initialDelayDeadlineMs = Math.Min(NowMs + options.GroupInitialRebalanceDelayMs, _rebalanceStartMs + MaxRebalanceTimeoutMs());
        PrepareRebalance($"member {member.MemberId} joined");
        return joining;
    }

    /// <summary>
    /// KIP-345 (Kafka's <c>updateStaticMemberThenRebalanceOrCompleteJoin</c>): a known static member rejoining without
    /// a member id takes its old place under a new id. In a stable group whose protocol stays, it gets the current
    /// generation back without a rebalance; the answer names the leader as it was, so a rejoining leader acts as a
    /// follower and its SyncGroup returns the assignment it held.
    /// </summary>
    private Task<JoinGroupResponse> RejoinStatic(ClassicGroupMember member, JoinGroupRequest request, int rebalanceTimeoutMs)
    {
        var oldMemberId = member.MemberId;
        var oldLeaderId = LeaderId;
        var newMemberId = NewMemberId(member.GroupInstanceId);
        member.Replace(newMemberId, request.ClientId ?? "");
        if (LeaderId == oldMemberId) LeaderId = newMemberId;
        member.Update(request, rebalanceTimeoutMs);
        member.HeartbeatDeadlineMs = NowMs + request.SessionTimeoutMs;
        LogStaticMemberReplaced(GroupId, member.GroupInstanceId!, oldMemberId, newMemberId);
        switch (State)
        {
            case GroupState.Stable when SelectProtocol() == ProtocolName:
                // KIP-814 (JoinGroup v9): a returning leader stays the leader, with the members (to watch their
                // subscriptions' metadata), and skips the assignment; its SyncGroup gets the assignment it held.
                return StoreStaticRejoinAsync(member, request.SupportsSkippingAssignment
                    ? JoinResult(member) with { SkipAssignment = member.MemberId == LeaderId }
                    : new JoinGroupResponse(ErrorCode.None, GenerationId, ProtocolName, oldLeaderId!, newMemberId, []));
            case GroupState.PreparingRebalance:
                {
                    var pending = member.StartJoin();
                    TryCompleteJoin();
                    return pending;
                }
            default:
                {
                    // Completing a rebalance, the leader may be assigning to the old member id: assign again.
                    var pending = member.StartJoin();
                    PrepareRebalance(WithClientReason($"static member {member.GroupInstanceId} rejoined as {newMemberId}", request));
                    return pending;
                }
        }
    }

    /// <summary>
    /// The instance's new member id is stored before the member learns it (Kafka stores the group here too): a
    /// coordinator that took over with the old id would fence the new one. A write that fails rebalances instead.
    /// </summary>
    private async Task<JoinGroupResponse> StoreStaticRejoinAsync(ClassicGroupMember member, JoinGroupResponse rejoined)
    {
        var generation = GenerationId;
        try
        {
            await storeGroup();
            return rejoined;
        }
        catch (Exception ex)
        {
            LogStoreFailed(ex, GroupId);
            if (_unloaded) return JoinError(ErrorCode.NotCoordinator, member.MemberId, Moving);
            if (Find(member.MemberId) is null || GenerationId != generation)
                return JoinError(ErrorCode.UnknownMemberId, member.MemberId, "removed from the group");
            var pending = member.StartJoin();
            if (State != GroupState.PreparingRebalance) PrepareRebalance("storing a static member's new id failed");
            else TryCompleteJoin();
            return await pending;
        }
    }

    // The member's own reason (JoinGroup v8, KIP-800) is logged beside the coordinator's, as Kafka logs it; not kept.
    private static string WithClientReason(string reason, JoinGroupRequest request) =>
        request.Reason is { } client ? $"{reason}; client reason: {client}" : reason;

    private static string NewMemberId(string? prefix) => $"{(string.IsNullOrEmpty(prefix) ? "consumer" : prefix)}-{Guid.NewGuid():N}";

    public Task<SyncGroupResponse> Sync(SyncGroupRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (_unloaded) return Task.FromResult(new SyncGroupResponse(ErrorCode.NotCoordinator, null, Moving));
        if (_removing) return Task.FromResult(new SyncGroupResponse(ErrorCode.CoordinatorNotAvailable, null, Removing));
        var (member, error, message) = Validate(request.MemberId, request.GroupInstanceId);
        if (member is null)
            return Task.FromResult(new SyncGroupResponse(error, null, message));
        if (request.GenerationId != GenerationId)
            return Task.FromResult(new SyncGroupResponse(ErrorCode.IllegalGeneration, null, IllegalGeneration(request.GenerationId)));
        // Kafka's validateSyncGroup (KIP-559): a protocol type or name the member names must be the group's.
        if (IsInconsistent(request.ProtocolType, ProtocolType) || IsInconsistent(request.ProtocolName, ProtocolName))
            return Task.FromResult(new SyncGroupResponse(ErrorCode.InconsistentGroupProtocol, null,
                $"group '{GroupId}' speaks protocol type '{ProtocolType}' with protocol '{ProtocolName}', not '{request.ProtocolType}' with '{request.ProtocolName}'"));
        switch (State)
        {
            case GroupState.PreparingRebalance:
                return Task.FromResult(new SyncGroupResponse(ErrorCode.RebalanceInProgress, null));
            case GroupState.Stable:
                return Task.FromResult(Synced(member));
            case GroupState.CompletingRebalance:
                member.HeartbeatDeadlineMs = NowMs + member.SessionTimeoutMs;
                var pending = member.StartSync();
                if (member.MemberId == LeaderId)
                    CompleteSync(request.Assignments);
                return pending;
            default:
                return Task.FromResult(new SyncGroupResponse(ErrorCode.UnknownMemberId, null, $"group '{GroupId}' is {State}"));
        }
    }

    public GroupResponse Heartbeat(HeartbeatRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (_removing) return new GroupResponse(ErrorCode.CoordinatorNotAvailable, Removing);
        var (member, error, message) = Validate(request.MemberId, request.GroupInstanceId);
        if (member is null)
            return new GroupResponse(error, message);
        if (request.GenerationId != GenerationId)
            return new GroupResponse(ErrorCode.IllegalGeneration, IllegalGeneration(request.GenerationId));
        member.HeartbeatDeadlineMs = NowMs + member.SessionTimeoutMs;
        return State == GroupState.PreparingRebalance ? new GroupResponse(ErrorCode.RebalanceInProgress) : GroupResponse.Ok;
    }

    public GroupResponse Leave(LeaveGroupRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (_removing) return new GroupResponse(ErrorCode.CoordinatorNotAvailable, Removing);
        // KIP-345: an instance id without a member id removes that static member (an admin's removal).
        var (member, error, message) = string.IsNullOrEmpty(request.MemberId) && !string.IsNullOrEmpty(request.GroupInstanceId)
            ? (FindStatic(request.GroupInstanceId), ErrorCode.UnknownMemberId, $"instance '{request.GroupInstanceId}' is not in group '{GroupId}'")
            : Validate(request.MemberId, request.GroupInstanceId);
        if (member is null)
            return new GroupResponse(error, message);
        RemoveMember(member, request.Reason ?? "left the group");
        return GroupResponse.Ok;
    }

    /// <summary>Kafka's <c>classicGroupLeaveToClassicGroup</c>: a Dead group answers the request, not its members.</summary>
    public LeaveGroupMembersResponse Leave(IReadOnlyList<LeaveGroupRequest> members)
    {
        ArgumentNullException.ThrowIfNull(members);
        if (_removing) return new LeaveGroupMembersResponse(ErrorCode.CoordinatorNotAvailable, [], Removing);
        var answers = new GroupResponse[members.Count];
        for (var i = 0; i < answers.Length; i++) answers[i] = Leave(members[i]);
        return new LeaveGroupMembersResponse(ErrorCode.None, answers);
    }

    // ---- OffsetCommit's fencing (Kafka's ClassicGroup.validateOffsetCommit) ------------------------------------

    /// <summary>
    /// Kafka's <c>validateOffsetCommit</c>: a group being removed (Dead) takes no commit (CoordinatorNotAvailable: the
    /// client finds the coordinator again and retries, and then commits to the group that follows). A commit with a
    /// negative generation is taken while the group is empty (a
    /// simple commit: the admin client or a consumer that assigns partitions itself); one naming a generation, a member
    /// id or an instance id must be a member's (UnknownMemberId, FencedInstanceId) of the current generation
    /// (IllegalGeneration); one naming none while the group has members is UnknownMemberId, except a transactional
    /// commit (TxnOffsetCommit before v3 names none). A member's commit while the group completes a rebalance is
    /// RebalanceInProgress, a transactional one is taken. The partitions committed are not checked against the
    /// member's assignment, as Kafka does not. A member that commits is alive, so this counts as its heartbeat.
    /// </summary>
    public OffsetCommitResponse? ValidateOffsetCommit(string? memberId, int generationId, string? groupInstanceId, bool transactional)
    {
        if (_removing)
            return new OffsetCommitResponse(ErrorCode.CoordinatorNotAvailable, [], Removing);
        var empty = State is GroupState.Empty or GroupState.Dead;
        if (generationId < 0 && empty) return null;
        ClassicGroupMember? member = null;
        if (generationId >= 0 || !string.IsNullOrEmpty(memberId) || !string.IsNullOrEmpty(groupInstanceId))
        {
            (member, var error, var message) = Validate(memberId, groupInstanceId);
            if (member is null)
                return new OffsetCommitResponse(error, [], message);
            if (generationId != GenerationId)
                return new OffsetCommitResponse(ErrorCode.IllegalGeneration, [], IllegalGeneration(generationId));
        }
        else if (!transactional && !empty)
        {
            return new OffsetCommitResponse(ErrorCode.UnknownMemberId, [],
                $"group '{GroupId}' has active members; commit with a member id and generation");
        }
        if (!transactional && State == GroupState.CompletingRebalance)
            return new OffsetCommitResponse(ErrorCode.RebalanceInProgress, [], "the group is completing a rebalance");
        if (member is not null) member.HeartbeatDeadlineMs = NowMs + member.SessionTimeoutMs;
        return null;
    }

    // ---- the online migration (KIP-848) -------------------------------------------------------------------------

    /// <summary>
    /// The members go to the consumer group this group becomes (Kafka's <c>convertToConsumerGroup</c>): waiting joins
    /// and syncs are answered RebalanceInProgress, so those members rejoin, inside the consumer group; this group is left
    /// empty, with its generation and protocol type.
    /// </summary>
    public Consumer.ClassicHandOver HandOver()
    {
        var members = new List<StoredGroupMember>(_members.Count);
        foreach (var m in _members)
        {
            m.Fail(ErrorCode.RebalanceInProgress, "the group is becoming a consumer group");
            members.Add(m.ToStored(m.Assignment));
        }
        var handOver = new Consumer.ClassicHandOver(GenerationId, ProtocolName ?? LastProtocolName, members);
        LogUpgraded(GroupId, GenerationId, _members.Count);
        _members.Clear();
        _pendingMembers.Clear();
        _storingAssignment = null;
        _initialDelayDeadlineMs = 0;
        LeaderId = null;
        ProtocolName = null;
        State = GroupState.Empty;
        EmptySinceMs = -1;
        return handOver;
    }

    /// <summary>
    /// The classic members of a consumer group whose last consumer protocol member left take this group over (Kafka's
    /// <c>convertToClassicGroup</c>): in the consumer group's epoch as generation, each with its target assignment, and
    /// a rebalance starts at once, so they rejoin and the leader assigns (unless a static member replaced that member:
    /// the group is stable, and each member syncs its assignment).
    /// </summary>
    public void TakeOver(Consumer.ClassicHandOver handOver)
    {
        ArgumentNullException.ThrowIfNull(handOver);
        var now = NowMs;
        _members.Clear();
        foreach (var stored in handOver.Members)
        {
            var member = ClassicGroupMember.Load(stored);
            member.HeartbeatDeadlineMs = now + member.SessionTimeoutMs;
            _members.Add(member);
        }
        _removing = false;
        _storingAssignment = null;
        ProtocolType = GroupKeys.ConsumerProtocolType;
        GenerationId = handOver.GenerationId;
        LeaderId = _members[0].MemberId;
        ProtocolName = LastProtocolName = SelectProtocol();
        EmptySinceMs = -1;
        State = GroupState.Stable;
        LogDowngraded(GroupId, GenerationId, _members.Count);
        // A classic static member that took the last consumer protocol member's place keeps the group stable.
        if (handOver.Rebalance) PrepareRebalance("the group's last consumer protocol member left: it is a classic group again");
    }

    // ---- lifecycle ---------------------------------------------------------------------------------------------

    /// <summary>
    /// Whether the group's removal is being stored (Kafka's Dead group still in the coordinator's hands): joins, syncs,
    /// heartbeats, leaves and commits are answered CoordinatorNotAvailable, as Kafka answers them, so the client finds
    /// the coordinator again and retries against the group that follows.
    /// </summary>
    public bool IsBeingRemoved => _removing;

    /// <summary>A removed group comes back on a join or a simple commit (Kafka creates a new one), on an admin's offset reset or a transaction's marker.</summary>
    public void Revive()
    {
        if (State == GroupState.Dead) State = GroupState.Empty;
        _removing = false;
    }

    /// <summary>The group and its offsets are being removed; see <see cref="IsBeingRemoved"/>.</summary>
    public void MarkDead()
    {
        State = GroupState.Dead;
        _removing = true;
    }

    /// <summary>The removal is stored: nothing but the generation remains, and the group is Dead until something creates it again.</summary>
    public void Removed()
    {
        _removing = false;
        EmptySinceMs = -1;
        LastProtocolName = null;
        ProtocolType = null;
    }

    /// <summary>
    /// The coordinator is moving (Kafka's <c>onGroupUnloaded</c>): every waiting Join and Sync is told to find the new one,
    /// and so is any later one. The members stay as they are: the next coordinator loads what was stored of them.
    /// </summary>
    public void Unload()
    {
        _unloaded = true;
        foreach (var m in _members)
            m.Fail(ErrorCode.NotCoordinator, Moving);
    }

    private const string Moving = "the coordinator is moving";

    private const string Removing = "the group is being removed";

    /// <summary>Kafka's <c>isSubscribedToTopic</c>: whether a member's subscription names <paramref name="topic"/>.</summary>
    public bool IsSubscribedToTopic(string topic)
    {
        if (!IsConsumerGroup) return false;
        foreach (var m in _members)
            foreach (var t in SubscribedTopics(m))
                if (t == topic) return true;
        return false;
    }

    /// <summary>A member's subscription for the group's protocol (its first while none is chosen).</summary>
    private ConsumerProtocolSubscription CurrentSubscription(ClassicGroupMember m) =>
        ProtocolName is not null ? m.SubscriptionFor(ProtocolName) : m.Protocols[0].Metadata;

    private IReadOnlyList<string> SubscribedTopics(ClassicGroupMember m) => CurrentSubscription(m).Topics;

    public GroupDescription Describe()
    {
        var members = new List<GroupMemberDescription>(_members.Count);
        foreach (var m in _members)
        {
            var subscription = CurrentSubscription(m);
            members.Add(new GroupMemberDescription(m.MemberId, m.ClientId, subscription.Topics, m.Assignment, m.GroupInstanceId, subscription));
        }
        return new GroupDescription(GroupId, ErrorCode.None, State,
            _members.Count > 0 || LastProtocolName is not null ? ProtocolType ?? GroupKeys.ConsumerProtocolType : "",
            ProtocolName, GenerationId, LeaderId, members);
    }

    // ---- expiration --------------------------------------------------------------------------------------------

    /// <summary>Evicts members whose session expired, forgets issued ids never used, completes a rebalance whose deadline passed.</summary>
    public void CheckExpirations()
    {
        if (_unloaded) return;
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

    // ---- the rebalance -----------------------------------------------------------------------------------------

    private void RemoveMember(ClassicGroupMember member, string reason)
    {
        _members.Remove(member);
        member.Fail(ErrorCode.UnknownMemberId, "removed from the group");
        if (LeaderId == member.MemberId) LeaderId = _members.Count > 0 ? _members[0].MemberId : null;
        LogMemberRemoved(GroupId, member.MemberId, reason);
        if (State is GroupState.Stable or GroupState.CompletingRebalance)
            PrepareRebalance($"member {member.MemberId} {reason}");
        else if (State == GroupState.PreparingRebalance)
            TryCompleteJoin();
        // A coordinator that takes over must not wait out the session of a member that is gone.
        _ = StoreQuietlyAsync();
    }

    private async Task StoreQuietlyAsync()
    {
        try
        {
            await storeGroup();
        }
        catch (Exception ex)
        {
            LogStoreFailed(ex, GroupId);
        }
    }

    private void PrepareRebalance(string reason)
    {
        _storingAssignment = null;
        if (State == GroupState.CompletingRebalance)
        {
            // The leader's assignment for this generation will never be accepted: send the waiting members back to join.
            foreach (var m in _members)
            {
                m.AwaitingSync?.TrySetResult(new SyncGroupResponse(ErrorCode.RebalanceInProgress, null));
                m.AwaitingSync = null;
            }
        }
        if (State != GroupState.PreparingRebalance)
        {
            var wasEmpty = State == GroupState.Empty;
            State = GroupState.PreparingRebalance;
            _rebalanceStartMs = NowMs;
            _initialDelayDeadlineMs = wasEmpty && options.GroupInitialRebalanceDelayMs > 0
                ? _rebalanceStartMs + Math.Min(options.GroupInitialRebalanceDelayMs, MaxRebalanceTimeoutMs())
                : 0;
            LogPreparingRebalance(GroupId, GenerationId, reason);
        }
        _rebalanceDeadlineMs = _rebalanceStartMs + MaxRebalanceTimeoutMs();
        TryCompleteJoin();
    }

    private void TryCompleteJoin()
    {
        if (State != GroupState.PreparingRebalance || _unloaded) return;
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
        {
            var m = _members[i];
            if (m.AwaitingJoin is not null) continue;
            const string reason = "did not rejoin within the rebalance timeout";
            _members.RemoveAt(i);
            m.Fail(ErrorCode.UnknownMemberId, reason);
            if (LeaderId == m.MemberId) LeaderId = null;
            LogMemberRemoved(GroupId, m.MemberId, reason);
        }

        GenerationId++;
        if (_members.Count == 0)
        {
            State = GroupState.Empty;
            LeaderId = null;
            ProtocolName = null;
            EmptySinceMs = NowMs;
            LogGroupEmpty(GroupId, GenerationId);
            _ = StoreQuietlyAsync();
            return;
        }

        ProtocolName = LastProtocolName = SelectProtocol();
        if (LeaderId is null || Find(LeaderId) is null) LeaderId = _members[0].MemberId;
        State = GroupState.CompletingRebalance;
        var now = NowMs;
        foreach (var m in _members)
        {
            var join = m.AwaitingJoin!;
            m.AwaitingJoin = null;
            m.HeartbeatDeadlineMs = now + m.SessionTimeoutMs;
            join.TrySetResult(JoinResult(m));
        }
        LogRebalanced(GroupId, GenerationId, _members.Count, LeaderId, ProtocolName);
        _ = StoreQuietlyAsync();
    }

    /// <summary>
    /// Kafka's <c>storeGroup</c> on the leader's SyncGroup: the generation's assignment is written first, and handed out
    /// only once durable, so a coordinator that takes over knows every assignment a member holds. A write that fails
    /// sends the members back to rejoin.
    /// </summary>
    private void CompleteSync(IReadOnlyDictionary<string, ConsumerProtocolAssignment>? assignments)
    {
        var members = new List<StoredGroupMember>(_members.Count);
        var consumer = IsConsumerGroup;
        foreach (var m in _members)
        {
            // A member the leader left out gets no partitions; in a group of another protocol type the bytes are all
            // there is (Kafka answers such a member empty bytes).
            var assignment = assignments is not null && assignments.TryGetValue(m.MemberId, out var a) && a is not null ? a : null;
            members.Add(m.ToStored(consumer
                ? assignment ?? ConsumerProtocolAssignment.Empty
                : new ConsumerProtocolAssignment([], Encoded: assignment?.Encoded ?? [])));
        }
        var storing = new StoredGroupMembership(GenerationId, ProtocolName, LeaderId, Rebalancing: false, members);
        _storingAssignment = storing;
        _ = StoreAssignmentAsync(storing);
    }

    private async Task StoreAssignmentAsync(StoredGroupMembership storing)
    {
        Exception? failure = null;
        try
        {
            await storeGroup();
        }
        catch (Exception ex)
        {
            failure = ex;
        }
        // A member that left or rejoined meanwhile started another rebalance: this assignment is void.
        if (!ReferenceEquals(_storingAssignment, storing) || State != GroupState.CompletingRebalance) return;
        _storingAssignment = null;
        if (failure is not null)
        {
            LogStoreFailed(failure, GroupId);
            PrepareRebalance("storing the assignment failed");
            return;
        }
        ApplyAssignment(storing);
    }

    private void ApplyAssignment(StoredGroupMembership stored)
    {
        foreach (var m in _members)
        {
            m.Assignment = ConsumerProtocolAssignment.Empty;
            foreach (var sm in stored.Members)
                if (sm.MemberId == m.MemberId) { m.Assignment = sm.Assignment; break; }
        }
        State = GroupState.Stable;
        foreach (var m in _members)
        {
            m.AwaitingSync?.TrySetResult(Synced(m));
            m.AwaitingSync = null;
        }
        LogStable(GroupId, GenerationId);
    }

    private JoinGroupResponse JoinResult(ClassicGroupMember member)
    {
        IReadOnlyList<JoinGroupMember> members = [];
        if (member.MemberId == LeaderId)
        {
            var list = new List<JoinGroupMember>(_members.Count);
            foreach (var m in _members)
                list.Add(new JoinGroupMember(m.MemberId, m.ClientId, m.SubscriptionFor(ProtocolName!), m.GroupInstanceId));
            members = list;
        }
        return new JoinGroupResponse(ErrorCode.None, GenerationId, ProtocolName, LeaderId!, member.MemberId, members);
    }

    private SyncGroupResponse Synced(ClassicGroupMember member) =>
        new(ErrorCode.None, member.Assignment, ProtocolType: ProtocolType, ProtocolName: ProtocolName);

    private static bool IsInconsistent(string? named, string? groups) => named is not null && groups is not null && named != groups;

    internal static JoinGroupResponse JoinError(ErrorCode error, string memberId, string? message) =>
        new(error, -1, null, "", memberId, [], message);

    private string UnknownMember(string? memberId) => $"member '{memberId}' is not in group '{GroupId}'";

    private string IllegalGeneration(int generationId) => $"generation {generationId} is not the group's generation {GenerationId}";

    private bool HasCommonProtocol(IReadOnlyList<JoinGroupProtocol> protocols, ClassicGroupMember? self)
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

    /// <summary>
    /// Kafka's <c>ClassicGroup.validateMember</c>: a static member's instance id must map to the member id it sends, or
    /// a newer incarnation has fenced it (<see cref="ErrorCode.FencedInstanceId"/>); a dynamic member must be known.
    /// </summary>
    private (ClassicGroupMember? Member, ErrorCode Error, string? Message) Validate(string? memberId, string? groupInstanceId)
    {
        if (string.IsNullOrEmpty(groupInstanceId))
        {
            var dynamic = Find(memberId);
            return dynamic is null ? (null, ErrorCode.UnknownMemberId, UnknownMember(memberId)) : (dynamic, ErrorCode.None, null);
        }
        var member = FindStatic(groupInstanceId);
        if (member is null)
            return (null, ErrorCode.UnknownMemberId, $"instance '{groupInstanceId}' is not in group '{GroupId}'");
        return member.MemberId == memberId
            ? (member, ErrorCode.None, null)
            : (null, ErrorCode.FencedInstanceId, $"member '{memberId}' of instance '{groupInstanceId}' was fenced by member '{member.MemberId}'");
    }

    private ClassicGroupMember? FindStatic(string groupInstanceId)
    {
        foreach (var m in _members)
            if (m.GroupInstanceId == groupInstanceId) return m;
        return null;
    }

    private ClassicGroupMember? Find(string? memberId)
    {
        if (string.IsNullOrEmpty(memberId)) return null;
        foreach (var m in _members)
            if (m.MemberId == memberId) return m;
        return null;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Group {GroupId}: member {MemberId} joined ({Reason})")]
    private partial void LogMemberJoined(string groupId, string memberId, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Group {GroupId}: static member {GroupInstanceId} rejoined, member {OldMemberId} replaced by {NewMemberId}")]
    private partial void LogStaticMemberReplaced(string groupId, string groupInstanceId, string oldMemberId, string newMemberId);

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

    [LoggerMessage(Level = LogLevel.Information, Message = "Group {GroupId}: loaded generation {Generation} with {Members} members, {State}")]
    private partial void LogLoaded(string groupId, int generation, int members, string state);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Group {GroupId}: storing the group failed")]
    private partial void LogStoreFailed(Exception ex, string groupId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Group {GroupId}: upgraded to a consumer group at generation {Generation} with {Members} classic members")]
    private partial void LogUpgraded(string groupId, int generation, int members);

    [LoggerMessage(Level = LogLevel.Information, Message = "Group {GroupId}: downgraded to a classic group at generation {Generation} with {Members} members")]
    private partial void LogDowngraded(string groupId, int generation, int members);

    [LoggerMessage(Level = LogLevel.Information, Message = "Group {GroupId}: empty at generation {Generation}")]
    private partial void LogGroupEmpty(string groupId, int generation);
}
