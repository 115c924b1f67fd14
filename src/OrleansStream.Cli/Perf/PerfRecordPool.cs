using System.Diagnostics;
using OrleansStream.Client;

namespace OrleansStream.Cli.Perf;

/// <summary>A perf record: the message produced, which the delivery handler gets back, with its send time.</summary>
internal sealed class PerfRecord : Message<byte[], byte[]>
{
    public long SendStart;
    /// <summary>The steady-state statistics the record counts in, once the warm-up is over.</summary>
    public ProducerPerfStats? Steady;
}

/// <summary>Perf records for reuse once reported, so the produce loop makes no object per record.</summary>
internal sealed class PerfRecordPool(byte[] payload)
{
    private readonly Stack<PerfRecord> _free = new();
    // One clock read per record gives both the send time and the record's timestamp.
    private readonly long _startTicks = Stopwatch.GetTimestamp();
    private readonly long _startUnixMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

    public PerfRecord Next(ProducerPerfStats? steady)
    {
        PerfRecord? record;
        lock (_free) _free.TryPop(out record);
        record ??= new PerfRecord { Key = null!, Value = payload };
        record.Steady = steady;
        var now = Stopwatch.GetTimestamp();
        record.SendStart = now;
        record.Timestamp = new Timestamp(_startUnixMs + (now - _startTicks) * 1000 / Stopwatch.Frequency, TimestampType.CreateTime);
        return record;
    }

    public void Return(PerfRecord record)
    {
        lock (_free) _free.Push(record);
    }
}
