namespace OrleansStream.Server.Groups.Consumer;

/// <summary>
/// A classic group's members as one kind of group hands them to the other (Kafka's online migration, KIP-848): the
/// generation (the consumer group's epoch), the protocol last chosen, and each member as the classic group stores it.
/// <paramref name="Rebalance"/>: the classic group a downgrade makes rebalances at once (a member left), or is stable with
/// the assignments handed over (a classic static member took the last consumer protocol member's place).
/// </summary>
internal sealed record ClassicHandOver(int GenerationId, string? ProtocolName, List<StoredGroupMember> Members, bool Rebalance = true);

/// <summary>
/// Kafka 4's classic members inside a consumer group (<c>classicGroupJoinToConsumerGroup</c>, <c>classicGroupSyncToConsumerGroup</c>,
/// <c>classicGroupHeartbeatToConsumerGroup</c>, <c>classicGroupLeaveToConsumerGroup</c>) and the group's conversions
/// (<c>ConsumerGroup.fromClassicGroup</c>, <c>validateOnlineDowngradeWithFencedMember</c>). A classic member's subscription
/// is the one its JoinGroup names; its partitions come from the group's target through the same reconciliation as a
/// consumer protocol member's, one JoinGroup at a time: its heartbeat answers RebalanceInProgress while it has partitions
/// to give up or to take, and it rejoins.
/// </summary>
internal sealed partial class ConsumerGroup
{
    private ClassicHandOver? _downgrade;

    /// <summary>The broker's <c>group.consumer.migration.policy</c>.</summary>
    private ConsumerGroupMigrationPolicy MigrationPolicy => options.ConsumerMigrationPolicy;

    // ---- the upgrade (Kafka's validateOnlineUpgrade and ConsumerGroup.fromClassicGroup) ---------------------------

    /// <summary>
    /// Kafka's <c>validateOnlineUpgrade</c>: a classic group with members becomes a consumer group on a member's first
    /// ConsumerGroupHeartbeat when the policy allows the upgrade, its members speak the consumer protocol (protocol type
    /// "consumer") and they fit <c>group.consumer.max.size</c>.
    /// </summary>
    public static bool CanUpgrade(ConsumerGroupOptions options, string? classicProtocolType, int classicMembers) =>
        options.ConsumerMigrationPolicy.IsUpgradeEnabled()
        && classicProtocolType == GroupKeys.ConsumerProtocolType
        && classicMembers <= options.ConsumerGroupMaxSize;

    /// <summary>
    /// Kafka's <c>ConsumerGroup.fromClassicGroup</c>: the classic members become members of this group in the classic
    /// generation, stable, each with the subscription of the group's protocol and the partitions it was assigned, which
    /// are its target too. <paramref name="topics"/> gives the ids of the topics named (those not found are dropped).
    /// </summary>
    public void LoadFromClassic(ClassicHandOver classic, IReadOnlyDictionary<string, SubscribedTopic> topics)
    {
        _members.Clear();
        _staticMembers.Clear();
        _partitionEpochs.Clear();
        _target.Clear();
        GroupEpoch = AssignmentEpoch = classic.GenerationId;
        EmptySinceMs = -1;
        var now = NowMs;
        foreach (var s in classic.Members)
        {
            var subscription = SubscriptionOf(s.Protocols, classic.ProtocolName);
            var assigned = ById(s.Assignment.Partitions, topics);
            var m = new ConsumerGroupMember(s.MemberId)
            {
                InstanceId = s.GroupInstanceId, ClientId = s.ClientId, MemberEpoch = classic.GenerationId, PreviousMemberEpoch = classic.GenerationId,
                State = MemberState.Stable, RebalanceTimeoutMs = s.RebalanceTimeoutMs, SubscribedTopicNames = [.. subscription.Topics],
                Classic = new ClassicMemberMetadata(s.SessionTimeoutMs, [.. s.Protocols]),
                SessionDeadlineMs = now + s.SessionTimeoutMs,
            };
            _members[m.MemberId] = m;
            if (m.InstanceId is not null) _staticMembers[m.InstanceId] = m.MemberId;
            _target[m.MemberId] = ConsumerGroupMember.Copy(assigned);
            SetOwnership(m, assigned, []);
        }
        _subscribed = SubscribedView(topics);
        // The next heartbeat looks at the subscribed topics again.
        _metadataRefreshDeadlineMs = 0;
    }

