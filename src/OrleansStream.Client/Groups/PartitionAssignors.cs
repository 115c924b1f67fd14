namespace OrleansStream.Client;

/// <summary>The assignors a consumer knows by name (<c>partition.assignment.strategy</c>).</summary>
public static class PartitionAssignors
{
    public const string Range = "range";
    public const string RoundRobin = "roundrobin";
    public const string CooperativeSticky = "cooperative-sticky";

    /// <summary>Parses "range,roundrobin" (Kafka's and librdkafka's names, case-insensitive) into assignors in that order.</summary>
    public static IReadOnlyList<IPartitionAssignor> Parse(string? strategy)
    {
        if (string.IsNullOrWhiteSpace(strategy)) return [new RangeAssignor(), new RoundRobinAssignor()];
        var result = new List<IPartitionAssignor>();
        foreach (var raw in strategy.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            IPartitionAssignor assignor = raw.ToLowerInvariant() switch
            {
                Range or "rangeassignor" or "org.apache.kafka.clients.consumer.rangeassignor" => new RangeAssignor(),
                RoundRobin or "round-robin" or "roundrobinassignor" or "org.apache.kafka.clients.consumer.roundrobinassignor" => new RoundRobinAssignor(),
                CooperativeSticky or "cooperativesticky" or "org.apache.kafka.clients.consumer.cooperativestickyassignor" => new CooperativeStickyAssignor(),
                _ => throw new OrleansStreamException(ErrorCode.InvalidConfig,
                    $"partition.assignment.strategy: unknown assignor '{raw}' (known: {Range}, {RoundRobin}, {CooperativeSticky})"),
            };
            result.Add(assignor);
        }
        var first = result[0].Protocol;
        foreach (var a in result)
            if (a.Protocol != first)
                throw new OrleansStreamException(ErrorCode.InvalidConfig,
                    "partition.assignment.strategy: eager (range, roundrobin) and cooperative assignors cannot be mixed");
        return result;
    }

    internal static int Compare(TopicPartition a, TopicPartition b)
    {
        var c = string.CompareOrdinal(a.Topic, b.Topic);
        return c != 0 ? c : a.Partition.CompareTo(b.Partition);
    }

    internal static List<string> SortedMembers(IReadOnlyDictionary<string, ConsumerProtocolSubscription> subscriptions)
    {
        var members = new List<string>(subscriptions.Keys);
        members.Sort(StringComparer.Ordinal);
        return members;
    }

    internal static Dictionary<string, List<TopicPartition>> EmptyAssignment(List<string> members)
    {
        var result = new Dictionary<string, List<TopicPartition>>(members.Count, StringComparer.Ordinal);
        foreach (var m in members) result[m] = [];
        return result;
    }

    internal static IReadOnlyDictionary<string, IReadOnlyList<TopicPartition>> Freeze(Dictionary<string, List<TopicPartition>> assignment)
    {
        var result = new Dictionary<string, IReadOnlyList<TopicPartition>>(assignment.Count, StringComparer.Ordinal);
        foreach (var (m, list) in assignment)
        {
            list.Sort(Compare);
            result[m] = list;
        }
        return result;
    }

    internal static bool Subscribes(ConsumerProtocolSubscription s, string topic)
    {
        foreach (var t in s.Topics)
            if (t == topic) return true;
        return false;
    }
}
