using OrleansStream.Records;

namespace OrleansStream.Storage;

/// <summary>
/// What an append wrote. <see cref="LogAppendTimeMs"/> is -1 unless the topic uses LogAppendTime. A duplicate (a
/// producer's retry of a batch the log holds) wrote nothing: the offsets and timestamp are the original batch's.
/// </summary>
public readonly record struct LogAppendInfo(
    long FirstOffset, long LastOffset, long MaxTimestamp, long LogAppendTimeMs, int RecordCount, int BatchCount, int Bytes,
    bool IsDuplicate = false);

/// <summary>Kafka's TimestampAndOffset: the answer to a ListOffsets-by-timestamp lookup.</summary>
public readonly record struct TimestampOffset(long Timestamp, long Offset);

/// <summary>One line of the leader-epoch checkpoint: the first offset written in <see cref="Epoch"/>.</summary>
public readonly record struct EpochEntry(int Epoch, long StartOffset);

/// <summary>What a retention pass removed.</summary>
public readonly record struct RetentionResult(int SegmentsDeleted, long BytesDeleted, long LogStartOffset);

/// <summary>What a compaction pass did: segments rewritten, batches and records dropped, bytes before and after.</summary>
public readonly record struct CompactionResult(
    int SegmentsCleaned, long RecordsRemoved, long TombstonesRemoved, long BytesBefore, long BytesAfter);

/// <summary>
/// A segment as the tiering code sees it. <see cref="NextOffset"/> is the first offset after the segment (the next
/// segment's base offset for a closed one). <see cref="MaxTimestamp"/> is the largest batch timestamp (-1 if none),
/// <see cref="LargestTimestamp"/> falls back to the file's modification time as Kafka's retention does.
/// </summary>
public sealed record LogSegmentInfo(
    long BaseOffset,
    long NextOffset,
    long SizeInBytes,
    long MaxTimestamp,
    long LargestTimestamp,
    bool IsActive,
    string LogPath,
    string OffsetIndexPath,
    string TimeIndexPath);

/// <summary>Kafka's FetchIsolation: how far a read may go (the log end for followers, the high watermark, the last stable offset).</summary>
public enum FetchIsolation
{
    LogEnd,
    HighWatermark,
    TxnCommitted,
}

/// <summary>
/// Kafka's FetchDataInfo: whole batches read, and for <see cref="FetchIsolation.TxnCommitted"/> the aborted transactions
/// that overlap them (null when none or not asked for). The reader owns <paramref name="Records"/> and disposes them.
/// </summary>
public readonly record struct FetchDataInfo(PooledRecords Records, IReadOnlyList<AbortedTxn>? AbortedTransactions = null);
