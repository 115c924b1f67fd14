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

    /// <summary>
    /// KIP-890 part 1 for a group: before a transaction's first TxnOffsetCommit, the group asks whether it is in the
    /// producer's open transaction (AddOffsetsToTxn made durable), with the answers of <see cref="ITransactionCoordinatorGrain.VerifyPartitionInTxn"/>.
    /// </summary>
    [AlwaysInterleave]
    Task<ErrorCode> VerifyGroupInTxn(string transactionalId, long producerId, short producerEpoch, string groupId);
}
