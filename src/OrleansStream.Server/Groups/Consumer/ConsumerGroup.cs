using System.Text.RegularExpressions;

namespace OrleansStream.Server.Groups.Consumer;

/// <summary>A subscribed topic as the group last saw it: its id and partition count.</summary>
[GenerateSerializer, Immutable]
public readonly record struct SubscribedTopic(Guid TopicId, int Partitions);

/// <summary>What a heartbeat needs looked up first: the named topics, or every topic (<see cref="Names"/> null) for a regex.</summary>
internal readonly record struct TopicRefresh(List<string>? Names);

/// <summary>
/// Kafka's consumer group (KIP-848, <c>ConsumerGroup</c> with the consumer half of <c>GroupMetadataManager</c>): the
/// coordinator, not a leader member, assigns the partitions. Three epochs drive it: the group epoch moves on every
/// change of membership, subscriptions or subscribed partitions; the target assignment is computed for it by a server
/// assignor (<see cref="IServerAssignor"/>); each member then moves toward its target one heartbeat at a time
/// (<see cref="CurrentAssignmentBuilder"/>), giving partitions up before others take them. There is no barrier: members
/// that are not affected keep consuming through a rebalance. A plain class on a <see cref="TimeProvider"/>, changed only
/// between the grain's awaits.
/// </summary>
/// <remarks>
/// <paramref name="canDescribe"/> is the broker's authorizer (principal, host, topic), null without one: a member's regex
/// is resolved for its principal, so it matches only the topics that principal may DESCRIBE (Kafka 4 resolves a regex
/// with the authorizer too).
/// </remarks>
internal sealed partial class ConsumerGroup(string groupId, ConsumerGroupOptions options, TimeProvider time, Func<string, string, string, bool>? canDescribe = null)
{
    /// <summary>Kafka's member epoch that leaves the group.</summary>
    public const int LeaveEpoch = -1;

    /// <summary>Kafka's member epoch of a static member that leaves and comes back within its session.</summary>
    public const int LeaveStaticEpoch = -2;

    private readonly Dictionary<string, ConsumerGroupMember> _members = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _staticMembers = new(StringComparer.Ordinal);
    private readonly Dictionary<(Guid Topic, int Partition), int> _partitionEpochs = [];
    private Dictionary<string, Dictionary<Guid, HashSet<int>>> _target = new(StringComparer.Ordinal);
    private Dictionary<string, SubscribedTopic> _subscribed = new(StringComparer.Ordinal);
    // Each member regex (per principal when the broker authorizes: RegexKey), compiled once, with the topics it matched at the last look.
    private Dictionary<string, (Regex? Regex, HashSet<string> Matched)> _regexTopics = new(StringComparer.Ordinal);
    private long _metadataRefreshDeadlineMs;

    public string GroupId { get; } = groupId;

    /// <summary>
    /// The session timeout and heartbeat interval of the group's configs (<see cref="GroupConfigs"/>), else the broker's:
    /// a member's session is renewed with it at each heartbeat, and each answer tells the interval, as Kafka's
    /// coordinator reads the group config at each heartbeat.
    /// </summary>
    public ConsumerGroupSettings Settings { get; set; } = ConsumerGroupSettings.Of(options);

    public int GroupEpoch { get; private set; }

    public int AssignmentEpoch { get; private set; }

    /// <summary>The assignor of the last target assignment (Kafka's preferred server assignor).</summary>
    public string AssignorName { get; private set; } = ServerAssignors.Default.Name;

    public int MemberCount => _members.Count;

    /// <summary>When the group last lost its last member (ms since the epoch), -1 while it has members or never had one.</summary>
    public long EmptySinceMs { get; private set; } = -1;

    private long NowMs => time.GetUtcNow().ToUnixTimeMilliseconds();

    /// <summary>Kafka's <c>ConsumerGroupState</c>: Empty, Assigning (a target is being computed), Reconciling, Stable.</summary>
    public string StateName =>
        _members.Count == 0 ? "Empty"
        : GroupEpoch != AssignmentEpoch ? "Assigning"
        : AllReconciled() ? "Stable" : "Reconciling";

    private bool AllReconciled()
    {
        foreach (var m in _members.Values)
            if (!m.IsReconciledTo(AssignmentEpoch)) return false;
        return true;
    }

    private static readonly string SupportedAssignors = string.Join(", ", ServerAssignors.All.Select(static a => a.Name));

    // ---- validation --------------------------------------------------------------------------------------------

