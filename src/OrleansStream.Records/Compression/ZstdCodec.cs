using ZstdSharp;
using ZstdSharp.Unsafe;

namespace OrleansStream.Records;

/// <summary>
/// Kafka's zstd codec: standard zstd frames (level 3, Kafka's default). Decoding streams through a per-thread context,
/// so a frame without a content size (zstd-jni's ZstdOutputStream, what the Java client writes) and concatenated frames
/// read as well as a one-shot frame; the window is capped so a hostile frame cannot demand a huge one.
/// </summary>
internal static unsafe class ZstdCodec
{
    public const int Level = 3;

    /// <summary>2^24 = 16 MiB: far above what level 1-19 frames of a batch use, far below zstd's 128 MiB default cap.</summary>
    private const int WindowLogMax = 24;

    [ThreadStatic]
    private static Compressor? t_compressor;

    [ThreadStatic]
    private static Decoder? t_decoder;

    public static void Compress(ReadOnlySpan<byte> records, PooledBuffer output)
    {
        var compressor = t_compressor ??= new Compressor(Level);
        int written = compressor.Wrap(records, output.GetSpan(Compressor.GetCompressBound(records.Length)));
        output.Advance(written);
    }

    public static void Decompress(ReadOnlySpan<byte> compressed, PooledBuffer output) =>
        (t_decoder ??= new Decoder()).Decompress(compressed, output);

    /// <summary>A native decompression context owned by one thread for its lifetime.</summary>
    private sealed class Decoder
    {
        private readonly ZSTD_DCtx_s* _context;

        public Decoder()
        {
            _context = Methods.ZSTD_createDCtx();
            Check(Methods.ZSTD_DCtx_setParameter(_context, ZSTD_dParameter.ZSTD_d_windowLogMax, WindowLogMax));
        }

        ~Decoder() => Methods.ZSTD_freeDCtx(_context);

        public void Decompress(ReadOnlySpan<byte> compressed, PooledBuffer output)
        {
            Check(Methods.ZSTD_DCtx_reset(_context, ZSTD_ResetDirective.ZSTD_reset_session_only));
            fixed (byte* source = compressed)
            {
                var input = new ZSTD_inBuffer_s { src = source, size = (nuint)compressed.Length, pos = 0 };
                ulong declared = Methods.ZSTD_findDecompressedSize(source, (nuint)compressed.Length);
                int hint = declared < int.MaxValue ? (int)declared : Math.Max(4 * compressed.Length, 16384);
                while (true)
                {
                    Span<byte> free = output.GetBoundedSpan(hint);
                    if (free.IsEmpty)
                        throw RecordBatchCompression.TooLarge(output.MaxLength);
                    nuint remaining;
                    int produced;
                    fixed (byte* target = free)
                    {
                        var buffer = new ZSTD_outBuffer_s { dst = target, size = (nuint)free.Length, pos = 0 };
                        remaining = Check(Methods.ZSTD_decompressStream(_context, &buffer, &input));
                        produced = (int)buffer.pos;
                    }
                    output.Advance(produced);
                    bool inputDone = input.pos == input.size;
                    if (remaining == 0 && inputDone)
                        return;
                    if (inputDone && produced < free.Length)
                        throw new InvalidDataException("Zstd frame is truncated.");
                }
            }
        }

        private static nuint Check(nuint code) =>
            Methods.ZSTD_isError(code) ? throw new InvalidDataException($"Zstd: {Methods.ZSTD_getErrorName(code)}") : code;
    }
}
