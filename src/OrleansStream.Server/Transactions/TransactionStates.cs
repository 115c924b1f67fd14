namespace OrleansStream.Server.Transactions;

/// <summary>Kafka's legal-transition table (each state's <c>validPreviousStates</c>) and its expiration rule.</summary>
internal static class TransactionStates
{
    public static bool IsValidTransition(TransactionState from, TransactionState to) => to switch
    {
        TransactionState.Empty => from is TransactionState.Empty or TransactionState.CompleteCommit or TransactionState.CompleteAbort,
        TransactionState.Ongoing => from is TransactionState.Ongoing or TransactionState.Empty or TransactionState.CompleteCommit or TransactionState.CompleteAbort,
        TransactionState.PrepareCommit => from is TransactionState.Ongoing,
        TransactionState.PrepareAbort => from is TransactionState.Ongoing or TransactionState.PrepareEpochFence,
        TransactionState.CompleteCommit => from is TransactionState.PrepareCommit,
        TransactionState.CompleteAbort => from is TransactionState.PrepareAbort,
        TransactionState.Dead => from is TransactionState.Empty or TransactionState.CompleteAbort or TransactionState.CompleteCommit,
        TransactionState.PrepareEpochFence => from is TransactionState.Ongoing,
        _ => false,
    };

    /// <summary>Whether a transactional id resting in this state may expire (<c>transactional.id.expiration.ms</c>).</summary>
    public static bool IsExpirationAllowed(TransactionState state) =>
        state is TransactionState.Empty or TransactionState.CompleteCommit or TransactionState.CompleteAbort;

    /// <summary>Whether the producer has a transaction not yet completed.</summary>
    public static bool HasPendingTransaction(TransactionState state) =>
        state is TransactionState.Ongoing or TransactionState.PrepareCommit or TransactionState.PrepareAbort;
}
