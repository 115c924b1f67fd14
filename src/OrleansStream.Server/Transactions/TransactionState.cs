namespace OrleansStream.Server.Transactions;

/// <summary>Kafka's TransactionState, same ids (they are persisted).</summary>
public enum TransactionState : byte
{
    /// <summary>No transaction open; AddPartitionsToTxn or AddOffsetsToTxn moves to <see cref="Ongoing"/>.</summary>
    Empty = 0,
    /// <summary>A transaction is open; EndTxn moves to <see cref="PrepareCommit"/> or <see cref="PrepareAbort"/>.</summary>
    Ongoing = 1,
    /// <summary>Commit decided and durable; markers are being written.</summary>
    PrepareCommit = 2,
    /// <summary>Abort decided and durable; markers are being written.</summary>
    PrepareAbort = 3,
    CompleteCommit = 4,
    CompleteAbort = 5,
    /// <summary>The transactional id expired and is being removed; never stored.</summary>
    Dead = 6,
    /// <summary>An ongoing transaction is being aborted with a bumped epoch to fence its producer; never stored.</summary>
    PrepareEpochFence = 7,
}
