using System.Globalization;
using System.Text;
using BenchmarkDotNet.Attributes;
using OrleansStream.Records;

namespace OrleansStream.Benchmarks;

/// <summary>
/// Compresses and decompresses one 16 KiB RecordBatch v2 of 100-byte records (8-byte key, 92-byte JSON-like value) per
/// codec, into reused pooled buffers: the producer's seal, the leader's validation, the consumer's read. One operation =
/// one batch; throughput = 16 KiB of uncompressed batch / time per op.
/// </summary>
[MemoryDiagnoser]
public class CompressionBenchmarks
{
    private const int BatchBytes = 16 * 1024;
    private readonly PooledBuffer _output = new(4 * BatchBytes);
    private byte[] _plain = [];
    private byte[] _compressed = [];

    [Params(CompressionType.Gzip, CompressionType.Snappy, CompressionType.Lz4, CompressionType.Zstd)]
    public CompressionType Codec { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _plain = TypicalBatch();
        _compressed = RecordBatchCompression.Compress(_plain, Codec, _output).ToArray();
        Console.WriteLine($"// {Codec}: {_plain.Length} -> {_compressed.Length} bytes (ratio {(double)_plain.Length / _compressed.Length:F2})");
    }

    [GlobalCleanup]
    public void Cleanup() => _output.Dispose();

    [Benchmark]
    public int Compress() => RecordBatchCompression.Compress(_plain, Codec, _output).Length;

    [Benchmark]
    public int Decompress() => RecordBatchCompression.Decompress(_compressed, _output).Length;

    /// <summary>Records such as an application logs: keys counting up, values of a JSON event with varying fields.</summary>
    internal static byte[] TypicalBatch()
    {
        using var builder = new RecordBatchBuilder(BatchBytes + 1024);
        var random = new Random(42);
        var key = new byte[8];
        string[] actions = ["view", "click", "purchase", "search", "logout"];
        long timestamp = 1_764_000_000_000;
        int recordBound = RecordBatchBuilder.EstimateSizeInBytes(key.Length, 92, 0);
        for (int i = 0; builder.SizeInBytes + recordBound <= BatchBytes; i++)
        {
            BitConverter.TryWriteBytes(key, (long)i);
            var json = string.Create(CultureInfo.InvariantCulture,
                $"{{\"user\":{random.Next(100_000)},\"action\":\"{actions[random.Next(actions.Length)]}\",\"amount\":{random.Next(10_000) / 100.0:F2},\"page\":\"/p/{random.Next(1000)}\"}}");
            var value = Encoding.ASCII.GetBytes(json.PadRight(92, ' ')[..92]);
            builder.Append(timestamp + i, key, false, value, false);
        }
        return builder.ToArray();
    }
}
