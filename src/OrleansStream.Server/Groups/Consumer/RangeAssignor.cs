namespace OrleansStream.Server.Groups.Consumer;

/// <summary>
/// Kafka's server-side <c>RangeAssignor</c>: per topic, its subscribers sorted by member id each take a contiguous
/// range, the first <c>count % subscribers</c> of them one partition more. Topics with the same partition count and the
/// same subscribers are therefore co-partitioned (a member gets the same partition numbers of each). As in Kafka since
/// KAFKA-16944 the assignment is recomputed from the member order each time rather than kept from the current one
/// (stickiness and co-partitioning cannot both be had cheaply); Kafka orders static members by instance id first,
/// which the assignor is not given here, so members are ordered by member id alone.
/// </summary>
internal sealed class RangeAssignor : IServerAssignor
{
    public const string AssignorName = "range";

    public string Name => AssignorName;

    public Dictionary<string, Dictionary<Guid, HashSet<int>>> Assign(
        IReadOnlyDictionary<string, AssignmentMemberSpec> members,
        IReadOnlyDictionary<Guid, int> partitionCounts)
    {
        var memberIds = members.Keys.Order(StringComparer.Ordinal).ToArray();
        var result = new Dictionary<string, Dictionary<Guid, HashSet<int>>>(memberIds.Length);
        foreach (var id in memberIds) result[id] = [];

        // Each existing topic's subscribers, in member order (a topic absent from partitionCounts has no partitions).
        var subscribers = new SortedDictionary<Guid, List<string>>();
        foreach (var id in memberIds)
            foreach (var topicId in members[id].SubscribedTopicIds)
                if (partitionCounts.TryGetValue(topicId, out var count) && count > 0)
                {
                    if (!subscribers.TryGetValue(topicId, out var list)) subscribers[topicId] = list = [];
                    list.Add(id);
                }

        foreach (var (topicId, subs) in subscribers)
        {
            var count = partitionCounts[topicId];
            int quota = count / subs.Count, extra = count % subs.Count, start = 0;
            for (var i = 0; i < subs.Count && start < count; i++)
            {
                var end = start + quota + (i < extra ? 1 : 0);
                var range = new HashSet<int>(end - start);
                for (var p = start; p < end; p++) range.Add(p);
                result[subs[i]][topicId] = range;
                start = end;
            }
        }
        return result;
    }
}
