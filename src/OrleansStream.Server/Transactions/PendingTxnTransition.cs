using OrleansStream.Storage.Producers;

namespace OrleansStream.Server.Transactions;

/// <summary>Which coordinator operation prepared a transition: it decides the answer once the transition is durable.</summary>
internal enum TxnOperationKind
{
    InitProducerId,
    AddPartitions,
    EndTxn,
    /// <summary>InitProducerId found a transaction open and aborts it with a bumped epoch; the producer retries.</summary>
    FenceProducerEpoch,
    /// <summary><c>transaction.timeout.ms</c> passed: Kafka's abortTimedOutTransactions, an abort with a bumped epoch.</summary>
    AbortTimedOut,
    CompleteMarkers,
    ExpireTransactionalId,
}

/// <summary>
/// A prepared transition waiting to be made durable: Kafka's appendTransactionToLog arguments. The caller stores
/// <see cref="TransactionCoordinator.StateWith"/> this write, then calls <see cref="TransactionCoordinator.CompleteWrite"/>
/// or <see cref="TransactionCoordinator.FailWrite"/> exactly once.
/// </summary>
internal sealed class PendingTxnTransition(string transactionalId, int coordinatorEpoch, TxnTransitMetadata transit, TxnOperationKind kind)
{
    public string TransactionalId { get; } = transactionalId;

    /// <summary>The coordinator epoch it was prepared under; a reload since then makes it stale (NotCoordinator).</summary>
    public int CoordinatorEpoch { get; } = coordinatorEpoch;

    public TxnTransitMetadata Transit { get; } = transit;

    public TxnOperationKind Kind { get; } = kind;

    /// <summary>Whether the durable result removes the transactional id (it expired) instead of storing it.</summary>
    public bool RemovesTransactionalId => Transit.TxnState == TransactionState.Dead;

    public override string ToString() => $"{TransactionalId} -> {Transit.TxnState} ({Kind}, coordinator epoch {CoordinatorEpoch})";
}

/// <summary>
/// What a coordinator operation came to: an answer now (<see cref="Write"/> null), or a transition to make durable
/// first. After a durable EndTxn, fence or timeout abort, <see cref="Markers"/> is the marker phase to start.
/// </summary>
internal readonly record struct TxnOperation(
    ErrorCode Error,
    long ProducerId = ProducerSequence.NoProducerId,
    short ProducerEpoch = ProducerSequence.NoProducerEpoch,
    PendingTxnTransition? Write = null,
    TxnMarkerRequest? Markers = null)
{
    public static TxnOperation Answer(ErrorCode error) => new(error);

    public static TxnOperation Persist(PendingTxnTransition write) => new(ErrorCode.None, Write: write);
}
