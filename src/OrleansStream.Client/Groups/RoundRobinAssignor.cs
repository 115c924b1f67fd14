namespace OrleansStream.Client;

/// <summary>
/// Kafka's RoundRobinAssignor: every subscribed partition (topics in name order, then partition) goes to the next
/// member in member-id order that subscribes to its topic. Two members, t0 and t1 with 3 partitions each:
/// C0 gets t0-0, t0-2, t1-1 and C1 gets t0-1, t1-0, t1-2.
/// </summary>
public sealed class RoundRobinAssignor : IPartitionAssignor
{
    public string Name => PartitionAssignors.RoundRobin;

    public RebalanceProtocol Protocol => RebalanceProtocol.Eager;

    public IReadOnlyDictionary<string, IReadOnlyList<TopicPartition>> Assign(
        IReadOnlyDictionary<string, int> partitionsPerTopic,
        IReadOnlyDictionary<string, ConsumerProtocolSubscription> subscriptions)
    {
        var members = PartitionAssignors.SortedMembers(subscriptions);
        var assignment = PartitionAssignors.EmptyAssignment(members);
        if (members.Count == 0) return PartitionAssignors.Freeze(assignment);
        var topics = new List<string>(partitionsPerTopic.Keys);
        topics.Sort(StringComparer.Ordinal);
        var next = 0;
        foreach (var topic in topics)
        {
            var anyone = false;
            foreach (var m in members)
                if (PartitionAssignors.Subscribes(subscriptions[m], topic)) { anyone = true; break; }
            if (!anyone) continue;
            for (var p = 0; p < partitionsPerTopic[topic]; p++)
            {
                while (!PartitionAssignors.Subscribes(subscriptions[members[next]], topic))
                    next = (next + 1) % members.Count;
                assignment[members[next]].Add(new TopicPartition(topic, p));
                next = (next + 1) % members.Count;
            }
        }
        return PartitionAssignors.Freeze(assignment);
    }
}
