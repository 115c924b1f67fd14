using System.Runtime.InteropServices;

namespace OrleansStream.Server.Groups.Consumer;

/// <summary>
/// Kafka's server-side <c>UniformAssignor</c>, its default: partitions spread evenly over the members, each member
/// keeping what it holds in its current target where balance allows (balance before stickiness). Kept partitions are
/// those of topics the member still subscribes to that exist, below the topic's partition count; a partition two
/// members claim stays with the first by member id.
/// <para>
/// When every member subscribes to the same topics (<c>UniformHomogeneousAssignmentBuilder</c>), each member's quota is
/// <c>total / members</c>, with the <c>total % members</c> extra partitions going first to members that already hold
/// more than that, so that the fewest partitions move; a member beyond its quota gives up its last partitions and
/// members below theirs are filled, in member order, from the unassigned partitions in topic order. Otherwise
/// (<c>UniformHeterogeneousAssignmentBuilder</c>) every member keeps all it may, the unassigned partitions go one at a
/// time to the least loaded subscriber of their topic, topics with the most partitions per subscriber first, and then,
/// topic by topic, partitions move from the most loaded subscriber holding one of them to the least loaded subscriber
/// while the two differ by more than one, until a pass over the topics moves nothing (at most 16 passes, as Kafka).
/// Ties are broken by member id (ordinal) and topic id (Guid order), never by enumeration order.
/// </para>
/// </summary>
internal sealed class UniformAssignor : IServerAssignor
{
    public const string AssignorName = "uniform";

    /// <summary>Kafka's bound on the heterogeneous balancing passes: each roughly halves what imbalance is left.</summary>
    private const int MaxBalancePasses = 16;

    public string Name => AssignorName;

    public Dictionary<string, Dictionary<Guid, HashSet<int>>> Assign(
        IReadOnlyDictionary<string, AssignmentMemberSpec> members,
        IReadOnlyDictionary<Guid, int> partitionCounts) =>
        new Builder(members, partitionCounts).Build();

    private sealed class Builder
    {
        private readonly string[] _memberIds;
        private readonly Guid[] _topicIds;      // subscribed, existing, with partitions; in Guid order
        private readonly int[][] _subscribers;  // per topic: its subscribers' member indices, ascending
        private readonly int[][] _owners;       // per topic: partition → member index, -1 when unassigned
        private readonly int[] _loads;          // per member: partitions owned

        public Builder(IReadOnlyDictionary<string, AssignmentMemberSpec> members, IReadOnlyDictionary<Guid, int> partitionCounts)
        {
            _memberIds = members.Keys.Order(StringComparer.Ordinal).ToArray();
            _loads = new int[_memberIds.Length];
            _topicIds = members.Values.SelectMany(m => m.SubscribedTopicIds)
                .Where(t => partitionCounts.TryGetValue(t, out var count) && count > 0).Distinct().Order().ToArray();
            var topicIndex = new Dictionary<Guid, int>(_topicIds.Length);
            for (var t = 0; t < _topicIds.Length; t++) topicIndex[_topicIds[t]] = t;

            var subscribers = new List<int>[_topicIds.Length];
            _owners = new int[_topicIds.Length][];
            for (var t = 0; t < _topicIds.Length; t++)
            {
                subscribers[t] = [];
                _owners[t] = new int[partitionCounts[_topicIds[t]]];
                Array.Fill(_owners[t], -1);
            }

            for (var m = 0; m < _memberIds.Length; m++)
            {
                var spec = members[_memberIds[m]];
                foreach (var topicId in spec.SubscribedTopicIds)
                    if (topicIndex.TryGetValue(topicId, out var t)) subscribers[t].Add(m);
                // Keep what the current target holds of what the member may still have.
                foreach (var (topicId, partitions) in spec.CurrentAssignment)
                {
                    if (!topicIndex.TryGetValue(topicId, out var t) || !spec.SubscribedTopicIds.Contains(topicId)) continue;
                    var owners = _owners[t];
                    foreach (var p in partitions)
                        if ((uint)p < (uint)owners.Length && owners[p] == -1)
                        {
                            owners[p] = m;
                            _loads[m]++;
                        }
                }
            }
            _subscribers = Array.ConvertAll(subscribers, s => s.ToArray());
        }

        public Dictionary<string, Dictionary<Guid, HashSet<int>>> Build()
        {
            // Every topic here has a subscriber, so there is a member whenever there is a topic.
            if (Array.TrueForAll(_subscribers, s => s.Length == _memberIds.Length))
            {
                if (_topicIds.Length > 0) AssignHomogeneous();
            }
            else AssignHeterogeneous();

            var targets = new Dictionary<Guid, HashSet<int>>[_memberIds.Length];
            for (var m = 0; m < targets.Length; m++) targets[m] = [];
            for (var t = 0; t < _topicIds.Length; t++)
            {
                var owners = _owners[t];
                for (var p = 0; p < owners.Length; p++)
                {
                    ref var partitions = ref CollectionsMarshal.GetValueRefOrAddDefault(targets[owners[p]], _topicIds[t], out _);
                    (partitions ??= []).Add(p);
                }
            }
            var result = new Dictionary<string, Dictionary<Guid, HashSet<int>>>(_memberIds.Length);
            for (var m = 0; m < targets.Length; m++) result[_memberIds[m]] = targets[m];
            return result;
        }