    /// <summary>Kafka's <c>throwIfConsumerGroupHeartbeatRequestIsInvalid</c>: InvalidRequest or UnsupportedAssignor, null when valid.</summary>
    public static ConsumerGroupHeartbeatResponse? Validate(ConsumerGroupHeartbeatRequest r)
    {
        static ConsumerGroupHeartbeatResponse Invalid(string message) => ConsumerGroupHeartbeatResponse.Failed(ErrorCode.InvalidRequest, message);
        if (r.InstanceId is { Length: 0 }) return Invalid("InstanceId can't be empty.");
        if (r.RackId is { Length: 0 }) return Invalid("RackId can't be empty.");
        if (!string.IsNullOrEmpty(r.SubscribedTopicRegex) && TopicRegex(r.SubscribedTopicRegex) is null)
            return ConsumerGroupHeartbeatResponse.Failed(ErrorCode.InvalidRegularExpression, $"SubscribedTopicRegex {r.SubscribedTopicRegex} is not a valid regular expression.");
        if (r.MemberEpoch > 0 || r.MemberEpoch == LeaveEpoch)
        {
            if (string.IsNullOrEmpty(r.MemberId)) return Invalid("MemberId can't be empty.");
        }
        else if (r.MemberEpoch == 0)
        {
            // KIP-1082: from v1 the member makes its id; v0's first heartbeat is given one.
            if (r.ApiVersion >= 1 && string.IsNullOrEmpty(r.MemberId)) return Invalid("MemberId can't be empty.");
            if (r.RebalanceTimeoutMs == -1) return Invalid("RebalanceTimeoutMs must be provided in first request.");
            if (r.OwnedPartitions is null || r.OwnedPartitions.Count > 0) return Invalid("TopicPartitions must be empty when (re-)joining.");
            if ((r.SubscribedTopicNames is null || r.SubscribedTopicNames.Count == 0) && string.IsNullOrEmpty(r.SubscribedTopicRegex))
                return Invalid("SubscribedTopicNames or SubscribedTopicRegex must be set in first request.");
        }
        else if (r.MemberEpoch == LeaveStaticEpoch)
        {
            if (string.IsNullOrEmpty(r.MemberId)) return Invalid("MemberId can't be empty.");
            if (r.InstanceId is null) return Invalid("InstanceId can't be null.");
        }
        else
        {
            return Invalid("MemberEpoch is invalid.");
        }
        if (r.ServerAssignor is not null && ServerAssignors.Find(r.ServerAssignor) is null)
            return ConsumerGroupHeartbeatResponse.Failed(ErrorCode.UnsupportedAssignor,
                $"ServerAssignor {r.ServerAssignor} is not supported. Supported assignors: {SupportedAssignors}.");
        return null;
    }

    /// <summary>
    /// What the heartbeat needs looked up before <see cref="Heartbeat"/>, when this member's subscription is new or
    /// changed or the group's view is older than <see cref="ConsumerGroupOptions.ConsumerMetadataRefreshIntervalMs"/>
    /// (null when the view serves): every topic the group subscribes to by name with this member's new subscription, or
    /// every topic when a member subscribes by regex.
    /// </summary>
    public TopicRefresh? TopicsToRefresh(ConsumerGroupHeartbeatRequest r)
    {
        if (r.MemberEpoch < 0) return null;
        var member = Find(r);
        return TopicsToRefresh(member, r.SubscribedTopicNames, NewRegex(r, member), joining: r.MemberEpoch == 0);
    }

    private TopicRefresh? TopicsToRefresh(ConsumerGroupMember? member, IReadOnlyList<string>? subscribedTopicNames, string? regex, bool joining)
    {
        var changed = member is null || joining
            || subscribedTopicNames is { } names && !member.HasSameSubscription(names)
            || regex != member.SubscribedTopicRegex;
        if (!changed && NowMs < _metadataRefreshDeadlineMs) return null;
        if (regex is not null) return new TopicRefresh(null);
        var topics = new HashSet<string>(StringComparer.Ordinal);
        foreach (var m in _members.Values)
        {
            if (m == member) continue;
            if (m.SubscribedTopicRegex is not null) return new TopicRefresh(null);
            topics.UnionWith(m.SubscribedTopicNames);
        }
        topics.UnionWith(subscribedTopicNames ?? member?.SubscribedTopicNames ?? []);
        return new TopicRefresh([.. topics]);
    }

    /// <summary>The member's regex after this request: a new one, none for "" (librdkafka's "no regex", Kafka's clearing), or the one it had.</summary>
    private static string? NewRegex(ConsumerGroupHeartbeatRequest r, ConsumerGroupMember? member) =>
        r.SubscribedTopicRegex is null ? (r.MemberEpoch == 0 ? null : member?.SubscribedTopicRegex)
        : r.SubscribedTopicRegex.Length == 0 ? null : r.SubscribedTopicRegex;

    /// <summary>
    /// A subscription regex as Kafka matches it (RE2/J's whole-name match), compiled without backtracking so that no
    /// pattern a client sends can make the match cost more than linear time; null when it does not compile.
    /// </summary>
    private static Regex? TopicRegex(string pattern)
    {
        try
        {
            return new Regex($"^(?:{pattern})$", RegexOptions.NonBacktracking | RegexOptions.CultureInvariant);
        }
        catch (Exception ex) when (ex is ArgumentException or NotSupportedException)
        {
            return null;
        }
    }

    /// <summary>Every topic the member subscribes to: its names and the topics its regex matched at the last look.</summary>
    private IEnumerable<string> TopicsOf(ConsumerGroupMember m) =>
        m.SubscribedTopicRegex is not null && _regexTopics.TryGetValue(RegexKey(m), out var resolved)
            ? m.SubscribedTopicNames.Concat(resolved.Matched)
            : m.SubscribedTopicNames;

    private ConsumerGroupMember? Find(ConsumerGroupHeartbeatRequest r) =>
        r.InstanceId is not null && _staticMembers.TryGetValue(r.InstanceId, out var id) ? _members[id]
        : _members.GetValueOrDefault(r.MemberId);

    // ---- heartbeat ---------------------------------------------------------------------------------------------

