namespace OrleansStream.Client;

/// <summary>A consumed message, or the end-of-partition event when <see cref="IsPartitionEOF"/>.</summary>
public class ConsumeResult<TKey, TValue>
{
    public TopicPartitionOffset TopicPartitionOffset { get; set; }

    public Message<TKey, TValue>? Message { get; set; }

    /// <summary>The consumer reached the partition's high watermark (only with <c>enable.partition.eof</c>).</summary>
    public bool IsPartitionEOF { get; set; }

    public string Topic => TopicPartitionOffset.TopicPartition.Topic;

    public int Partition => TopicPartitionOffset.TopicPartition.Partition;

    public long Offset => TopicPartitionOffset.Offset;

    public TopicPartition TopicPartition => TopicPartitionOffset.TopicPartition;

    /// <summary>The leader epoch that wrote the message, -1 if unknown.</summary>
    public int LeaderEpoch { get; set; } = -1;
}
