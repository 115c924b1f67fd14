using BenchmarkDotNet.Attributes;
using OrleansStream.Records;

namespace OrleansStream.Benchmarks;

/// <summary>
/// Encodes and decodes 16 KiB RecordBatch v2 batches of 100-byte records (8-byte key, 92-byte value), the shape the
/// storage targets are stated in. One operation = one batch; records per second = RecordsPerBatch / time per op.
/// </summary>
[MemoryDiagnoser]
public class RecordsBenchmarks
{
    private const int BatchBytes = 16 * 1024;
    private readonly byte[] _key = new byte[8];
    private readonly byte[] _value = new byte[92];
    private RecordBatchBuilder _builder = null!;
    private byte[] _batch = [];

    public int RecordsPerBatch { get; private set; }

    [GlobalSetup]
    public void Setup()
    {
        Random.Shared.NextBytes(_value);
        _builder = new RecordBatchBuilder(BatchBytes + 1024);
        _batch = Encode().ToArray();
        RecordsPerBatch = RecordBatchHeader.Read(_batch).RecordCount;
    }

    [GlobalCleanup]
    public void Cleanup() => _builder.Dispose();

    [Benchmark]
    public int EncodeBatch() => Encode().Length;

    [Benchmark]
    public long DecodeBatch()
    {
        long sum = 0;
        foreach (var batch in RecordBatchReader.Batches(_batch))
            foreach (var record in batch.Records())
                sum += record.Offset + record.Value.Length;
        return sum;
    }

    [Benchmark]
    public bool ValidateBatch() => RecordBatchHeader.Validate(_batch, out _) == ErrorCode.None;

    private ReadOnlyMemory<byte> Encode()
    {
        _builder.Reset();
        long timestamp = 1_764_000_000_000;
        int recordBound = RecordBatchBuilder.EstimateSizeInBytes(_key.Length, _value.Length, 0);
        for (int i = 0; _builder.SizeInBytes + recordBound <= BatchBytes; i++)
        {
            BitConverter.TryWriteBytes(_key, (long)i);
            _builder.Append(timestamp + i, _key, false, _value, false);
        }
        return _builder.Seal();
    }
}
