using OrleansStream.Records;

namespace OrleansStream;

/// <summary>
/// One or more whole RecordBatch v2 batches, concatenated, as the client built them. The leader stamps offsets and
/// epoch. <paramref name="CurrentLeaderEpoch"/> of -1 skips the epoch check. The leader owns <paramref name="Records"/>
/// and disposes them after the append (a sender lends its memory as a <see cref="PooledRecords.Borrow"/> view).
/// <paramref name="TakesTransactionAbortable"/>: the producer takes <see cref="ErrorCode.TransactionAbortable"/> (a Kafka
/// Produce v11+, Kafka's <c>genericError</c>) for a transactional batch whose partition verification finds outside its
/// transaction; otherwise that is <see cref="ErrorCode.InvalidTxnState"/>. <paramref name="AddsPartitionToTxn"/>: the
/// producer runs transactions v2 (a Kafka Produce v12+, KIP-890 part 2), so a transaction's first batch here adds the
/// partition to the transaction at its coordinator instead of being verified against it.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record ProduceRequest(
    Acks Acks, int TimeoutMs, PooledRecords Records, int CurrentLeaderEpoch = -1, string? TransactionalId = null, bool TakesTransactionAbortable = false,
    bool AddsPartitionToTxn = false);

[GenerateSerializer, Immutable]
public sealed record ProduceResponse(
    ErrorCode Error,
    long BaseOffset,
    long LogAppendTimeMs,
    long LogStartOffset,
    string? ErrorMessage = null);

/// <summary>
/// Kafka's fetch for one partition: wait up to <paramref name="MaxWaitMs"/> for <paramref name="MinBytes"/>.
/// <see cref="IsolationLevel.ReadCommitted"/> reads below the last stable offset only. With
/// <paramref name="LastFetchedEpoch"/> (Fetch v12+, the epoch of the last batch the client read; -1 for none) the
/// leader first checks that the client's log has not diverged from its own (KIP-320 inside the fetch).
/// </summary>
[GenerateSerializer, Immutable]
public sealed record FetchRequest(
    long FetchOffset,
    int MaxBytes,
    int MinBytes = 1,
    int MaxWaitMs = 500,
    int CurrentLeaderEpoch = -1,
    IsolationLevel IsolationLevel = IsolationLevel.ReadUncommitted,
    int LastFetchedEpoch = -1);

/// <summary>
/// Whole stored batches starting at or before the fetch offset, below the high watermark (read_committed: below the
/// last stable offset); the first may begin before the requested offset, as in Kafka; consumers skip what they did
/// not ask for. For read_committed, <paramref name="AbortedTransactions"/> lists the aborted transactions that overlap
/// the returned range (null when none); consumers drop those producers' batches from each first offset up to the
/// producer's ABORT marker. <paramref name="LastStableOffset"/> is -1 where the leader did not compute it. The caller
/// owns <paramref name="Records"/> and disposes them once read. When the request's last fetched epoch ended earlier in
/// the leader's log than the client read, no records come back but <paramref name="DivergingEpoch"/> and
/// <paramref name="DivergingEndOffset"/>: the largest epoch the leader has at or below it and where that epoch ended
/// (Kafka's diverging epoch; -1 and -1 otherwise); the client truncates there.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record FetchResponse(
    ErrorCode Error,
    long HighWatermark,
    long LogStartOffset,
    PooledRecords Records,
    string? ErrorMessage = null,
    long LastStableOffset = -1,
    IReadOnlyList<AbortedTransaction>? AbortedTransactions = null,
    int DivergingEpoch = -1,
    long DivergingEndOffset = -1);

/// <summary>Kafka's ListOffsets timestamps: -1 latest, -2 earliest, otherwise the first offset with a timestamp at or after it.</summary>
public static class ListOffsetsTimestamp
{
    public const long Latest = -1;
    public const long Earliest = -2;

    /// <summary>KIP-734's MAX_TIMESTAMP: the offset and timestamp of the first record with the largest timestamp.</summary>
    public const long MaxTimestamp = -3;

    /// <summary>KIP-405's EARLIEST_LOCAL_TIMESTAMP: the local log start offset (above the tiered part of the log).</summary>
    public const long EarliestLocal = -4;

    /// <summary>
    /// KIP-1005's LATEST_TIERED_TIMESTAMP: the highest offset in the tier (remote storage), -1 when nothing is tiered or
    /// the topic does not tier.
    /// </summary>
    public const long LatestTiered = -5;
}

/// <summary>Kafka's ListOffsets; <see cref="ListOffsetsTimestamp.Latest"/> with <see cref="IsolationLevel.ReadCommitted"/> answers the last stable offset.</summary>
[GenerateSerializer, Immutable]
public sealed record ListOffsetsRequest(long Timestamp, int CurrentLeaderEpoch = -1, IsolationLevel IsolationLevel = IsolationLevel.ReadUncommitted);

/// <summary><paramref name="Offset"/> is -1 when no record has a timestamp at or after the one asked for.</summary>
[GenerateSerializer, Immutable]
public sealed record ListOffsetsResponse(ErrorCode Error, long Offset, long Timestamp, int LeaderEpoch, string? ErrorMessage = null);

/// <summary>
/// Kafka's EpochEndOffset for one partition (OffsetForLeaderEpoch): the largest epoch at or below the one asked that the
/// leader's log knows and the offset where it ended (the next epoch's start offset, or the log end offset for the latest);
/// -1 and -1 when the log knows no such epoch.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record EpochEndOffsetResponse(ErrorCode Error, int LeaderEpoch, long EndOffset, string? ErrorMessage = null);

/// <summary>Kafka's DeleteRecords for one partition: <paramref name="Offset"/> becomes the log start offset; -1 means the high watermark.</summary>
[GenerateSerializer, Immutable]
public sealed record DeleteRecordsRequest(long Offset, int CurrentLeaderEpoch = -1, int TimeoutMs = 30_000);

/// <summary><paramref name="LowWatermark"/> is the smallest log start offset over the in-sync replicas after the deletion.</summary>
[GenerateSerializer, Immutable]
public sealed record DeleteRecordsResponse(ErrorCode Error, long LowWatermark, string? ErrorMessage = null);

/// <summary>
/// A replica's view of its log, for describe and for the controller. <paramref name="Isr"/> is the ISR of the last
/// LeaderAndIsr it applied: on the leader, the set acks=all waits for (the controller's may be one push ahead).
/// </summary>
[GenerateSerializer, Immutable]
public sealed record ReplicaStatus(
    int ReplicaId,
    bool IsLeader,
    int LeaderEpoch,
    long LogStartOffset,
    long LogEndOffset,
    long HighWatermark,
    long SizeBytes,
    IReadOnlyList<int>? Isr = null);

/// <summary>
/// One producer in a partition's producer state (Kafka's DescribeProducers ProducerState): its epoch, the last sequence
/// and timestamp it wrote, the coordinator epoch of its last marker (-1 before any) and the first offset of its open
/// transaction (-1 when none).
/// </summary>
[GenerateSerializer, Immutable]
public sealed record ActiveProducer(long ProducerId, short ProducerEpoch, int LastSequence, long LastTimestamp, int CoordinatorEpoch, long CurrentTxnStartOffset);

[GenerateSerializer, Immutable]
public sealed record DescribeProducersResponse(ErrorCode Error, IReadOnlyList<ActiveProducer> ActiveProducers, string? ErrorMessage = null);
