namespace OrleansStream.Client;

/// <summary>Consumer group administration, shaped like Confluent.Kafka's.</summary>
public partial interface IAdminClient
{
    /// <summary>Every group the cluster knows, with its state.</summary>
    Task<ListConsumerGroupsResult> ListConsumerGroupsAsync(TimeSpan? timeout = null);

    /// <summary>State, assignor and members with their assignments. A missing group throws <see cref="ConsumerGroupException"/> (GroupIdNotFound).</summary>
    Task<DescribeConsumerGroupsResult> DescribeConsumerGroupsAsync(IEnumerable<string> groups, TimeSpan? timeout = null);

    /// <summary>
    /// Committed offsets with log end and lag per partition: <paramref name="partitions"/>, or (null) every partition
    /// the group committed for or owns. A missing group throws <see cref="ConsumerGroupException"/> (GroupIdNotFound).
    /// </summary>
    Task<ListConsumerGroupOffsetsResult> ListConsumerGroupOffsetsAsync(string group, IEnumerable<TopicPartition>? partitions = null, TimeSpan? timeout = null);

    /// <summary>Overwrites committed offsets; only while the group has no members (NonEmptyGroup). All or nothing.</summary>
    Task AlterConsumerGroupOffsetsAsync(string group, IEnumerable<TopicPartitionOffset> offsets, TimeSpan? timeout = null);

    /// <summary>
    /// Kafka's <c>--reset-offsets</c> for every partition of <paramref name="topic"/>: <paramref name="to"/> is
    /// <see cref="Offset.Beginning"/>, <see cref="Offset.End"/> or an offset (clamped to each partition's log).
    /// Only while the group has no members (NonEmptyGroup). Returns the new offsets.
    /// </summary>
    Task<List<TopicPartitionOffset>> ResetConsumerGroupOffsetsAsync(string group, string topic, long to, TimeSpan? timeout = null);

    /// <summary>Removes empty groups and their offsets (NonEmptyGroup, GroupIdNotFound).</summary>
    Task DeleteConsumerGroupsAsync(IEnumerable<string> groups, TimeSpan? timeout = null);
}
