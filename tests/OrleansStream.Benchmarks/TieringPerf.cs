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
    private static int? s_azuritePid;
    private static readonly byte[] Value = CreateValue();

    public static async Task RunAsync(string connectionString, int? azuritePid = null)
    {
        s_azuritePid = azuritePid;
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
        // off / on against Azurite / on against a folder tier (the engine's own cost, without an HTTP server on the cores).
        foreach (var (tiered, folder) in new[] { (false, false), (true, false), (true, true), (false, false), (true, false), (true, true), (false, false), (true, false), (true, true) })
        {
            var dir = Path.Combine(Path.GetTempPath(), "os-bench-pr-" + Guid.NewGuid().ToString("N"));
            using var log = PartitionLog.Open(dir, config with { SegmentBytes = 4 << 20 });
            ITierStore store = folder
                ? new FolderTierStore(dir + "-tier")
                : new AzureBlobTierStore(new AzureBlobTierStoreSettings { ConnectionString = connectionString, Container = Container("pr") });
            using var manager = new RemoteLogManager("bench", 0, log, store);
            var cpu = Process.GetCurrentProcess().TotalProcessorTime;
            var azuriteCpu = AzuriteCpu();
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
            // Finish the tiering of what was produced, so the CPU figures include every upload of the run.
            while (tiered && (await manager.RunOnceAsync(0)) is { SegmentsCopied: > 0 }) { }
            var cpuSeconds = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds;
            var mib = 40 * 256 * RecordsPerBatch * Value.Length / 1048576.0;
            var azurite = s_azuritePid is null ? "" : $", Azurite {AzuriteCpu() - azuriteCpu:F2} CPU-s";
            Console.WriteLine($"produce tiering={(tiered ? folder ? "on (folder)" : "on (Azurite)" : "off")}: {mib / seconds:F1} MiB/s of record values; " +
                $"broker process {cpuSeconds:F2} CPU-s for {mib:F0} MiB = {cpuSeconds * 1000 / mib:F2} CPU-ms/MiB{azurite}");
            log.Delete();
            if (folder) Directory.Delete(dir + "-tier", recursive: true);
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

    /// <summary>CPU seconds Azurite used so far (utime + stime from /proc), or 0 without its pid.</summary>
    private static double AzuriteCpu()
    {
        if (s_azuritePid is not { } pid) return 0;
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        // Fields 14 and 15 of /proc/pid/stat (utime, stime), counted from the state field (3), in clock ticks of 1/100 s.
        return (long.Parse(fields[11], System.Globalization.CultureInfo.InvariantCulture)
            + long.Parse(fields[12], System.Globalization.CultureInfo.InvariantCulture)) / 100.0;
    }

    private static string Container(string kind) => "bench" + kind + Guid.NewGuid().ToString("N")[..8];

    private static byte[] CreateValue()
    {
        var value = new byte[1000];
        new Random(7).NextBytes(value);
        return value;
    }
}
