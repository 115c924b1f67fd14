using Orleans.Concurrency;

namespace OrleansStream.Server.Transactions;

/// <summary>What silos ask of a coordinator shard beyond Kafka's requests; not for clients.</summary>
public interface ITransactionCoordinatorShardGrain : IGrainWithIntegerKey
{
    /// <summary>
    /// Activates the shard if it is not active (loading its ids, resuming every marker phase, starting its timers) and
    /// answers its coordinator epoch.
    /// </summary>
    [AlwaysInterleave]
    Task<int> Wake();
}
