namespace OrleansStream.Storage.Producers;

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
