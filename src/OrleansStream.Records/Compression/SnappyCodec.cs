using System.Buffers.Binary;
using Snappier;

namespace OrleansStream.Records;

/// <summary>
/// Kafka's snappy codec: the xerial snappy-java stream (SnappyOutputStream) the Java client writes, a 16-byte header
/// (magic 82 'SNAPPY' 00, version 1, compatible version 1) then blocks of [big-endian int32 length][raw snappy block],
/// 32 KiB of input each. Reads that stream, concatenated streams, and a bare raw snappy block (what librdkafka sends).
/// </summary>
internal static class SnappyCodec
{
    public const int BlockSize = 32 * 1024;

    public static ReadOnlySpan<byte> XerialHeader => [0x82, (byte)'S', (byte)'N', (byte)'A', (byte)'P', (byte)'P', (byte)'Y', 0, 0, 0, 0, 1, 0, 0, 0, 1];

    private static ReadOnlySpan<byte> XerialMagic => XerialHeader[..8];

    public static void Compress(ReadOnlySpan<byte> records, PooledBuffer output)
    {
        output.Write(XerialHeader);
        for (int position = 0; position < records.Length; position += BlockSize)
        {
            ReadOnlySpan<byte> block = records.Slice(position, Math.Min(BlockSize, records.Length - position));
            Span<byte> target = output.GetSpan(4 + Snappy.GetMaxCompressedLength(block.Length));
            int written = Snappy.Compress(block, target[4..]);
            BinaryPrimitives.WriteInt32BigEndian(target, written);
            output.Advance(4 + written);
        }
    }

    public static void Decompress(ReadOnlySpan<byte> compressed, PooledBuffer output)
    {
        if (!compressed.StartsWith(XerialMagic))
        {
            DecompressBlock(compressed, output);
            return;
        }
        int position = 0;
        while (position < compressed.Length)
        {
            ReadOnlySpan<byte> rest = compressed[position..];
            if (rest.StartsWith(XerialMagic))
            {
                // A stream header, first or of a concatenated stream; its version fields carry nothing to check.
                if (rest.Length < XerialHeader.Length)
                    throw new InvalidDataException("Truncated xerial snappy header.");
                position += XerialHeader.Length;
                continue;
            }
            if (rest.Length < 4)
                throw new InvalidDataException("Truncated xerial snappy block length.");
            int length = BinaryPrimitives.ReadInt32BigEndian(rest);
            if (length < 0 || length > rest.Length - 4)
                throw new InvalidDataException($"Xerial snappy block of {length} bytes overruns the {rest.Length - 4} that remain.");
            DecompressBlock(rest.Slice(4, length), output);
            position += 4 + length;
        }
    }

    private static void DecompressBlock(ReadOnlySpan<byte> block, PooledBuffer output)
    {
        int length = Snappy.GetUncompressedLength(block);
        if (length > output.MaxLength - output.Length)
            throw RecordBatchCompression.TooLarge(output.MaxLength);
        int written = Snappy.Decompress(block, output.GetSpan(length));
        output.Advance(written);
    }
}
