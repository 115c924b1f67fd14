namespace OrleansStream.Server.Groups.Consumer;

/// <summary>
/// Kafka's <c>CurrentAssignmentBuilder</c> (KIP-848): moves one member from the partitions it holds toward its target
/// assignment, one safe step per heartbeat. Partitions leave the member first (it stays in its epoch until it reports
/// them revoked); only then does it move to the target epoch and gain partitions, and of those only the ones no other
/// member still holds (the rest wait, <see cref="MemberState.UnreleasedPartitions"/>). So no partition ever has two
/// owners, which is what lets a member commit offsets with its epoch alone.
/// </summary>
internal static class CurrentAssignmentBuilder
{
    /// <summary>The member's next state, or null when it stays as it is.</summary>
    /// <param name="owned">The partitions the member reported holding; null when it did not report them.</param>
    /// <param name="ownerEpoch">The epoch of the member that holds a partition now (-1: free).</param>
    public static Step? Next(
        ConsumerGroupMember member,
        int targetEpoch,
        Dictionary<Guid, HashSet<int>> target,
        Dictionary<Guid, HashSet<int>>? owned,
        Func<Guid, int, int> ownerEpoch)
    {
        switch (member.State)
        {
            case MemberState.Stable:
                return member.MemberEpoch == targetEpoch ? null : Compute(member.MemberEpoch, member.AssignedPartitions, targetEpoch, target, owned, ownerEpoch);
            case MemberState.UnrevokedPartitions:
                // Revoked once the member no longer reports them; until it does, nothing moves.
                if (OwnsAny(owned, member.PartitionsPendingRevocation)) return null;
                return Compute(member.MemberEpoch + 1, member.AssignedPartitions, targetEpoch, target, owned, ownerEpoch);
            default:
                return Compute(member.MemberEpoch, member.AssignedPartitions, targetEpoch, target, owned, ownerEpoch);
        }
    }

    public readonly record struct Step(MemberState State, int MemberEpoch, Dictionary<Guid, HashSet<int>> Assigned, Dictionary<Guid, HashSet<int>> PendingRevocation);

    /// <summary>Whether the member still reports any of <paramref name="revoking"/>; one that reported nothing is taken to.</summary>
    private static bool OwnsAny(Dictionary<Guid, HashSet<int>>? owned, Dictionary<Guid, HashSet<int>> revoking)
    {
        if (owned is null) return true;
        foreach (var (topic, partitions) in owned)
            if (revoking.TryGetValue(topic, out var pending) && pending.Overlaps(partitions)) return true;
        return false;
    }

    private static Step Compute(
        int memberEpoch,
        Dictionary<Guid, HashSet<int>> current,
        int targetEpoch,
        Dictionary<Guid, HashSet<int>> target,
        Dictionary<Guid, HashSet<int>>? owned,
        Func<Guid, int, int> ownerEpoch)
    {
        var unreleased = false;
        var assigned = new Dictionary<Guid, HashSet<int>>();
        var revoking = new Dictionary<Guid, HashSet<int>>();
        var gaining = new Dictionary<Guid, HashSet<int>>();
        var topics = new HashSet<Guid>(target.Keys);
        topics.UnionWith(current.Keys);
        foreach (var topic in topics)
        {
            var wanted = target.TryGetValue(topic, out var t) ? t : [];
            var held = current.TryGetValue(topic, out var c) ? c : [];
            var keep = new HashSet<int>(held);
            keep.IntersectWith(wanted);
            var give = new HashSet<int>(held);
            give.ExceptWith(keep);
            var take = new HashSet<int>(wanted);
            take.ExceptWith(keep);
            if (take.RemoveWhere(p => ownerEpoch(topic, p) != -1) > 0) unreleased = true;
            if (keep.Count > 0) assigned[topic] = keep;
            if (give.Count > 0) revoking[topic] = give;
            if (take.Count > 0) gaining[topic] = take;
        }

        if (revoking.Count > 0 && OwnsAny(owned, revoking))
            return new Step(MemberState.UnrevokedPartitions, memberEpoch, assigned, revoking);
        foreach (var (topic, partitions) in gaining)
        {
            if (!assigned.TryGetValue(topic, out var set)) assigned[topic] = set = [];
            set.UnionWith(partitions);
        }
        return new Step(unreleased ? MemberState.UnreleasedPartitions : MemberState.Stable, targetEpoch, assigned, []);
    }
}
