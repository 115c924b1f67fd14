using System.Collections.Concurrent;
using System.Collections.Frozen;
using System.Net;

namespace OrleansStream.Server.Kafka.Quotas;

/// <summary>The byte-rate quotas a broker enforces (Kafka's <c>ClientQuotaType</c> PRODUCE and FETCH).</summary>
public enum ClientQuotaType
{
    /// <summary><c>producer_byte_rate</c>: the bytes of produce requests.</summary>
    Produce,

    /// <summary><c>consumer_byte_rate</c>: the bytes of fetch responses.</summary>
    Fetch,

    /// <summary><c>controller_mutation_rate</c> (KIP-599): partitions created and deleted per second.</summary>
    ControllerMutation,

    /// <summary><c>connection_creation_rate</c> of an IP (KIP-612): connections accepted per second.</summary>
    ConnectionCreation,
}

/// <summary>
/// Kafka's <c>ClientQuotaManager</c> with its default quota callback, for the produce and fetch byte rates: the quotas
/// the controller stores (AlterClientQuotas), reloaded when its quota version moves, and this broker's measure of
/// each client's rate. Quotas are per broker, as in Kafka: a client using two brokers may reach its rate on each.
/// A client's quota is the first of Kafka's eight entities that has one (<c>/users/alice/clients/app</c>,
/// <c>/users/alice/clients/&lt;default&gt;</c>, <c>/users/alice</c>, <c>/users/&lt;default&gt;/clients/app</c>,
/// <c>/users/&lt;default&gt;/clients/&lt;default&gt;</c>, <c>/users/&lt;default&gt;</c>, <c>/clients/app</c>,
/// <c>/clients/&lt;default&gt;</c>), and clients under the same entity share one measure (all of alice's clients for
/// <c>/users/alice</c>). Without any quota of a type, nothing is measured. IP entities' <c>connection_creation_rate</c>
/// (Kafka's <c>ConnectionQuotas</c>) is measured here too, per address.
/// </summary>
public sealed class ClientQuotaManager(TimeProvider time)
{
    /// <summary>Kafka's quota keys this broker enforces.</summary>
    public const string ProducerByteRate = "producer_byte_rate";

    public const string ConsumerByteRate = "consumer_byte_rate";

    public const string ControllerMutationRate = "controller_mutation_rate";

    public const string ConnectionCreationRate = "connection_creation_rate";

    // Kafka drops the sensors of a client idle for an hour (InactiveSensorExpirationTimeSeconds).
    private const long InactiveSensorMs = 3_600_000;
    private const int SweepAbove = 10_000;

    private readonly ConcurrentDictionary<SensorKey, Sensor> _sensors = new();
    private readonly Lock _applying = new();
    private Image _image = Image.Empty;

    /// <summary>The version of the controller's quotas this broker holds.</summary>
    public long Version => _image.Snapshot.Version;

    /// <summary>Every stored quota this broker holds.</summary>
    public IReadOnlyList<StoredClientQuota> Quotas => _image.Snapshot.Quotas;

    /// <summary>Whether any quota of <paramref name="type"/> exists: when none does, requests are not measured.</summary>
    public bool IsEnabled(ClientQuotaType type) => _image.Limits(type).Count > 0;

