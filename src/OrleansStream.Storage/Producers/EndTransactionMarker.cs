using System.Buffers.Binary;
using OrleansStream.Records;

namespace OrleansStream.Storage.Producers;

/// <summary>Kafka's ControlRecordType ids for the key of a control record; only the transaction markers matter here.</summary>
public enum ControlRecordType : short
{
    Abort = 0,
    Commit = 1,
}

/// <summary>
/// Kafka's EndTransactionMarker, the single record of a COMMIT or ABORT control batch. Key: version int16 (0), type
/// int16. Value: version int16 (0), coordinatorEpoch int32. Newer versions are read as version 0, as Kafka does.
/// </summary>
public readonly record struct EndTransactionMarker(ControlRecordType Type, int CoordinatorEpoch)
{
    public const short CurrentControlRecordKeyVersion = 0;
    public const short CurrentEndTxnMarkerValueVersion = 0;
    public const int KeySize = 4;
    public const int ValueSize = 6;

    public bool IsAbort => Type == ControlRecordType.Abort;

    /// <summary>Parses a control record's key and value; false when they are not a COMMIT or ABORT marker.</summary>
    public static bool TryRead(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, out EndTransactionMarker marker)
    {
        marker = default;
        if (key.Length < KeySize || value.Length < ValueSize || BinaryPrimitives.ReadInt16BigEndian(key) < 0)
            return false;
        var type = BinaryPrimitives.ReadInt16BigEndian(key[2..]);
        if (type != (short)ControlRecordType.Abort && type != (short)ControlRecordType.Commit)
            return false;
        marker = new EndTransactionMarker((ControlRecordType)type, BinaryPrimitives.ReadInt32BigEndian(value[2..]));
        return true;
    }

    public void WriteKey(Span<byte> key)
    {
        BinaryPrimitives.WriteInt16BigEndian(key, CurrentControlRecordKeyVersion);
        BinaryPrimitives.WriteInt16BigEndian(key[2..], (short)Type);
    }

    public void WriteValue(Span<byte> value)
    {
        BinaryPrimitives.WriteInt16BigEndian(value, CurrentEndTxnMarkerValueVersion);
        BinaryPrimitives.WriteInt32BigEndian(value[2..], CoordinatorEpoch);
    }

    /// <summary>
    /// Starts <paramref name="builder"/> over as this marker's control batch (transactional, control, no sequence) for
    /// the producer; seal it to get the batch.
    /// </summary>
    public void WriteBatch(RecordBatchBuilder builder, long producerId, short producerEpoch, long timestampMs)
    {
        Span<byte> key = stackalloc byte[KeySize];
        Span<byte> value = stackalloc byte[ValueSize];
        WriteKey(key);
        WriteValue(value);
        builder.Reset(producerId, producerEpoch, ProducerSequence.NoSequence, isTransactional: true, isControl: true);
        builder.Append(timestampMs, key, false, value, false);
    }
}
