namespace OrleansStream.Server.Controller;

/// <summary>A partition's new leader, epochs and ISR (Kafka's PartitionChangeRecord), applied to the controller's state.</summary>
internal sealed record PartitionChange(int Leader, int LeaderEpoch, List<int> Isr, int PartitionEpoch, int OldLeader, bool Unclean)
{
    public void ApplyTo(PartitionAssignment p)
    {
        p.Leader = Leader;
        p.LeaderEpoch = LeaderEpoch;
        p.Isr = Isr;
        p.PartitionEpoch = PartitionEpoch;
    }
}

/// <summary>A replica moved off a broker out of membership (see <see cref="PartitionChangeBuilder.Reassign"/>).</summary>
internal readonly record struct ReplicaMove(int ReplicaId, string From, string To);

/// <summary>
/// The controller's election, ISR and reassignment rules as pure functions of a partition's state (Kafka's
/// <c>PartitionChangeBuilder</c>): nothing here reads membership, clocks or storage, so each rule is tested alone.
/// </summary>
internal static class PartitionChangeBuilder
{
    /// <summary>
    /// Moves leadership off a leader whose broker is not in <paramref name="live"/> (to the first live ISR member; to
    /// any live replica only when <paramref name="uncleanLeaderElection"/>) and drops replicas of brokers not live from
    /// the ISR, never its last member: Kafka keeps it so a clean election can wait for it. In a
    /// <paramref name="controlledShutdown"/> (the leaving broker is already out of <paramref name="live"/>) a leader
    /// nobody can take over from stays, and no election is unclean. Brokers in <paramref name="ineligible"/> (Kafka's
    /// brokers in controlled shutdown) are live, so a leader or ISR member there stays, but are never elected: a broker
    /// about to stop would take the partition down with it moments later. Null when nothing changes.
    /// </summary>
    public static PartitionChange? Elect(PartitionAssignment p, IReadOnlySet<string> live, bool uncleanLeaderElection, bool controlledShutdown,
        IReadOnlySet<string>? ineligible = null)
    {
        var leader = p.Leader;
        var leaderEpoch = p.LeaderEpoch;
        var isr = p.Isr;
        var unclean = false;
        var changed = false;
        if (leader < 0 || !live.Contains(p.Replicas[leader]))
        {
            var candidate = -1;
            foreach (var id in isr)
                if (Electable(p.Replicas[id], live, ineligible)) { candidate = id; break; }
            if (candidate < 0 && !controlledShutdown && uncleanLeaderElection)
                for (var id = 0; id < p.Replicas.Count && candidate < 0; id++)
                    if (Electable(p.Replicas[id], live, ineligible)) { candidate = id; unclean = true; }
            // A controlled shutdown with nobody to take over keeps its leader; a dead leader is removed regardless.
            if (candidate >= 0 || (!controlledShutdown && leader >= 0))
            {
                leader = candidate;
                leaderEpoch++;
                if (candidate >= 0 && !isr.Contains(candidate)) isr = [candidate];
                changed = true;
            }
        }
        var next = new List<int>(isr.Count);
        foreach (var id in isr)
            if (id == leader || live.Contains(p.Replicas[id])) next.Add(id);
        if (next.Count == 0 && isr.Count > 0) next.Add(isr[0]);
        if (!next.SequenceEqual(p.Isr)) changed = true;
        return changed ? new PartitionChange(leader, leaderEpoch, next, p.PartitionEpoch + 1, p.Leader, unclean) : null;
    }

    private static bool Electable(string broker, IReadOnlySet<string> live, IReadOnlySet<string>? ineligible) =>
        live.Contains(broker) && (ineligible is null || !ineligible.Contains(broker));

    /// <summary>The preferred replica: the first of the assignment, the one a partition is created led by.</summary>
    public const int PreferredReplica = 0;

