namespace OrleansStream.Server.Kafka.Quotas;

/// <summary>
/// One client quota's measure, as Kafka's quota <c>Sensor</c> keeps it: a <c>Rate</c> over a <c>SampledStat</c> of
/// <see cref="Samples"/> windows of <see cref="WindowMs"/> (Kafka's <c>quota.window.num</c> 11 and
/// <c>quota.window.size.seconds</c> 1, plus its one overlapping sample), the same arithmetic to the millisecond, so a
/// client is throttled when and for as long as Kafka would throttle it. Times are given, not read, so tests drive them.
/// </summary>
public sealed class QuotaSensor
{
    /// <summary>Kafka's <c>quota.window.num</c>.</summary>
    public const int Samples = 11;

    /// <summary>Kafka's <c>quota.window.size.seconds</c>, in milliseconds.</summary>
    public const long WindowMs = 1000;

    // Kafka keeps one extra placeholder for the sample that overlaps the monitored window.
    private const int MaxSamples = Samples + 1;

    private readonly double[] _values = new double[MaxSamples];
    private readonly long[] _starts = new long[MaxSamples];
    private readonly long[] _lastEvents = new long[MaxSamples];
    private readonly Lock _lock = new();
    private int _count;
    private int _current;

    /// <summary>
    /// Records <paramref name="value"/> (bytes) at <paramref name="nowMs"/> and returns the throttle time Kafka's
    /// <c>ClientQuotaManager</c> gives: 0 while the rate stays within <paramref name="limit"/> (bytes per second), else
    /// the time the rate needs to come back to it, <c>(rate - limit) / limit * window</c>.
    /// </summary>
    public int RecordAndGetThrottleTimeMs(double value, double limit, long nowMs)
    {
        lock (_lock)
        {
            Record(value, nowMs);
            var windowMs = WindowSize(nowMs);
            var rate = Sum() / (windowMs / 1000.0);
            if (rate <= limit) return 0;
            return (int)Math.Min(Math.Round((rate - limit) / limit * windowMs), int.MaxValue);
        }
    }

    /// <summary>Takes back a value recorded (a throttled fetch answers without records, Kafka's <c>unrecordQuotaSensor</c>).</summary>
    public void Unrecord(double value, long nowMs)
    {
        lock (_lock) Record(-value, nowMs);
    }

    /// <summary>The rate now, in units per second (Kafka's <c>Rate.measure</c>).</summary>
    public double Rate(long nowMs)
    {
        lock (_lock)
        {
            var windowMs = WindowSize(nowMs);
            return Sum() / (windowMs / 1000.0);
        }
    }

    private void Record(double value, long nowMs)
    {
        if (_count == 0)
        {
            Reset(0, nowMs);
            _count = 1;
        }
        if (nowMs - _starts[_current] >= WindowMs) Advance(nowMs);
        _values[_current] += value;
        _lastEvents[_current] = nowMs;
    }

    private void Advance(long nowMs)
    {
        _current = (_current + 1) % MaxSamples;
        if (_current >= _count) _count++;
        Reset(_current, nowMs);
    }

    private void Reset(int sample, long nowMs)
    {
        _values[sample] = 0;
        _starts[sample] = nowMs;
        _lastEvents[sample] = nowMs;
    }

    // Samples without an event within the monitored window start again (Kafka's purgeObsoleteSamples).
    private void Purge(long nowMs)
    {
        for (var i = 0; i < _count; i++)
            if (nowMs - _lastEvents[i] >= Samples * WindowMs) Reset(i, nowMs);
    }

    private double Sum()
    {
        double sum = 0;
        for (var i = 0; i < _count; i++) sum += _values[i];
        return sum;
    }

    /// <summary>
    /// Kafka's <c>Rate.windowSize</c>: the time since the oldest sample began, but at least <see cref="Samples"/> - 1
    /// whole windows, so a new client's first burst is spread over ten seconds.
    /// </summary>
    private long WindowSize(long nowMs)
    {
        Purge(nowMs);
        var oldest = nowMs;
        for (var i = 0; i < _count; i++) oldest = Math.Min(oldest, _starts[i]);
        if (_count == 0) oldest = nowMs;
        var elapsed = nowMs - oldest;
        var fullWindows = elapsed / WindowMs;
        if (fullWindows < Samples - 1) elapsed += (Samples - 1 - fullWindows) * WindowMs;
        return Math.Max(elapsed, 1);
    }
}
