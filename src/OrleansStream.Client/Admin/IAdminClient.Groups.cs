using OrleansStream.Client.Admin;

namespace OrleansStream.Client;

/// <summary>
/// Consumer group administration: Confluent.Kafka 2.16's calls, with its options, results and exceptions, and ours for
/// what it lacks (lag, kafka-consumer-groups.sh's reset, a delete that stops at the first refusal).
/// </summary>
public partial interface IAdminClient
{
    /// <summary>
    /// Kafka's Admin.listConsumerGroups: every group the cluster knows with its state and type, filtered by the options'
    /// <c>MatchStates</c> and <c>MatchTypes</c>. A group that could not be asked its state throws
    /// <see cref="ListConsumerGroupsException"/> with the others listed and each error.
    /// </summary>
    Task<ListConsumerGroupsResult> ListConsumerGroupsAsync(ListConsumerGroupsOptions? options = null);

    /// <summary>
    /// Kafka's Admin.describeConsumerGroups: each group's state, assignor and members with their assignments (a consumer
    /// group's members their target assignments too). Groups named twice or none: <see cref="ArgumentException"/>. Any
    /// group failed (GroupIdNotFound for one that does not exist, InvalidGroupId): <see cref="DescribeConsumerGroupsException"/>
    /// with every group's description.
    /// </summary>
    Task<DescribeConsumerGroupsResult> DescribeConsumerGroupsAsync(IEnumerable<string> groups, DescribeConsumerGroupsOptions? options = null);

    /// <summary>
    /// Kafka's Admin.listConsumerGroupOffsets for exactly one group (<see cref="ArgumentException"/> otherwise, as
    /// Confluent.Kafka): its committed offsets of the partitions named (<see cref="Offset.Unset"/> where none; a
    /// partition named twice, or an empty list, is an <see cref="ArgumentException"/>), or of every partition it
    /// committed for when they are null. A group that does not exist has no offsets, as Kafka answers. With
    /// <see cref="ListConsumerGroupOffsetsOptions.RequireStableOffsets"/>, partitions with offsets pending in an open
    /// transaction throw <see cref="ListConsumerGroupOffsetsException"/> (UnstableOffsetCommit each).
    /// </summary>
    Task<List<ListConsumerGroupOffsetsResult>> ListConsumerGroupOffsetsAsync(
        IEnumerable<ConsumerGroupTopicPartitions> groupPartitions, ListConsumerGroupOffsetsOptions? options = null);

    /// <summary>
    /// Kafka's Admin.alterConsumerGroupOffsets for exactly one group, offsets &gt;= 0, no partition twice
    /// (<see cref="ArgumentException"/> otherwise, as Confluent.Kafka): only while the group has no members (each
    /// partition NonEmptyGroup). A partition refused (UnknownTopicOrPartition, OffsetMetadataTooLarge) throws
    /// <see cref="AlterConsumerGroupOffsetsException"/> with every partition's outcome, the others committed.
    /// </summary>
    Task<List<AlterConsumerGroupOffsetsResult>> AlterConsumerGroupOffsetsAsync(
        IEnumerable<ConsumerGroupTopicPartitionOffsets> groupPartitions, AlterConsumerGroupOffsetsOptions? options = null);

    /// <summary>
    /// Kafka's Admin.deleteConsumerGroupOffsets (OffsetDelete): the group's committed offsets of
    /// <paramref name="partitions"/> go, except those of topics its members subscribe to: those throw
    /// <see cref="DeleteConsumerGroupOffsetsException"/> (GroupSubscribedToTopic each) with every partition's outcome, the
    /// others deleted. The group's own refusal (GroupIdNotFound, NonEmptyGroup for members of another protocol type) is a
    /// <see cref="KafkaException"/>, as librdkafka fails the call on it.
    /// </summary>
    Task<DeleteConsumerGroupOffsetsResult> DeleteConsumerGroupOffsetsAsync(
        string group, IEnumerable<TopicPartition> partitions, DeleteConsumerGroupOffsetsOptions? options = null);

    /// <summary>
    /// Ours (kafka-consumer-groups.sh --describe): committed offsets with log end, lag and owner per partition:
    /// <paramref name="partitions"/>, or (null) every partition the group committed for or owns. A missing group throws
    /// <see cref="ConsumerGroupException"/> (GroupIdNotFound).
    /// </summary>
    Task<ConsumerGroupLag> ListConsumerGroupOffsetsAsync(string group, IEnumerable<TopicPartition>? partitions = null, TimeSpan? timeout = null);

    /// <summary>
    /// Kafka's <c>--reset-offsets</c> for every partition of <paramref name="topic"/>: <paramref name="to"/> is
    /// <see cref="Offset.Beginning"/>, <see cref="Offset.End"/> or an offset (clamped to each partition's log).
    /// Only while the group has no members (NonEmptyGroup). Returns the new offsets.
    /// </summary>
    Task<List<TopicPartitionOffset>> ResetConsumerGroupOffsetsAsync(string group, string topic, long to, TimeSpan? timeout = null);

    /// <summary>Removes empty groups and their offsets, stopping at the first refusal (NonEmptyGroup, GroupIdNotFound).</summary>
    Task DeleteConsumerGroupsAsync(IEnumerable<string> groups, TimeSpan? timeout = null);
}
