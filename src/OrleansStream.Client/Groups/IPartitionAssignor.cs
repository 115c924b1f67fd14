namespace OrleansStream.Client;

/// <summary>
/// Computes a group's assignment on the group leader (Kafka's ConsumerPartitionAssignor). The group agrees on one
/// assignor by <see cref="Name"/>; every member must offer it. Implementations must be deterministic.
/// </summary>
public interface IPartitionAssignor
{
    /// <summary>The protocol name members announce, e.g. "range".</summary>
    string Name { get; }

    RebalanceProtocol Protocol { get; }

    /// <param name="partitionsPerTopic">Partition count of every topic some member subscribes to (missing topics are left out).</param>
    /// <param name="subscriptions">Member id → its subscription (topics, owned partitions, generation).</param>
    /// <returns>Member id → its partitions, for every member (possibly empty).</returns>
    IReadOnlyDictionary<string, IReadOnlyList<TopicPartition>> Assign(
        IReadOnlyDictionary<string, int> partitionsPerTopic,
        IReadOnlyDictionary<string, ConsumerProtocolSubscription> subscriptions);
}
