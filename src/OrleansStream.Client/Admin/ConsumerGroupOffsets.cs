namespace OrleansStream.Client.Admin;

public sealed class ListConsumerGroupOffsetsOptions : AdminOptions
{
    /// <summary>
    /// KIP-447's require_stable: a partition with offsets pending in an open transaction is answered
    /// UnstableOffsetCommit rather than its committed offset (which the transaction is about to change).
    /// </summary>
    public bool RequireStableOffsets { get; set; }
}

/// <summary>A group's committed offsets: <see cref="Offset.Unset"/> for a partition it committed nothing for.</summary>
public sealed record ListConsumerGroupOffsetsResult(string Group, List<TopicPartitionOffsetError> Partitions);

public sealed record ListConsumerGroupOffsetsReport(string Group, List<TopicPartitionOffsetError> Partitions, Error Error);

/// <summary>A partition's offset could not be read (UnstableOffsetCommit): every partition's outcome is in <see cref="Results"/>.</summary>
public sealed class ListConsumerGroupOffsetsException(List<ListConsumerGroupOffsetsReport> results)
    : KafkaException(AdminReports.FirstGroupError(results, static r => (r.Group, r.Error, r.Partitions), "list offsets of group"))
{
    public List<ListConsumerGroupOffsetsReport> Results { get; } = results;
}

public sealed class AlterConsumerGroupOffsetsOptions : AdminOptions;

public sealed record AlterConsumerGroupOffsetsResult(string Group, List<TopicPartitionOffsetError> Partitions);

public sealed record AlterConsumerGroupOffsetsReport(string Group, List<TopicPartitionOffsetError> Partitions, Error Error);

/// <summary>
/// A partition's offset was not committed (NonEmptyGroup, UnknownTopicOrPartition ...): every partition's outcome is in
/// <see cref="Results"/>, the others committed.
/// </summary>
public sealed class AlterConsumerGroupOffsetsException(List<AlterConsumerGroupOffsetsReport> results)
    : KafkaException(AdminReports.FirstGroupError(results, static r => (r.Group, r.Error, r.Partitions), "alter offsets of group"))
{
    public List<AlterConsumerGroupOffsetsReport> Results { get; } = results;
}

public sealed class DeleteConsumerGroupOffsetsOptions : AdminOptions
{
    /// <summary>Confluent.Kafka's option, accepted and unused: Kafka's OffsetDelete request has no operation timeout.</summary>
    public TimeSpan? OperationTimeout { get; set; }
}

/// <summary>The partitions whose committed offsets were deleted.</summary>
public sealed record DeleteConsumerGroupOffsetsResult(string Group, List<TopicPartition> Partitions);

public sealed record DeleteConsumerGroupOffsetsReport(string Group, List<TopicPartitionOffsetError> Partitions, Error Error);

/// <summary>
/// A partition's offset was kept (GroupSubscribedToTopic): every partition's outcome is in <see cref="Result"/>, the
/// others deleted.
/// </summary>
public sealed class DeleteConsumerGroupOffsetsException(DeleteConsumerGroupOffsetsReport result)
    : KafkaException(AdminReports.FirstGroupError([result], static r => (r.Group, r.Error, r.Partitions), "delete offsets of group"))
{
    public DeleteConsumerGroupOffsetsReport Result { get; } = result;
}
