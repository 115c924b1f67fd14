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

    /// <summary>
    /// Produces without a task or a report object: <paramref name="deliveryHandler"/> hears the outcome as parameters, so
    /// a message costs the producer no allocation of its own (byte-array keys and values serialize as themselves).
    /// </summary>
    void Produce(string topic, Message<TKey, TValue> message, IDeliveryHandler<TKey, TValue> deliveryHandler);

    void Produce(TopicPartition topicPartition, Message<TKey, TValue> message, IDeliveryHandler<TKey, TValue> deliveryHandler);

    /// <summary>Sends everything buffered now and waits for it; returns how many messages are still outstanding at the timeout.</summary>
    int Flush(TimeSpan timeout);

    void Flush(CancellationToken cancellationToken = default);

    Task FlushAsync(CancellationToken cancellationToken = default);

    // Transactions (transactional.id), as in Confluent.Kafka: all the records produced and the offsets sent between
    // BeginTransaction and CommitTransaction become visible to read_committed consumers together, or not at all.

    /// <summary>
    /// Registers transactional.id with its coordinator: fences any earlier producer with the same id and completes or
    /// aborts its open transaction. Call once, before the first BeginTransaction.
    /// </summary>
    void InitTransactions(TimeSpan timeout);

    void BeginTransaction();

    /// <summary>
    /// Commits <paramref name="offsets"/> (the next offsets to read) for the consumer's group as part of the transaction:
    /// they become the group's committed offsets only if the transaction commits.
    /// </summary>
    void SendOffsetsToTransaction(IEnumerable<TopicPartitionOffset> offsets, IConsumerGroupMetadata groupMetadata, TimeSpan timeout);

    /// <summary>
    /// Delivers every record produced in the transaction, then commits it. Throws <see cref="KafkaRetriableException"/>
    /// at the timeout (call again), <see cref="KafkaTxnRequiresAbortException"/> when a record failed (abort), and a
    /// <see cref="KafkaException"/> whose <see cref="Error.IsFatal"/> is set when the producer was fenced.
    /// </summary>
    void CommitTransaction(TimeSpan timeout);

    void CommitTransaction();

    /// <summary>Aborts the transaction: its records are never returned to read_committed consumers and its offsets are dropped.</summary>
    void AbortTransaction(TimeSpan timeout);

    void AbortTransaction();
}
