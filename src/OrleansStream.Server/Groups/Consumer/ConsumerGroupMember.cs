namespace OrleansStream.Server.Groups.Consumer;

/// <summary>Kafka's <c>MemberState</c>: where a member is in reconciling its assignment with the target.</summary>
public enum MemberState
{
    /// <summary>The member holds its target assignment of its epoch.</summary>
    Stable,

    /// <summary>The member must give up partitions (<see cref="ConsumerGroupMember.PartitionsPendingRevocation"/>) before its epoch moves on.</summary>
    UnrevokedPartitions,

    /// <summary>The member waits for partitions of its target that another member has not released yet.</summary>
    UnreleasedPartitions,
}

/// <summary>
/// What a classic member of a consumer group joined with (Kafka's <c>ConsumerGroupMemberMetadataValue.ClassicMemberMetadata</c>):
/// its session timeout and its protocols (assignors) with their subscription, as its JoinGroup sent them.
/// </summary>
internal sealed record ClassicMemberMetadata(int SessionTimeoutMs, IReadOnlyList<JoinGroupProtocol> Protocols)
{
    public bool Supports(string protocol)
    {
        foreach (var p in Protocols)
            if (p.Name == protocol) return true;
        return false;
    }
}

/// <summary>
/// Kafka's <c>ConsumerGroupMember</c> (KIP-848): a member's identity and subscription, its epoch and the partitions it
/// holds. The coordinator changes it only between awaits of the group grain.
/// </summary>
internal sealed class ConsumerGroupMember(string memberId)
{
    public string MemberId { get; set; } = memberId;

    public string? InstanceId { get; set; }

    public string? RackId { get; set; }

    public string ClientId { get; set; } = "";

    public string ClientHost { get; set; } = "";

    /// <summary>
    /// The Kafka principal and ACL host of the member's connection when the broker authorizes (null otherwise, and for
    /// our SDK's members): its regex matches only topics that principal may DESCRIBE.
    /// </summary>
    public string? Principal { get; set; }

    public string? PrincipalHost { get; set; }

    /// <summary>The epoch of the assignment the member holds; 0 before its first, -2 while a static member is away.</summary>
    public int MemberEpoch { get; set; }

    /// <summary>The epoch before the last change: a heartbeat with it is taken when its answer may have been lost.</summary>
    public int PreviousMemberEpoch { get; set; } = -1;

    public MemberState State { get; set; } = MemberState.Stable;

    public int RebalanceTimeoutMs { get; set; } = -1;

    public IReadOnlyList<string> SubscribedTopicNames { get; set; } = [];

    /// <summary>The member's topic pattern (Kafka 4's SubscribedTopicRegex, matched whole against every topic name); null when none.</summary>
    public string? SubscribedTopicRegex { get; set; }

    public string? ServerAssignor { get; set; }

    /// <summary>The partitions the member owns now (its epoch's assignment, without those pending revocation).</summary>
    public Dictionary<Guid, HashSet<int>> AssignedPartitions { get; set; } = [];

    /// <summary>The partitions the member must revoke before it moves to its next epoch.</summary>
    public Dictionary<Guid, HashSet<int>> PartitionsPendingRevocation { get; set; } = [];

    /// <summary>When the session ends without a heartbeat (ms, the coordinator's clock).</summary>
    public long SessionDeadlineMs { get; set; }

    /// <summary>When a member that has not revoked its partitions is fenced (ms); -1 when it owes nothing.</summary>
    public long RebalanceDeadlineMs { get; set; } = -1;

    /// <summary>
    /// Kafka's <c>ClassicMemberMetadata</c>: set for a member that speaks the classic protocol inside the consumer group
    /// (JoinGroup, SyncGroup, Heartbeat), null for a ConsumerGroupHeartbeat member.
    /// </summary>
    public ClassicMemberMetadata? Classic { get; set; }

    public bool UsesClassicProtocol => Classic is not null;

    /// <summary>When a classic member told to rejoin is fenced without a JoinGroup (Kafka's join timeout; ms, -1: none).</summary>
    public long JoinDeadlineMs { get; set; } = -1;

    /// <summary>When a classic member that joined is fenced without a SyncGroup (Kafka's sync timeout; ms, -1: none).</summary>
    public long SyncDeadlineMs { get; set; } = -1;

    public bool IsReconciledTo(int targetEpoch) => State == MemberState.Stable && MemberEpoch == targetEpoch;

    public bool HasSameSubscription(IReadOnlyList<string> names)
    {
        if (names.Count != SubscribedTopicNames.Count) return false;
        var mine = new HashSet<string>(SubscribedTopicNames, StringComparer.Ordinal);
        foreach (var n in names)
            if (!mine.Contains(n)) return false;
        return true;
    }

    public static bool SameAssignment(Dictionary<Guid, HashSet<int>> a, Dictionary<Guid, HashSet<int>> b)
    {
        if (a.Count != b.Count) return false;
        foreach (var (topic, partitions) in a)
            if (!b.TryGetValue(topic, out var other) || !partitions.SetEquals(other)) return false;
        return true;
    }

    public static Dictionary<Guid, HashSet<int>> Copy(IReadOnlyDictionary<Guid, HashSet<int>> assignment)
    {
        var copy = new Dictionary<Guid, HashSet<int>>(assignment.Count);
        foreach (var (topic, partitions) in assignment) copy[topic] = [.. partitions];
        return copy;
    }

    public static Dictionary<Guid, HashSet<int>> From(IReadOnlyList<TopicIdPartitions>? partitions)
    {
        var result = new Dictionary<Guid, HashSet<int>>();
        foreach (var t in partitions ?? [])
        {
            if (!result.TryGetValue(t.TopicId, out var set)) result[t.TopicId] = set = [];
            foreach (var p in t.Partitions) set.Add(p);
        }
        return result;
    }

    public static List<TopicIdPartitions> ToList(Dictionary<Guid, HashSet<int>> assignment)
    {
        var list = new List<TopicIdPartitions>(assignment.Count);
        foreach (var (topic, partitions) in assignment)
        {
            var sorted = new List<int>(partitions);
            sorted.Sort();
            list.Add(new TopicIdPartitions(topic, sorted));
        }
        list.Sort(static (x, y) => x.TopicId.CompareTo(y.TopicId));
        return list;
    }
}
