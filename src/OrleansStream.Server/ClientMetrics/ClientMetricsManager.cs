using System.Collections.Concurrent;
using System.Text;
using Microsoft.Extensions.Options;
using OrleansStream.Protocol.Messages;
using OrleansStream.Records;
using OrleansStream.Server.Kafka;

namespace OrleansStream.Server.ClientMetrics;

/// <summary>
/// This broker's side of client telemetry (KIP-714; Kafka's <c>ClientMetricsManager</c>): the subscriptions (configured,
/// and stored at the controller, which <see cref="Apply"/> loads), the client
/// instances that asked (kept in a bounded cache, each for three push intervals and at least a minute after its last
/// request), GetTelemetrySubscriptions' answer and PushTelemetry's checks, and the hand-off of pushed metrics to the
/// receivers. Each broker keeps its own instances, as Kafka's brokers do; a client's subscription id depends only on
/// its instance id and what its subscriptions ask, so another broker answers it the same.
/// </summary>
public sealed partial class ClientMetricsManager
{
    /// <summary>The codecs a push may use, Kafka's order (zstd, lz4, gzip, snappy): the client takes the first it has.</summary>
    public static readonly IReadOnlyList<sbyte> AcceptedCompressionTypes =
        [(sbyte)CompressionType.Zstd, (sbyte)CompressionType.Lz4, (sbyte)CompressionType.Gzip, (sbyte)CompressionType.Snappy];

    /// <summary>Kafka's cache bound: 16k client instances per broker.</summary>
    public const int CacheMaxSize = 16_384;

    /// <summary>Kafka's least time an instance is kept after its last request.</summary>
    public const long CacheExpiryMs = 60_000;

    private const long SweepIntervalMs = 10_000;

    // Kafka's reserved ids: the zero Uuid and the metadata topic's id.
    private static readonly Guid s_metadataTopicId = new("00000000-0000-0000-0000-000000000001");

    private readonly ConcurrentDictionary<Guid, ClientMetricsInstance> _instances = new();
    private readonly Lock _sync = new();
    private readonly IClientTelemetryReceiver[] _receivers;
    private readonly TimeProvider _time;
    private readonly ILogger<ClientMetricsManager> _logger;
    private readonly ClientMetricsSubscription[] _configured;
    private ClientMetricsSubscription[] _subscriptions;
    private ClientMetricsSnapshot _stored = ClientMetricsSnapshot.Empty;
    private int _subscriptionVersion;
    private long _nextSweepMs;

    public ClientMetricsManager(IOptions<ClientMetricsOptions> options, IEnumerable<IClientTelemetryReceiver> receivers, TimeProvider time,
        ILogger<ClientMetricsManager> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        var settings = options.Value;
        TelemetryMaxBytes = settings.TelemetryMaxBytes;
        // A push decompresses to at most this: telemetry is small, and a compressed bomb must not take the broker's memory.
        MaxDecompressedBytes = (int)Math.Min(int.MaxValue / 2, 16L * Math.Max(settings.TelemetryMaxBytes, 65_536));
        var subscriptions = new List<ClientMetricsSubscription>(settings.Subscriptions.Count);
        foreach (var (name, s) in settings.Subscriptions)
            subscriptions.Add(ClientMetricsSubscription.Parse(name, s.Metrics, s.IntervalMs, s.Match));
        _configured = [.. subscriptions];
        _subscriptions = _configured;
        _receivers = [.. receivers];
        _time = time;
        _logger = logger;
    }

    /// <summary>
    /// Kafka's <c>isTelemetryReceiverConfigured</c>: whether a receiver takes the pushed metrics somewhere (an OTLP
    /// endpoint, or one the application registered); without one the telemetry APIs are not advertised.
    /// </summary>
    public bool IsTelemetryReceiverConfigured
    {
        get
        {
            foreach (var receiver in _receivers)
                if (receiver.ReceivesTelemetry) return true;
            return false;
        }
    }

