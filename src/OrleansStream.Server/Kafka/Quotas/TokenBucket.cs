namespace OrleansStream.Server.Kafka.Quotas;

/// <summary>
/// Kafka's <c>TokenBucket</c> stat of the controller mutation quota (KIP-599): partitions created or deleted take tokens,
/// which come back at the quota's rate up to a burst of <see cref="QuotaSensor.Samples"/> - 1 windows' worth; the quota
/// is exceeded while the tokens are below zero, for <c>-tokens / quota</c> seconds. A full bucket to begin with. Times
/// are given, not read, so tests drive them.
/// </summary>
public sealed class TokenBucket
{
    private readonly Lock _lock = new();
    private double _tokens = double.MaxValue;
    private long _lastUpdateMs;

    /// <summary>
    /// Strict (KIP-599 from CreateTopics v6, DeleteTopics v5, CreatePartitions v3): takes <paramref name="permits"/> unless
    /// the quota is already exceeded, which a request may then take below zero. Permissive (older versions): always takes
    /// them. Returns whether they were taken, and the throttle time as Kafka's <c>ControllerMutationQuotaManager.throttleTimeMs</c>
    /// (strict: of a refusal only; permissive: once the tokens are below zero).
    /// </summary>
    public bool TryRecord(double permits, double quota, bool strict, long nowMs, out int throttleTimeMs)
    {
        lock (_lock)
        {
            var burst = (QuotaSensor.Samples - 1) * QuotaSensor.WindowMs / 1000.0 * quota;
            Refill(quota, burst, nowMs);
            if (strict && _tokens < 0)
            {
                throttleTimeMs = ThrottleTimeMs(quota);
                return false;
            }
            _tokens = Math.Min(burst, _tokens - permits);
            // Kafka's strict quota throttles only the request it refuses; the permissive one the request that went over.
            throttleTimeMs = strict ? 0 : ThrottleTimeMs(quota);
            return true;
        }
    }

    /// <summary>The tokens now (Kafka's <c>TokenBucket.measure</c>).</summary>
    public double Tokens(double quota, long nowMs)
    {
        lock (_lock)
        {
            Refill(quota, (QuotaSensor.Samples - 1) * QuotaSensor.WindowMs / 1000.0 * quota, nowMs);
            return _tokens;
        }
    }

    private int ThrottleTimeMs(double quota) => _tokens >= 0 ? 0 : (int)Math.Min(Math.Round(-_tokens / quota * 1000), int.MaxValue);

    private void Refill(double quota, double burst, long nowMs)
    {
        _tokens = _tokens == double.MaxValue ? burst : Math.Min(burst, _tokens + quota * (nowMs - _lastUpdateMs) / 1000.0);
        _lastUpdateMs = nowMs;
    }
}
