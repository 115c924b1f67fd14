using System.Numerics;

namespace OrleansStream.Cli.Perf;

/// <summary>
/// A log-linear histogram of microsecond latencies (HdrHistogram's layout with 64 buckets per power of two above 128,
/// so a value is within 1.6 % of its bucket's midpoint). Lock-free recording from delivery callbacks on any thread.
/// </summary>
internal sealed class LatencyHistogram
{
    private const int SubBucketBits = 7;
    private const int SubBuckets = 1 << SubBucketBits;
    private const int HalfBuckets = SubBuckets / 2;
    private readonly long[] _counts = new long[SubBuckets + (64 - SubBucketBits) * HalfBuckets];
    private long _count;
    private long _sum;
    private long _max;

    public long Count => Interlocked.Read(ref _count);

    public long MaxMicros => Interlocked.Read(ref _max);

    public double MeanMicros => Count == 0 ? 0 : (double)Interlocked.Read(ref _sum) / Count;

    public void Record(long micros)
    {
        if (micros < 0)
            micros = 0;
        Interlocked.Increment(ref _counts[IndexOf(micros)]);
        Interlocked.Increment(ref _count);
        Interlocked.Add(ref _sum, micros);
        long max = Interlocked.Read(ref _max);
        while (micros > max)
        {
            long seen = Interlocked.CompareExchange(ref _max, micros, max);
            if (seen == max)
                break;
            max = seen;
        }
    }

    /// <summary>The value at <paramref name="percentile"/> (0..100], as the midpoint of its bucket, capped at the max.</summary>
    public long PercentileMicros(double percentile)
    {
        long total = Count;
        if (total == 0)
            return 0;
        long rank = Math.Max(1, (long)Math.Ceiling(percentile / 100.0 * total));
        long seen = 0;
        for (int i = 0; i < _counts.Length; i++)
        {
            seen += Interlocked.Read(ref _counts[i]);
            if (seen >= rank)
                return Math.Min(MidpointOf(i), MaxMicros);
        }
        return MaxMicros;
    }

    // Values below 128 have a bucket each; above, each power of two splits into 64 buckets of width 2^shift.
    internal static int IndexOf(long value)
    {
        if (value < SubBuckets)
            return (int)value;
        int shift = 63 - BitOperations.LeadingZeroCount((ulong)value) - (SubBucketBits - 1);
        return SubBuckets + (shift - 1) * HalfBuckets + (int)((value >> shift) - HalfBuckets);
    }

    internal static long LowestOf(int index)
    {
        if (index < SubBuckets)
            return index;
        int shift = (index - SubBuckets) / HalfBuckets + 1;
        long mantissa = (index - SubBuckets) % HalfBuckets + HalfBuckets;
        return mantissa << shift;
    }

    internal static long MidpointOf(int index)
    {
        long low = LowestOf(index);
        if (index < SubBuckets)
            return low;
        int shift = (index - SubBuckets) / HalfBuckets + 1;
        return low + ((1L << shift) - 1) / 2;
    }
}
