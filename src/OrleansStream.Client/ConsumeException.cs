namespace OrleansStream.Client;

/// <summary>Consume failed for one partition (offset out of range, unknown topic, a message that does not deserialize).</summary>
public class ConsumeException(Error error, TopicPartitionOffset topicPartitionOffset, Exception? inner = null)
    : KafkaException(error, inner)
{
    public TopicPartitionOffset TopicPartitionOffset { get; } = topicPartitionOffset;

    /// <summary>The raw record when a deserializer failed; null otherwise.</summary>
    public ConsumeResult<byte[]?, byte[]?>? ConsumerRecord { get; init; }
}
