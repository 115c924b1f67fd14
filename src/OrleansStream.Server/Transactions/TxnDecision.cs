namespace OrleansStream.Server.Transactions;

/// <summary>
/// The decisions a coordinator counts (<see cref="TransactionCoordinatorStats"/> and the <c>orleansstream.transaction.*</c>
/// instruments), each when the transition that makes it is durable.
/// </summary>
internal enum TxnDecision
{
    None,

    /// <summary>EndTxn(commit): PrepareCommit stored, the transaction will commit.</summary>
    Commit,

    /// <summary>EndTxn(abort) from the producer.</summary>
    ClientAbort,

    /// <summary><c>transaction.timeout.ms</c> passed: aborted with a bumped epoch, which fences the producer.</summary>
    TimeoutAbort,

    /// <summary>InitProducerId found the previous producer's transaction open and aborted it with a bumped epoch.</summary>
    FencedAbort,

    /// <summary>InitProducerId of a new producer instance bumped (or rotated) the epoch an earlier instance had.</summary>
    InitProducerIdFencing,
}
