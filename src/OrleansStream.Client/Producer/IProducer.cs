namespace OrleansStream.Client;

/// <summary>Produces messages to topics, shaped like Confluent.Kafka's IProducer.</summary>
public interface IProducer<TKey, TValue> : IDisposable, IAsyncDisposable
{
    string Name { get; }

    /// <summary>
    /// Produces to the partition the partitioner picks. The task completes when the message is delivered with the
    /// configured acks, or fails with <see cref="ProduceException{TKey,TValue}"/>. Cancelling stops the wait, not the delivery.
    /// </summary>
    Task<DeliveryResult<TKey, TValue>> ProduceAsync(string topic, Message<TKey, TValue> message, CancellationToken cancellationToken = default);

    Task<DeliveryResult<TKey, TValue>> ProduceAsync(TopicPartition topicPartition, Message<TKey, TValue> message, CancellationToken cancellationToken = default);

    /// <summary>Produces without a task; <paramref name="deliveryHandler"/> is called once with the outcome.</summary>
    void Produce(string topic, Message<TKey, TValue> message, Action<DeliveryReport<TKey, TValue>>? deliveryHandler = null);

    void Produce(TopicPartition topicPartition, Message<TKey, TValue> message, Action<DeliveryReport<TKey, TValue>>? deliveryHandler = null);

    /// <summary>Sends everything buffered now and waits for it; returns how many messages are still outstanding at the timeout.</summary>
    int Flush(TimeSpan timeout);

    void Flush(CancellationToken cancellationToken = default);

    Task FlushAsync(CancellationToken cancellationToken = default);
}
