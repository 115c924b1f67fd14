using System.Buffers.Binary;
using System.IO.Compression;

namespace OrleansStream.Records;

/// <summary>
/// The codecs of attribute bits 0..2. Gzip is built into .NET and supported both ways; snappy, lz4 and zstd are
/// recognised (batches keep them, headers read fine) but their records cannot be read here.
/// </summary>
public static class RecordBatchCompression
{
    public static bool IsSupported(CompressionType codec) => codec is CompressionType.None or CompressionType.Gzip;

    internal static OrleansStreamException Unsupported(CompressionType codec) => new(ErrorCode.UnsupportedCompressionType,
        codec <= CompressionType.Zstd
            ? $"Compression {codec} is recognised but not supported; use none or gzip."
            : $"Unknown compression codec id {(int)codec}.");

    /// <summary>
    /// Returns the same batch with its records decompressed: codec bits cleared, batchLength and CRC recomputed,
    /// baseOffset, leader epoch and every other header field kept. An uncompressed batch is returned as a copy.
    /// </summary>
    public static byte[] Decompress(ReadOnlySpan<byte> batch)
    {
        var view = RecordBatchReader.Batch(batch);
        CompressionType codec = view.Compression;
        if (codec == CompressionType.None)
            return batch.ToArray();
        if (codec != CompressionType.Gzip)
            throw Unsupported(codec);

        using var output = new MemoryStream(Math.Max(batch.Length * 4, 256));
        output.Write(batch[..RecordBatchHeader.Size]);
        try
        {
            using var input = new MemoryStream(batch[RecordBatchHeader.Size..].ToArray(), writable: false);
            using var gzip = new GZipStream(input, CompressionMode.Decompress);
            gzip.CopyTo(output);
        }
        catch (InvalidDataException ex)
        {
            throw new OrleansStreamException(ErrorCode.CorruptMessage, $"Gzip records of the batch at offset {view.BaseOffset} do not decompress: {ex.Message}", ex);
        }
        if (output.Length > int.MaxValue - RecordBatchHeader.LogOverhead)
            throw new OrleansStreamException(ErrorCode.RecordTooLarge, "Decompressed batch exceeds 2 GiB.");
        byte[] result = output.ToArray();
        short attributes = (short)(view.Header.Attributes & ~RecordBatchHeader.CompressionCodecMask);
        BinaryPrimitives.WriteInt32BigEndian(result.AsSpan(RecordBatchHeader.BatchLengthOffset), result.Length - RecordBatchHeader.LogOverhead);
        BinaryPrimitives.WriteInt16BigEndian(result.AsSpan(RecordBatchHeader.AttributesOffset), attributes);
        BinaryPrimitives.WriteUInt32BigEndian(result.AsSpan(RecordBatchHeader.CrcOffset), RecordBatchHeader.ComputeCrc(result));
        // A truncated gzip stream ends early without an error; walking the records catches a short or malformed result.
        foreach (var record in RecordBatchReader.Batch(result).Records())
            _ = record.Offset;
        return result;
    }

    /// <summary>Gzips <paramref name="records"/> into <paramref name="output"/> after its current position.</summary>
    internal static void CompressGzip(ReadOnlySpan<byte> records, MemoryStream output)
    {
        using var gzip = new GZipStream(output, CompressionLevel.Fastest, leaveOpen: true);
        gzip.Write(records);
    }
}
