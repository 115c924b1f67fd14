namespace OrleansStream.Client;

/// <summary>Whether a message reached the log.</summary>
public enum PersistenceStatus
{
    /// <summary>The message never reached the leader.</summary>
    NotPersisted = 0,
    /// <summary>It may have been written (acks=0, or a request whose answer was lost).</summary>
    PossiblyPersisted = 1,
    /// <summary>The leader acknowledged it with the requested acks.</summary>
    Persisted = 2,
}

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

/// <summary>What <see cref="IProducer{TKey,TValue}.Produce(string, Message{TKey,TValue}, Action{DeliveryReport{TKey,TValue}})"/> hands its handler.</summary>
public class DeliveryReport<TKey, TValue> : DeliveryResult<TKey, TValue>
{
    public Error Error { get; set; } = Error.NoError;
}

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
