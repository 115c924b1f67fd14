using System.Buffers;
using Orleans.Serialization.Buffers;
using Orleans.Serialization.Cloning;
using Orleans.Serialization.Codecs;
using Orleans.Serialization.WireProtocol;
using OrleansStream.Records;

namespace OrleansStream;

/// <summary>
/// Orleans' codec for <see cref="PooledRecords"/>: writes the bytes, then disposes an owned sender's copy (a silo writes
/// each message once; a client, which may write a message again after a failed send, only sends views); reads into an
/// array rented at the exact length, which the receiver owns. No copy per batch on either side beyond the wire's own.
/// </summary>
[RegisterSerializer]
internal sealed class PooledRecordsCodec : IFieldCodec<PooledRecords>
{
    public void WriteField<TBufferWriter>(ref Writer<TBufferWriter> writer, uint fieldIdDelta, Type? expectedType, PooledRecords? value)
        where TBufferWriter : IBufferWriter<byte>
    {
        if (ReferenceCodec.TryWriteReferenceField(ref writer, fieldIdDelta, expectedType, value)) return;
        writer.WriteFieldHeader(fieldIdDelta, expectedType, typeof(PooledRecords), WireType.LengthPrefixed);
        writer.WriteVarUInt32((uint)value.Length);
        writer.Write(value.Span);
        value.Dispose();
    }

    public PooledRecords? ReadValue<TInput>(ref Reader<TInput> reader, Field field)
    {
        if (field.WireType == WireType.Reference) return ReferenceCodec.ReadReference<PooledRecords, TInput>(ref reader, field);
        field.EnsureWireType(WireType.LengthPrefixed);
        var length = reader.ReadVarUInt32();
        if (length > int.MaxValue) throw new InvalidOperationException($"A record set of {length} bytes exceeds the largest array.");
        var records = PooledRecords.Rent((int)length);
        if (length > 0) reader.ReadBytes(records.WritableSpan);
        ReferenceCodec.RecordObject(reader.Session, records);
        return records;
    }
}

/// <summary>A call within a silo hands the instance over with its ownership: the receiver disposes it, the sender no longer touches it.</summary>
[RegisterCopier]
internal sealed class PooledRecordsCopier : IDeepCopier<PooledRecords>, IOptionalDeepCopier
{
    public PooledRecords? DeepCopy(PooledRecords? input, CopyContext context) => input;

    public bool IsShallowCopyable() => true;
}