    /// <summary>Takes <paramref name="snapshot"/> when it is newer than what is held (answers may arrive out of order).</summary>
    public void Apply(ClientQuotaSnapshot snapshot)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        var image = new Image(snapshot);
        lock (_applying)
            if (snapshot.Version > _image.Snapshot.Version) _image = image;
    }

    /// <summary>
    /// Records <paramref name="bytes"/> for the request's user and client id when a quota of <paramref name="type"/>
    /// applies to them, and returns how long the client is throttled (0: not at all).
    /// </summary>
    public int RecordAndGetThrottleTimeMs(ClientQuotaType type, in KafkaRequest request, double bytes)
    {
        if (!IsEnabled(type) || Resolve(type, request) is not ({ } sensor, var limit)) return 0;
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        sensor.LastUsedMs = now;
        return sensor.Quota.RecordAndGetThrottleTimeMs(bytes, limit, now);
    }

    /// <summary>Takes back what <see cref="RecordAndGetThrottleTimeMs"/> recorded (a throttled fetch sends no records).</summary>
    public void Unrecord(ClientQuotaType type, in KafkaRequest request, double bytes)
    {
        if (IsEnabled(type) && Resolve(type, request) is ({ } sensor, _)) sensor.Quota.Unrecord(bytes, time.GetUtcNow().ToUnixTimeMilliseconds());
    }

    /// <summary>
    /// The most bytes one response may hold without being throttled for certain (Kafka's <c>getMaxValueInQuotaWindow</c>:
    /// the quota times ten windows), which bounds a fetch; <see cref="int.MaxValue"/> without a quota.
    /// </summary>
    public int MaxValueInQuotaWindow(ClientQuotaType type, in KafkaRequest request)
    {
        if (!IsEnabled(type) || Resolve(type, request) is not (not null, var limit)) return int.MaxValue;
        return (int)Math.Min(limit * (QuotaSensor.Samples - 1) * QuotaSensor.WindowMs / 1000.0, int.MaxValue);
    }

    /// <summary>
    /// A CreateTopics, CreatePartitions or DeleteTopics request's controller mutation quota (Kafka's
    /// <c>ControllerMutationQuotaManager.newQuotaFor</c>): strict from the version given, permissive before.
    /// </summary>
    public ControllerMutationQuota ControllerMutationQuotaFor(in KafkaRequest request, short strictSinceVersion)
    {
        if (!IsEnabled(ClientQuotaType.ControllerMutation) || Resolve(ClientQuotaType.ControllerMutation, request) is not ({ } sensor, var limit))
            return ControllerMutationQuota.Unbounded;
        return new ControllerMutationQuota(sensor.Bucket, limit, request.Version >= strictSinceVersion, time);
    }

    /// <summary>
    /// Kafka's <c>ConnectionQuotas.recordIpConnectionMaybeThrottle</c> (KIP-612): counts a new connection from
    /// <paramref name="address"/> against its IP's <c>connection_creation_rate</c> (the address's own quota, else the
    /// default IP quota, else none) and returns how long to hold it before closing it (0: accept it). A refused
    /// connection is taken back, so clients that retry are not locked out by their refused attempts.
    /// </summary>
    public int RecordConnectionAndGetThrottleTimeMs(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        var image = _image;
        if (!image.HasIpQuotas) return 0;
        address = Canonical(address);
        if (!image.TryGetIpLimit(address, out var limit)) return 0;
        var key = new SensorKey(ClientQuotaType.ConnectionCreation, address.ToString(), "");
        if (!_sensors.TryGetValue(key, out var sensor))
        {
            if (_sensors.Count > SweepAbove) Sweep();
            sensor = _sensors.GetOrAdd(key, static _ => new Sensor());
        }
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        sensor.LastUsedMs = now;
        var throttle = sensor.Quota.RecordAndGetThrottleTimeMs(1, limit, now);
        if (throttle > 0) sensor.Quota.Unrecord(1, now);
        return throttle;
    }

    /// <summary>The quota limit of <paramref name="user"/> and <paramref name="clientId"/>, and the entity whose measure they share; null without one.</summary>
    public (double Limit, string User, string ClientId)? QuotaOf(ClientQuotaType type, string user, string clientId)
    {
        var limits = _image.Limits(type);
        if (limits.Count == 0) return null;
        // Kafka's DefaultQuotaCallback: the first entity with a quota, and the measure its clients share.
        if (limits.TryGetValue(new EntityKey(true, user, true, clientId), out var q)) return (q, user, clientId);
        if (limits.TryGetValue(new EntityKey(true, user, true, null), out q)) return (q, user, clientId);
        if (limits.TryGetValue(new EntityKey(true, user, false, null), out q)) return (q, user, "");
        if (limits.TryGetValue(new EntityKey(true, null, true, clientId), out q)) return (q, user, clientId);
        if (limits.TryGetValue(new EntityKey(true, null, true, null), out q)) return (q, user, clientId);
        if (limits.TryGetValue(new EntityKey(true, null, false, null), out q)) return (q, user, "");
        if (limits.TryGetValue(new EntityKey(false, null, true, clientId), out q)) return (q, "", clientId);
        if (limits.TryGetValue(new EntityKey(false, null, true, null), out q)) return (q, "", clientId);
        return null;
    }

    /// <summary>Kafka's quota user of a principal: its name without the <c>User:</c> type (<c>ANONYMOUS</c> when not authenticated).</summary>
    public static string UserOf(string principal) => principal.StartsWith("User:", StringComparison.Ordinal) ? principal[5..] : principal;

    private (Sensor? Sensor, double Limit) Resolve(ClientQuotaType type, in KafkaRequest request)
    {
        if (QuotaOf(type, request.Connection.QuotaUser, request.Header.ClientId ?? "") is not var (limit, user, clientId)) return (null, 0);
        var key = new SensorKey(type, user, clientId);
        if (_sensors.TryGetValue(key, out var sensor)) return (sensor, limit);
        if (_sensors.Count > SweepAbove) Sweep();
        return (_sensors.GetOrAdd(key, static _ => new Sensor()), limit);
    }

    /// <summary>An address as quotas key it: an IPv4 client of a dual-stack listener arrives as ::ffff:a.b.c.d.</summary>
    private static IPAddress Canonical(IPAddress address) => address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;

    private void Sweep()
    {
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        foreach (var (key, sensor) in _sensors)
            if (now - sensor.LastUsedMs > InactiveSensorMs) _sensors.TryRemove(key, out _);
    }

    private readonly record struct EntityKey(bool HasUser, string? User, bool HasClientId, string? ClientId);

    private readonly record struct SensorKey(ClientQuotaType Type, string User, string ClientId);

    internal sealed class Sensor
    {
        public QuotaSensor Quota { get; } = new();

        public TokenBucket Bucket { get; } = new();

        public long LastUsedMs { get; set; }
    }

    private sealed class Image
    {
        public static readonly Image Empty = new(new ClientQuotaSnapshot(0, []));

        private readonly FrozenDictionary<EntityKey, double> _produce;
        private readonly FrozenDictionary<EntityKey, double> _fetch;
        private readonly FrozenDictionary<EntityKey, double> _mutations;
        private readonly FrozenDictionary<IPAddress, double> _ips;
        private readonly double? _defaultIp;

        public Image(ClientQuotaSnapshot snapshot)
        {
            Snapshot = snapshot;
            var produce = new Dictionary<EntityKey, double>();
            var fetch = new Dictionary<EntityKey, double>();
            var mutations = new Dictionary<EntityKey, double>();
            var ips = new Dictionary<IPAddress, double>();
            foreach (var q in snapshot.Quotas)
            {
                if (q.Entity.HasIp)
                {
                    // Kafka matches a connection's address to the quota's IP as addresses, not as the text stored.
                    if (q.Key != ConnectionCreationRate) continue;
                    if (q.Entity.Ip is null) _defaultIp = q.Value;
                    else if (IPAddress.TryParse(q.Entity.Ip, out var ip)) ips[Canonical(ip)] = q.Value;
                    continue;
                }
                var key = new EntityKey(q.Entity.HasUser, q.Entity.User, q.Entity.HasClientId, q.Entity.ClientId);
                if (q.Key == ProducerByteRate) produce[key] = q.Value;
                else if (q.Key == ConsumerByteRate) fetch[key] = q.Value;
                else if (q.Key == ControllerMutationRate) mutations[key] = q.Value;
            }
            _produce = produce.ToFrozenDictionary();
            _fetch = fetch.ToFrozenDictionary();
            _mutations = mutations.ToFrozenDictionary();
            _ips = ips.ToFrozenDictionary();
        }

        public ClientQuotaSnapshot Snapshot { get; }

        public bool HasIpQuotas => _ips.Count > 0 || _defaultIp is not null;

        public bool TryGetIpLimit(IPAddress address, out double limit)
        {
            if (_ips.TryGetValue(address, out limit)) return true;
            limit = _defaultIp ?? 0;
            return _defaultIp is not null;
        }

        public FrozenDictionary<EntityKey, double> Limits(ClientQuotaType type) => type switch
        {
            ClientQuotaType.Produce => _produce,
            ClientQuotaType.Fetch => _fetch,
            ClientQuotaType.ControllerMutation => _mutations,
            // IP quotas are keyed by address (TryGetIpLimit), not by user and client id.
            _ => FrozenDictionary<EntityKey, double>.Empty,
        };
    }
}

