using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using OrleansStream.Records;
using OrleansStream.Storage;

namespace OrleansStream.Benchmarks;

/// <summary>
/// The log engine's throughput: 16 KiB batches of 100-byte records (8-byte key, 92-byte value) appended to a <see cref="PartitionLog"/> (pre-built,
/// and encoded with <see cref="RecordBatchBuilder"/> on the same core), then read back sequentially.
/// Each operation is one batch (OperationsPerInvoke), so bytes/s = 16 KiB / mean and records/s = RecordsPerBatch / mean.
/// Run: dotnet run -c Release --project tests/OrleansStream.Benchmarks -- --filter '*PartitionLog*'
/// </summary>
[MemoryDiagnoser]
[Config(typeof(Config))]
public class PartitionLogBenchmarks
{
    public const int BatchBytes = 16 * 1024;
    public const int ValueBytes = 92; // with the 8-byte key: 100-byte records, as in RecordsBenchmarks
    private const int BatchesPerOperation = 4096; // 64 MiB per invocation

    private sealed class Config : ManualConfig
    {
        // In-process: no separate build of generated code (on a busy 2-core machine that alone passes BDN's 2-minute timeout).
        public Config() => AddJob(Job.ShortRun.WithInvocationCount(1).WithUnrollFactor(1).WithWarmupCount(2).WithIterationCount(5)
            .WithToolchain(InProcessEmitToolchain.Instance));
    }

    private string _directory = null!;
    private PartitionLog _log = null!;
    private RecordBatchBuilder _builder = null!;
    private byte[] _batch = null!;
    private readonly byte[] _key = new byte[8];
    private readonly byte[] _value = new byte[ValueBytes];
    private readonly byte[] _readBuffer = new byte[1024 * 1024];
    private long _timestamp = 1_700_000_000_000;

    /// <summary>Records that fit a 16 KiB batch.</summary>
    public static int RecordsPerBatch { get; private set; }

    [GlobalSetup]
    public void GlobalSetup()
    {
        _directory = Path.Combine(Path.GetTempPath(), "os-bench-" + Guid.NewGuid().ToString("N"));
        _log = PartitionLog.Open(_directory, new LogConfig());
        _builder = new RecordBatchBuilder(BatchBytes);
        new Random(42).NextBytes(_value);
        _batch = BuildBatch();
        RecordsPerBatch = _builder.Count;
        Console.WriteLine($"// batch: {_batch.Length} bytes, {RecordsPerBatch} records of {ValueBytes}-byte values");
    }

    [IterationSetup(Targets = [nameof(Append), nameof(AppendInPlace), nameof(EncodeAndAppend)])]
    public void EmptyLog() => _log.TruncateFullyAndStartAt(0);

    [IterationSetup(Targets = [nameof(ReadSequential), nameof(ReadSequentialAllocating)])]
    public void FillLog()
    {
        if (_log.LogEndOffset == (long)RecordsPerBatch * BatchesPerOperation)
            return;
        _log.TruncateFullyAndStartAt(0);
        for (var i = 0; i < BatchesPerOperation; i++)
            _log.AppendAsLeader(_batch, 0);
    }

    [GlobalCleanup]
    public void GlobalCleanup()
    {
        _log.Delete();
        _builder.Dispose();
    }

    [Benchmark(OperationsPerInvoke = BatchesPerOperation)]
    public long Append()
    {
        for (var i = 0; i < BatchesPerOperation; i++)
            _log.AppendAsLeader(_batch, 0);
        return _log.LogEndOffset;
    }

    /// <summary>
    /// The broker's produce path: a request's records are the broker's own pooled copy, stamped where they lie
    /// (<see cref="PartitionLog.AppendAsLeaderInPlace"/>, no copy of the batch). The same batch each time: its offsets
    /// and epoch are outside the CRC, so each append stamps it anew.
    /// </summary>
    [Benchmark(OperationsPerInvoke = BatchesPerOperation)]
    public long AppendInPlace()
    {
        for (var i = 0; i < BatchesPerOperation; i++)
            _log.AppendAsLeaderInPlace(_batch, 0);
        return _log.LogEndOffset;
    }

    [Benchmark(OperationsPerInvoke = BatchesPerOperation)]
    public long EncodeAndAppend()
    {
        for (var i = 0; i < BatchesPerOperation; i++)
        {
            _builder.Reset();
            for (var r = 0; r < RecordsPerBatch; r++)
            {
                System.Buffers.Binary.BinaryPrimitives.WriteInt64BigEndian(_key, r);
                _builder.Append(_timestamp, _key, false, _value, false);
            }
            // The builder's own buffer, done with after the append: stamped in place, as the broker stamps a request's.
            _log.AppendAsLeaderInPlace(System.Runtime.InteropServices.MemoryMarshal.AsMemory(_builder.Seal()).Span, 0);
        }
        return _log.LogEndOffset;
    }

    [Benchmark(OperationsPerInvoke = BatchesPerOperation)]
    public long ReadSequential()
    {
        long offset = 0, bytes = 0;
        while (true)
        {
            var read = _log.Read(offset, _readBuffer);
            if (read <= 0)
                return bytes;
            bytes += read;
            offset = NextOffset(_readBuffer.AsSpan(0, read));
        }
    }

    [Benchmark(OperationsPerInvoke = BatchesPerOperation)]
    public long ReadSequentialAllocating()
    {
        long offset = 0, bytes = 0;
        while (true)
        {
            var read = _log.Read(offset, _readBuffer.Length);
            if (read.IsEmpty)
                return bytes;
            bytes += read.Length;
            offset = NextOffset(read.Span);
        }
    }

    private static long NextOffset(ReadOnlySpan<byte> batches)
    {
        long next = 0;
        foreach (var batch in RecordBatchReader.Batches(batches))
            next = batch.NextOffset;
        return next;
    }

    private byte[] BuildBatch()
    {
        _builder.Reset();
        var record = RecordBatchBuilder.EstimateSizeInBytes(_key.Length, ValueBytes, 0);
        while (_builder.SizeInBytes + record <= BatchBytes)
            _builder.Append(_timestamp, _key, false, _value, false);
        return _builder.ToArray();
    }
}
