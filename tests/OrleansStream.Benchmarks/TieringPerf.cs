using System.Diagnostics;
using System.Text;
using OrleansStream.Records;
using OrleansStream.Storage;
using OrleansStream.Storage.Tiering;

namespace OrleansStream.Benchmarks;

/// <summary>
/// Tiering figures that a BenchmarkDotNet job cannot take (they need a running Azurite and last seconds each):
/// segment upload throughput, cold-read latency of one tiered batch, produce throughput with tiering on and off.
/// Run: <c>dotnet run -c Release --project tests/OrleansStream.Benchmarks -- tiering "&lt;blob connection string&gt;"</c>.
/// </summary>
internal static class TieringPerf
{
    private const int RecordsPerBatch = 16;
    private static readonly byte[] Value = CreateValue();

    public static async Task RunAsync(string connectionString)
    {
        var config = LogConfig.Default with { SegmentBytes = 16 << 20, RemoteStorageEnable = true, LocalRetentionBytes = 0, RetentionMs = -1 };
        await UploadAndColdReadAsync(connectionString, config);
        // The engine runs on a grain's turns: tiering passes interleave with appends on one scheduler, as in the grain.
        await Task.Factory.StartNew(() => ProduceAsync(connectionString, config), CancellationToken.None, TaskCreationOptions.None,
            new ConcurrentExclusiveSchedulerPair().ExclusiveScheduler).Unwrap();
    }

    private static async Task UploadAndColdReadAsync(string connectionString, LogConfig config)
    {
        using var builder = new RecordBatchBuilder();
        var dir = Path.Combine(Path.GetTempPath(), "os-bench-up-" + Guid.NewGuid().ToString("N"));
        using var log = PartitionLog.Open(dir, config);
        Produce(log, builder, 8 * 1040 + 10);
        var store = new AzureBlobTierStore(new AzureBlobTierStoreSettings { ConnectionString = connectionString, Container = Container("up") });
        using var manager = new RemoteLogManager("bench", 0, log, store);
        var sw = Stopwatch.StartNew();
        long bytes = 0;
        while (true)
        {
            var pass = await manager.RunOnceAsync(0);
            if (pass.Error is not null) throw pass.Error;
            bytes += pass.BytesCopied;
            if (pass.SegmentsCopied == 0) break;
        }
        Console.WriteLine($"upload: {bytes / 1048576.0:F1} MiB in {sw.Elapsed.TotalSeconds:F2} s = {bytes / 1048576.0 / sw.Elapsed.TotalSeconds:F1} MiB/s");

        // A fresh manager and cache per read, so every read fetches manifest, index and one ranged chunk.
        var latencies = new List<double>();
        var random = new Random(1);
        var tieredEnd = manager.Manifest!.CopiedNextOffset();
        for (var i = 0; i < 200; i++)
        {
            using var cold = new RemoteLogManager("bench", 0, log, store, cache: new RemoteReadCache(64 << 20, 64 << 10));
            var offset = random.NextInt64(0, tieredEnd);
            var t = Stopwatch.StartNew();
            var data = await cold.ReadAsync(offset, 1);
            latencies.Add(t.Elapsed.TotalMilliseconds);
            if (data.IsEmpty) throw new InvalidOperationException($"The tier returned nothing at offset {offset}.");
        }
        latencies.Sort();
        Console.WriteLine($"cold read of one batch: p50 {latencies[latencies.Count / 2]:F2} ms, p99 {latencies[(int)(latencies.Count * 0.99)]:F2} ms, n={latencies.Count}");
        log.Delete();
    }

    private static async Task ProduceAsync(string connectionString, LogConfig config)
    {
        using var builder = new RecordBatchBuilder();
        foreach (var tiered in new[] { false, true, false, true })
        {
            var dir = Path.Combine(Path.GetTempPath(), "os-bench-pr-" + Guid.NewGuid().ToString("N"));
            using var log = PartitionLog.Open(dir, config with { SegmentBytes = 4 << 20 });
            var store = new AzureBlobTierStore(new AzureBlobTierStoreSettings { ConnectionString = connectionString, Container = Container("pr") });
            using var manager = new RemoteLogManager("bench", 0, log, store);
            var sw = Stopwatch.StartNew();
            Task<TieringPassResult>? pass = null;
            for (var round = 0; round < 40; round++)
            {
                Produce(log, builder, 256);
                if (tiered && (pass is null || pass.IsCompleted)) pass = manager.RunOnceAsync(0);
                await Task.Yield();
            }
            var seconds = sw.Elapsed.TotalSeconds;
            if (pass is not null) await pass;
            Console.WriteLine($"produce tiering={(tiered ? "on " : "off")}: {40 * 256 * RecordsPerBatch * Value.Length / 1048576.0 / seconds:F1} MiB/s of record values");
            log.Delete();
        }
    }

    private static void Produce(PartitionLog log, RecordBatchBuilder builder, int batches)
    {
        for (var b = 0; b < batches; b++)
        {
            builder.Reset();
            for (var i = 0; i < RecordsPerBatch; i++)
                builder.Append(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), Encoding.UTF8.GetBytes("k" + i), Value);
            log.AppendAsLeader(builder.Seal().Span, 0);
        }
        log.UpdateHighWatermark(log.LogEndOffset);
    }

    private static string Container(string kind) => "bench" + kind + Guid.NewGuid().ToString("N")[..8];

    private static byte[] CreateValue()
    {
        var value = new byte[1000];
        new Random(7).NextBytes(value);
        return value;
    }
}
