using System.Globalization;

namespace OrleansStream.Cli.Perf;

/// <summary>What the process allocated and collected from its start: bytes per record, GC counts and pause time.</summary>
internal sealed class AllocationMeter
{
    private readonly long _bytes = GC.GetTotalAllocatedBytes(precise: true);
    private readonly int _gen0 = GC.CollectionCount(0);
    private readonly int _gen1 = GC.CollectionCount(1);
    private readonly int _gen2 = GC.CollectionCount(2);
    private readonly TimeSpan _pause = GC.GetTotalPauseDuration();

    public static AllocationMeter Start() => new();

    public string Summary(long records, bool steadyState = false)
    {
        long bytes = GC.GetTotalAllocatedBytes(precise: true) - _bytes;
        return string.Create(CultureInfo.InvariantCulture,
            $"{(steadyState ? "Steady state: " : "")}{(double)bytes / records:F1} bytes allocated per record ({bytes / ProducerPerfStats.Mb:F1} MB), " +
            $"GC gen0 {GC.CollectionCount(0) - _gen0}, gen1 {GC.CollectionCount(1) - _gen1}, gen2 {GC.CollectionCount(2) - _gen2}, " +
            $"{(GC.GetTotalPauseDuration() - _pause).TotalMilliseconds:F0} ms paused.");
    }
}
