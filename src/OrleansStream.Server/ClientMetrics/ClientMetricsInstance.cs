namespace OrleansStream.Server.ClientMetrics;

/// <summary>
/// One client instance's telemetry state on this broker (Kafka's <c>ClientMetricsInstance</c>): what its matching
/// subscriptions ask of it, made once per subscription version, and when it last asked and pushed.
/// </summary>
public sealed class ClientMetricsInstance(
    Guid clientInstanceId, ClientMetricsClient client, int subscriptionId, int subscriptionVersion, IReadOnlyList<string> metrics, int pushIntervalMs)
{
    private readonly Lock _lock = new();
    private long _lastGetMs;
    private long _lastPushMs;
    private long _expiresAtMs;

    public Guid ClientInstanceId { get; } = clientInstanceId;

    /// <summary>The attributes of the request that made this instance, which subscriptions are matched against.</summary>
    public ClientMetricsClient Client { get; } = client;

    public int SubscriptionId { get; } = subscriptionId;

    /// <summary>The manager's subscription version this instance was made at; an older one is made again.</summary>
    public int SubscriptionVersion { get; } = subscriptionVersion;

    /// <summary>The requested metric name prefixes: none, <c>*</c> alone, or the matched subscriptions' prefixes.</summary>
    public IReadOnlyList<string> Metrics { get; } = metrics;

    public int PushIntervalMs { get; } = pushIntervalMs;

    /// <summary>Set by a terminating push: no push is accepted after it.</summary>
    public bool Terminating { get; set; }

    public ErrorCode LastKnownError { get; set; }

    public long ExpiresAtMs => Volatile.Read(ref _expiresAtMs);

    internal void ExpireAt(long ms) => Volatile.Write(ref _expiresAtMs, ms);

    /// <summary>
    /// Kafka's <c>maybeUpdateGetRequestTimestamp</c>: a GetTelemetrySubscriptions is accepted once a push interval has
    /// passed since the last accepted request of either kind.
    /// </summary>
    public bool TryAcceptGet(long nowMs)
    {
        lock (_lock)
        {
            if (nowMs - Math.Max(_lastGetMs, _lastPushMs) < PushIntervalMs) return false;
            _lastGetMs = nowMs;
            return true;
        }
    }

    /// <summary>
    /// Kafka's <c>maybeUpdatePushRequestTimestamp</c>: the first push after a GetTelemetrySubscriptions is accepted at
    /// once (the client jitters its first push between half and one and a half intervals), later ones a push interval apart.
    /// </summary>
    public bool TryAcceptPush(long nowMs)
    {
        lock (_lock)
        {
            if (_lastGetMs <= _lastPushMs && nowMs - _lastPushMs < PushIntervalMs) return false;
            _lastPushMs = nowMs;
            return true;
        }
    }
}
