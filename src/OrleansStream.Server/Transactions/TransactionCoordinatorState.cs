namespace OrleansStream.Server.Transactions;

/// <summary>
/// What a transaction coordinator persists (Kafka keeps it in <c>__transaction_state</c>): its coordinator epoch and the
/// durable state of each transactional id it owns. One id or a shard of ids: the same record serves both.
/// </summary>
[GenerateSerializer]
public sealed class TransactionCoordinatorState
{
    /// <summary>
    /// Bumped and stored by each activation before it serves requests; markers carry it. No initializer: grain
    /// storage's JSON leaves out default values, so a default other than 0 would read a stored 0 back as that default.
    /// </summary>
    [Id(0)] public int CoordinatorEpoch { get; set; }

    [Id(1)] public List<StoredTransaction> Transactions { get; set; } = [];

    /// <summary>The shard's decisions so far, stored with the state they come from; null in a record stored before any.</summary>
    [Id(2)] public TransactionCoordinatorStats? Stats { get; set; }
}

/// <summary>
/// Kafka's TxnTransitMetadata as a transaction log value, keyed by its transactional id. The last two came with
/// transactions v2 (a record stored before reads 0 and null): <paramref name="ClientTransactionVersion"/>, and the next
/// producer id of a v2 decision that exhausted the epoch (null for none: grain storage's JSON leaves out defaults, and
/// producer id 0 is a real id).
/// </summary>
[GenerateSerializer]
public sealed record StoredTransaction(
    string TransactionalId,
    long ProducerId,
    long LastProducerId,
    short ProducerEpoch,
    short LastProducerEpoch,
    int TxnTimeoutMs,
    TransactionState State,
    List<TopicPartition> Partitions,
    List<string> Groups,
    long TxnStartTimestamp,
    long TxnLastUpdateTimestamp,
    short ClientTransactionVersion = 0,
    long? NextProducerId = null);