    /// <summary>
    /// Kafka's <c>consumerGroupHeartbeat</c>: finds or makes the member, applies what it changed (a new subscription
    /// moves the group epoch), computes a new target assignment when the group epoch passed the assignment's, and
    /// moves the member one step toward its target. <paramref name="refreshed"/> is the partition count of each
    /// subscribed topic that exists, looked up for <see cref="TopicsToRefresh"/> (null when it asked for none).
    /// Returns the answer and whether the group changed (so it is stored before the answer goes out).
    /// </summary>
    public (ConsumerGroupHeartbeatResponse Response, bool Changed) Heartbeat(
        ConsumerGroupHeartbeatRequest r, IReadOnlyDictionary<string, SubscribedTopic>? refreshed)
    {
        if (Validate(r) is { } invalid) return (invalid, false);
        if (r.MemberEpoch is LeaveEpoch or LeaveStaticEpoch) return Leave(r);

        var now = NowMs;
        var changed = false;
        var memberId = string.IsNullOrEmpty(r.MemberId) ? Guid.NewGuid().ToString() : r.MemberId;
        ConsumerGroupMember? member;
        if (r.InstanceId is null)
        {
            member = _members.GetValueOrDefault(memberId);
            if (member is null && r.MemberEpoch != 0)
                return (Failed(ErrorCode.UnknownMemberId, $"Member {memberId} is not a member of group {GroupId}.", memberId), false);
            if (member is not null && r.MemberEpoch == 0)
            {
                // A member that rejoins with its id (after it was fenced, KIP-1082's client-made ids): its old
                // incarnation leaves, with its partitions, and a new one joins.
                Remove(member);
                member = null;
                changed = true;
            }
        }
        else
        {
            var existing = _staticMembers.TryGetValue(r.InstanceId, out var id) ? _members[id] : null;
            if (r.MemberEpoch == 0)
            {
                if (existing is not null && existing.MemberEpoch != LeaveStaticEpoch && existing.MemberId != memberId)
                    return (Failed(ErrorCode.UnreleasedInstanceId,
                        $"Static member {memberId} with instance id {r.InstanceId} cannot join the group because the instance id is owned by member {existing.MemberId}.", memberId), false);
                if (existing is not null)
                {
                    ReplaceStatic(existing, memberId);
                    changed = true;
                }
                member = existing;
            }
            else
            {
                if (existing is null)
                    return (Failed(ErrorCode.UnknownMemberId, $"Instance id {r.InstanceId} is unknown.", memberId), false);
                if (existing.MemberId != memberId)
                    return (Failed(ErrorCode.FencedInstanceId,
                        $"Static member {memberId} with instance id {r.InstanceId} was fenced by member {existing.MemberId}.", memberId), false);
                member = existing;
            }
        }

        if (member is null && _members.Count >= options.ConsumerGroupMaxSize)
            return (Failed(ErrorCode.GroupMaxSizeReached, $"The consumer group has reached its maximum capacity of {options.ConsumerGroupMaxSize} members.", memberId), false);

        var owned = r.OwnedPartitions is null ? null : ConsumerGroupMember.From(r.OwnedPartitions);
        if (member is not null && r.MemberEpoch != 0 && EpochError(member, r.MemberEpoch, owned) is { } fenced)
            return (Failed(ErrorCode.FencedMemberEpoch, fenced, memberId), false);

        var bump = false;
        if (member is null)
        {
            member = new ConsumerGroupMember(memberId) { InstanceId = r.InstanceId };
            _members[memberId] = member;
            if (r.InstanceId is not null) _staticMembers[r.InstanceId] = memberId;
            EmptySinceMs = -1;
            bump = changed = true;
        }
        var before = member.AssignedPartitions;
        var beforeEpoch = member.MemberEpoch;

        if (member.Classic is not null)
        {
            // Kafka's setClassicMemberMetadata(null): a member heartbeating with the consumer protocol speaks it from now on.
            (member.Classic, member.JoinDeadlineMs, member.SyncDeadlineMs, changed) = (null, -1, -1, true);
        }
        if (r.RackId is not null && r.RackId != member.RackId) (member.RackId, changed) = (r.RackId, true);
        if (r.RebalanceTimeoutMs != -1 && r.RebalanceTimeoutMs != member.RebalanceTimeoutMs) (member.RebalanceTimeoutMs, changed) = (r.RebalanceTimeoutMs, true);
        if (r.ServerAssignor is not null && r.ServerAssignor != member.ServerAssignor) (member.ServerAssignor, changed) = (r.ServerAssignor, true);
        if (r.SubscribedTopicNames is { } names && !member.HasSameSubscription(names))
        {
            member.SubscribedTopicNames = [.. names];
            bump = changed = true;
        }
        if (NewRegex(r, member) is var regex && regex != member.SubscribedTopicRegex)
        {
            member.SubscribedTopicRegex = regex;
            bump = changed = true;
        }
        if (r.ClientId != member.ClientId || r.ClientHost != member.ClientHost) (member.ClientId, member.ClientHost, changed) = (r.ClientId, r.ClientHost, true);
        if (r.Principal != member.Principal || r.PrincipalHost != member.PrincipalHost)
            (member.Principal, member.PrincipalHost, changed) = (r.Principal, r.PrincipalHost, true);

        if (ApplyRefreshedTopics(refreshed, now)) bump = changed = true;
        if (bump) GroupEpoch++;
        if (GroupEpoch > AssignmentEpoch)
        {
            ComputeTargetAssignment();
            changed = true;
        }

        changed |= Reconcile(member, owned, now);
        member.SessionDeadlineMs = now + Settings.SessionTimeoutMs;

        // Kafka sends the assignment to a member that sent its whole state (joining, or after an error) and to one whose
        // partitions changed; other heartbeats are answered with the epoch alone.
        var full = r.MemberEpoch == 0 || (r.RebalanceTimeoutMs != -1 && r.SubscribedTopicNames is not null && r.OwnedPartitions is not null);
        var assignment = full || beforeEpoch != member.MemberEpoch || !ConsumerGroupMember.SameAssignment(before, member.AssignedPartitions)
            ? ConsumerGroupMember.ToList(member.AssignedPartitions)
            : null;
        return (new ConsumerGroupHeartbeatResponse(ErrorCode.None, null, member.MemberId, member.MemberEpoch, Settings.HeartbeatIntervalMs, assignment), changed);
    }

