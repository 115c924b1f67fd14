namespace OrleansStream.Client;

/// <summary>A group failed an admin call; <see cref="KafkaException.Error"/> names why (GroupIdNotFound, NonEmptyGroup ...).</summary>
public sealed class ConsumerGroupException(string group, Error error, IReadOnlyList<PartitionError>? partitions = null)
    : KafkaException(error)
{
    public string Group { get; } = group;

    public IReadOnlyList<PartitionError> Partitions { get; } = partitions ?? [];
}