    /// <summary>
    /// Kafka's <c>ConnectionDisconnectListener</c>: the instance the closed connection made is forgotten at once (not
    /// only when its time runs out), so a client that connects again starts afresh, unthrottled. An instance made again
    /// since, by another connection, stays.
    /// </summary>
    public void ConnectionClosed(KafkaConnection connection)
    {
        ArgumentNullException.ThrowIfNull(connection);
        if (connection.TelemetryInstance is not { } made) return;
        connection.TelemetryInstance = null;
        _instances.TryRemove(new KeyValuePair<Guid, ClientMetricsInstance>(made.Client.ClientInstanceId, made));
    }

    /// <summary>Kafka's <c>telemetry.max.bytes</c>.</summary>
    public int TelemetryMaxBytes { get; }

    public int MaxDecompressedBytes { get; }

    public IReadOnlyList<ClientMetricsSubscription> Subscriptions => Volatile.Read(ref _subscriptions);

    /// <summary>Client instances this broker keeps (expired ones until the next sweep).</summary>
    public int InstanceCount => _instances.Count;

    /// <summary>The configured subscriptions (<c>OrleansStream:ClientMetrics:Subscriptions</c>), which stored ones of the same name replace.</summary>
    public IReadOnlyList<ClientMetricsSubscription> Configured => _configured;

    /// <summary>The subscriptions stored at the controller, as this broker last loaded them.</summary>
    public ClientMetricsSnapshot Stored => Volatile.Read(ref _stored);

