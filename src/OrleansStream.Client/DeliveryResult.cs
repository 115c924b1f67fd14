namespace OrleansStream.Client;

/// <summary>The outcome of producing one message.</summary>
public class DeliveryResult<TKey, TValue>
{
    public string Topic { get; set; } = "";

    public int Partition { get; set; } = -1;

    /// <summary>The message's offset; -1 when unknown (acks=0 or not delivered).</summary>
    public long Offset { get; set; } = -1;

    public PersistenceStatus Status { get; set; }

    public Message<TKey, TValue> Message { get; set; } = null!;

    public TopicPartition TopicPartition => new(Topic, Partition);

    public TopicPartitionOffset TopicPartitionOffset => new(TopicPartition, Offset);

    public TKey Key => Message.Key;

    public TValue Value => Message.Value;

    public Timestamp Timestamp => Message.Timestamp;

    public Headers? Headers => Message.Headers;
}