/// <summary>
/// One request's controller mutation quota (Kafka's <c>ControllerMutationQuota</c>): each topic's partitions are
/// recorded in turn; a strict quota refuses a topic once the client's tokens are exhausted (ThrottlingQuotaExceeded),
/// a permissive one never does. <see cref="ThrottleTimeMs"/> is what the answer carries.
/// </summary>
public sealed class ControllerMutationQuota
{
    /// <summary>No quota applies: everything is taken, nothing throttled.</summary>
    public static readonly ControllerMutationQuota Unbounded = new(null, 0, false, TimeProvider.System);

    private readonly TokenBucket? _bucket;
    private readonly double _quota;
    private readonly bool _strict;
    private readonly TimeProvider _time;

    internal ControllerMutationQuota(TokenBucket? bucket, double quota, bool strict, TimeProvider time)
    {
        _bucket = bucket;
        _quota = quota;
        _strict = strict;
        _time = time;
    }

    /// <summary>Whether no quota applies (nothing is measured).</summary>
    public bool IsUnbounded => _bucket is null;

    /// <summary>The longest throttle time recorded for this request.</summary>
    public int ThrottleTimeMs { get; private set; }

    /// <summary>Records <paramref name="partitions"/> created or deleted; false when a strict quota refuses them.</summary>
    public bool TryRecord(int partitions)
    {
        if (_bucket is null) return true;
        var taken = _bucket.TryRecord(partitions, _quota, _strict, _time.GetUtcNow().ToUnixTimeMilliseconds(), out var throttle);
        ThrottleTimeMs = Math.Max(ThrottleTimeMs, throttle);
        return taken;
    }
}