    private ConsumerGroupHeartbeatResponse Failed(ErrorCode error, string message, string memberId) =>
        ConsumerGroupHeartbeatResponse.Failed(error, message, memberId);

    /// <summary>
    /// Kafka's <c>throwIfConsumerGroupMemberEpochIsInvalid</c>: an epoch ahead of the member's is fenced; one behind is
    /// taken only when it is the member's previous epoch and it reports no partition outside its assignment (the answer
    /// that moved it on was lost).
    /// </summary>
    private static string? EpochError(ConsumerGroupMember member, int received, Dictionary<Guid, HashSet<int>>? owned)
    {
        if (received > member.MemberEpoch)
            return $"The consumer group member has a greater member epoch ({received}) than the one known by the group coordinator ({member.MemberEpoch}). The member must abandon all its partitions and rejoin.";
        if (received < member.MemberEpoch && (received != member.PreviousMemberEpoch || !IsSubset(owned, member.AssignedPartitions)))
            return $"The consumer group member has a smaller member epoch ({received}) than the one known by the group coordinator ({member.MemberEpoch}). The member must abandon all its partitions and rejoin.";
        return null;
    }

    private static bool IsSubset(Dictionary<Guid, HashSet<int>>? owned, Dictionary<Guid, HashSet<int>> assigned)
    {
        if (owned is null) return false;
        foreach (var (topic, partitions) in owned)
            if (partitions.Count > 0 && (!assigned.TryGetValue(topic, out var a) || !partitions.IsSubsetOf(a))) return false;
        return true;
    }

    private (ConsumerGroupHeartbeatResponse, bool) Leave(ConsumerGroupHeartbeatRequest r)
    {
        ConsumerGroupMember? member;
        if (r.InstanceId is null)
        {
            if (!_members.TryGetValue(r.MemberId, out member))
                return (Failed(ErrorCode.UnknownMemberId, $"Member {r.MemberId} is not a member of group {GroupId}.", r.MemberId), false);
        }
        else
        {
            member = _staticMembers.TryGetValue(r.InstanceId, out var id) ? _members[id] : null;
            if (member is null)
                return (Failed(ErrorCode.UnknownMemberId, $"Instance id {r.InstanceId} is unknown.", r.MemberId), false);
            if (member.MemberId != r.MemberId)
                return (Failed(ErrorCode.FencedInstanceId, $"Static member {r.MemberId} with instance id {r.InstanceId} was fenced by member {member.MemberId}.", r.MemberId), false);
            if (r.MemberEpoch == LeaveStaticEpoch)
            {
                // Away for now: it keeps its partitions (no one else takes them) until its session ends.
                member.MemberEpoch = LeaveStaticEpoch;
                member.RebalanceDeadlineMs = -1;
                SetOwnership(member, member.AssignedPartitions, []);
                return (new ConsumerGroupHeartbeatResponse(ErrorCode.None, null, member.MemberId, LeaveStaticEpoch, Settings.HeartbeatIntervalMs, null), true);
            }
        }
        Fence(member);
        return (new ConsumerGroupHeartbeatResponse(ErrorCode.None, null, member.MemberId, LeaveEpoch, Settings.HeartbeatIntervalMs, null), true);
    }

    /// <summary>A member leaves with its partitions, and the group epoch moves on (unless <paramref name="bump"/> is false: the caller moves it once for several).</summary>
    private void Remove(ConsumerGroupMember member, bool bump = true)
    {
        SetOwnership(member, [], []);
        _members.Remove(member.MemberId);
        _target.Remove(member.MemberId);
        if (member.InstanceId is not null && _staticMembers.TryGetValue(member.InstanceId, out var id) && id == member.MemberId)
            _staticMembers.Remove(member.InstanceId);
        if (bump) GroupEpoch++;
        if (_members.Count == 0) EmptySinceMs = NowMs;
    }

    /// <summary>
    /// Kafka's static member replacement: the member joining with the instance id takes the place of the one that held
    /// it, with its partitions, from epoch 0, so it is reconciled to the current target at once and gets them back
    /// without a rebalance.
    /// </summary>
    private void ReplaceStatic(ConsumerGroupMember existing, string memberId)
    {
        if (existing.MemberId != memberId)
        {
            _members.Remove(existing.MemberId);
            if (_target.Remove(existing.MemberId, out var target)) _target[memberId] = target;
            existing.MemberId = memberId;
            _members[memberId] = existing;
            _staticMembers[existing.InstanceId!] = memberId;
        }
        existing.MemberEpoch = 0;
        existing.PreviousMemberEpoch = -1;
        existing.State = MemberState.Stable;
        existing.RebalanceDeadlineMs = -1;
        SetOwnership(existing, existing.AssignedPartitions, []);
    }

