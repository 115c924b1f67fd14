namespace OrleansStream.Server.Controller;

/// <summary>
/// Chooses brokers for new partitions: each partition's replicas on distinct brokers; the leader (replica 0) on the
/// broker leading fewest partitions of this topic, then of the cluster; followers likewise by replica counts. So a
/// topic's leaders spread evenly over the live brokers, and topics together stay balanced.
/// </summary>
internal sealed class ReplicaAssigner
{
    private readonly List<string> _brokers;
    private readonly Dictionary<string, Load> _load = new(StringComparer.Ordinal);

    public ReplicaAssigner(List<string> liveBrokers, ControllerState state)
    {
        _brokers = liveBrokers;
        foreach (var b in liveBrokers) _load[b] = new Load();
        foreach (var topic in state.Topics.Values)
            foreach (var p in topic.Partitions)
            {
                foreach (var b in p.Replicas)
                    if (_load.TryGetValue(b, out var l)) l.Replicas++;
                if (p.Leader >= 0 && _load.TryGetValue(p.Replicas[p.Leader], out var leader)) leader.Leaders++;
            }
    }

    /// <summary>Starts a new topic: per-topic counts restart from zero.</summary>
    public void NextTopic()
    {
        foreach (var l in _load.Values) l.TopicLeaders = l.TopicReplicas = 0;
    }

    public List<string> Assign(int replicationFactor)
    {
        var chosen = new List<string>(replicationFactor);
        var leader = Pick(chosen, static l => (l.TopicLeaders, l.Leaders, l.TopicReplicas + l.Replicas));
        chosen.Add(leader);
        _load[leader].TopicLeaders++;
        _load[leader].Leaders++;
        while (chosen.Count < replicationFactor)
            chosen.Add(Pick(chosen, static l => (l.TopicReplicas, l.Replicas, 0)));
        foreach (var b in chosen)
        {
            _load[b].TopicReplicas++;
            _load[b].Replicas++;
        }
        return chosen;
    }

    /// <summary>
    /// A live broker for a replica moved off a broker that left: one holding no replica of the partition
    /// (<paramref name="current"/>), fewest replicas then fewest leaders first; null when every live broker holds one.
    /// </summary>
    public string? Replace(List<string> current)
    {
        string? best = null;
        (int, int) bestKey = default;
        foreach (var b in _brokers)
        {
            if (current.Contains(b)) continue;
            var key = (_load[b].Replicas, _load[b].Leaders);
            if (best is null || key.CompareTo(bestKey) < 0) (best, bestKey) = (b, key);
        }
        if (best is not null) _load[best].Replicas++;
        return best;
    }

    private string Pick(List<string> exclude, Func<Load, (int, int, int)> key)
    {
        string? best = null;
        (int, int, int) bestKey = default;
        foreach (var b in _brokers)
        {
            if (exclude.Contains(b)) continue;
            var k = key(_load[b]);
            if (best is null || k.CompareTo(bestKey) < 0) (best, bestKey) = (b, k);
        }
        return best ?? throw new InvalidOperationException("More replicas than live brokers.");
    }

    private sealed class Load
    {
        public int Leaders;
        public int Replicas;
        public int TopicLeaders;
        public int TopicReplicas;
    }
}