    // ---- the downgrade (Kafka's validateOnlineDowngradeWithFencedMember and ClassicGroup.fromConsumerGroup) --------

    /// <summary>
    /// Kafka's <c>validateOnlineDowngradeWithFencedMember</c>: when the member leaving (or fenced) is the last one of
    /// the consumer protocol, the others all classic, the group becomes a classic group of them, if the policy allows the
    /// downgrade and they fit <c>group.max.size</c>. A group left empty stays a consumer group.
    /// </summary>
    public bool CanDowngradeWithout(string fencedMemberId) =>
        _members.TryGetValue(fencedMemberId, out var fenced) && IsLastConsumerProtocolMember(fenced)
        && _members.Count > 1 && MigrationPolicy.IsDowngradeEnabled() && _members.Count - 1 <= options.GroupMaxSize;

    /// <summary>Whether <paramref name="member"/> speaks the consumer protocol and every other member the classic one.</summary>
    private bool IsLastConsumerProtocolMember(ConsumerGroupMember member)
    {
        if (member.UsesClassicProtocol) return false;
        foreach (var m in _members.Values)
            if (m != member && !m.UsesClassicProtocol) return false;
        return true;
    }

    /// <summary>
    /// The classic group to become after a downgrade (Kafka's <c>ClassicGroup.fromConsumerGroup</c>), once: the
    /// members left with their protocols, session and rebalance timeouts, each assigned its target, in the group epoch as
    /// generation. The classic group rebalances at once, so the members rejoin and its leader assigns.
    /// </summary>
    public ClassicHandOver? TakeDowngrade()
    {
        var downgrade = _downgrade;
        _downgrade = null;
        return downgrade;
    }

    /// <summary>
    /// Kafka's <c>validateOnlineDowngradeWithReplacedMemberId</c>: a classic static member taking the place of the last
    /// consumer protocol member (the others all classic) downgrades the group, if the policy allows it and the members
    /// fit <c>group.max.size</c>.
    /// </summary>
    private bool CanDowngradeReplacing(ConsumerGroupMember replaced) =>
        IsLastConsumerProtocolMember(replaced) && MigrationPolicy.IsDowngradeEnabled() && _members.Count <= options.GroupMaxSize;

    /// <summary>Kafka's <c>consumerGroupFenceMember</c>: the member leaves, or the group downgrades without it.</summary>
    private void Fence(ConsumerGroupMember member)
    {
        if (!CanDowngradeWithout(member.MemberId))
        {
            Remove(member);
            return;
        }
        Downgrade(member, rebalance: true);
    }

    /// <summary>The members but <paramref name="leaving"/>, all classic now, go to a classic group (<see cref="TakeDowngrade"/>), each assigned its target.</summary>
    private void Downgrade(ConsumerGroupMember? leaving, bool rebalance)
    {
        var names = TopicNames();
        var members = new List<StoredGroupMember>(_members.Count);
        foreach (var m in Sorted())
        {
            if (m == leaving) continue;
            var assignment = new ConsumerProtocolAssignment(ByName(_target.GetValueOrDefault(m.MemberId) ?? [], names));
            members.Add(new StoredGroupMember(m.MemberId, m.ClientId, m.InstanceId, m.Classic!.SessionTimeoutMs,
                m.RebalanceTimeoutMs > 0 ? m.RebalanceTimeoutMs : m.Classic.SessionTimeoutMs, [.. m.Classic.Protocols], assignment));
        }
        _downgrade = new ClassicHandOver(GroupEpoch, null, members, rebalance);
        // Kafka removes the consumer group: the classic group goes on from its epoch, and a consumer group made again
        // from that classic group (empty, or upgraded) starts from the classic generation.
        Clear();
        GroupEpoch = AssignmentEpoch = 0;
    }

    // ---- JoinGroup ---------------------------------------------------------------------------------------------

