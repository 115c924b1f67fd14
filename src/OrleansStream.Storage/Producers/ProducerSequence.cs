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
