using K4os.Compression.LZ4;
using K4os.Compression.LZ4.Streams;

namespace OrleansStream.Records;

/// <summary>
/// Kafka's lz4 codec for magic v2: a standard LZ4 frame as KafkaLZ4BlockOutputStream writes it, independent 64 KiB
/// blocks, no block or content checksum. (The header-checksum quirk of KAFKA-3160 belongs to magic 0 and 1 only.)
/// Any valid frame decodes, including librdkafka's with a content size or checksums.
/// </summary>
internal static class Lz4Codec
{
    private static readonly LZ4EncoderSettings Settings = new()
    {
        ChainBlocks = false,
        BlockSize = 64 * 1024,
        ContentChecksum = false,
        BlockChecksum = false,
        CompressionLevel = LZ4Level.L00_FAST,
    };

    public static void Compress(ReadOnlySpan<byte> records, PooledBuffer output) => LZ4Frame.Encode(records, output, Settings);

    public static void Decompress(ReadOnlySpan<byte> compressed, PooledBuffer output)
    {
        // The decoder asks for a whole block of room before it knows whether one follows: it may go a block past the
        // limit, and the limit is checked once it is done.
        int limit = output.MaxLength;
        output.MaxLength = (int)Math.Min((long)limit + Settings.BlockSize, int.MaxValue);
        try
        {
            LZ4Frame.Decode(compressed, output);
        }
        finally
        {
            output.MaxLength = limit;
        }
        if (output.Length > limit)
            throw RecordBatchCompression.TooLarge(limit);
    }
}
