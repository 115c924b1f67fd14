namespace OrleansStream.Client;

/// <summary>
/// Kafka's RangeAssignor: per topic, the subscribed members in member-id order each take a contiguous range;
/// the first <c>partitions % members</c> take one extra. Two members, topics t0 and t1 with 3 partitions each:
/// C0 gets t0-0, t0-1, t1-0, t1-1 and C1 gets t0-2, t1-2.
/// </summary>
public sealed class RangeAssignor : IPartitionAssignor
{
    public string Name => PartitionAssignors.Range;

    public RebalanceProtocol Protocol => RebalanceProtocol.Eager;

    public IReadOnlyDictionary<string, IReadOnlyList<TopicPartition>> Assign(
        IReadOnlyDictionary<string, int> partitionsPerTopic,
        IReadOnlyDictionary<string, ConsumerProtocolSubscription> subscriptions)
    {
        var members = PartitionAssignors.SortedMembers(subscriptions);
        var assignment = PartitionAssignors.EmptyAssignment(members);
        var topics = new List<string>(partitionsPerTopic.Keys);
        topics.Sort(StringComparer.Ordinal);
        var consumers = new List<string>();
        foreach (var topic in topics)
        {
            consumers.Clear();
            foreach (var m in members)
                if (PartitionAssignors.Subscribes(subscriptions[m], topic)) consumers.Add(m);
            if (consumers.Count == 0) continue;
            var n = partitionsPerTopic[topic];
            var per = n / consumers.Count;
            var extra = n % consumers.Count;
            for (var i = 0; i < consumers.Count; i++)
            {
                var start = per * i + Math.Min(i, extra);
                var length = per + (i < extra ? 1 : 0);
                var list = assignment[consumers[i]];
                for (var p = start; p < start + length; p++) list.Add(new TopicPartition(topic, p));
            }
        }
        return PartitionAssignors.Freeze(assignment);
    }
}