    /// <summary>
    /// Takes the controller's stored subscriptions when newer than those held (Kafka's brokers apply ConfigRecords of
    /// type CLIENT_METRICS as they come): each replaces the configured one of its name.
    /// </summary>
    public void Apply(ClientMetricsSnapshot snapshot)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        lock (_sync)
        {
            if (snapshot.Version <= _stored.Version) return;
            var list = new List<ClientMetricsSubscription>(_configured.Length + snapshot.Resources.Count);
            foreach (var s in _configured)
                if (!snapshot.Resources.ContainsKey(s.Name)) list.Add(s);
            foreach (var (name, configs) in snapshot.Resources)
            {
                // The controller stored only configs it checked; one that no longer parses is skipped, not fatal.
                if (ClientMetricsSubscription.ValidateConfigs(name, configs) is null) list.Add(ClientMetricsSubscription.FromConfigs(name, configs));
            }
            Volatile.Write(ref _stored, snapshot);
            Volatile.Write(ref _subscriptions, [.. list]);
            Interlocked.Increment(ref _subscriptionVersion);
        }
    }

    /// <summary>GetTelemetrySubscriptions: the zero id gets a new instance id; a request within the push interval is throttled.</summary>
    public GetTelemetrySubscriptionsResponse GetSubscriptions(Guid requestedId, ClientMetricsClient client, KafkaConnection? connection = null)
    {
        ArgumentNullException.ThrowIfNull(client);
        var now = NowMs();
        var id = requestedId == Guid.Empty ? NewInstanceId() : requestedId;
        var instance = Instance(id, client, now, connection);
        // Kafka lets a client that was just told its subscription or codec is wrong ask again at once.
        if (!instance.TryAcceptGet(now) && instance.LastKnownError is not (ErrorCode.UnknownSubscriptionId or ErrorCode.UnsupportedCompressionType))
        {
            LogThrottled(id, "GetTelemetrySubscriptions");
            return GetTelemetrySubscriptionsResponse.Failed(ErrorCode.ThrottlingQuotaExceeded);
        }
        instance.LastKnownError = ErrorCode.None;
        return new GetTelemetrySubscriptionsResponse(ErrorCode.None, id, instance.SubscriptionId, AcceptedCompressionTypes, instance.PushIntervalMs,
            TelemetryMaxBytes, DeltaTemporality: true, instance.Metrics);
    }

    /// <summary>PushTelemetry, checked in Kafka's order, then the decompressed metrics handed to every receiver.</summary>
    public ErrorCode Push(PushTelemetryRequest request, ClientMetricsClient client, KafkaConnection? connection = null)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(client);
        var id = request.ClientInstanceId;
        if (id == Guid.Empty || id == s_metadataTopicId)
        {
            LogRefused(id, ErrorCode.InvalidRequest, "invalid client instance id");
            return ErrorCode.InvalidRequest;
        }
        var now = NowMs();
        var instance = Instance(id, client, now, connection);
        var error = Check(request, instance, now);
        if (request.Terminating) instance.Terminating = true;
        if (error != ErrorCode.None)
        {
            instance.LastKnownError = error;
            return error;
        }
        if (request.Metrics.Length > 0 && !Export(request, instance))
        {
            instance.LastKnownError = ErrorCode.InvalidRecord;
            return ErrorCode.InvalidRecord;
        }
        instance.LastKnownError = ErrorCode.None;
        return ErrorCode.None;
    }

    /// <summary>
    /// The instance of <paramref name="id"/>, made (again) when absent, expired or older than the subscriptions; one made
    /// is remembered on <paramref name="connection"/>, whose close forgets it (<see cref="ConnectionClosed"/>).
    /// </summary>
    public ClientMetricsInstance Instance(Guid id, ClientMetricsClient client, long nowMs, KafkaConnection? connection = null)
    {
        SweepIfDue(nowMs);
        if (!_instances.TryGetValue(id, out var instance) || instance.SubscriptionVersion < Volatile.Read(ref _subscriptionVersion) || instance.ExpiresAtMs <= nowMs)
        {
            lock (_sync)
            {
                if (!_instances.TryGetValue(id, out instance) || instance.SubscriptionVersion < _subscriptionVersion || instance.ExpiresAtMs <= nowMs)
                {
                    // A live instance evaluated again keeps the attributes of the request that made it, as Kafka's does.
                    var attributes = instance is not null && instance.ExpiresAtMs > nowMs ? instance.Client : client with { ClientInstanceId = id };
                    if (instance is null && _instances.Count >= CacheMaxSize) MakeRoom(nowMs);
                    instance = Create(id, attributes);
                    _instances[id] = instance;
                    connection?.TelemetryInstance = instance;
                }
            }
        }
        instance.ExpireAt(nowMs + Math.Max(CacheExpiryMs, 3L * instance.PushIntervalMs));
        return instance;
    }

    private ErrorCode Check(PushTelemetryRequest request, ClientMetricsInstance instance, long now)
    {
        var id = request.ClientInstanceId;
        if (instance.Terminating)
        {
            LogRefused(id, ErrorCode.InvalidRequest, "a push after the client's terminating push");
            return ErrorCode.InvalidRequest;
        }
        if (!instance.TryAcceptPush(now) && !request.Terminating)
        {
            LogThrottled(id, "PushTelemetry");
            return ErrorCode.ThrottlingQuotaExceeded;
        }
        if (request.SubscriptionId != instance.SubscriptionId)
        {
            LogRefused(id, ErrorCode.UnknownSubscriptionId, $"subscription id {request.SubscriptionId}, current {instance.SubscriptionId}");
            return ErrorCode.UnknownSubscriptionId;
        }
        if (request.CompressionType is < 0 || !RecordBatchCompression.IsSupported((CompressionType)request.CompressionType))
        {
            LogRefused(id, ErrorCode.UnsupportedCompressionType, $"compression type {request.CompressionType}");
            return ErrorCode.UnsupportedCompressionType;
        }
        if (request.Metrics.Length > TelemetryMaxBytes)
        {
            LogRefused(id, ErrorCode.TelemetryTooLarge, $"{request.Metrics.Length} bytes, telemetry.max.bytes {TelemetryMaxBytes}");
            return ErrorCode.TelemetryTooLarge;
        }
        return ErrorCode.None;
    }

    private bool Export(PushTelemetryRequest request, ClientMetricsInstance instance)
    {
        var codec = (CompressionType)request.CompressionType;
        using var buffer = codec == CompressionType.None ? null : new PooledBuffer(Math.Min(request.Metrics.Length * 4, MaxDecompressedBytes), MaxDecompressedBytes);
        try
        {
            if (buffer is not null) RecordBatchCompression.DecompressRecords(codec, request.Metrics.Span, buffer);
            var payload = new ClientTelemetryPayload(instance.Client, request.Terminating, buffer?.WrittenMemory ?? request.Metrics);
            foreach (var receiver in _receivers) receiver.Export(payload);
            return true;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            LogExportFailed(e, request.ClientInstanceId);
            return false;
        }
    }

    private ClientMetricsInstance Create(Guid id, ClientMetricsClient client)
    {
        var interval = ClientMetricsSubscription.DefaultIntervalMs;
        var metrics = new SortedSet<string>(StringComparer.Ordinal);
        var all = false;
        var version = _subscriptionVersion;
        foreach (var subscription in _subscriptions)
        {
            if (!subscription.Matches(client)) continue;
            foreach (var metric in subscription.Metrics)
            {
                all |= metric == ClientMetricsSubscription.AllMetrics;
                metrics.Add(metric);
            }
            interval = Math.Min(interval, subscription.IntervalMs);
        }
        string[] requested = all ? [ClientMetricsSubscription.AllMetrics] : [.. metrics];
        return new ClientMetricsInstance(id, client, SubscriptionId(requested, interval, id), version, requested, interval);
    }

    /// <summary>
    /// Kafka's <c>computeSubscriptionId</c>: CRC-32C of the requested metrics and the interval, XOR the instance id's
    /// Java hash code; it changes when what the client is asked changes. The metrics are in ordinal order here.
    /// </summary>
    public static int SubscriptionId(IReadOnlyList<string> metrics, int pushIntervalMs, Guid clientInstanceId)
    {
        var text = $"[{string.Join(", ", metrics)}]{pushIntervalMs}";
        var crc = (int)Crc32C.HashToUInt32(Encoding.UTF8.GetBytes(text));
        Span<byte> bytes = stackalloc byte[16];
        clientInstanceId.TryWriteBytes(bytes, bigEndian: true, out _);
        var hilo = System.Buffers.Binary.BinaryPrimitives.ReadInt64BigEndian(bytes) ^ System.Buffers.Binary.BinaryPrimitives.ReadInt64BigEndian(bytes[8..]);
        return crc ^ (int)(hilo >> 32) ^ (int)hilo;
    }

    /// <summary>Kafka's <c>Uuid.randomUuid</c>: not reserved, not printed with a leading dash, and not in the cache.</summary>
    private Guid NewInstanceId()
    {
        while (true)
        {
            var id = Guid.NewGuid();
            if (id != Guid.Empty && id != s_metadataTopicId && !ClientMetricsClient.UuidString(id).StartsWith('-') && !_instances.ContainsKey(id)) return id;
        }
    }

    private long NowMs() => _time.GetUtcNow().ToUnixTimeMilliseconds();

    private void SweepIfDue(long nowMs)
    {
        var due = Volatile.Read(ref _nextSweepMs);
        if (nowMs < due || Interlocked.CompareExchange(ref _nextSweepMs, nowMs + SweepIntervalMs, due) != due) return;
        foreach (var entry in _instances)
            if (entry.Value.ExpiresAtMs <= nowMs) _instances.TryRemove(entry);
    }

    /// <summary>A full cache drops its expired instances, else the one closest to expiry (Kafka's LRU cache drops the least recent).</summary>
    private void MakeRoom(long nowMs)
    {
        KeyValuePair<Guid, ClientMetricsInstance>? oldest = null;
        foreach (var entry in _instances)
        {
            if (entry.Value.ExpiresAtMs <= nowMs) _instances.TryRemove(entry);
            else if (oldest is null || entry.Value.ExpiresAtMs < oldest.Value.Value.ExpiresAtMs) oldest = entry;
        }
        if (_instances.Count >= CacheMaxSize && oldest is { } evicted) _instances.TryRemove(evicted);
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "{Api} from client instance {ClientInstanceId} arrived before the next push interval")]
    private partial void LogThrottled(Guid clientInstanceId, string api);

    [LoggerMessage(Level = LogLevel.Debug, Message = "PushTelemetry from client instance {ClientInstanceId} refused with {Error}: {Reason}")]
    private partial void LogRefused(Guid clientInstanceId, ErrorCode error, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "Exporting the metrics client instance {ClientInstanceId} pushed failed")]
    private partial void LogExportFailed(Exception e, Guid clientInstanceId);
}
