using System.Buffers;
using Orleans.Serialization.Buffers;
using Orleans.Serialization.Cloning;
using Orleans.Serialization.Codecs;
using Orleans.Serialization.WireProtocol;
using OrleansStream.Records;

namespace OrleansStream;

/// <summary>
/// Orleans' codec for <see cref="PooledRecords"/>: writes the bytes, then disposes an owned sender's copy; reads into an
/// array rented at the exact length, which the receiver owns. No copy per batch on either side beyond the wire's own.
/// <para>
/// A silo writes a message once (Orleans 10's <c>Connection</c>): a connection that closes with the message written
/// fails it back to its caller (<c>SiloConnection</c>/<c>GatewayInboundConnection.OnSendMessageFailure</c>), and only
/// messages not yet written are sent again. A silo that forwards a call (its target activation deactivated or moved)
/// forwards the body it read off the wire, its own copy that no grain saw. A client sends a written message again
/// after a failed send (<c>ClientOutboundConnection</c>), so the SDK only sends views. Were a disposed copy written again,
/// reading it throws <see cref="ObjectDisposedException"/> and the call fails; no other owner's bytes go out.
/// </para>
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