    /// <summary>
    /// Kafka's preferred replica election: the preferred replica takes over, in a new leader epoch and with the ISR as
    /// it is, where it is live and in the ISR (a clean election, so nothing acknowledged is lost). Null when it leads
    /// already or cannot.
    /// </summary>
    public static PartitionChange? ElectPreferred(PartitionAssignment p, IReadOnlySet<string> live)
    {
        if (p.Leader == PreferredReplica || p.Replicas.Count == 0 || !p.Isr.Contains(PreferredReplica) || !live.Contains(p.Replicas[PreferredReplica]))
            return null;
        return new PartitionChange(PreferredReplica, p.LeaderEpoch + 1, [.. p.Isr], p.PartitionEpoch + 1, p.Leader, Unclean: false);
    }

    /// <summary>
    /// Kafka's AlterPartition from leader <paramref name="leaderReplicaId"/> in <paramref name="leaderEpoch"/>, based on
    /// <paramref name="partitionEpoch"/>: the error (FencedLeaderEpoch, NotLeaderOrFollower, InvalidUpdateVersion,
    /// InvalidRequest) or the change, null when the ISR is already the requested one. A follower on a broker not in
    /// <paramref name="live"/> that is not in the ISR does not come back in through a late request. One on a broker in
    /// <paramref name="ineligible"/> (controlled shutdown) refuses the whole request with IneligibleReplica, Kafka's rule
    /// (KIP-841): the ISR a broker left when it asked to stop is not rejoined before it stops.
    /// </summary>
    public static (ErrorCode Error, PartitionChange? Change) AlterIsr(PartitionAssignment p, int leaderReplicaId, int leaderEpoch,
        int partitionEpoch, IReadOnlyList<int> isr, IReadOnlySet<string> live, IReadOnlySet<string>? ineligible = null)
    {
        if (leaderEpoch != p.LeaderEpoch) return (ErrorCode.FencedLeaderEpoch, null);
        if (leaderReplicaId != p.Leader) return (ErrorCode.NotLeaderOrFollower, null);
        // Two requests of one leader epoch may cross; only the one based on the current state may apply.
        if (partitionEpoch != p.PartitionEpoch) return (ErrorCode.InvalidUpdateVersion, null);
        var next = new List<int>(isr.Count);
        foreach (var id in isr)
        {
            if ((uint)id >= (uint)p.Replicas.Count || next.Contains(id)) return (ErrorCode.InvalidRequest, null);
            if (id != p.Leader && !p.Isr.Contains(id))
            {
                if (!live.Contains(p.Replicas[id])) continue;
                if (ineligible is not null && ineligible.Contains(p.Replicas[id])) return (ErrorCode.IneligibleReplica, null);
            }
            next.Add(id);
        }
        if (!next.Contains(p.Leader)) return (ErrorCode.InvalidRequest, null);
        next.Sort();
        if (next.SequenceEqual(p.Isr)) return (ErrorCode.None, null);
        return (ErrorCode.None, new PartitionChange(p.Leader, p.LeaderEpoch, next, p.PartitionEpoch + 1, p.Leader, false));
    }

    /// <summary>
    /// Moves replicas on brokers in <paramref name="overdue"/> (out of membership longer than the reassignment delay)
    /// to live brokers holding no replica of the partition, as <paramref name="assigner"/> picks. Only out-of-sync
    /// replicas of a partition with a leader move: the leader is what the new replica rebuilds from, and a replica kept
    /// as the last ISR member may be the only copy of acknowledged records. <paramref name="waiting"/> gets the brokers
    /// whose replicas would move once overdue. Applies the moves to <paramref name="p"/> (replicas and partition epoch).
    /// </summary>
    public static List<ReplicaMove>? Reassign(PartitionAssignment p, IReadOnlySet<string> live, IReadOnlySet<string> overdue,
        ReplicaAssigner assigner, ICollection<string> waiting)
    {
        if (p.Leader < 0) return null;
        List<ReplicaMove>? moves = null;
        for (var r = 0; r < p.Replicas.Count; r++)
        {
            var broker = p.Replicas[r];
            if (live.Contains(broker) || p.Isr.Contains(r)) continue;
            if (!overdue.Contains(broker))
            {
                waiting.Add(broker);
                continue;
            }
            if (assigner.Replace(p.Replicas) is not { } target) continue;
            p.Replicas[r] = target;
            (moves ??= []).Add(new ReplicaMove(r, broker, target));
        }
        if (moves is not null) p.PartitionEpoch++;
        return moves;
    }
}
