namespace OrleansStream.Server.Transactions;

/// <summary>One row of Kafka's ListTransactions answer.</summary>
public readonly record struct TransactionListing(string TransactionalId, long ProducerId, TransactionState State);