    /// <summary>
    /// Kafka's checks of a classic JoinGroup to a consumer group before anything changes: the group's size
    /// (GroupMaxSizeReached), protocols the classic members all support (InconsistentGroupProtocol), KIP-394's round for
    /// a dynamic member without an id (MemberIdRequired with the id to use), and a static member's or a known id's
    /// identity (UnknownMemberId, FencedInstanceId). Null when the join goes on.
    /// </summary>
    /// <param name="memberId">The request's member id, or the one made for a member that sent none.</param>
    public JoinGroupResponse? ValidateClassicJoin(JoinGroupRequest r, string memberId)
    {
        var unknown = string.IsNullOrEmpty(r.MemberId);
        if (!_members.ContainsKey(memberId) && _members.Count >= options.ConsumerGroupMaxSize)
            return JoinFailed(ErrorCode.GroupMaxSizeReached, memberId, $"The consumer group has reached its maximum capacity of {options.ConsumerGroupMaxSize} members.");
        if (!SupportsClassicProtocols(r.ProtocolType, r.Protocols))
            return JoinFailed(ErrorCode.InconsistentGroupProtocol, memberId, $"Member {memberId}'s protocols are not supported.");
        if (r.GroupInstanceId is null)
            return unknown && r.RequireKnownMemberId ? JoinFailed(ErrorCode.MemberIdRequired, memberId, "rejoin with the issued member id") : null;
        if (unknown) return null;
        var existing = _staticMembers.TryGetValue(r.GroupInstanceId, out var id) ? _members[id] : null;
        if (existing is null) return JoinFailed(ErrorCode.UnknownMemberId, memberId, $"Instance id {r.GroupInstanceId} is unknown.");
        return existing.MemberId != memberId
            ? JoinFailed(ErrorCode.FencedInstanceId, memberId,
                $"Static member {memberId} with instance id {r.GroupInstanceId} was fenced by member {existing.MemberId}.")
            : null;
    }

    /// <summary>What a classic join needs looked up first (see <see cref="TopicsToRefresh(ConsumerGroupHeartbeatRequest)"/>), null when the group's view serves.</summary>
    public TopicRefresh? TopicsToRefresh(JoinGroupRequest r, string memberId)
    {
        var member = r.GroupInstanceId is not null && _staticMembers.TryGetValue(r.GroupInstanceId, out var id) ? _members[id] : _members.GetValueOrDefault(memberId);
        return TopicsToRefresh(member, SubscriptionOf(r.Protocols, null).Topics, null, joining: false);
    }

