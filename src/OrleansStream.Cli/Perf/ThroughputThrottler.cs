using System.Diagnostics;

namespace OrleansStream.Cli.Perf;

/// <summary>Kafka's ThroughputThrottler: holds the send rate at a target by sleeping once ahead of schedule.</summary>
internal sealed class ThroughputThrottler(double recordsPerSecond)
{
    private readonly long _start = Stopwatch.GetTimestamp();

    public bool Enabled => recordsPerSecond > 0;

    /// <summary>After <paramref name="sent"/> records, waits until the schedule catches up (at least 1 ms ahead to bother).</summary>
    public async ValueTask ThrottleAsync(long sent, CancellationToken cancellationToken)
    {
        if (!Enabled)
            return;
        double due = sent / recordsPerSecond;
        double elapsed = Stopwatch.GetElapsedTime(_start).TotalSeconds;
        double ahead = due - elapsed;
        if (ahead >= 0.001)
            await Task.Delay(TimeSpan.FromSeconds(ahead), cancellationToken);
    }
}
