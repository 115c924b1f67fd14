namespace OrleansStream.Server.Controller;

/// <summary>
/// Chooses brokers for new partitions: each partition's replicas on distinct brokers, the leader (replica 0) on the
/// broker leading fewest partitions so far, followers on the brokers holding fewest replicas.
/// </summary>
internal sealed class ReplicaAssigner
{
    private readonly List<string> _brokers;
    private readonly Dictionary<string, int> _leaders = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _replicas = new(StringComparer.Ordinal);

    public ReplicaAssigner(List<string> liveBrokers, ControllerState state)
    {
        _brokers = liveBrokers;
        foreach (var b in liveBrokers) { _leaders[b] = 0; _replicas[b] = 0; }
        foreach (var topic in state.Topics.Values)
            foreach (var p in topic.Partitions)
            {
                for (var i = 0; i < p.Replicas.Count; i++)
                    if (_replicas.ContainsKey(p.Replicas[i])) _replicas[p.Replicas[i]]++;
                if (p.Leader >= 0 && _leaders.ContainsKey(p.Replicas[p.Leader])) _leaders[p.Replicas[p.Leader]]++;
            }
    }

    public List<string> Assign(int replicationFactor)
    {
        var chosen = new List<string>(replicationFactor);
        var leader = Pick(chosen, _leaders);
        chosen.Add(leader);
        _leaders[leader]++;
        _replicas[leader]++;
        while (chosen.Count < replicationFactor)
        {
            var follower = Pick(chosen, _replicas);
            chosen.Add(follower);
            _replicas[follower]++;
        }
        return chosen;
    }

    private string Pick(List<string> exclude, Dictionary<string, int> load)
    {
        string? best = null;
        foreach (var b in _brokers)
        {
            if (exclude.Contains(b)) continue;
            if (best is null || load[b] < load[best] || (load[b] == load[best] && _replicas[b] < _replicas[best])) best = b;
        }
        return best ?? throw new InvalidOperationException("More replicas than live brokers.");
    }
}