    /// <summary>
    /// Kafka's <c>classicGroupJoinToConsumerGroup</c> (after <see cref="ValidateClassicJoin"/>): makes or updates the
    /// member from its JoinGroup (subscription, session timeout, protocols), moves the group epoch when its subscription
    /// changed, computes the target when due, and reconciles the member with the partitions its subscription says it owns.
    /// The answer has no leader and no members (the coordinator assigns): the member's epoch as generation and its first
    /// protocol. The member must SyncGroup within its rebalance timeout.
    /// </summary>
    public JoinGroupResponse ClassicJoin(JoinGroupRequest r, string memberId, IReadOnlyDictionary<string, SubscribedTopic>? refreshed)
    {
        var now = NowMs;
        ConsumerGroupMember? member;
        var downgrade = false;
        if (r.GroupInstanceId is null)
        {
            member = _members.GetValueOrDefault(memberId);
        }
        else
        {
            member = _staticMembers.TryGetValue(r.GroupInstanceId, out var id) ? _members[id] : null;
            // Kafka's static member replacement: a classic member joining with a known instance id and no member id
            // takes the old member's place and partitions from epoch 0.
            if (member is not null && member.MemberId != memberId)
            {
                downgrade = CanDowngradeReplacing(member);
                ReplaceStatic(member, memberId);
            }
        }
        var bump = false;
        if (member is null)
        {
            member = new ConsumerGroupMember(memberId) { InstanceId = r.GroupInstanceId };
            _members[memberId] = member;
            if (r.GroupInstanceId is not null) _staticMembers[r.GroupInstanceId] = memberId;
            EmptySinceMs = -1;
            bump = true;
        }
        var subscription = SubscriptionOf(r.Protocols, null);
        if (!member.HasSameSubscription(subscription.Topics) || member.SubscribedTopicRegex is not null)
        {
            member.SubscribedTopicNames = [.. subscription.Topics];
            member.SubscribedTopicRegex = null;
            bump = true;
        }
        if (r.RebalanceTimeoutMs > 0) member.RebalanceTimeoutMs = r.RebalanceTimeoutMs;
        else if (member.RebalanceTimeoutMs <= 0) member.RebalanceTimeoutMs = r.SessionTimeoutMs;
        member.ClientId = r.ClientId ?? "";
        member.Classic = new ClassicMemberMetadata(r.SessionTimeoutMs, [.. r.Protocols]);
        member.RebalanceDeadlineMs = -1;

        if (ApplyRefreshedTopics(refreshed, now)) bump = true;
        if (bump) GroupEpoch++;
        if (GroupEpoch > AssignmentEpoch) ComputeTargetAssignment();
        Reconcile(member, ById(subscription.OwnedPartitions, _subscribed), now);

        member.JoinDeadlineMs = -1;
        member.SyncDeadlineMs = now + Math.Max(member.RebalanceTimeoutMs, 0);
        member.SessionDeadlineMs = now + r.SessionTimeoutMs;
        var joined = new JoinGroupResponse(ErrorCode.None, member.MemberEpoch, member.Classic.Protocols[0].Name, "", member.MemberId, []);
        // The group is classic from now on, stable: the member syncs with the classic group, which hands it its target.
        if (downgrade) Downgrade(null, rebalance: false);
        return joined;
    }

    /// <summary>
    /// Kafka's <c>supportsClassicProtocols</c>: the consumer protocol type, and a protocol every classic member supports
    /// (any, while the group has none).
    /// </summary>
    private bool SupportsClassicProtocols(string? protocolType, IReadOnlyList<JoinGroupProtocol>? protocols)
    {
        if (protocolType != GroupKeys.ConsumerProtocolType || protocols is null || protocols.Count == 0) return false;
        foreach (var p in protocols)
        {
            var everyone = true;
            foreach (var m in _members.Values)
                if (m.Classic is { } c && !c.Supports(p.Name)) { everyone = false; break; }
            if (everyone) return true;
        }
        return false;
    }

    // ---- SyncGroup, Heartbeat, LeaveGroup ------------------------------------------------------------------------

    /// <summary>
    /// Kafka's <c>classicGroupSyncToConsumerGroup</c>: a classic member of this generation (its epoch) gets the partitions
    /// it holds now, unless the group moved on and it must rejoin first (RebalanceInProgress; not while it has partitions
    /// to revoke, which it learns from this answer). A protocol type or name it names (SyncGroup v5, KIP-559) must be
    /// what its JoinGroup was answered, the consumer type and its first protocol, else InconsistentGroupProtocol.
    /// </summary>
    public SyncGroupResponse ClassicSync(SyncGroupRequest r)
    {
        var (member, error, message) = FindClassic(r.MemberId, r.GroupInstanceId);
        if (member is null) return new SyncGroupResponse(error, null, message);
        if (r.GenerationId != member.MemberEpoch) return new SyncGroupResponse(ErrorCode.IllegalGeneration, null, IllegalGeneration(r.GenerationId, member));
        var protocolName = member.Classic!.Protocols[0].Name;
        if ((r.ProtocolType is { } type && type != GroupKeys.ConsumerProtocolType) || (r.ProtocolName is { } name && name != protocolName))
            return new SyncGroupResponse(ErrorCode.InconsistentGroupProtocol, null,
                $"member {member.MemberId} joined with protocol type '{GroupKeys.ConsumerProtocolType}' and protocol '{protocolName}', not '{r.ProtocolType}' with '{r.ProtocolName}'");
        var now = NowMs;
        if (GroupEpoch > member.MemberEpoch && member.State != MemberState.UnrevokedPartitions)
        {
            if (member.JoinDeadlineMs < 0) member.JoinDeadlineMs = now + Math.Max(member.RebalanceTimeoutMs, 0);
            return new SyncGroupResponse(ErrorCode.RebalanceInProgress, null, RejoinMessage(member));
        }
        member.SyncDeadlineMs = -1;
        member.SessionDeadlineMs = now + member.Classic!.SessionTimeoutMs;
        return new SyncGroupResponse(ErrorCode.None, new ConsumerProtocolAssignment(ByName(member.AssignedPartitions, TopicNames())),
            ProtocolType: GroupKeys.ConsumerProtocolType, ProtocolName: protocolName);
    }

