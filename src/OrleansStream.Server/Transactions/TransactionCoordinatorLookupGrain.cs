using Microsoft.Extensions.Options;
using Orleans.Concurrency;

namespace OrleansStream.Server.Transactions;

/// <summary>
/// Kafka's FindCoordinator(TRANSACTION) on the silo that receives it: the shard is a pure function of the id
/// (<see cref="TransactionStateManager.PartitionFor"/>), so any broker answers without a hop.
/// </summary>
[StatelessWorker]
[GrainType("os-txn-coordinator-lookup")]
internal sealed class TransactionCoordinatorLookupGrain(IOptions<TransactionCoordinatorOptions> options)
    : Grain, ITransactionCoordinatorLookupGrain
{
    public Task<int> FindCoordinator(string transactionalId)
    {
        ArgumentException.ThrowIfNullOrEmpty(transactionalId);
        return Task.FromResult(TransactionStateManager.PartitionFor(transactionalId, options.Value.TransactionStateLogNumPartitions));
    }

    public Task<int> ShardCount() => Task.FromResult(options.Value.TransactionStateLogNumPartitions);
}
