using OrleansStream.Records;

namespace OrleansStream.Client;

/// <summary>A partition and a timestamp to look up, for <c>OffsetsForTimes</c>.</summary>
public readonly record struct TopicPartitionTimestamp(TopicPartition TopicPartition, Timestamp Timestamp)
{
    public TopicPartitionTimestamp(string topic, int partition, Timestamp timestamp) : this(new TopicPartition(topic, partition), timestamp) { }

    public string Topic => TopicPartition.Topic;

    public int Partition => TopicPartition.Partition;
}
