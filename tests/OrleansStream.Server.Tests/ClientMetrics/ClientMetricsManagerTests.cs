using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using OrleansStream.Protocol;
using OrleansStream.Protocol.Messages;
using OrleansStream.Records;
using OrleansStream.Server.ClientMetrics;
using OrleansStream.Server.Diagnostics;
using OrleansStream.Server.Kafka;
using OrleansStream.Server.Tests.Transactions;

namespace OrleansStream.Server.Tests.ClientMetrics;

/// <summary>
/// Kafka's <c>ClientMetricsManager</c> rules, on a fake clock: which subscriptions a client matches and what it is asked
/// for, throttling of both requests by the push interval, PushTelemetry's errors in Kafka's order, a terminating push,
/// the hand-off of decompressed metrics to the receivers, and the expiry of instances.
/// </summary>
public sealed class ClientMetricsManagerTests : IDisposable
{
    private static readonly ClientMetricsClient Librdkafka = new(Guid.Empty, "app-1", "librdkafka", "2.16.0", "10.0.0.7", "50123");
    private static readonly ClientMetricsClient Java = new(Guid.Empty, "app-2", "apache-kafka-java", "4.3.1", "10.0.0.8", "50124");

    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
    private readonly RecordingReceiver _receiver = new();
    private readonly OrleansStreamMetrics _metrics = TransactionCoordinatorHarness.NewMetrics();
    private readonly MeterListener _listener = new();
    private readonly List<(string Instrument, long Value, KeyValuePair<string, object?>[] Tags)> _measurements = [];