        /// <summary>Quotas of <c>total / members</c> or one more; over-quota members give up their last partitions.</summary>
        private void AssignHomogeneous()
        {
            var total = 0;
            foreach (var owners in _owners) total += owners.Length;
            int minQuota = total / _memberIds.Length, extras = total % _memberIds.Length;
            var quotas = new int[_memberIds.Length];
            Array.Fill(quotas, minQuota);
            // The extra partitions first to the members that hold more than the minimum: each keeps one more.
            for (var m = 0; m < quotas.Length && extras > 0; m++)
                if (_loads[m] > minQuota) { quotas[m]++; extras--; }
            for (var m = 0; m < quotas.Length && extras > 0; m++)
                if (_loads[m] <= minQuota) { quotas[m]++; extras--; }

            // Revoke from the end (last topic, highest partition) what members hold beyond their quota.
            for (var t = _owners.Length - 1; t >= 0; t--)
            {
                var owners = _owners[t];
                for (var p = owners.Length - 1; p >= 0; p--)
                {
                    var m = owners[p];
                    if (m >= 0 && _loads[m] > quotas[m])
                    {
                        owners[p] = -1;
                        _loads[m]--;
                    }
                }
            }

            // Fill the members below their quota, in member order, from the unassigned partitions in topic order. The
            // quotas add up to the partitions, so the unassigned ones are exactly what the members lack.
            int topic = 0, partition = 0;
            for (var m = 0; m < quotas.Length; m++)
                while (_loads[m] < quotas[m])
                {
                    while (partition == _owners[topic].Length || _owners[topic][partition] != -1)
                        if (partition == _owners[topic].Length) { topic++; partition = 0; }
                        else partition++;
                    _owners[topic][partition] = m;
                    _loads[m]++;
                }
        }

        private void AssignHeterogeneous()
        {
            // Topics with the most partitions per subscriber first, then the fewest subscribers, then by topic id.
            var order = Enumerable.Range(0, _topicIds.Length).ToArray();
            Array.Sort(order, (a, b) =>
            {
                var c = ((long)_owners[b].Length * _subscribers[a].Length).CompareTo((long)_owners[a].Length * _subscribers[b].Length);
                if (c == 0) c = _subscribers[a].Length.CompareTo(_subscribers[b].Length);
                return c != 0 ? c : a.CompareTo(b);
            });

            // Each unassigned partition to the least loaded subscriber of its topic.
            var leastLoaded = new PriorityQueue<int, (int Load, int Member)>();
            foreach (var t in order)
            {
                var owners = _owners[t];
                leastLoaded.Clear();
                foreach (var m in _subscribers[t]) leastLoaded.Enqueue(m, (_loads[m], m));
                for (var p = 0; p < owners.Length; p++)
                {
                    if (owners[p] != -1) continue;
                    var m = leastLoaded.Dequeue();
                    owners[p] = m;
                    _loads[m]++;
                    leastLoaded.Enqueue(m, (_loads[m], m));
                }
            }

            // Each move lowers the sum of the squared loads, so this ends; the bound keeps it short.
            for (var pass = 0; pass < MaxBalancePasses; pass++)
            {
                var moved = false;
                foreach (var t in order) moved |= BalanceTopic(t);
                if (!moved) break;
            }
        }

        /// <summary>
        /// Moves the topic's partitions from its most loaded subscriber holding one (its highest partition first) to
        /// its least loaded subscriber until they differ by at most one. Returns whether any moved.
        /// </summary>
        private bool BalanceTopic(int t)
        {
            var subscribers = _subscribers[t];
            var owners = _owners[t];
            if (subscribers.Length < 2) return false;
            int min = int.MaxValue, maxHolding = 0;
            foreach (var m in subscribers) min = Math.Min(min, _loads[m]);
            foreach (var m in owners) maxHolding = Math.Max(maxHolding, _loads[m]);
            if (maxHolding - min <= 1) return false;

            var held = new Dictionary<int, Stack<int>>();
            for (var p = 0; p < owners.Length; p++)
            {
                if (!held.TryGetValue(owners[p], out var stack)) held[owners[p]] = stack = new Stack<int>();
                stack.Push(p);
            }
            var all = new SortedSet<(int Load, int Member)>();
            foreach (var m in subscribers) all.Add((_loads[m], m));
            var holders = new SortedSet<(int Load, int Member)>();
            foreach (var m in held.Keys) holders.Add((_loads[m], m));

            while (true)
            {
                var (maxLoad, from) = holders.Max;
                var (minLoad, to) = all.Min;
                if (maxLoad - minLoad <= 1) return true;
                var partition = held[from].Pop();
                all.Remove((maxLoad, from));
                all.Remove((minLoad, to));
                holders.Remove((maxLoad, from));
                holders.Remove((minLoad, to));
                owners[partition] = to;
                _loads[from]--;
                _loads[to]++;
                all.Add((_loads[from], from));
                all.Add((_loads[to], to));
                if (held[from].Count > 0) holders.Add((_loads[from], from));
                if (!held.TryGetValue(to, out var stack)) held[to] = stack = new Stack<int>();
                stack.Push(partition);
                holders.Add((_loads[to], to));
            }
        }
    }
}
