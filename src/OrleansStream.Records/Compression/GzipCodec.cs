using System.IO.Compression;

namespace OrleansStream.Records;

/// <summary>Kafka's gzip codec (GZIPOutputStream): one or more gzip members, RFC 1952.</summary>
internal static class GzipCodec
{
    /// <summary>
    /// What GZIPOutputStream writes for no bytes: a header, an empty final deflate block and a zero CRC and size.
    /// GZipStream writes nothing at all for no bytes, which no gzip reader takes.
    /// </summary>
    private static ReadOnlySpan<byte> EmptyMember => [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0];

    public static void Compress(ReadOnlySpan<byte> records, PooledBuffer output)
    {
        if (records.IsEmpty)
        {
            output.Write(EmptyMember);
            return;
        }
        using var stream = new BufferWriterStream(output);
        using var gzip = new GZipStream(stream, CompressionLevel.Fastest, leaveOpen: true);
        gzip.Write(records);
    }

    public static unsafe void Decompress(ReadOnlySpan<byte> compressed, PooledBuffer output)
    {
        // No gzip member at all (an empty span is also a null pointer to UnmanagedMemoryStream).
        if (compressed.IsEmpty)
            throw new InvalidDataException("the payload is empty, not a gzip stream");
        fixed (byte* source = compressed)
        {
            using var input = new UnmanagedMemoryStream(source, compressed.Length);
            using var gzip = new GZipStream(input, CompressionMode.Decompress);
            ReadToEnd(gzip, output, 4 * compressed.Length);
        }
    }

    /// <summary>Reads a decoding stream to its end into <paramref name="output"/>, never past its limit.</summary>
    private static void ReadToEnd(Stream decoder, PooledBuffer output, int sizeHint)
    {
        while (true)
        {
            Span<byte> free = output.GetBoundedSpan(Math.Max(sizeHint, 4096));
            if (free.IsEmpty)
            {
                if (decoder.ReadByte() < 0)
                    return;
                throw RecordBatchCompression.TooLarge(output.MaxLength);
            }
            int read = decoder.Read(free);
            if (read == 0)
                return;
            output.Advance(read);
        }
    }
}
