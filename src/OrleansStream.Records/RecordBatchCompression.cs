using System.Buffers.Binary;

namespace OrleansStream.Records;

/// <summary>
/// The codecs of attribute bits 0..2 (Kafka's CompressionType): gzip, snappy (xerial framing), lz4 (LZ4 frame) and
/// zstd, both ways. A compressed batch is one header over the compressed bytes of its records; these methods turn
/// one form into the other, keeping every header field but the codec, batchLength and CRC. Buffers are the caller's
/// <see cref="PooledBuffer"/>s, reused from batch to batch, and decompression stops at their
/// <see cref="PooledBuffer.MaxLength"/> (a decompression bomb gets <see cref="ErrorCode.RecordTooLarge"/>).
/// </summary>
public static class RecordBatchCompression
{
    /// <summary>The default bound on a decompressed batch: 64 MiB, 64 times Kafka's default max.message.bytes.</summary>
    public const int DefaultMaxDecompressedBytes = 64 << 20;

    /// <summary>True for the codecs Kafka defines (none, gzip, snappy, lz4, zstd).</summary>
    public static bool IsSupported(CompressionType codec) => codec <= CompressionType.Zstd;

    /// <summary>Throws <see cref="ErrorCode.UnsupportedCompressionType"/> for a codec id Kafka does not define.</summary>
    public static void ThrowIfUnsupported(CompressionType codec)
    {
        if (!IsSupported(codec))
            throw new OrleansStreamException(ErrorCode.UnsupportedCompressionType, $"Unknown compression codec id {(int)codec}.");
    }

    /// <summary>Appends <paramref name="records"/> compressed with <paramref name="codec"/> (not none) to <paramref name="output"/>.</summary>
    public static void CompressRecords(CompressionType codec, ReadOnlySpan<byte> records, PooledBuffer output)
    {
        switch (codec)
        {
            case CompressionType.Gzip: GzipCodec.Compress(records, output); break;
            case CompressionType.Snappy: SnappyCodec.Compress(records, output); break;
            case CompressionType.Lz4: Lz4Codec.Compress(records, output); break;
            case CompressionType.Zstd: ZstdCodec.Compress(records, output); break;
            case CompressionType.None: output.Write(records); break;
            default: ThrowIfUnsupported(codec); break;
        }
    }

    /// <summary>
    /// Appends the records of a compressed payload to <paramref name="output"/>. Malformed input is
    /// <see cref="ErrorCode.CorruptMessage"/>; output past <see cref="PooledBuffer.MaxLength"/> is <see cref="ErrorCode.RecordTooLarge"/>.
    /// </summary>
    public static void DecompressRecords(CompressionType codec, ReadOnlySpan<byte> compressed, PooledBuffer output)
    {
        ThrowIfUnsupported(codec);
        try
        {
            switch (codec)
            {
                case CompressionType.Gzip: GzipCodec.Decompress(compressed, output); break;
                case CompressionType.Snappy: SnappyCodec.Decompress(compressed, output); break;
                case CompressionType.Lz4: Lz4Codec.Decompress(compressed, output); break;
                case CompressionType.Zstd: ZstdCodec.Decompress(compressed, output); break;
                default: output.Write(compressed); break;
            }
        }
        catch (Exception ex) when (ex is not OrleansStreamException and not OutOfMemoryException)
        {
            // The codecs are third-party decoders fed untrusted bytes: whatever they throw means the payload is bad.
            throw new OrleansStreamException(ErrorCode.CorruptMessage, $"{codec} records do not decompress: {ex.Message}", ex);
        }
    }

    /// <summary>
    /// Writes the batch with its records decompressed into <paramref name="output"/> (cleared first) and returns it:
    /// codec bits cleared, batchLength and CRC recomputed, baseOffset, leader epoch and every other field kept. The
    /// records are walked, so a short or malformed result is <see cref="ErrorCode.CorruptMessage"/> here rather than
    /// later. An uncompressed batch is copied as is.
    /// </summary>
    public static ReadOnlySpan<byte> Decompress(ReadOnlySpan<byte> batch, PooledBuffer output)
    {
        var view = RecordBatchReader.Batch(batch);
        output.Clear();
        output.Write(batch[..RecordBatchHeader.Size]);
        if (view.Compression == CompressionType.None)
        {
            output.Write(batch[RecordBatchHeader.Size..]);
            return output.WrittenSpan;
        }
        DecompressRecords(view.Compression, batch[RecordBatchHeader.Size..], output);
        RecordBatchHeader.Reframe(output.WrittenSpanMutable, CompressionType.None);
        foreach (var record in RecordBatchReader.Batch(output.WrittenSpan).Records())
            _ = record.Offset;
        return output.WrittenSpan;
    }