    public ClientMetricsManagerTests()
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (ReferenceEquals(instrument.Meter, _metrics.Meter)) listener.EnableMeasurementEvents(instrument);
        };
        _listener.SetMeasurementEventCallback<long>((i, v, tags, _) => _measurements.Add((i.Name, v, tags.ToArray())));
        _listener.Start();
    }

    public void Dispose()
    {
        _listener.Dispose();
        _metrics.Dispose();
    }

    private ClientMetricsManager Manager(int maxBytes = 1 << 20, params (string Name, string? Metrics, int IntervalMs, string? Match)[] subscriptions)
    {
        var options = new ClientMetricsOptions { TelemetryMaxBytes = maxBytes };
        foreach (var (name, metrics, interval, match) in subscriptions)
            options.Subscriptions[name] = new ClientMetricsSubscriptionOptions { Metrics = metrics, IntervalMs = interval, Match = match };
        Assert.True(new ClientMetricsOptionsValidator().Validate(null, options).Succeeded);
        return new ClientMetricsManager(Options.Create(options), [_receiver, new ClientTelemetryMetricsReceiver(_metrics)], _time, NullLogger<ClientMetricsManager>.Instance);
    }

    [Fact]
    public void A_client_is_asked_for_the_metrics_of_every_subscription_it_matches_at_their_shortest_interval()
    {
        var m = Manager(subscriptions: [
            ("producers", "org.apache.kafka.producer., org.apache.kafka.client.", 60_000, "client_software_name=librdkafka, client_id=app-.*"),
            ("consumers", "org.apache.kafka.consumer.,org.apache.kafka.client.", 30_000, "client_software_version=2\\.1.*"),
            ("java", "*", 1_000, "client_software_name=apache-kafka-java"),
            // Matched whole, as Java's Matcher.matches: "librd" is no match for "librdkafka".
            ("partial", "x.", 100, "client_software_name=librd"),
        ]);

        var rd = m.GetSubscriptions(Guid.Empty, Librdkafka);
        Assert.Equal(ErrorCode.None, rd.Error);
        Assert.NotEqual(Guid.Empty, rd.ClientInstanceId);
        Assert.Equal(["org.apache.kafka.client.", "org.apache.kafka.consumer.", "org.apache.kafka.producer."], rd.RequestedMetrics);
        Assert.Equal(30_000, rd.PushIntervalMs);
        Assert.Equal([(sbyte)4, 3, 1, 2], rd.AcceptedCompressionTypes);
        Assert.Equal(1 << 20, rd.TelemetryMaxBytes);
        Assert.True(rd.DeltaTemporality);

        // A subscription asking for everything answers "*" alone.
        var java = m.GetSubscriptions(Guid.Empty, Java);
        Assert.Equal(["*"], java.RequestedMetrics);
        Assert.Equal(1_000, java.PushIntervalMs);

        // No match: nothing requested (the client does not push), Kafka's default interval.
        var other = m.GetSubscriptions(Guid.Empty, Librdkafka with { SoftwareVersion = "1.9.2", ClientId = "other" });
        Assert.Empty(other.RequestedMetrics);
        Assert.Equal(300_000, other.PushIntervalMs);
    }

    [Fact]
    public void A_selector_on_an_attribute_the_client_lacks_does_not_match()
    {
        var m = Manager(subscriptions: [("s", "*", 1_000, "client_software_name=.*")]);
        Assert.Empty(m.GetSubscriptions(Guid.Empty, Librdkafka with { SoftwareName = null }).RequestedMetrics);
        Assert.Equal(["*"], m.GetSubscriptions(Guid.Empty, Librdkafka).RequestedMetrics);
    }

    [Theory]
    [InlineData(99, null, "Invalid value 99 for interval.ms, interval must be between 100 and 3600000 (1 hour)")]
    [InlineData(3_600_001, null, "Invalid value 3600001 for interval.ms, interval must be between 100 and 3600000 (1 hour)")]
    [InlineData(1000, "client_id", "Illegal client matching pattern: client_id")]
    [InlineData(1000, "client_id=", "Illegal client matching pattern: client_id=")]
    [InlineData(1000, "client_rack=a", "Illegal client matching pattern: client_rack=a")]
    [InlineData(1000, "client_id=a=b", "Illegal client matching pattern: client_id=a=b")]
    [InlineData(1000, "client_id=(", "Illegal client matching pattern: client_id=(")]
    public void Subscriptions_Kafka_refuses_are_refused_with_its_message(int intervalMs, string? match, string message)
    {
        Assert.Equal(message, ClientMetricsSubscription.Validate("s", "*", intervalMs, match));
        var options = new ClientMetricsOptions();
        options.Subscriptions["s"] = new ClientMetricsSubscriptionOptions { Metrics = "*", IntervalMs = intervalMs, Match = match };
        var result = new ClientMetricsOptionsValidator().Validate(null, options);
        Assert.Equal($"OrleansStream:ClientMetrics:Subscriptions:s: {message}", Assert.Single(result.Failures!));
    }

    /// <summary>
    /// Kafka's ConnectionDisconnectListener: the instance a connection made is forgotten when it closes, so the client
    /// connecting again is answered at once, not throttled by its old instance's interval; an instance made again by
    /// another connection meanwhile is not forgotten with the first connection.
    /// </summary>
    [Fact]
    public void The_instance_a_connection_made_is_forgotten_when_the_connection_closes()
    {
        var m = Manager(subscriptions: [("s", "*", 60_000, null)]);
        var listener = new KafkaListener(new KafkaListenerEndpoint("PLAINTEXT", "127.0.0.1", 9092), KafkaSecurityProtocol.Plaintext);
        var first = new KafkaConnection(listener, null);
        var second = new KafkaConnection(listener, null);
        var id = m.GetSubscriptions(Guid.Empty, Librdkafka, first).ClientInstanceId;
        var throttled = m.GetSubscriptions(id, Librdkafka, second).Error;

        m.ConnectionClosed(first);
        var afresh = m.GetSubscriptions(id, Librdkafka, second);

        Assert.Equal(ErrorCode.ThrottlingQuotaExceeded, throttled);
        Assert.Equal((ErrorCode.None, id), (afresh.Error, afresh.ClientInstanceId));

        // The second connection's instance expires (three intervals) and a third connection makes it again: the
        // second connection's close leaves the third's instance, which still throttles.
        var third = new KafkaConnection(listener, null);
        _time.Advance(TimeSpan.FromMilliseconds(180_001));
        Assert.Equal(ErrorCode.None, m.GetSubscriptions(id, Librdkafka, third).Error);
        m.ConnectionClosed(second);
        Assert.Equal(ErrorCode.ThrottlingQuotaExceeded, m.GetSubscriptions(id, Librdkafka).Error);
        m.ConnectionClosed(third);
        Assert.Equal(ErrorCode.None, m.GetSubscriptions(id, Librdkafka).Error);
    }

    [Fact]
    public void GetTelemetrySubscriptions_within_the_push_interval_is_throttled()
    {
        var m = Manager(subscriptions: [("s", "*", 1_000, null)]);
        var first = m.GetSubscriptions(Guid.Empty, Librdkafka);
        var id = first.ClientInstanceId;

        _time.Advance(TimeSpan.FromMilliseconds(999));
        var early = m.GetSubscriptions(id, Librdkafka);
        Assert.Equal(ErrorCode.ThrottlingQuotaExceeded, early.Error);
        Assert.Equal(Guid.Empty, early.ClientInstanceId);

        _time.Advance(TimeSpan.FromMilliseconds(1));
        var again = m.GetSubscriptions(id, Librdkafka);
        Assert.Equal(ErrorCode.None, again.Error);
        Assert.Equal(id, again.ClientInstanceId);
        Assert.Equal(first.SubscriptionId, again.SubscriptionId);

        // A push counts too: the next get waits an interval after it, not only after the last get.
        _time.Advance(TimeSpan.FromMilliseconds(500));
        Assert.Equal(ErrorCode.None, m.Push(Push(id, again.SubscriptionId), Librdkafka));
        _time.Advance(TimeSpan.FromMilliseconds(500));
        Assert.Equal(ErrorCode.ThrottlingQuotaExceeded, m.GetSubscriptions(id, Librdkafka).Error);
        _time.Advance(TimeSpan.FromMilliseconds(500));
        Assert.Equal(ErrorCode.None, m.GetSubscriptions(id, Librdkafka).Error);
    }

    [Fact]
    public void A_changed_subscription_is_answered_at_once_with_a_new_subscription_id()
    {
        var m = Manager(subscriptions: [("s", "org.apache.kafka.producer.", 60_000, null)]);
        var first = m.GetSubscriptions(Guid.Empty, Librdkafka);

        m.Apply(new ClientMetricsSnapshot(1, new(StringComparer.Ordinal) { ["s"] = new(StringComparer.Ordinal) { ["metrics"] = "org.apache.kafka.consumer.", ["interval.ms"] = "60000" } }));
        var changed = m.GetSubscriptions(first.ClientInstanceId, Librdkafka);
        Assert.Equal(ErrorCode.None, changed.Error);
        Assert.Equal(["org.apache.kafka.consumer."], changed.RequestedMetrics);
        Assert.NotEqual(first.SubscriptionId, changed.SubscriptionId);

        // The old id is refused, and the client may then ask again at once (Kafka's exception to the throttle).
        Assert.Equal(ErrorCode.UnknownSubscriptionId, m.Push(Push(first.ClientInstanceId, first.SubscriptionId), Librdkafka));
        Assert.Equal(ErrorCode.None, m.GetSubscriptions(first.ClientInstanceId, Librdkafka).Error);
    }

    [Fact]
    public void The_subscription_id_depends_on_the_metrics_the_interval_and_the_instance_only()
    {
        var id = Guid.NewGuid();
        Assert.Equal(ClientMetricsManager.SubscriptionId(["a.", "b."], 1000, id), ClientMetricsManager.SubscriptionId(["a.", "b."], 1000, id));
        Assert.NotEqual(ClientMetricsManager.SubscriptionId(["a.", "b."], 1000, id), ClientMetricsManager.SubscriptionId(["a.", "b."], 1001, id));
        Assert.NotEqual(ClientMetricsManager.SubscriptionId(["a."], 1000, id), ClientMetricsManager.SubscriptionId(["a.", "b."], 1000, id));
        Assert.NotEqual(ClientMetricsManager.SubscriptionId(["a."], 1000, id), ClientMetricsManager.SubscriptionId(["a."], 1000, Guid.NewGuid()));

        // Another broker (another manager) that never saw the client answers it the same id.
        var subscriptions = ("s", "*", 1_000, (string?)null);
        var first = Manager(subscriptions: [subscriptions]).GetSubscriptions(Guid.Empty, Librdkafka);
        var other = Manager(subscriptions: [subscriptions]).GetSubscriptions(first.ClientInstanceId, Librdkafka);
        Assert.Equal(first.SubscriptionId, other.SubscriptionId);
    }

    [Fact]
    public void Pushes_are_accepted_right_after_the_subscription_then_one_per_interval()
    {
        var m = Manager(subscriptions: [("s", "*", 1_000, null)]);
        var s = m.GetSubscriptions(Guid.Empty, Librdkafka);

        _time.Advance(TimeSpan.FromMilliseconds(500));
        Assert.Equal(ErrorCode.None, m.Push(Push(s.ClientInstanceId, s.SubscriptionId), Librdkafka));
        _time.Advance(TimeSpan.FromMilliseconds(999));
        Assert.Equal(ErrorCode.ThrottlingQuotaExceeded, m.Push(Push(s.ClientInstanceId, s.SubscriptionId), Librdkafka));
        _time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Equal(ErrorCode.None, m.Push(Push(s.ClientInstanceId, s.SubscriptionId), Librdkafka));
        Assert.Equal(2, _receiver.Payloads.Count);
    }

    [Fact]
    public void A_push_is_refused_with_Kafkas_errors_in_Kafkas_order()
    {
        var m = Manager(maxBytes: 8, subscriptions: [("s", "*", 1_000, null)]);
        var s = m.GetSubscriptions(Guid.Empty, Librdkafka);
        var id = s.ClientInstanceId;

        Assert.Equal(ErrorCode.InvalidRequest, m.Push(Push(Guid.Empty, s.SubscriptionId), Librdkafka));
        Assert.Equal(ErrorCode.InvalidRequest, m.Push(Push(new Guid("00000000-0000-0000-0000-000000000001"), s.SubscriptionId), Librdkafka));
        Assert.Equal(ErrorCode.UnknownSubscriptionId, m.Push(Push(id, s.SubscriptionId + 1), Librdkafka));
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(ErrorCode.UnsupportedCompressionType, m.Push(Push(id, s.SubscriptionId, compression: 5), Librdkafka));
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(ErrorCode.UnsupportedCompressionType, m.Push(Push(id, s.SubscriptionId, compression: -1), Librdkafka));
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(ErrorCode.UnknownSubscriptionId, m.Push(Push(id, s.SubscriptionId + 1, compression: 5, metrics: new byte[9]), Librdkafka));
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(ErrorCode.UnsupportedCompressionType, m.Push(Push(id, s.SubscriptionId, compression: 5, metrics: new byte[9]), Librdkafka));
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(ErrorCode.TelemetryTooLarge, m.Push(Push(id, s.SubscriptionId, metrics: new byte[9]), Librdkafka));
        _time.Advance(TimeSpan.FromSeconds(1));
        // Throttling comes before the subscription id: an early push with a wrong id is throttled.
        Assert.Equal(ErrorCode.None, m.Push(Push(id, s.SubscriptionId, metrics: new byte[8]), Librdkafka));
        Assert.Equal(ErrorCode.ThrottlingQuotaExceeded, m.Push(Push(id, s.SubscriptionId + 1), Librdkafka));
        Assert.Single(_receiver.Payloads);
    }

    [Fact]
    public void A_terminating_push_is_accepted_within_the_interval_once_and_nothing_after_it()
    {
        var m = Manager(subscriptions: [("s", "*", 1_000, null)]);
        var s = m.GetSubscriptions(Guid.Empty, Librdkafka);
        Assert.Equal(ErrorCode.None, m.Push(Push(s.ClientInstanceId, s.SubscriptionId), Librdkafka));

        _time.Advance(TimeSpan.FromMilliseconds(10));
        Assert.Equal(ErrorCode.None, m.Push(Push(s.ClientInstanceId, s.SubscriptionId, terminating: true), Librdkafka));
        Assert.True(_receiver.Payloads[^1].Terminating);
        Assert.Equal(ErrorCode.InvalidRequest, m.Push(Push(s.ClientInstanceId, s.SubscriptionId, terminating: true), Librdkafka));
        _time.Advance(TimeSpan.FromSeconds(5));
        Assert.Equal(ErrorCode.InvalidRequest, m.Push(Push(s.ClientInstanceId, s.SubscriptionId), Librdkafka));
        Assert.Equal(2, _receiver.Payloads.Count);
    }

    [Theory]
    [InlineData(CompressionType.None)]
    [InlineData(CompressionType.Gzip)]
    [InlineData(CompressionType.Snappy)]
    [InlineData(CompressionType.Lz4)]
    [InlineData(CompressionType.Zstd)]
    public void Receivers_get_the_decompressed_metrics_and_the_broker_counts_them(CompressionType codec)
    {
        var m = Manager(subscriptions: [("s", "*", 1_000, null)]);
        var s = m.GetSubscriptions(Guid.Empty, Librdkafka);
        var metrics = new byte[3000];
        for (var i = 0; i < metrics.Length; i++) metrics[i] = (byte)(i % 7);
        using var compressed = new PooledBuffer();
        RecordBatchCompression.CompressRecords(codec, metrics, compressed);

        Assert.Equal(ErrorCode.None, m.Push(Push(s.ClientInstanceId, s.SubscriptionId, (sbyte)codec, compressed.WrittenSpan.ToArray()), Librdkafka));

        var payload = Assert.Single(_receiver.Payloads);
        Assert.Equal(metrics, payload.Data);
        Assert.Equal("librdkafka", payload.Client.SoftwareName);
        Assert.Equal(s.ClientInstanceId, payload.Client.ClientInstanceId);
        var pushes = Assert.Single(_measurements, x => x.Instrument == "orleansstream.client_telemetry.pushes");
        Assert.Equal(1, pushes.Value);
        Assert.Contains(new KeyValuePair<string, object?>("client_software_name", "librdkafka"), pushes.Tags);
        Assert.Equal(metrics.Length, Assert.Single(_measurements, x => x.Instrument == "orleansstream.client_telemetry.bytes").Value);
    }

    [Fact]
    public void Metrics_that_do_not_decompress_are_InvalidRecord_and_reach_no_receiver()
    {
        var m = Manager(subscriptions: [("s", "*", 1_000, null)]);
        var s = m.GetSubscriptions(Guid.Empty, Librdkafka);
        Assert.Equal(ErrorCode.InvalidRecord, m.Push(Push(s.ClientInstanceId, s.SubscriptionId, (sbyte)CompressionType.Gzip, [1, 2, 3, 4]), Librdkafka));
        Assert.Empty(_receiver.Payloads);
        Assert.DoesNotContain(_measurements, x => x.Instrument == "orleansstream.client_telemetry.pushes");
    }

    [Fact]
    public void An_instance_is_forgotten_three_intervals_and_at_least_a_minute_after_its_last_request()
    {
        var m = Manager(subscriptions: [("s", "*", 30_000, null)]);
        var s = m.GetSubscriptions(Guid.Empty, Librdkafka);
        m.GetSubscriptions(Guid.Empty, Java);
        var first = m.Instance(s.ClientInstanceId, Librdkafka, Now());

        _time.Advance(TimeSpan.FromMilliseconds(89_999));
        Assert.Same(first, m.Instance(s.ClientInstanceId, Librdkafka, Now()));
        Assert.Equal(2, m.InstanceCount);

        // 90 s (3 intervals) after its last request the instance is made again; the other client's, silent as long, is gone.
        _time.Advance(TimeSpan.FromMilliseconds(90_000));
        Assert.NotSame(first, m.Instance(s.ClientInstanceId, Librdkafka, Now()));
        Assert.Equal(1, m.InstanceCount);
    }

    private long Now() => _time.GetUtcNow().ToUnixTimeMilliseconds();

    [Theory]
    [InlineData("", "metrics", "*", ErrorCode.InvalidRequest, "Subscription name can't be empty")]
    [InlineData("s", "metric", "*", ErrorCode.InvalidRequest, "Unknown client metrics configuration: metric")]
    [InlineData("s", "interval.ms", "5s", ErrorCode.InvalidConfig, "Invalid value 5s for configuration interval.ms: Not a number of type INT")]
    [InlineData("s", "interval.ms", "50", ErrorCode.InvalidRequest, "Invalid value 50 for interval.ms, interval must be between 100 and 3600000 (1 hour)")]
    [InlineData("s", "match", "client_id=a,host=b", ErrorCode.InvalidConfig, "Illegal client matching pattern: host=b")]
    public void Stored_subscriptions_are_checked_as_Kafkas_ClientMetricsConfigs(string name, string key, string value, ErrorCode error, string message)
    {
        var configs = new Dictionary<string, string>(StringComparer.Ordinal) { [key] = value };
        Assert.Equal((error, message), ClientMetricsSubscription.ValidateConfigs(name, configs));
        configs = new Dictionary<string, string>(StringComparer.Ordinal) { ["metrics"] = "a.,b.", ["interval.ms"] = "100", ["match"] = "client_id=x" };
        Assert.Null(ClientMetricsSubscription.ValidateConfigs("s", configs));
    }

    [Fact]
    public void A_stored_subscription_replaces_the_configured_one_of_its_name_and_clients_see_it_at_once()
    {
        var m = Manager(subscriptions: [("s", "org.apache.kafka.producer.", 60_000, null), ("other", "x.", 60_000, "client_id=nobody")]);
        var first = m.GetSubscriptions(Guid.Empty, Librdkafka);
        Assert.Equal(["org.apache.kafka.producer."], first.RequestedMetrics);

        m.Apply(new ClientMetricsSnapshot(1, new(StringComparer.Ordinal)
        {
            ["s"] = new(StringComparer.Ordinal) { ["metrics"] = "*", ["interval.ms"] = "500" },
            ["new"] = new(StringComparer.Ordinal) { ["metrics"] = "y.", ["match"] = "client_software_name=librdkafka" },
        }));
        var changed = m.GetSubscriptions(first.ClientInstanceId, Librdkafka);
        Assert.Equal(ErrorCode.None, changed.Error);
        Assert.Equal(["*"], changed.RequestedMetrics);
        Assert.Equal(500, changed.PushIntervalMs);
        Assert.Equal(["new", "other", "s"], m.Subscriptions.Select(x => x.Name).Order(StringComparer.Ordinal));

        // An older snapshot changes nothing; removing the stored one brings the configured one back.
        m.Apply(ClientMetricsSnapshot.Empty);
        Assert.Equal(3, m.Subscriptions.Count);
        m.Apply(new ClientMetricsSnapshot(2, new(StringComparer.Ordinal)));
        _time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Equal(["org.apache.kafka.producer."], m.GetSubscriptions(first.ClientInstanceId, Librdkafka).RequestedMetrics);
    }

    /// <summary>
    /// Kafka's <c>isTelemetryReceiverConfigured</c>, which decides whether the broker advertises the telemetry APIs: the
    /// broker's own push counter and an OTLP forwarder without an endpoint take nothing anywhere; an endpoint or an
    /// application's receiver does.
    /// </summary>
    [Fact]
    public void Telemetry_is_advertised_only_with_a_receiver_that_takes_the_metrics_somewhere()
    {
        ClientMetricsManager With(params IClientTelemetryReceiver[] receivers) =>
            new(Options.Create(new ClientMetricsOptions()), receivers, _time, NullLogger<ClientMetricsManager>.Instance);
        using var off = new OtlpMetricsForwarder(Options.Create(new ClientMetricsOptions()), _metrics, NullLogger<OtlpMetricsForwarder>.Instance);
        using var on = new OtlpMetricsForwarder(Options.Create(new ClientMetricsOptions { OtlpEndpoint = "http://collector:4318" }), _metrics,
            NullLogger<OtlpMetricsForwarder>.Instance);
        var counter = new ClientTelemetryMetricsReceiver(_metrics);

        Assert.False(new ApiVersionManager(With(counter, off)).TelemetryEnabled);
        Assert.DoesNotContain(new ApiVersionManager(With(counter, off)).Apis, a => a.Key is ApiKey.GetTelemetrySubscriptions or ApiKey.PushTelemetry);
        Assert.False(new ApiVersionManager(With(counter, off)).IsSupported(ApiKey.PushTelemetry, 0));
        Assert.True(new ApiVersionManager(With(counter, on)).IsSupported(ApiKey.PushTelemetry, 0));
        Assert.Equal(ApiVersionsTable.Advertised, new ApiVersionManager(With(counter, off, _receiver)).Apis);
    }

    /// <summary>The forwarder never blocks a push: with its queue full (no collector taking posts yet) a push is dropped and counted.</summary>
    [Fact]
    public void The_OTLP_forwarder_queues_to_its_bound_then_drops_and_counts()
    {
        using var forwarder = new OtlpMetricsForwarder(Options.Create(new ClientMetricsOptions { OtlpEndpoint = "http://collector:4318/", OtlpQueueCapacity = 2 }),
            _metrics, NullLogger<OtlpMetricsForwarder>.Instance);
        Assert.Equal(new Uri("http://collector:4318/v1/metrics"), forwarder.Target);
        var payload = new ClientTelemetryPayload(Librdkafka, false, new byte[] { 1, 2, 3 });

        for (var i = 0; i < 3; i++) forwarder.Export(payload);

        var dropped = Assert.Single(_measurements, x => x.Instrument == "orleansstream.client_telemetry.forward.dropped");
        Assert.Equal(1, dropped.Value);
        Assert.Contains(new KeyValuePair<string, object?>("reason", "queue_full"), dropped.Tags);

        // Without an endpoint nothing is queued or counted.
        using var off = new OtlpMetricsForwarder(Options.Create(new ClientMetricsOptions()), _metrics, NullLogger<OtlpMetricsForwarder>.Instance);
        off.Export(payload);
        Assert.Null(off.Target);
        Assert.Single(_measurements, x => x.Instrument == "orleansstream.client_telemetry.forward.dropped");
    }

    private static PushTelemetryRequest Push(Guid id, int subscriptionId, sbyte compression = 0, byte[]? metrics = null, bool terminating = false) =>
        new(id, subscriptionId, terminating, compression, metrics ?? [1, 2, 3]);

    private sealed class RecordingReceiver : IClientTelemetryReceiver
    {
        public List<(ClientMetricsClient Client, bool Terminating, byte[] Data)> Payloads { get; } = [];

        public void Export(in ClientTelemetryPayload payload) => Payloads.Add((payload.Client, payload.Terminating, payload.MetricsData.ToArray()));
    }
}