    // ---- assignment --------------------------------------------------------------------------------------------

    private Dictionary<string, SubscribedTopic> SubscribedView(IReadOnlyDictionary<string, SubscribedTopic> refreshed)
    {
        var view = new Dictionary<string, SubscribedTopic>(StringComparer.Ordinal);
        foreach (var m in _members.Values)
            foreach (var name in TopicsOf(m))
                if (refreshed.TryGetValue(name, out var t)) view[name] = t;
        return view;
    }

    /// <summary>
    /// Kafka 4's resolved regular expressions: each member regex matched against every topic looked up (a regex member
    /// makes the lookup cover every topic), so a topic created to match is subscribed at the next look.
    /// </summary>
    private void ResolveRegexes(IReadOnlyDictionary<string, SubscribedTopic> allTopics)
    {
        var resolved = new Dictionary<string, (Regex?, HashSet<string>)>(StringComparer.Ordinal);
        foreach (var m in _members.Values)
        {
            if (m.SubscribedTopicRegex is not { } pattern) continue;
            var key = RegexKey(m);
            if (resolved.ContainsKey(key)) continue;
            // A pattern still in use keeps its compiled regex; patterns no member has any more are dropped.
            var regex = _regexTopics.TryGetValue(key, out var known) ? known.Regex : CompiledOrNew(pattern, resolved);
            var matched = new HashSet<string>(StringComparer.Ordinal);
            var principal = canDescribe is null ? null : m.Principal;
            if (regex is not null)
                foreach (var name in allTopics.Keys)
                    if (regex.IsMatch(name) && (principal is null || canDescribe!(principal, m.PrincipalHost ?? "", name))) matched.Add(name);
            resolved[key] = (regex, matched);
        }
        _regexTopics = resolved;
    }

    /// <summary>A member's regex as resolved: the pattern, and the principal it is resolved for when the broker authorizes.</summary>
    private static string RegexKey(ConsumerGroupMember m) =>
        m.Principal is null ? m.SubscribedTopicRegex! : $"{m.SubscribedTopicRegex}\0{m.Principal}\0{m.PrincipalHost}";

    /// <summary>The pattern compiled already for another principal (in this look or the last), or compiled now.</summary>
    private Regex? CompiledOrNew(string pattern, Dictionary<string, (Regex?, HashSet<string>)> resolved)
    {
        foreach (var (key, (regex, _)) in resolved)
            if (regex is not null && key.StartsWith(pattern, StringComparison.Ordinal) && (key.Length == pattern.Length || key[pattern.Length] == '\0')) return regex;
        foreach (var (key, (regex, _)) in _regexTopics)
            if (regex is not null && key.StartsWith(pattern, StringComparison.Ordinal) && (key.Length == pattern.Length || key[pattern.Length] == '\0')) return regex;
        return TopicRegex(pattern);
    }

    /// <summary>
    /// Takes the topics just looked up (null when none were): resolves the regexes and refreshes the group's view of its
    /// subscribed topics; true when that view changed, which moves the group epoch.
    /// </summary>
    private bool ApplyRefreshedTopics(IReadOnlyDictionary<string, SubscribedTopic>? refreshed, long now)
    {
        if (refreshed is null) return false;
        ResolveRegexes(refreshed);
        _metadataRefreshDeadlineMs = now + options.ConsumerMetadataRefreshIntervalMs;
        var view = SubscribedView(refreshed);
        if (SameView(view, _subscribed)) return false;
        _subscribed = view;
        return true;
    }

    private static bool SameView(Dictionary<string, SubscribedTopic> a, Dictionary<string, SubscribedTopic> b)
    {
        if (a.Count != b.Count) return false;
        foreach (var (name, t) in a)
            if (!b.TryGetValue(name, out var other) || other != t) return false;
        return true;
    }

    /// <summary>Kafka's <c>updateTargetAssignment</c>: the group's preferred assignor spreads the subscribed partitions.</summary>
    private void ComputeTargetAssignment()
    {
        var assignor = PreferredAssignor();
        var specs = new Dictionary<string, AssignmentMemberSpec>(_members.Count, StringComparer.Ordinal);
        foreach (var m in _members.Values)
        {
            var ids = new HashSet<Guid>();
            foreach (var name in TopicsOf(m))
                if (_subscribed.TryGetValue(name, out var t)) ids.Add(t.TopicId);
            var current = new Dictionary<Guid, IReadOnlySet<int>>();
            if (_target.TryGetValue(m.MemberId, out var target))
                foreach (var (topic, partitions) in target) current[topic] = partitions;
            specs[m.MemberId] = new AssignmentMemberSpec(ids, current);
        }
        var counts = new Dictionary<Guid, int>(_subscribed.Count);
        foreach (var t in _subscribed.Values) counts[t.TopicId] = t.Partitions;
        _target = new Dictionary<string, Dictionary<Guid, HashSet<int>>>(assignor.Assign(specs, counts), StringComparer.Ordinal);
        AssignorName = assignor.Name;
        AssignmentEpoch = GroupEpoch;
    }

