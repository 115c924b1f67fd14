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

/// <summary>A replica (by replica id) moved off a broker out of membership (see <see cref="PartitionChangeBuilder.Reassign"/>).</summary>
internal readonly record struct ReplicaMove(int ReplicaId, string From, string To);

/// <summary>
/// What a step of a reassignment (Kafka's KIP-455) did to a partition: the replicas it dropped, whose replicas stop and
/// remove their data, and whether the leader changed.
/// </summary>
internal sealed record ReassignmentStep(List<ReplicaInfo> Removed, bool LeaderChanged);

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
    /// Kafka's <c>changePartitionReassignment</c> with a validated <paramref name="target"/> (brokers, in order): the
    /// replicas become the target followed by the current replicas it leaves out (Kafka's
    /// <c>PartitionReassignmentReplicas</c>), the brokers new to the partition are adding (each a new replica id, which
    /// starts empty and rebuilds from the leader) and those left out are removing. The step completes at once when the
    /// ISR allows it (see <see cref="CompleteReassignment"/>). Null when nothing changes: the target is the current
    /// assignment and no reassignment is in progress.
    /// </summary>
    public static ReassignmentStep? ChangeReassignment(PartitionAssignment p, IReadOnlyList<string> target, IReadOnlySet<string> electable)
    {
        var removing = new List<string>();
        foreach (var b in p.Replicas)
            if (!target.Contains(b)) removing.Add(b);
        var adding = new List<string>();
        foreach (var b in target)
            if (!p.Replicas.Contains(b)) adding.Add(b);
        var brokers = new List<string>(target.Count + removing.Count);
        brokers.AddRange(target);
        brokers.AddRange(removing);
        if (!p.IsReassigning && removing.Count == 0 && brokers.SequenceEqual(p.Replicas)) return null;

        var nextId = 0;
        for (var r = 0; r < p.Replicas.Count; r++) nextId = Math.Max(nextId, p.ReplicaIdAt(r) + 1);
        var ids = new List<int>(brokers.Count);
        foreach (var b in brokers)
            ids.Add(p.Replicas.IndexOf(b) is var at and >= 0 ? p.ReplicaIdAt(at) : nextId++);
        Rebuild(p, brokers, ids, LeaderId(p), IsrIds(p));
        p.AddingReplicas = adding.Count > 0 ? adding : null;
        p.RemovingReplicas = removing.Count > 0 ? removing : null;
        p.PartitionEpoch++;
        return CompleteReassignment(p, electable) ?? new ReassignmentStep([], false);
    }

    /// <summary>
    /// Kafka's completion of a reassignment (<c>PartitionReassignmentReplicas.maybeCompleteReassignment</c>): once every
    /// replica of the target is in the ISR (and some ISR member is not removing), the removing replicas leave the
    /// replicas and the ISR. A leader that is removing hands over to the first in-sync target replica on a broker in
    /// <paramref name="electable"/>, in a new leader epoch; with none, the reassignment waits. Null when nothing completes.
    /// </summary>
    public static ReassignmentStep? CompleteReassignment(PartitionAssignment p, IReadOnlySet<string> electable)
    {
        if (!p.IsReassigning) return null;
        var kept = Without(p, p.RemovingReplicas);
        if (kept.InSync.Count != kept.Ids.Count || kept.InSync.Count == 0) return null;
        var leader = LeaderId(p);
        var leaderChanged = !kept.Ids.Contains(leader);
        if (leaderChanged)
        {
            leader = -1;
            for (var i = 0; i < kept.Brokers.Count && leader < 0; i++)
                if (electable.Contains(kept.Brokers[i])) leader = kept.Ids[i];
            if (leader < 0) return null;
            p.LeaderEpoch++;
        }
        return Finish(p, kept, leader, kept.InSync, leaderChanged);
    }

    /// <summary>
    /// Kafka's cancellation (<c>PartitionReassignmentRevert</c>): the replicas without the adding ones, the ISR without
    /// them. When only adding replicas are in sync the first original replica becomes the ISR, an unclean election, done
    /// only where <paramref name="uncleanLeaderElection"/> (else null: Kafka's InvalidReplicaAssignment). A leader that
    /// was adding hands over to the first in-sync original replica on a broker in <paramref name="electable"/> (none:
    /// no leader until one can lead), in a new leader epoch.
    /// </summary>
    public static ReassignmentStep? RevertReassignment(PartitionAssignment p, bool uncleanLeaderElection, IReadOnlySet<string> electable)
    {
        var kept = Without(p, p.AddingReplicas);
        var isr = kept.InSync;
        if (isr.Count == 0)
        {
            if (!uncleanLeaderElection || kept.Ids.Count == 0) return null;
            isr.Add(kept.Ids[0]);
        }
        var leader = LeaderId(p);
        var leaderChanged = !isr.Contains(leader);
        if (leaderChanged)
        {
            leader = -1;
            for (var i = 0; i < kept.Ids.Count && leader < 0; i++)
                if (isr.Contains(kept.Ids[i]) && electable.Contains(kept.Brokers[i])) leader = kept.Ids[i];
            p.LeaderEpoch++;
        }
        return Finish(p, kept, leader, isr, leaderChanged);
    }

    /// <summary>The replicas that stay when <paramref name="leaving"/> go (brokers and ids, in order), those of them in the ISR (ids), and those that go.</summary>
    private static KeptReplicas Without(PartitionAssignment p, List<string>? leaving)
    {
        var brokers = new List<string>(p.Replicas.Count);
        var ids = new List<int>(p.Replicas.Count);
        var inSync = new List<int>(p.Isr.Count);
        var removed = new List<ReplicaInfo>();
        for (var r = 0; r < p.Replicas.Count; r++)
        {
            var id = p.ReplicaIdAt(r);
            if (leaving is not null && leaving.Contains(p.Replicas[r]))
            {
                removed.Add(new ReplicaInfo(id, p.Replicas[r]));
                continue;
            }
            brokers.Add(p.Replicas[r]);
            ids.Add(id);
            if (p.Isr.Contains(r)) inSync.Add(id);
        }
        return new KeptReplicas(brokers, ids, inSync, removed);
    }

    private readonly record struct KeptReplicas(List<string> Brokers, List<int> Ids, List<int> InSync, List<ReplicaInfo> Removed);

    /// <summary>The reassignment ends (completed or reverted): the kept replicas with their leader and ISR, in a new partition epoch.</summary>
    private static ReassignmentStep Finish(PartitionAssignment p, KeptReplicas kept,
        int leader, List<int> isr, bool leaderChanged)
    {
        Rebuild(p, kept.Brokers, kept.Ids, leader, isr);
        p.AddingReplicas = null;
        p.RemovingReplicas = null;
        p.PartitionEpoch++;
        return new ReassignmentStep(kept.Removed, leaderChanged);
    }

    private static int LeaderId(PartitionAssignment p) => p.Leader >= 0 ? p.ReplicaIdAt(p.Leader) : -1;

    private static List<int> IsrIds(PartitionAssignment p)
    {
        var ids = new List<int>(p.Isr.Count);
        foreach (var position in p.Isr) ids.Add(p.ReplicaIdAt(position));
        return ids;
    }

    /// <summary>
    /// Gives the partition new replicas (brokers and their replica ids, in order) and maps the leader and the ISR, given
    /// as replica ids, to their new positions; replicas left out leave the ISR.
    /// </summary>
    private static void Rebuild(PartitionAssignment p, List<string> brokers, List<int> ids, int leaderId, List<int> isrIds)
    {
        var dense = true;
        for (var i = 0; i < ids.Count; i++) dense &= ids[i] == i;
        var isr = new List<int>(isrIds.Count);
        foreach (var id in isrIds)
            if (ids.IndexOf(id) is var at and >= 0) isr.Add(at);
        isr.Sort();
        p.Replicas = brokers;
        p.ReplicaIds = dense ? null : ids;
        p.Leader = leaderId >= 0 ? ids.IndexOf(leaderId) : -1;
        p.Isr = isr;
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
        // A reassignment in progress names its brokers; moving one of its replicas elsewhere would undo it.
        if (p.Leader < 0 || p.IsReassigning) return null;
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
            (moves ??= []).Add(new ReplicaMove(p.ReplicaIdAt(r), broker, target));
        }
        if (moves is not null) p.PartitionEpoch++;
        return moves;
    }
}
