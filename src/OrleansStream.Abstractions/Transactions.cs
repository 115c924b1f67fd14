using Orleans.Concurrency;

namespace OrleansStream;

/// <summary>
/// Kafka's FindCoordinator for key type TRANSACTION, answered by any broker: the shard of
/// <see cref="ITransactionCoordinatorGrain"/> that owns a transactional id. Call it with key 0; it runs on the silo
/// that receives the call. Clients cache the answer and ask again after <see cref="ErrorCode.NotCoordinator"/>.
/// </summary>
public interface ITransactionCoordinatorLookupGrain : IGrainWithIntegerKey
{
    Task<int> FindCoordinator(string transactionalId);

    /// <summary><c>transaction.state.log.num.partitions</c>: the shards 0..n-1 that ListTransactions asks.</summary>
    Task<int> ShardCount();
}

/// <summary>
/// Kafka's transaction coordinator for one shard of transactional ids (one <c>__transaction_state</c> partition),
/// keyed by the shard number that <see cref="ITransactionCoordinatorLookupGrain.FindCoordinator"/> answers.
/// Grains return error codes rather than throw, as Kafka's responses do; a request for an id this shard does not own
/// gets <see cref="ErrorCode.NotCoordinator"/>.
/// </summary>
public interface ITransactionCoordinatorGrain : IGrainWithIntegerKey
{
    /// <summary>InitProducerId with a transactional id: a new producer id, or the id's epoch bumped (fencing the old producer).</summary>
    Task<InitProducerIdResponse> InitProducerId(InitTransactionalProducerIdRequest request);

    Task<AddPartitionsToTxnResponse> AddPartitionsToTxn(AddPartitionsToTxnRequest request);

    /// <summary>Adds the group as a participant, so that its offsets commit or abort with the transaction.</summary>
    Task<TxnResponse> AddOffsetsToTxn(AddOffsetsToTxnRequest request);

    Task<TxnResponse> EndTxn(EndTxnRequest request);

    /// <summary>KIP-890 part 1: a partition leader asks before it takes a transaction's first batch.</summary>
    [AlwaysInterleave]
    Task<TxnResponse> VerifyPartitionInTxn(VerifyPartitionInTxnRequest request);

    /// <summary>Kafka's DescribeTransactions for the ids this shard owns (others get <see cref="ErrorCode.NotCoordinator"/>).</summary>
    [AlwaysInterleave]
    Task<IReadOnlyList<TransactionDescription>> DescribeTransactions(IReadOnlyList<string> transactionalIds);

    /// <summary>
    /// Kafka's ListTransactions for this shard; empty filters match everything. <paramref name="durationFilterMs"/> &gt;= 0
    /// keeps only the ids whose transaction started longer ago than that (KIP-994, v1), as Kafka compares the
    /// transaction's start time whatever its state.
    /// </summary>
    [AlwaysInterleave]
    Task<IReadOnlyList<TransactionListingResult>> ListTransactions(IReadOnlyList<string> stateFilters, IReadOnlyList<long> producerIdFilters, long durationFilterMs = -1);

    /// <summary>What this shard has decided since it was created: commits, aborts by cause and producer fencings.</summary>
    [AlwaysInterleave]
    Task<TransactionCoordinatorStats> GetStats();
}

/// <summary>
/// The decisions one coordinator shard made durable since it was created, stored with its transaction state so that
/// they outlive activations and silos. A commit or abort counts when its PrepareCommit or PrepareAbort is stored
/// (Kafka's commit point), before its markers. <paramref name="InitProducerIdFencings"/>: InitProducerId calls without
/// a KIP-360 expected producer (a new producer instance) on an id that already had an epoch, each fencing that epoch;
/// <paramref name="TimeoutFencings"/>: transactions aborted at <c>transaction.timeout.ms</c> with a bumped epoch, each
/// fencing the producer that left it open. <paramref name="FencedAborts"/>: open transactions an InitProducerId aborted.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record TransactionCoordinatorStats(
    long Commits,
    long ClientAborts,
    long TimeoutAborts,
    long FencedAborts,
    long InitProducerIdFencings,
    long TimeoutFencings)
{
    public static readonly TransactionCoordinatorStats None = new(0, 0, 0, 0, 0, 0);

    public static TransactionCoordinatorStats operator +(TransactionCoordinatorStats a, TransactionCoordinatorStats b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        return new(a.Commits + b.Commits, a.ClientAborts + b.ClientAborts, a.TimeoutAborts + b.TimeoutAborts, a.FencedAborts + b.FencedAborts,
            a.InitProducerIdFencings + b.InitProducerIdFencings, a.TimeoutFencings + b.TimeoutFencings);
    }
}

/// <summary>
/// Kafka's InitProducerIdRequest with a transactional id. KIP-360: a producer that already had an id passes it as
/// <paramref name="ExpectedProducerId"/>/<paramref name="ExpectedProducerEpoch"/> (-1 otherwise).
/// </summary>
[GenerateSerializer, Immutable]
public sealed record InitTransactionalProducerIdRequest(
    string TransactionalId,
    int TransactionTimeoutMs,
    long ExpectedProducerId = -1,
    short ExpectedProducerEpoch = -1);