    /// <summary>Kafka's <c>computePreferredServerAssignor</c>: the assignor most members name, the default when none does.</summary>
    private IServerAssignor PreferredAssignor()
    {
        var votes = new Dictionary<string, int>(StringComparer.Ordinal);
        string? best = null;
        foreach (var m in _members.Values)
        {
            if (m.ServerAssignor is null) continue;
            var n = votes[m.ServerAssignor] = votes.GetValueOrDefault(m.ServerAssignor) + 1;
            if (best is null || n > votes[best] || n == votes[best] && string.CompareOrdinal(m.ServerAssignor, best) < 0) best = m.ServerAssignor;
        }
        return ServerAssignors.Find(best) ?? ServerAssignors.Default;
    }

    /// <summary>Moves the member one step toward its target (Kafka's <c>maybeReconcile</c>); true when it changed.</summary>
    private bool Reconcile(ConsumerGroupMember member, Dictionary<Guid, HashSet<int>>? owned, long now)
    {
        if (member.IsReconciledTo(AssignmentEpoch)) return false;
        var target = _target.GetValueOrDefault(member.MemberId) ?? [];
        var step = CurrentAssignmentBuilder.Next(member, AssignmentEpoch, target, owned, OwnerEpoch);
        if (step is not { } s) return false;
        var wasRevoking = member.State == MemberState.UnrevokedPartitions;
        if (s.MemberEpoch != member.MemberEpoch) member.PreviousMemberEpoch = member.MemberEpoch;
        member.MemberEpoch = s.MemberEpoch;
        member.State = s.State;
        SetOwnership(member, s.Assigned, s.PendingRevocation);
        if (s.State == MemberState.UnrevokedPartitions)
        {
            // A classic member has its join and sync timers instead (Kafka's).
            if (!wasRevoking && !member.UsesClassicProtocol) member.RebalanceDeadlineMs = now + Math.Max(member.RebalanceTimeoutMs, 0);
        }
        else
        {
            member.RebalanceDeadlineMs = -1;
        }
        return true;
    }

    private int OwnerEpoch(Guid topic, int partition) => _partitionEpochs.TryGetValue((topic, partition), out var epoch) ? epoch : -1;

    /// <summary>The member's partitions change: the partition epochs (who holds what) follow.</summary>
    private void SetOwnership(ConsumerGroupMember member, Dictionary<Guid, HashSet<int>> assigned, Dictionary<Guid, HashSet<int>> pending)
    {
        Release(member.AssignedPartitions);
        Release(member.PartitionsPendingRevocation);
        member.AssignedPartitions = assigned;
        member.PartitionsPendingRevocation = pending;
        Hold(assigned, member.MemberEpoch);
        Hold(pending, member.MemberEpoch);
    }

    private void Release(Dictionary<Guid, HashSet<int>> partitions)
    {
        foreach (var (topic, set) in partitions)
            foreach (var p in set) _partitionEpochs.Remove((topic, p));
    }

    private void Hold(Dictionary<Guid, HashSet<int>> partitions, int epoch)
    {
        foreach (var (topic, set) in partitions)
            foreach (var p in set) _partitionEpochs[(topic, p)] = epoch;
    }

    // ---- expiration --------------------------------------------------------------------------------------------

    /// <summary>
    /// Fences members whose session ended without a heartbeat and members that did not revoke their partitions within
    /// their rebalance timeout (Kafka's session and rebalance timers); true when any left.
    /// </summary>
    public bool CheckExpirations()
    {
        if (_members.Count == 0) return false;
        var now = NowMs;
        List<ConsumerGroupMember>? expired = null;
        foreach (var m in _members.Values)
            if (now >= m.SessionDeadlineMs || Passed(m.RebalanceDeadlineMs) || Passed(m.JoinDeadlineMs) || Passed(m.SyncDeadlineMs))
                (expired ??= []).Add(m);
        if (expired is null) return false;
        foreach (var m in expired)
        {
            // A fence that downgrades the group hands every member left to the classic group.
            if (!_members.ContainsKey(m.MemberId)) break;
            Fence(m);
        }
        return true;

        bool Passed(long deadlineMs) => deadlineMs >= 0 && now >= deadlineMs;
    }

    // ---- offsets -----------------------------------------------------------------------------------------------

    /// <summary>
    /// Kafka's <c>ConsumerGroup.validateOffsetCommit</c>: a commit with a negative epoch is taken while the group has no
    /// members (an admin, a consumer assigning by hand); otherwise it must come from a member
    /// (<see cref="ErrorCode.UnknownMemberId"/>) with its current epoch (<see cref="ErrorCode.StaleMemberEpoch"/>;
    /// <see cref="ErrorCode.IllegalGeneration"/> for a TxnOffsetCommit, as Kafka answers older producers), and a
    /// member's OffsetCommit must be v9 or later (<see cref="ErrorCode.UnsupportedVersion"/>).
    /// </summary>
    public OffsetCommitResponse? ValidateOffsetCommit(string? memberId, int memberEpoch, bool transactional, bool version9OrLater)
    {
        if (memberEpoch < 0 && _members.Count == 0) return null;
        if (memberId is null || !_members.TryGetValue(memberId, out var member))
            return new OffsetCommitResponse(ErrorCode.UnknownMemberId, [], $"Member {memberId} is not a member of group {GroupId}.");
        if (!transactional && !version9OrLater && !member.UsesClassicProtocol)
            return new OffsetCommitResponse(ErrorCode.UnsupportedVersion, [], "OffsetCommit version 9 or above must be used by members using the consumer group protocol");
        if (memberEpoch != member.MemberEpoch)
            return member.UsesClassicProtocol
                ? new OffsetCommitResponse(ErrorCode.IllegalGeneration, [],
                    $"The received generation id {memberEpoch} does not match the expected member epoch {member.MemberEpoch}.")
                : new OffsetCommitResponse(transactional ? ErrorCode.IllegalGeneration : ErrorCode.StaleMemberEpoch, [],
                    $"The received member epoch {memberEpoch} does not match the expected member epoch {member.MemberEpoch}.");
        return null;
    }

