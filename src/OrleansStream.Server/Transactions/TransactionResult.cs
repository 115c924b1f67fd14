namespace OrleansStream.Server.Transactions;

/// <summary>Kafka's TransactionResult: what the markers of a transaction say.</summary>
public enum TransactionResult : byte
{
    Abort = 0,
    Commit = 1,
}
