using System.Buffers.Binary;

namespace OrleansStream.Records.Tests;

/// <summary>
/// Writes bytes field by field as Kafka's protocol guide describes them, independent of the code under test:
/// big-endian fixed-width fields, and varints given as the literal bytes the spec prescribes.
/// </summary>
internal sealed class KafkaSpec
{
    private readonly List<byte> _bytes = [];

    public int Length => _bytes.Count;

    public KafkaSpec Int8(byte v) { _bytes.Add(v); return this; }
    public KafkaSpec Int16(short v) { Span<byte> b = stackalloc byte[2]; BinaryPrimitives.WriteInt16BigEndian(b, v); _bytes.AddRange(b); return this; }
    public KafkaSpec Int32(int v) { Span<byte> b = stackalloc byte[4]; BinaryPrimitives.WriteInt32BigEndian(b, v); _bytes.AddRange(b); return this; }
    public KafkaSpec UInt32(uint v) { Span<byte> b = stackalloc byte[4]; BinaryPrimitives.WriteUInt32BigEndian(b, v); _bytes.AddRange(b); return this; }
    public KafkaSpec Int64(long v) { Span<byte> b = stackalloc byte[8]; BinaryPrimitives.WriteInt64BigEndian(b, v); _bytes.AddRange(b); return this; }
    public KafkaSpec Raw(params byte[] v) { _bytes.AddRange(v); return this; }

    public byte[] ToArray() => [.. _bytes];

    /// <summary>
    /// A v2 batch header followed by <paramref name="records"/>. With <paramref name="crc"/> null the CRC is computed by
    /// <see cref="BitwiseCrc32C"/>, a table-free reference implementation, not by the product's Crc32C.
    /// </summary>
    public static byte[] Batch(long baseOffset, int partitionLeaderEpoch, short attributes, int lastOffsetDelta,
        long baseTimestamp, long maxTimestamp, long producerId, short producerEpoch, int baseSequence, int recordCount,
        byte[] records, uint? crc = null)
    {
        var w = new KafkaSpec()
            .Int64(baseOffset)
            .Int32(49 + records.Length)
            .Int32(partitionLeaderEpoch)
            .Int8(2)
            .UInt32(0)
            .Int16(attributes)
            .Int32(lastOffsetDelta)
            .Int64(baseTimestamp)
            .Int64(maxTimestamp)
            .Int64(producerId)
            .Int16(producerEpoch)
            .Int32(baseSequence)
            .Int32(recordCount)
            .Raw(records);
        byte[] bytes = w.ToArray();
        BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(17), crc ?? BitwiseCrc32C(bytes.AsSpan(21)));
        return bytes;
    }

    /// <summary>CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), one bit at a time.</summary>
    public static uint BitwiseCrc32C(ReadOnlySpan<byte> data)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte b in data)
        {
            crc ^= b;
            for (int i = 0; i < 8; i++)
                crc = (crc & 1) != 0 ? (crc >> 1) ^ 0x82F63B78 : crc >> 1;
        }
        return ~crc;
    }
}