    /// <summary>Kafka's <c>ConsumerGroup.validateOffsetFetch</c>: a fetch naming a member must be that member's, in its epoch.</summary>
    public OffsetFetchResponse? ValidateOffsetFetch(string? memberId, int memberEpoch)
    {
        if (memberId is null && memberEpoch < 0) return null;
        if (memberId is null || !_members.TryGetValue(memberId, out var member))
            return new OffsetFetchResponse(ErrorCode.UnknownMemberId, [], $"Member {memberId} is not a member of group {GroupId}.");
        if (memberEpoch != member.MemberEpoch)
            return member.UsesClassicProtocol
                ? new OffsetFetchResponse(ErrorCode.IllegalGeneration, [],
                    $"The received generation id {memberEpoch} does not match the expected member epoch {member.MemberEpoch}.")
                : new OffsetFetchResponse(ErrorCode.StaleMemberEpoch, [],
                    $"The received member epoch {memberEpoch} does not match the expected member epoch {member.MemberEpoch}.");
        return null;
    }

    /// <summary>Whether a member subscribes to <paramref name="topic"/> (OffsetDelete's GroupSubscribedToTopic).</summary>
    public bool IsSubscribedToTopic(string topic)
    {
        foreach (var m in _members.Values)
            foreach (var t in TopicsOf(m))
                if (t == topic) return true;
        return false;
    }

    // ---- description -------------------------------------------------------------------------------------------

    public ConsumerGroupDescribeResult Describe()
    {
        var names = new Dictionary<Guid, string>(_subscribed.Count);
        foreach (var (name, t) in _subscribed) names[t.TopicId] = name;
        var members = new List<ConsumerGroupDescribedMember>(_members.Count);
        foreach (var m in Sorted())
            members.Add(new ConsumerGroupDescribedMember(m.MemberId, m.InstanceId, m.RackId, m.MemberEpoch, m.ClientId, m.ClientHost,
                m.SubscribedTopicNames, m.SubscribedTopicRegex, Named(m.AssignedPartitions, names), Named(_target.GetValueOrDefault(m.MemberId) ?? [], names),
                m.UsesClassicProtocol));
        return new ConsumerGroupDescribeResult(GroupId, ErrorCode.None, null, StateName, GroupEpoch, AssignmentEpoch, AssignorName, members);
    }

    /// <summary>
    /// The group as DescribeGroups and ListGroups show it (Kafka 4's <c>asDescribedGroup</c>): protocol type "consumer",
    /// the assignor as the protocol, each member's subscription and assignment by topic name.
    /// </summary>
    public GroupDescription DescribeAsClassic()
    {
        var names = new Dictionary<Guid, string>(_subscribed.Count);
        foreach (var (name, t) in _subscribed) names[t.TopicId] = name;
        var members = new List<GroupMemberDescription>(_members.Count);
        foreach (var m in Sorted())
        {
            var partitions = new List<TopicPartition>();
            foreach (var t in Named(m.AssignedPartitions, names))
                foreach (var p in t.Partitions) partitions.Add(new TopicPartition(t.TopicName, p));
            members.Add(new GroupMemberDescription(m.MemberId, m.ClientId, m.SubscribedTopicNames, new ConsumerProtocolAssignment(partitions), m.InstanceId,
                new ConsumerProtocolSubscription(m.SubscribedTopicNames, [])));
        }
        var state = StateName;
        return new GroupDescription(GroupId, ErrorCode.None, state == "Stable" ? GroupState.Stable : state == "Empty" ? GroupState.Empty : GroupState.PreparingRebalance,
            GroupKeys.ConsumerProtocolType, AssignorName, GroupEpoch, null, members, GroupKeys.ConsumerGroupType, state);
    }

    private List<ConsumerGroupMember> Sorted()
    {
        var list = new List<ConsumerGroupMember>(_members.Values);
        list.Sort(static (a, b) => string.CompareOrdinal(a.MemberId, b.MemberId));
        return list;
    }

    private static List<NamedTopicIdPartitions> Named(Dictionary<Guid, HashSet<int>> assignment, Dictionary<Guid, string> names)
    {
        var list = new List<NamedTopicIdPartitions>(assignment.Count);
        foreach (var t in ConsumerGroupMember.ToList(assignment))
            list.Add(new NamedTopicIdPartitions(t.TopicId, names.GetValueOrDefault(t.TopicId) ?? "", t.Partitions));
        return list;
    }

