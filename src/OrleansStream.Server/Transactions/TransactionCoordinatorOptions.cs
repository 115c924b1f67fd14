using Microsoft.Extensions.Options;
using Orleans.Configuration;

namespace OrleansStream.Server.Transactions;

/// <summary>The transaction coordinator's broker settings, Kafka's keys and defaults.</summary>
public sealed class TransactionCoordinatorOptions
{
    /// <summary>The configuration section bound to these options.</summary>
    public const string ConfigurationSection = "OrleansStream:Transactions";

    /// <summary>
    /// <c>transaction.state.log.num.partitions</c>: how many coordinator shards own the transactional ids (Kafka's
    /// <c>__transaction_state</c> partitions). Fixed for the life of a cluster: changing it moves ids between shards.
    /// </summary>
    public int TransactionStateLogNumPartitions { get; set; } = 50;

    /// <summary><c>transaction.max.timeout.ms</c>: the longest <c>transaction.timeout.ms</c> a producer may ask for.</summary>
    public int TransactionMaxTimeoutMs { get; set; } = 900_000;

    /// <summary><c>transactional.id.expiration.ms</c>: how long a transactional id without a transaction lives on unused.</summary>
    public long TransactionalIdExpirationMs { get; set; } = 604_800_000;

    /// <summary><c>transaction.abort.timed.out.transaction.cleanup.interval.ms</c>: how often timed-out transactions are aborted.</summary>
    public int TransactionAbortTimedOutTransactionCleanupIntervalMs { get; set; } = 10_000;

    /// <summary><c>transaction.remove.expired.transaction.cleanup.interval.ms</c>: how often expired transactional ids are removed.</summary>
    public int TransactionRemoveExpiredTransactionCleanupIntervalMs { get; set; } = 3_600_000;

    /// <summary>
    /// How long a partition leader waits for its in-sync replicas to hold a COMMIT/ABORT marker before it answers the
    /// coordinator with a timeout (Kafka waits <c>request.timeout.ms</c>); the coordinator writes the marker again.
    /// Below Orleans' response timeout, so that the coordinator hears the answer rather than giving up on the call.
    /// </summary>
    public int TransactionMarkerReplicationTimeoutMs { get; set; } = 15_000;

    /// <summary>The highest <c>transaction.version</c> this broker runs.</summary>
    public const short MaxTransactionVersion = 2;

    /// <summary>
    /// Kafka's <c>transaction.version</c> feature as ApiVersions finalizes it, 0-2 (Kafka 4's default for a new cluster,
    /// 2). At 2 a Kafka 4 client runs transactions v2 (KIP-890 part 2): the coordinator bumps the producer epoch with
    /// every transaction, and a partition or group joins a transaction with its first write (Produce v12, TxnOffsetCommit
    /// v5) instead of AddPartitionsToTxn/AddOffsetsToTxn. Below 2 clients stay on transactions v1. The broker serves
    /// both whatever this says (each request's version says which it is), so it is only what clients are told; set it
    /// the same on every broker.
    /// </summary>
    public short TransactionVersion { get; set; } = MaxTransactionVersion;
}

internal sealed class TransactionCoordinatorOptionsValidator(IOptions<SiloMessagingOptions> messaging) : IValidateOptions<TransactionCoordinatorOptions>
{
    public ValidateOptionsResult Validate(string? name, TransactionCoordinatorOptions o)
    {
        var responseTimeout = messaging.Value.ResponseTimeout;
        List<string>? errors = null;
        void Require(bool ok, string message) { if (!ok) (errors ??= []).Add(message); }
        Require(o.TransactionStateLogNumPartitions >= 1, "transaction.state.log.num.partitions must be >= 1");
        Require(o.TransactionMaxTimeoutMs >= 1, "transaction.max.timeout.ms must be >= 1");
        Require(o.TransactionalIdExpirationMs >= 1, "transactional.id.expiration.ms must be >= 1");
        Require(o.TransactionAbortTimedOutTransactionCleanupIntervalMs >= 1, "transaction.abort.timed.out.transaction.cleanup.interval.ms must be >= 1");
        Require(o.TransactionRemoveExpiredTransactionCleanupIntervalMs >= 1, "transaction.remove.expired.transaction.cleanup.interval.ms must be >= 1");
        Require(o.TransactionVersion is >= 0 and <= TransactionCoordinatorOptions.MaxTransactionVersion,
            $"transaction.version must be 0 to {TransactionCoordinatorOptions.MaxTransactionVersion}");
        Require(o.TransactionMarkerReplicationTimeoutMs >= 1 && o.TransactionMarkerReplicationTimeoutMs < responseTimeout.TotalMilliseconds,
            $"TransactionMarkerReplicationTimeoutMs must be >= 1 and below Orleans' response timeout ({responseTimeout.TotalMilliseconds} ms)");
        return errors is null ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
