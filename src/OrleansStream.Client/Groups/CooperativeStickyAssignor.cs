namespace OrleansStream.Client;

/// <summary>
/// Kafka's CooperativeStickyAssignor (KIP-429): a balanced assignment that keeps every member's owned partitions
/// where balance allows, and that moves a partition in two steps: in the first rebalance it is taken from its old
/// owner and given to nobody; the old owner revokes it and rejoins, and the next rebalance gives it to its new owner.
/// Members never stop consuming what stays theirs.
/// <para>Balance: with the same subscriptions, every member gets ⌊P/M⌋ or ⌈P/M⌉ partitions. A fresh group of three
/// over t-0..t-5 gets A: t-0, t-3; B: t-1, t-4; C: t-2, t-5 (round robin). Adding D takes one partition from the
/// member that owned the most (ties: highest member id keeps fewer), withholds it for one generation, then gives it to D.</para>
/// </summary>
public sealed class CooperativeStickyAssignor : IPartitionAssignor
{
    public string Name => PartitionAssignors.CooperativeSticky;

    public RebalanceProtocol Protocol => RebalanceProtocol.Cooperative;

    public IReadOnlyDictionary<string, IReadOnlyList<TopicPartition>> Assign(
        IReadOnlyDictionary<string, int> partitionsPerTopic,
        IReadOnlyDictionary<string, ConsumerProtocolSubscription> subscriptions)
    {
        var members = PartitionAssignors.SortedMembers(subscriptions);
        var assignment = PartitionAssignors.EmptyAssignment(members);
        if (members.Count == 0) return PartitionAssignors.Freeze(assignment);

        var all = AllPartitions(partitionsPerTopic, subscriptions, members);
        var previousOwner = PreviousOwners(partitionsPerTopic, subscriptions, members);
        var owned = new Dictionary<string, List<TopicPartition>>(StringComparer.Ordinal);
        foreach (var m in members) owned[m] = [];
        foreach (var tp in all)
            if (previousOwner.TryGetValue(tp, out var owner)) owned[owner].Add(tp);

        if (SameSubscriptions(subscriptions, members))
            AssignBalanced(all, members, owned, assignment);
        else
            AssignGeneral(all, members, owned, assignment, subscriptions);

        // The cooperative step: a partition changing hands is withheld until its old owner has revoked it.
        foreach (var m in members)
            assignment[m].RemoveAll(tp => previousOwner.TryGetValue(tp, out var owner) && owner != m);
        return PartitionAssignors.Freeze(assignment);
    }