    // ---- persistence -------------------------------------------------------------------------------------------

    /// <summary>What Kafka writes to <c>__consumer_offsets</c> for a consumer group: epochs, members, their and the target assignment.</summary>
    public StoredConsumerGroup? ToStored()
    {
        if (_members.Count == 0 && GroupEpoch == 0) return null;
        var members = new List<StoredConsumerGroupMember>(_members.Count);
        foreach (var m in Sorted())
            members.Add(new StoredConsumerGroupMember(m.MemberId, m.InstanceId, m.RackId, m.ClientId, m.ClientHost, m.MemberEpoch, m.PreviousMemberEpoch,
                m.State, m.RebalanceTimeoutMs, [.. m.SubscribedTopicNames], m.SubscribedTopicRegex, m.ServerAssignor, ConsumerGroupMember.ToList(m.AssignedPartitions),
                ConsumerGroupMember.ToList(m.PartitionsPendingRevocation), ConsumerGroupMember.ToList(_target.GetValueOrDefault(m.MemberId) ?? []),
                m.Principal, m.PrincipalHost, m.Classic?.SessionTimeoutMs ?? 0, m.Classic is { } c ? [.. c.Protocols] : null));
        return new StoredConsumerGroup(GroupEpoch, AssignmentEpoch, AssignorName, new Dictionary<string, SubscribedTopic>(_subscribed), members, EmptySinceMs);
    }

    /// <summary>
    /// The group as stored, as a new coordinator loads it: members keep their epochs and partitions, and each session
    /// starts again from the load.
    /// </summary>
    public void Load(StoredConsumerGroup? stored)
    {
        Clear();
        if (stored is null) return;
        GroupEpoch = stored.GroupEpoch;
        AssignmentEpoch = stored.AssignmentEpoch;
        AssignorName = stored.AssignorName;
        EmptySinceMs = stored.EmptySinceMs;
        _subscribed = new Dictionary<string, SubscribedTopic>(stored.Subscribed, StringComparer.Ordinal);
        var now = NowMs;
        foreach (var s in stored.Members)
        {
            var m = new ConsumerGroupMember(s.MemberId)
            {
                InstanceId = s.InstanceId, RackId = s.RackId, ClientId = s.ClientId, ClientHost = s.ClientHost, MemberEpoch = s.MemberEpoch,
                PreviousMemberEpoch = s.PreviousMemberEpoch, State = s.State, RebalanceTimeoutMs = s.RebalanceTimeoutMs,
                SubscribedTopicNames = s.SubscribedTopicNames, SubscribedTopicRegex = s.SubscribedTopicRegex, ServerAssignor = s.ServerAssignor,
                Principal = s.Principal, PrincipalHost = s.PrincipalHost,
                Classic = s.ClassicProtocols is { Count: > 0 } protocols ? new ClassicMemberMetadata(s.ClassicSessionTimeoutMs, protocols) : null,
            };
            m.SessionDeadlineMs = now + (m.Classic?.SessionTimeoutMs ?? Settings.SessionTimeoutMs);
            m.RebalanceDeadlineMs = s.State == MemberState.UnrevokedPartitions && m.Classic is null ? now + Math.Max(s.RebalanceTimeoutMs, 0) : -1;
            _members[m.MemberId] = m;
            if (m.InstanceId is not null) _staticMembers[m.InstanceId] = m.MemberId;
            SetOwnership(m, ConsumerGroupMember.From(s.Assigned), ConsumerGroupMember.From(s.PendingRevocation));
            _target[m.MemberId] = ConsumerGroupMember.From(s.Target);
        }
        // The regexes' matches among the topics the group held, until the next look finds any new one.
        ResolveRegexes(_subscribed);
    }

    /// <summary>The group is removed: nothing remains but its epoch, so a group made again starts after it.</summary>
    public void Clear()
    {
        _members.Clear();
        _staticMembers.Clear();
        _partitionEpochs.Clear();
        _target.Clear();
        _regexTopics.Clear();
        _subscribed = new Dictionary<string, SubscribedTopic>(StringComparer.Ordinal);
        _metadataRefreshDeadlineMs = 0;
        EmptySinceMs = -1;
    }
}

/// <summary>A consumer group as stored (Kafka's ConsumerGroupMetadata, TargetAssignment and CurrentMemberAssignment records).</summary>
[GenerateSerializer]
public sealed record StoredConsumerGroup(
    int GroupEpoch,
    int AssignmentEpoch,
    string AssignorName,
    Dictionary<string, SubscribedTopic> Subscribed,
    List<StoredConsumerGroupMember> Members,
    long EmptySinceMs);

[GenerateSerializer]
public sealed record StoredConsumerGroupMember(
    string MemberId,
    string? InstanceId,
    string? RackId,
    string ClientId,
    string ClientHost,
    int MemberEpoch,
    int PreviousMemberEpoch,
    MemberState State,
    int RebalanceTimeoutMs,
    List<string> SubscribedTopicNames,
    string? SubscribedTopicRegex,
    string? ServerAssignor,
    List<TopicIdPartitions> Assigned,
    List<TopicIdPartitions> PendingRevocation,
    List<TopicIdPartitions> Target,
    string? Principal = null,
    string? PrincipalHost = null,
    int ClassicSessionTimeoutMs = 0,
    List<JoinGroupProtocol>? ClassicProtocols = null);
