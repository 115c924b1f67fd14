namespace OrleansStream.Storage.Producers;

/// <summary>Kafka's CompletedTxn: a transaction's data range, ended at <see cref="LastOffset"/> by a COMMIT or ABORT marker.</summary>
public readonly record struct CompletedTxn(long ProducerId, long FirstOffset, long LastOffset, bool IsAborted);

/// <summary>A transaction completed by an append, with the last stable offset to record beside it in the <c>.txnindex</c>.</summary>
public readonly record struct TxnCompletion(CompletedTxn Txn, long LastStableOffset);
