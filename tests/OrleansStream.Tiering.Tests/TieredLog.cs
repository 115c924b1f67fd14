using System.Text;
using Microsoft.Extensions.Time.Testing;
using OrleansStream.Records;
using OrleansStream.Storage;
using OrleansStream.Storage.Tiering;

namespace OrleansStream.Tiering.Tests;

/// <summary>A real PartitionLog in a temp folder with a RemoteLogManager over a tier store, and helpers to fill and read it.</summary>
public sealed class TieredLog : IDisposable
{
    public static readonly DateTimeOffset Start = new(2026, 11, 25, 12, 0, 0, TimeSpan.Zero);
    private readonly RecordBatchBuilder _builder = new();

    public TieredLog(ITierStore store, LogConfig config, string topic = "orders", int partition = 0, FakeTimeProvider? time = null, string? directory = null)
    {
        Time = time ?? new FakeTimeProvider(Start);
        Directory = directory ?? Path.Combine(Path.GetTempPath(), "os-tiering-" + Guid.NewGuid().ToString("N"));
        Store = store;
        Topic = topic;
        PartitionId = partition;
        Log = PartitionLog.Open(Directory, config, Time);
        Manager = new RemoteLogManager(topic, partition, Log, store, Time, new RemoteReadCache(8 << 20, 64 << 10));
    }

    public FakeTimeProvider Time { get; }
    public string Directory { get; }
    public ITierStore Store { get; }
    public string Topic { get; }
    public int PartitionId { get; }
    public PartitionLog Log { get; }
    public RemoteLogManager Manager { get; }

    public static LogConfig SmallSegments(long localRetentionBytes = 0) => LogConfig.Default with
    {
        SegmentBytes = 4096,
        IndexIntervalBytes = 256,
        RemoteStorageEnable = true,
        LocalRetentionBytes = localRetentionBytes,
        RetentionMs = -1,
    };

    public static string ValueOf(long offset) => $"value-{offset:D8}-" + new string((char)('a' + offset % 26), 100);

    /// <summary>Appends <paramref name="records"/> records, <paramref name="perBatch"/> per batch, and commits them (HW = LEO).</summary>
    public void Produce(int records, int perBatch = 5, int leaderEpoch = 0)
    {
        var next = Log.LogEndOffset;
        var end = next + records;
        while (next < end)
        {
            _builder.Reset();
            var n = (int)Math.Min(perBatch, end - next);
            for (var i = 0; i < n; i++)
                _builder.Append(Time.GetUtcNow().ToUnixTimeMilliseconds(), Encoding.UTF8.GetBytes("k" + (next + i)), Encoding.UTF8.GetBytes(ValueOf(next + i)));
            Log.AppendAsLeader(_builder.Seal().Span, leaderEpoch);
            next += n;
        }
        Log.UpdateHighWatermark(Log.LogEndOffset);
    }

    /// <summary>Consumes from <paramref name="from"/> to the high watermark, the tier below the local log start, and
    /// checks every record is there once and in order.</summary>
    public async Task<long> ConsumeAndVerifyAsync(long from = 0, int maxBytes = 16 * 1024)
    {
        var expected = from;
        var offset = from;
        while (offset < Log.HighWatermark)
        {
            var data = Manager.IsRemote(offset)
                ? await Manager.ReadAsync(offset, maxBytes, Log.HighWatermark)
                : Log.Read(offset, maxBytes, Log.HighWatermark);
            Assert.False(data.IsEmpty, $"no data at offset {offset}");
            foreach (var batch in RecordBatchReader.Batches(data.Span))
            {
                Assert.True(batch.IsCrcValid);
                foreach (var record in batch.Records())
                {
                    if (record.Offset < expected) continue;
                    Assert.Equal(expected, record.Offset);
                    Assert.Equal(ValueOf(expected), Encoding.UTF8.GetString(record.Value));
                    expected++;
                }
                offset = batch.NextOffset;
            }
        }
        return expected - from;
    }

    public async Task<List<string>> RemoteKeysAsync()
    {
        var keys = new List<string>();
        await foreach (var o in Store.ListAsync($"{Topic}/{PartitionId}/")) keys.Add(o.Key);
        return keys;
    }

    public void Dispose()
    {
        Manager.Dispose();
        _builder.Dispose();
        Log.Dispose();
        if (System.IO.Directory.Exists(Directory)) System.IO.Directory.Delete(Directory, recursive: true);
    }
}
