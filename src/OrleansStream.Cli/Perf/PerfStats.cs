using System.Diagnostics;
using System.Globalization;

namespace OrleansStream.Cli.Perf;

/// <summary>
/// Kafka's ProducerPerformance statistics: a window line every reporting interval and a final line with
/// percentiles, in kafka-producer-perf-test's wording (latencies in ms with two decimals).
/// </summary>
internal sealed class ProducerPerfStats(TextWriter output)
{
    private readonly LatencyHistogram _histogram = new();
    private readonly long _start = Stopwatch.GetTimestamp();
    private long _bytes;
    private long _windowStart = Stopwatch.GetTimestamp();
    private long _windowCount;
    private long _windowBytes;
    private long _windowLatencySum;
    private long _windowMax;
    private long _errors;
    private string? _firstError;

    public long Errors => Interlocked.Read(ref _errors);

    public string? FirstError => _firstError;

    public void Record(long latencyMicros, int bytes)
    {
        _histogram.Record(latencyMicros);
        Interlocked.Add(ref _bytes, bytes);
        Interlocked.Increment(ref _windowCount);
        Interlocked.Add(ref _windowBytes, bytes);
        Interlocked.Add(ref _windowLatencySum, latencyMicros);
        long max = Interlocked.Read(ref _windowMax);
        while (latencyMicros > max)
        {
            long seen = Interlocked.CompareExchange(ref _windowMax, latencyMicros, max);
            if (seen == max)
                break;
            max = seen;
        }
    }

    public void Error(string reason)
    {
        Interlocked.Increment(ref _errors);
        Interlocked.CompareExchange(ref _firstError, reason, null);
    }

    /// <summary>Prints and resets the window: "N records sent, X records/sec (Y MB/sec), A ms avg latency, M ms max latency."</summary>
    public void PrintWindow()
    {
        long now = Stopwatch.GetTimestamp();
        double seconds = Stopwatch.GetElapsedTime(Interlocked.Exchange(ref _windowStart, now), now).TotalSeconds;
        long count = Interlocked.Exchange(ref _windowCount, 0);
        long bytes = Interlocked.Exchange(ref _windowBytes, 0);
        long latency = Interlocked.Exchange(ref _windowLatencySum, 0);
        long max = Interlocked.Exchange(ref _windowMax, 0);
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{count} records sent, {Rate(count, seconds):F1} records/sec ({Rate(bytes, seconds) / Mb:F2} MB/sec), {(count == 0 ? 0 : latency / 1000.0 / count):F1} ms avg latency, {max / 1000.0:F1} ms max latency."));
    }

    /// <summary>The final line, kafka-producer-perf-test's format ("N steady state records sent, ..." after a warm-up).</summary>
    public string Total(bool steadyState = false)
    {
        double seconds = Stopwatch.GetElapsedTime(_start).TotalSeconds;
        long count = _histogram.Count;
        return string.Create(CultureInfo.InvariantCulture,
            $"{count}{(steadyState ? " steady state" : "")} records sent, {Rate(count, seconds):F1} records/sec ({Rate(Interlocked.Read(ref _bytes), seconds) / Mb:F2} MB/sec), " +
            $"{_histogram.MeanMicros / 1000.0:F2} ms avg latency, {_histogram.MaxMicros / 1000.0:F2} ms max latency, " +
            $"{Ms(50)} ms 50th, {Ms(95)} ms 95th, {Ms(99)} ms 99th, {Ms(99.9)} ms 99.9th.");
    }

    private string Ms(double percentile) =>
        (_histogram.PercentileMicros(percentile) / 1000.0).ToString("F2", CultureInfo.InvariantCulture);

    internal const double Mb = 1024 * 1024;

    internal static double Rate(long amount, double seconds) => seconds <= 0 ? 0 : amount / seconds;
}