    private static List<TopicPartition> AllPartitions(
        IReadOnlyDictionary<string, int> partitionsPerTopic,
        IReadOnlyDictionary<string, ConsumerProtocolSubscription> subscriptions,
        List<string> members)
    {
        var topics = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var m in members)
            foreach (var t in subscriptions[m].Topics)
                if (partitionsPerTopic.ContainsKey(t)) topics.Add(t);
        var all = new List<TopicPartition>();
        foreach (var t in topics)
            for (var p = 0; p < partitionsPerTopic[t]; p++) all.Add(new TopicPartition(t, p));
        return all;
    }

    /// <summary>Who owns what, from the members' own reports; of two claims the newer generation wins, a tie leaves it unowned.</summary>
    private static Dictionary<TopicPartition, string> PreviousOwners(
        IReadOnlyDictionary<string, int> partitionsPerTopic,
        IReadOnlyDictionary<string, ConsumerProtocolSubscription> subscriptions,
        List<string> members)
    {
        var claims = new Dictionary<TopicPartition, (string Member, int Generation, bool Contested)>();
        foreach (var m in members)
        {
            var s = subscriptions[m];
            foreach (var tp in s.OwnedPartitions)
            {
                if (!partitionsPerTopic.TryGetValue(tp.Topic, out var count) || tp.Partition >= count || !PartitionAssignors.Subscribes(s, tp.Topic))
                    continue;
                if (!claims.TryGetValue(tp, out var c) || s.GenerationId > c.Generation)
                    claims[tp] = (m, s.GenerationId, false);
                else if (s.GenerationId == c.Generation)
                    claims[tp] = c with { Contested = true };
            }
        }
        var owners = new Dictionary<TopicPartition, string>();
        foreach (var (tp, c) in claims)
            if (!c.Contested) owners[tp] = c.Member;
        return owners;
    }

    private static bool SameSubscriptions(IReadOnlyDictionary<string, ConsumerProtocolSubscription> subscriptions, List<string> members)
    {
        var first = new HashSet<string>(subscriptions[members[0]].Topics, StringComparer.Ordinal);
        foreach (var m in members)
            if (!first.SetEquals(subscriptions[m].Topics)) return false;
        return true;
    }

    private static void AssignBalanced(
        List<TopicPartition> all,
        List<string> members,
        Dictionary<string, List<TopicPartition>> owned,
        Dictionary<string, List<TopicPartition>> assignment)
    {
        var minQuota = all.Count / members.Count;
        var withExtra = all.Count % members.Count;
        var maxQuota = withExtra == 0 ? minQuota : minQuota + 1;

        // Those who own the most keep the most: they are the ones balance would otherwise move the most from.
        var byOwned = new List<string>(members);
        byOwned.Sort((a, b) => owned[a].Count != owned[b].Count ? owned[b].Count.CompareTo(owned[a].Count) : string.CompareOrdinal(a, b));
        var target = new Dictionary<string, int>(StringComparer.Ordinal);
        var extraLeft = withExtra;
        var taken = new HashSet<TopicPartition>();
        foreach (var m in byOwned)
        {
            var keep = Math.Min(owned[m].Count, extraLeft > 0 ? maxQuota : minQuota);
            if (keep > minQuota) extraLeft--;
            for (var i = 0; i < keep; i++)
            {
                assignment[m].Add(owned[m][i]);
                taken.Add(owned[m][i]);
            }
        }
        foreach (var m in members)
        {
            if (assignment[m].Count > minQuota) target[m] = maxQuota;
            else if (extraLeft > 0 && maxQuota > minQuota) { target[m] = maxQuota; extraLeft--; }
            else target[m] = minQuota;
        }

        // The rest go round robin to members below their target, in member-id order.
        var next = 0;
        foreach (var tp in all)
        {
            if (taken.Contains(tp)) continue;
            for (var tries = 0; tries < members.Count; tries++)
            {
                var m = members[next];
                next = (next + 1) % members.Count;
                if (assignment[m].Count < target[m])
                {
                    assignment[m].Add(tp);
                    break;
                }
            }
        }
    }

    /// <summary>Members with different subscriptions: keep what is owned, fill the least loaded, then even out by moving single partitions.</summary>
    private static void AssignGeneral(
        List<TopicPartition> all,
        List<string> members,
        Dictionary<string, List<TopicPartition>> owned,
        Dictionary<string, List<TopicPartition>> assignment,
        IReadOnlyDictionary<string, ConsumerProtocolSubscription> subscriptions)
    {
        var taken = new HashSet<TopicPartition>();
        foreach (var m in members)
            foreach (var tp in owned[m])
            {
                assignment[m].Add(tp);
                taken.Add(tp);
            }
        foreach (var tp in all)
        {
            if (taken.Contains(tp)) continue;
            string? best = null;
            foreach (var m in members)
                if (PartitionAssignors.Subscribes(subscriptions[m], tp.Topic) && (best is null || assignment[m].Count < assignment[best].Count))
                    best = m;
            if (best is not null) assignment[best].Add(tp);
        }

        // Move one partition at a time from a loaded member to one with at least two fewer that can take it.
        for (var moves = 0; moves < all.Count * members.Count; moves++)
        {
            var moved = false;
            var byLoad = new List<string>(members);
            byLoad.Sort((a, b) => assignment[a].Count != assignment[b].Count ? assignment[b].Count.CompareTo(assignment[a].Count) : string.CompareOrdinal(a, b));
            foreach (var from in byLoad)
            {
                for (var i = byLoad.Count - 1; i >= 0 && !moved; i--)
                {
                    var to = byLoad[i];
                    if (assignment[from].Count - assignment[to].Count < 2) break;
                    var list = assignment[from];
                    for (var j = list.Count - 1; j >= 0; j--)
                    {
                        if (!PartitionAssignors.Subscribes(subscriptions[to], list[j].Topic)) continue;
                        assignment[to].Add(list[j]);
                        list.RemoveAt(j);
                        moved = true;
                        break;
                    }
                }
                if (moved) break;
            }
            if (!moved) break;
        }
    }
}