    /// <summary>
    /// Kafka's <c>classicGroupHeartbeatToConsumerGroup</c>: keeps the classic member's session, and answers
    /// RebalanceInProgress when it must rejoin: the group epoch moved past its epoch, it has partitions to revoke, or
    /// partitions it waits for are free now. It must then rejoin within its rebalance timeout.
    /// </summary>
    public GroupResponse ClassicHeartbeat(HeartbeatRequest r)
    {
        var (member, error, message) = FindClassic(r.MemberId, r.GroupInstanceId);
        if (member is null) return new GroupResponse(error, message);
        if (r.GenerationId != member.MemberEpoch) return new GroupResponse(ErrorCode.IllegalGeneration, IllegalGeneration(r.GenerationId, member));
        var now = NowMs;
        member.SessionDeadlineMs = now + member.Classic!.SessionTimeoutMs;
        if (!MustRejoin(member)) return GroupResponse.Ok;
        if (member.JoinDeadlineMs < 0) member.JoinDeadlineMs = now + Math.Max(member.RebalanceTimeoutMs, 0);
        return new GroupResponse(ErrorCode.RebalanceInProgress, RejoinMessage(member));
    }

    /// <summary>Whether a classic member's heartbeat sends it to rejoin (Kafka's three conditions).</summary>
    public bool MustRejoin(ConsumerGroupMember member) =>
        member.MemberEpoch < GroupEpoch
        || member.State == MemberState.UnrevokedPartitions
        || member.State == MemberState.UnreleasedPartitions && !IsWaitingOnUnreleasedPartition(member);

    /// <summary>Kafka's <c>waitingOnUnreleasedPartition</c>: a partition of the member's target that another member still holds.</summary>
    private bool IsWaitingOnUnreleasedPartition(ConsumerGroupMember member)
    {
        if (member.State != MemberState.UnreleasedPartitions) return false;
        foreach (var (topic, partitions) in _target.GetValueOrDefault(member.MemberId) ?? [])
        {
            var held = member.AssignedPartitions.GetValueOrDefault(topic);
            foreach (var p in partitions)
                if ((held is null || !held.Contains(p)) && OwnerEpoch(topic, p) != -1) return true;
        }
        return false;
    }

    /// <summary>
    /// Kafka's <c>classicGroupLeaveToConsumerGroup</c>: each classic member named leaves with its partitions (each
    /// answered on its own: UnknownMemberId, FencedInstanceId), and the group epoch moves on once. Returns whether any left.
    /// </summary>
    public (LeaveGroupMembersResponse Response, bool Changed) ClassicLeave(IReadOnlyList<LeaveGroupRequest> leaving)
    {
        var answers = new GroupResponse[leaving.Count];
        var left = 0;
        for (var i = 0; i < leaving.Count; i++)
        {
            var l = leaving[i];
            ConsumerGroupMember? member;
            ErrorCode error;
            string? message;
            if (string.IsNullOrEmpty(l.MemberId) && !string.IsNullOrEmpty(l.GroupInstanceId))
            {
                // The admin's removal of a static member by its instance id alone.
                member = _staticMembers.TryGetValue(l.GroupInstanceId, out var id) ? _members[id] : null;
                (error, message) = member is null ? (ErrorCode.UnknownMemberId, $"Instance id {l.GroupInstanceId} is unknown.")
                    : member.UsesClassicProtocol ? (ErrorCode.None, null)
                    : (ErrorCode.UnknownMemberId, NotClassic(member));
                if (error != ErrorCode.None) member = null;
            }
            else
            {
                (member, error, message) = FindClassic(l.MemberId, l.GroupInstanceId);
            }
            if (member is null)
            {
                answers[i] = new GroupResponse(error, message);
                continue;
            }
            Remove(member, bump: false);
            left++;
            answers[i] = GroupResponse.Ok;
        }
        if (left > 0) GroupEpoch++;
        return (new LeaveGroupMembersResponse(ErrorCode.None, answers), left > 0);
    }

