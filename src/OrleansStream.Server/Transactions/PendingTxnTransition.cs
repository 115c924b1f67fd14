namespace OrleansStream.Server.Transactions;

/// <summary>
/// A prepared transition waiting to be made durable: Kafka's appendTransactionToLog arguments. The caller stores
/// <see cref="TransactionCoordinator.StateWith"/> this write, then calls <see cref="TransactionCoordinator.CompleteWrite"/>
/// or <see cref="TransactionCoordinator.FailWrite"/> exactly once.
/// </summary>
internal sealed class PendingTxnTransition(
    string transactionalId, int coordinatorEpoch, TxnTransitMetadata transit, TxnOperationKind kind, bool fencesProducer = false)
{
    public string TransactionalId { get; } = transactionalId;

    /// <summary>The coordinator epoch it was prepared under; a reload since then makes it stale (NotCoordinator).</summary>
    public int CoordinatorEpoch { get; } = coordinatorEpoch;

    public TxnTransitMetadata Transit { get; } = transit;

    public TxnOperationKind Kind { get; } = kind;

    /// <summary>Whether the durable result removes the transactional id (it expired) instead of storing it.</summary>
    public bool RemovesTransactionalId => Transit.TxnState == TransactionState.Dead;

    /// <summary>What this write decides once durable, as the coordinator counts it.</summary>
    public TxnDecision Decision => Kind switch
    {
        TxnOperationKind.InitProducerId when fencesProducer => TxnDecision.InitProducerIdFencing,
        TxnOperationKind.FenceProducerEpoch => TxnDecision.FencedAbort,
        TxnOperationKind.AbortTimedOut => TxnDecision.TimeoutAbort,
        TxnOperationKind.EndTxn => Transit.TxnState == TransactionState.PrepareCommit ? TxnDecision.Commit : TxnDecision.ClientAbort,
        _ => TxnDecision.None,
    };

    public override string ToString() => $"{TransactionalId} -> {Transit.TxnState} ({Kind}, coordinator epoch {CoordinatorEpoch})";
}
