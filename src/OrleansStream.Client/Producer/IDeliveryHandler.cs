namespace OrleansStream.Client;

/// <summary>
/// Hears how each message given to <see cref="IProducer{TKey,TValue}.Produce(string, Message{TKey,TValue}, IDeliveryHandler{TKey,TValue})"/>
/// ended, as parameters rather than a <see cref="DeliveryReport{TKey,TValue}"/>: the allocation-free counterpart of a
/// delivery handler (Java's <c>Callback.onCompletion</c>). One instance may serve every message of a producer; it is
/// called on the producer's delivery threads, several at once for messages of different partitions, in order within a
/// partition.
/// </summary>
public interface IDeliveryHandler<TKey, TValue>
{
    /// <param name="message">The caller's message, unchanged (its timestamp is the one the caller set, if any).</param>
    /// <param name="topicPartitionOffset">Where it went; the offset is -1 when unknown (acks=0, or not delivered).</param>
    /// <param name="timestamp">The timestamp the log holds: the create time the producer stamped, or the broker's log append time.</param>
    /// <param name="status">Whether the message reached the log.</param>
    /// <param name="error"><see cref="Error.NoError"/>, or why the message failed.</param>
    void OnDelivered(Message<TKey, TValue> message, TopicPartitionOffset topicPartitionOffset, Timestamp timestamp, PersistenceStatus status, Error error);
}
