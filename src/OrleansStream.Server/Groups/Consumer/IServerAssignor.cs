namespace OrleansStream.Server.Groups.Consumer;

/// <summary>Kafka's ConsumerGroupPartitionAssignor: computes a group's target assignment on the coordinator (KIP-848).</summary>
internal interface IServerAssignor
{
    /// <summary>"uniform" or "range", the name clients send in ConsumerGroupHeartbeat's ServerAssignor.</summary>
    string Name { get; }

    /// <summary>
    /// <paramref name="members"/>: every member's subscription (topic ids) and its partitions in the current target
    /// assignment (empty for a new member); <paramref name="partitionCounts"/>: the partition count of each topic that
    /// exists (a subscribed id missing here has no partitions). Returns every member id of <paramref name="members"/>,
    /// each with its new target (topic id → partitions; a member with nothing gets an empty dictionary).
    /// </summary>
    Dictionary<string, Dictionary<Guid, HashSet<int>>> Assign(
        IReadOnlyDictionary<string, AssignmentMemberSpec> members,
        IReadOnlyDictionary<Guid, int> partitionCounts);
}

/// <summary>A member as its group's assignor sees it: what it subscribes to and what its current target holds.</summary>
internal sealed record AssignmentMemberSpec(
    IReadOnlySet<Guid> SubscribedTopicIds,
    IReadOnlyDictionary<Guid, IReadOnlySet<int>> CurrentAssignment);

/// <summary>The server-side assignors a group may name.</summary>
internal static class ServerAssignors
{
    /// <summary>The assignors by name; the first is the default (uniform), as Kafka's group.consumer.assignors.</summary>
    public static IReadOnlyList<IServerAssignor> All { get; } = [new UniformAssignor(), new RangeAssignor()];

    /// <summary>The assignor named <paramref name="name"/> (ordinal), or null for an unknown or null name.</summary>
    public static IServerAssignor? Find(string? name)
    {
        if (name is null) return null;
        foreach (var assignor in All)
            if (string.Equals(assignor.Name, name, StringComparison.Ordinal)) return assignor;
        return null;
    }

    /// <summary>The assignor of a group whose members name none.</summary>
    public static IServerAssignor Default => All[0];
}
