namespace OrleansStream.Client;

/// <summary>A group as <see cref="IAdminClient.ListConsumerGroupsAsync"/> lists it.</summary>
public sealed record ConsumerGroupListing(string GroupId, GroupState State, bool IsSimpleConsumerGroup);

public sealed record ListConsumerGroupsResult(List<ConsumerGroupListing> Valid);

/// <summary>One member of a group: its ids, subscription and the partitions it was given.</summary>
public sealed record MemberDescription(string ConsumerId, string ClientId, List<string> Topics, List<TopicPartition> Assignment);

/// <summary>A group's state, assignor, generation, leader and members.</summary>
public sealed record ConsumerGroupDescription(
    string GroupId,
    GroupState State,
    string PartitionAssignor,
    int GenerationId,
    string? LeaderId,
    List<MemberDescription> Members,
    Error Error);

public sealed record DescribeConsumerGroupsResult(List<ConsumerGroupDescription> ConsumerGroupDescriptions);

/// <summary>One partition of a group: committed offset, log end (the high watermark), lag and owner.</summary>
/// <param name="CommittedOffset">-1 when the group committed nothing for the partition.</param>
/// <param name="Lag">Log end minus committed offset; -1 when either is unknown.</param>
/// <param name="ConsumerId">The member that owns the partition now, null when none.</param>
public sealed record ConsumerGroupPartitionOffset(
    TopicPartition TopicPartition,
    long CommittedOffset,
    string? Metadata,
    long LogEndOffset,
    long Lag,
    string? ConsumerId,
    Error Error);

public sealed record ListConsumerGroupOffsetsResult(string Group, List<ConsumerGroupPartitionOffset> Partitions);

/// <summary>A group failed an admin call; <see cref="KafkaException.Error"/> names why (GroupIdNotFound, NonEmptyGroup ...).</summary>
public sealed class ConsumerGroupException(string group, Error error, IReadOnlyList<PartitionError>? partitions = null)
    : KafkaException(error)
{
    public string Group { get; } = group;

    public IReadOnlyList<PartitionError> Partitions { get; } = partitions ?? [];
}
