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
