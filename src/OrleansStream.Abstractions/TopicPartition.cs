namespace OrleansStream;

/// <summary>A topic's partition, Kafka's TopicPartition.</summary>
[GenerateSerializer, Immutable]
public readonly record struct TopicPartition(string Topic, int Partition)
{
    public override string ToString() => $"{Topic}-{Partition}";
}

/// <summary>A position in a partition, Kafka's TopicPartitionOffset.</summary>
[GenerateSerializer, Immutable]
public readonly record struct TopicPartitionOffset(TopicPartition TopicPartition, long Offset)
{
    public override string ToString() => $"{TopicPartition}@{Offset}";
}

/// <summary>acks: how many replicas must have a batch before the producer hears back.</summary>
/// <remarks>Its own codec: without one Orleans boxes an enum to write and to read it, on every produce call.</remarks>
[GenerateSerializer]
public enum Acks : short
{
    None = 0,
    Leader = 1,
    All = -1,
}
