using System.Buffers;
using Orleans.Serialization.Buffers;
using Orleans.Serialization.Codecs;
using Orleans.Serialization.WireProtocol;

namespace OrleansStream;

/// <summary>
/// Orleans' codec for <see cref="ErrorCode"/>, which lives in the assembly without Orleans and so gets no generated one:
/// without it Orleans boxes the enum to write and to read it, in every produce and fetch answer.
/// </summary>
[RegisterSerializer]
internal sealed class ErrorCodeCodec : IFieldCodec<ErrorCode>
{
    private static readonly Type CodecFieldType = typeof(ErrorCode);

    public void WriteField<TBufferWriter>(ref Writer<TBufferWriter> writer, uint fieldIdDelta, Type? expectedType, ErrorCode value)
        where TBufferWriter : IBufferWriter<byte> =>
        Int16Codec.WriteField(ref writer, fieldIdDelta, expectedType, (short)value, CodecFieldType);

    public ErrorCode ReadValue<TInput>(ref Reader<TInput> reader, Field field) => (ErrorCode)Int16Codec.ReadValue(ref reader, field);
}