    /// <summary>
    /// The batch itself when uncompressed, else its decompressed copy in <paramref name="plain"/>, rented on first need
    /// (so a pass over many batches reuses one buffer).
    /// </summary>
    public static RecordBatchView Readable(RecordBatchView batch, ref PooledBuffer? plain)
    {
        if (batch.Compression == CompressionType.None)
            return batch;
        plain ??= new PooledBuffer(4 * batch.SizeInBytes, DefaultMaxDecompressedBytes);
        return RecordBatchReader.Batch(Decompress(batch.Span, plain));
    }

    /// <summary>The batch with its records decompressed, in a new array (tests, tools; hot paths pass a <see cref="PooledBuffer"/>).</summary>
    public static byte[] Decompress(ReadOnlySpan<byte> batch)
    {
        using var output = new PooledBuffer(batch.Length * 4, DefaultMaxDecompressedBytes);
        return Decompress(batch, output).ToArray();
    }

    /// <summary>
    /// Writes an uncompressed batch with its records compressed by <paramref name="codec"/> into
    /// <paramref name="output"/> (cleared first) and returns it, every header field but codec, batchLength and CRC kept.
    /// </summary>
    public static ReadOnlySpan<byte> Compress(ReadOnlySpan<byte> plainBatch, CompressionType codec, PooledBuffer output)
    {
        var view = RecordBatchReader.Batch(plainBatch);
        if (view.Compression != CompressionType.None)
            throw new OrleansStreamException(ErrorCode.InvalidRecord, $"The batch at offset {view.BaseOffset} is already compressed with {view.Compression}.");
        output.Clear();
        AppendCompressed(plainBatch, codec, output);
        return output.WrittenSpan;
    }

    private static void AppendCompressed(ReadOnlySpan<byte> plainBatch, CompressionType codec, PooledBuffer output)
    {
        var start = output.Length;
        output.Write(plainBatch[..RecordBatchHeader.Size]);
        CompressRecords(codec, plainBatch[RecordBatchHeader.Size..], output);
        RecordBatchHeader.Reframe(output.WrittenSpanMutable[start..], codec);
    }

    /// <summary>Whether a data batch of <paramref name="batches"/> is not compressed with <paramref name="codec"/> (control batches are never compressed).</summary>
    public static bool NeedsRecompression(ReadOnlySpan<byte> batches, CompressionType codec)
    {
        for (var position = 0; batches.Length - position >= RecordBatchHeader.Size;)
        {
            var size = RecordBatchHeader.PeekTotalSize(batches[position..]);
            // A torn frame is validation's to refuse.
            if (size < RecordBatchHeader.Size || size > batches.Length - position) return false;
            var attributes = BinaryPrimitives.ReadInt16BigEndian(batches[(position + RecordBatchHeader.AttributesOffset)..]);
            if ((attributes & RecordBatchHeader.ControlFlagMask) == 0 && (CompressionType)(attributes & RecordBatchHeader.CompressionCodecMask) != codec)
                return true;
            position += size;
        }
        return false;
    }

    /// <summary>
    /// Kafka's recompression for a topic's <c>compression.type</c>: writes every batch into <paramref name="output"/>
    /// (cleared first) with <paramref name="codec"/>, every header field but codec, batchLength and CRC kept; a batch
    /// already in that codec, or a control batch, is copied. Each batch's CRC is checked before it is rewritten, so a
    /// corrupt batch is refused (<see cref="ErrorCode.CorruptMessage"/>) rather than stored under a fresh CRC.
    /// </summary>
    public static void Recompress(ReadOnlySpan<byte> batches, CompressionType codec, PooledBuffer output, PooledBuffer scratch)
    {
        ThrowIfUnsupported(codec);
        output.Clear();
        for (var position = 0; position < batches.Length;)
        {
            var size = RecordBatchHeader.PeekTotalSize(batches[position..]);
            if (size < RecordBatchHeader.Size || size > batches.Length - position)
                throw new OrleansStreamException(ErrorCode.CorruptMessage, $"The record batch at byte {position} declares {size} bytes; {batches.Length - position} remain.");
            var batch = batches.Slice(position, size);
            var error = RecordBatchHeader.Validate(batch, out var header);
            if (error != ErrorCode.None)
                throw new OrleansStreamException(error, $"The record batch at byte {position} is invalid ({error}).");
            ThrowIfUnsupported(header.Compression);
            if (header.IsControl || header.Compression == codec)
                output.Write(batch);
            else if (codec == CompressionType.None)
                output.Write(Decompress(batch, scratch));
            else
                AppendCompressed(Decompress(batch, scratch), codec, output);
            position += size;
        }
    }

    internal static OrleansStreamException TooLarge(int maxLength) =>
        new(ErrorCode.RecordTooLarge, $"Records decompress to more than {maxLength} bytes.");
}
