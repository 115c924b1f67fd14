using System.Collections.Concurrent;
using System.Diagnostics;

namespace OrleansStream.Failover.Tests.Soak;

/// <summary>
/// The longest wait each client path saw: an operation's stall runs from its first attempt to its success, so an
/// operation that fails and is tried again counts as one stall.
/// </summary>
public sealed class StallMeter
{
    private readonly ConcurrentDictionary<string, long> _longestTicks = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, long> _counts = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<string> _long = new();

    /// <summary>A stall that ends now.</summary>
    public void Record(string path, TimeSpan stall) => Record(path, stall, DateTimeOffset.UtcNow);

    /// <summary>
    /// A stall that ended at <paramref name="endedAt"/>: one measured after the fact (a record's append time read back
    /// at the end of the soak) names its own times, so it can be set beside the kill that caused it.
    /// </summary>
    public void Record(string path, TimeSpan stall, DateTimeOffset endedAt)
    {
        _counts.AddOrUpdate(path, 1, static (_, c) => c + 1);
        _longestTicks.AddOrUpdate(path, stall.Ticks, (_, old) => Math.Max(old, stall.Ticks));
        if (stall > LongStall) _long.Enqueue($"{path}: {stall.TotalSeconds:F1} s from {endedAt - stall:HH:mm:ss.fff} to {endedAt:HH:mm:ss.fff}");
    }

    /// <summary>Stalls worth a line in the soak's output: when each began, to set beside the kills.</summary>
    public static readonly TimeSpan LongStall = TimeSpan.FromSeconds(8);

    public IReadOnlyCollection<string> LongStalls => _long;

    public void RecordSince(string path, long startTimestamp) => Record(path, Stopwatch.GetElapsedTime(startTimestamp));

    public IReadOnlyDictionary<string, TimeSpan> Longest()
    {
        var result = new SortedDictionary<string, TimeSpan>(StringComparer.Ordinal);
        foreach (var (path, ticks) in _longestTicks) result[path] = TimeSpan.FromTicks(ticks);
        return result;
    }

    public long Count(string path) => _counts.GetValueOrDefault(path);
}