/// <summary>
/// Kafka's AddPartitionsToTxn. <paramref name="ClientTransactionVersion"/>: 2 when a partition leader adds its partition
/// for a producer of transactions v2 (KIP-890 part 2), 0 from AddPartitionsToTxn itself.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record AddPartitionsToTxnRequest(
    string TransactionalId, long ProducerId, short ProducerEpoch, IReadOnlyList<TopicPartition> Partitions, short ClientTransactionVersion = 0);

/// <summary>One error per partition asked for (Kafka answers every partition, <see cref="ErrorCode.OperationNotAttempted"/> for the rest when one fails).</summary>
[GenerateSerializer, Immutable]
public sealed record AddPartitionsToTxnResponse(IReadOnlyList<PartitionError> Partitions);

/// <summary>Kafka's AddOffsetsToTxn; <paramref name="ClientTransactionVersion"/> 2 when a group adds itself for a producer of transactions v2.</summary>
[GenerateSerializer, Immutable]
public sealed record AddOffsetsToTxnRequest(string TransactionalId, long ProducerId, short ProducerEpoch, string GroupId, short ClientTransactionVersion = 0);

/// <summary>
/// Kafka's EndTxn. <paramref name="ClientTransactionVersion"/> 2 (a Kafka EndTxn v5+, KIP-890 part 2): the coordinator
/// bumps the producer epoch with the decision and answers the id and epoch for the next transaction.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record EndTxnRequest(string TransactionalId, long ProducerId, short ProducerEpoch, bool Commit, short ClientTransactionVersion = 0);

[GenerateSerializer, Immutable]
public sealed record VerifyPartitionInTxnRequest(string TransactionalId, long ProducerId, short ProducerEpoch, TopicPartition Partition);

/// <summary>
/// A coordinator's answer of one error. EndTxn of transactions v2 also answers the producer id and epoch the producer
/// takes for its next transaction (-1 otherwise).
/// </summary>
[GenerateSerializer, Immutable]
public sealed record TxnResponse(ErrorCode Error, string? ErrorMessage = null, long ProducerId = -1, short ProducerEpoch = -1);

/// <summary>Kafka's DescribeTransactions result for one id. <paramref name="State"/> is Kafka's state name (Empty, Ongoing, PrepareCommit, ...).</summary>
[GenerateSerializer, Immutable]
public sealed record TransactionDescription(
    string TransactionalId,
    ErrorCode Error,
    string State,
    long ProducerId,
    short ProducerEpoch,
    int TransactionTimeoutMs,
    long TransactionStartTimeMs,
    IReadOnlyList<TopicPartition> Partitions);

/// <summary>One row of Kafka's ListTransactions answer.</summary>
[GenerateSerializer, Immutable]
public sealed record TransactionListingResult(string TransactionalId, long ProducerId, string State);

/// <summary>
/// Kafka's TxnOffsetCommit, sent to the group's coordinator: offsets held pending until the transaction's marker
/// (commit makes them the group's committed offsets, abort drops them). KIP-447: generation and member are checked
/// when given (-1 / empty skip the check). <paramref name="TakesTransactionAbortable"/>: the client takes
/// <see cref="ErrorCode.TransactionAbortable"/> (a Kafka TxnOffsetCommit v4+, Kafka's <c>genericError</c>) for a group
/// that the transaction's verification finds outside it; otherwise that is <see cref="ErrorCode.InvalidTxnState"/>.
/// <paramref name="AddsGroupToTxn"/>: the producer runs transactions v2 (a Kafka TxnOffsetCommit v5+, KIP-890 part 2), so
/// the transaction's first commit here adds the group to the transaction (no AddOffsetsToTxn first).
/// </summary>
[GenerateSerializer, Immutable]
public sealed record TxnOffsetCommitRequest(
    string TransactionalId,
    long ProducerId,
    short ProducerEpoch,
    IReadOnlyList<OffsetToCommit> Offsets,
    int GenerationId = -1,
    string MemberId = "",
    string? GroupInstanceId = null,
    bool TakesTransactionAbortable = false,
    bool AddsGroupToTxn = false);

/// <summary>The fetch isolation level (Kafka's values): read_committed reads below the last stable offset only.</summary>
[GenerateSerializer]
public enum IsolationLevel : byte
{
    ReadUncommitted = 0,
    ReadCommitted = 1,
}

/// <summary>An aborted transaction in a fetched range, Kafka's FetchResponse AbortedTransaction.</summary>
[GenerateSerializer, Immutable]
public readonly record struct AbortedTransaction(long ProducerId, long FirstOffset);

/// <summary>One transaction marker for one partition, Kafka's WritableTxnMarker.</summary>
[GenerateSerializer, Immutable]
public sealed record WriteTxnMarkerRequest(long ProducerId, short ProducerEpoch, int CoordinatorEpoch, bool Commit, int CurrentLeaderEpoch = -1);