    /// <summary>Kafka's <c>validateConsumerGroupMember</c> and <c>throwIfMemberDoesNotUseClassicProtocol</c>.</summary>
    private (ConsumerGroupMember? Member, ErrorCode Error, string? Message) FindClassic(string? memberId, string? instanceId)
    {
        ConsumerGroupMember? member;
        if (string.IsNullOrEmpty(instanceId))
        {
            member = memberId is null ? null : _members.GetValueOrDefault(memberId);
            if (member is null) return (null, ErrorCode.UnknownMemberId, $"Member {memberId} is not a member of group {GroupId}.");
        }
        else
        {
            member = _staticMembers.TryGetValue(instanceId, out var id) ? _members[id] : null;
            if (member is null) return (null, ErrorCode.UnknownMemberId, $"Member with instance id {instanceId} is not a member of group {GroupId}.");
            if (member.MemberId != memberId)
                return (null, ErrorCode.FencedInstanceId, $"Static member {memberId} with instance id {instanceId} was fenced by member {member.MemberId}.");
        }
        return member.UsesClassicProtocol ? (member, ErrorCode.None, null) : (null, ErrorCode.UnknownMemberId, NotClassic(member));
    }

    private static string NotClassic(ConsumerGroupMember member) => $"Member {member.MemberId} does not use the classic protocol.";

    private static string IllegalGeneration(int generationId, ConsumerGroupMember member) =>
        $"The request generation id {generationId} is not equal to the member epoch {member.MemberEpoch} of member {member.MemberId}.";

    private string RejoinMessage(ConsumerGroupMember member) =>
        $"A new rebalance is triggered in group {GroupId} and member {member.MemberId} should rejoin to catch up.";

    private static JoinGroupResponse JoinFailed(ErrorCode error, string memberId, string message) => new(error, -1, null, "", memberId, [], message);

    // ---- topic names and ids -------------------------------------------------------------------------------------

    /// <summary>The subscription of the protocol named (the first when none is, or the member lacks it): Kafka reads any, all being the same.</summary>
    private static ConsumerProtocolSubscription SubscriptionOf(IReadOnlyList<JoinGroupProtocol> protocols, string? name)
    {
        foreach (var p in protocols)
            if (p.Name == name) return p.Metadata;
        return protocols[0].Metadata;
    }

    private Dictionary<Guid, string> TopicNames()
    {
        var names = new Dictionary<Guid, string>(_subscribed.Count);
        foreach (var (name, t) in _subscribed) names[t.TopicId] = name;
        return names;
    }

    private static Dictionary<Guid, HashSet<int>> ById(IReadOnlyList<TopicPartition> partitions, IReadOnlyDictionary<string, SubscribedTopic> topics)
    {
        var result = new Dictionary<Guid, HashSet<int>>();
        foreach (var tp in partitions)
        {
            if (!topics.TryGetValue(tp.Topic, out var t) || tp.Partition < 0 || tp.Partition >= t.Partitions) continue;
            if (!result.TryGetValue(t.TopicId, out var set)) result[t.TopicId] = set = [];
            set.Add(tp.Partition);
        }
        return result;
    }

    private static List<TopicPartition> ByName(Dictionary<Guid, HashSet<int>> partitions, Dictionary<Guid, string> names)
    {
        var list = new List<TopicPartition>();
        foreach (var t in ConsumerGroupMember.ToList(partitions))
        {
            if (!names.TryGetValue(t.TopicId, out var name)) continue;
            foreach (var p in t.Partitions) list.Add(new TopicPartition(name, p));
        }
        return list;
    }
}
