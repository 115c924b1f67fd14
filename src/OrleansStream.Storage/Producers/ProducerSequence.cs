using OrleansStream.Records;

namespace OrleansStream.Storage.Producers;

/// <summary>
/// The producer fields' sentinels of Kafka's RecordBatch and DefaultRecordBatch's sequence arithmetic: a producer's
/// sequence wraps from <see cref="int.MaxValue"/> to 0.
/// </summary>
public static class ProducerSequence
{
    public const long NoProducerId = -1;
    public const short NoProducerEpoch = -1;
    public const int NoSequence = -1;
    public const long NoTimestamp = -1;

    public static int Increment(int sequence, int increment) =>
        sequence > int.MaxValue - increment ? increment - (int.MaxValue - sequence) - 1 : sequence + increment;

    public static int Decrement(int sequence, int decrement) =>
        sequence < decrement ? int.MaxValue - (decrement - sequence) + 1 : sequence - decrement;

    /// <summary>Kafka's RecordBatch.lastSequence: the base sequence advanced by the batch's last offset delta.</summary>
    public static int LastSequence(in RecordBatchHeader header) =>
        header.BaseSequence == NoSequence ? NoSequence : Increment(header.BaseSequence, header.LastOffsetDelta);

    /// <summary>Kafka's ProducerAppendInfo.inSequence: the next batch starts right after the last, wrapping at Int32.MaxValue.</summary>
    public static bool InSequence(int lastSequence, int nextSequence) =>
        nextSequence == lastSequence + 1L || (nextSequence == 0 && lastSequence == int.MaxValue);

    /// <summary>Kafka's RecordBatch.hasProducerId: the batch came from an idempotent or transactional producer.</summary>
    public static bool HasProducerId(in RecordBatchHeader header) => header.ProducerId != NoProducerId;
}

/// <summary>
/// Kafka's BatchMetadata: one appended batch of a producer, kept so that a retried batch is answered with the offsets it
/// was first written at. The offset delta serves both sequences and offsets: in RecordBatch v2 a batch's sequences and
/// offsets advance together.
/// </summary>
public readonly record struct BatchMetadata(int LastSeq, long LastOffset, int OffsetDelta, long Timestamp)
{
    public int FirstSeq => ProducerSequence.Decrement(LastSeq, OffsetDelta);

    public long FirstOffset => LastOffset - OffsetDelta;
}

/// <summary>Kafka's AppendOrigin: how much of a batch's producer state is validated.</summary>
public enum AppendOrigin
{
    /// <summary>Replicated from the leader or read back from the log: applied without validation (the leader validated it).</summary>
    Replication,

    /// <summary>Written by a coordinator (transaction markers, group offsets): epochs are checked, sequences are not.</summary>
    Coordinator,

    /// <summary>Produced by a client to the leader: duplicates, epochs and sequences are all checked.</summary>
    Client,
}

/// <summary>Kafka's CompletedTxn: a transaction's data range, ended at <see cref="LastOffset"/> by a COMMIT or ABORT marker.</summary>
public readonly record struct CompletedTxn(long ProducerId, long FirstOffset, long LastOffset, bool IsAborted);

/// <summary>A transaction completed by an append, with the last stable offset to record beside it in the <c>.txnindex</c>.</summary>
public readonly record struct TxnCompletion(CompletedTxn Txn, long LastStableOffset);
