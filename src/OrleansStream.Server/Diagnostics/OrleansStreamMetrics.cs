using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace OrleansStream.Server.Diagnostics;

/// <summary>
/// The broker's instruments, all on one <see cref="MeterName"/> meter per host (created through
/// <see cref="IMeterFactory"/>, so each silo of a process has its own): produce and fetch volume, request latency,
/// ISR size, under-replicated partitions, consumer lag, the segments' paced writeback, tier upload lag, tier bytes
/// uploaded, remote fetch latency and the transaction coordinators' decisions and markers (<see cref="Transactions"/>).
/// Grains record through handles with their tags precomputed (<see cref="ForPartition"/>, <see cref="ForGroup"/>);
/// request latency is recorded at the call boundary by <see cref="RequestMetricsFilter"/>. Counters move once per
/// batch or request, never per record; gauges read values the handles cached when an exporter collects.
/// </summary>
public sealed class OrleansStreamMetrics : IDisposable
{
    public const string MeterName = "OrleansStream";

    // Request latency buckets from 0.5 ms (an in-process append) to 30 s (long-poll fetches with a large max wait).
    private static readonly double[] DurationBuckets =
        [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

    private static readonly KeyValuePair<string, object?>[] OperationTags =
        Array.ConvertAll(Enum.GetValues<BrokerOperation>(), o => new KeyValuePair<string, object?>("operation", o.ToString()));

    private readonly Meter _meter;
    private readonly Histogram<double> _requestDuration;
    private readonly ObservableGauge<long> _consumerLag;
    private readonly ConcurrentDictionary<TopicPartition, PartitionMetrics> _partitions = new();
    private readonly ConcurrentDictionary<string, ConsumerGroupMetrics> _groups = new();

    public OrleansStreamMetrics(IMeterFactory meterFactory)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        _meter = meterFactory.Create(MeterName);

        ProduceRecords = _meter.CreateCounter<long>("orleansstream.produce.records", "{record}", "Records appended by partition leaders.");
        ProduceBytes = _meter.CreateCounter<long>("orleansstream.produce.bytes", "By", "Record batch bytes appended by partition leaders.");
        ProduceBatches = _meter.CreateCounter<long>("orleansstream.produce.batches", "{batch}", "Record batches appended by partition leaders.");
        ProduceRequests = _meter.CreateCounter<long>("orleansstream.produce.requests", "{request}",
            "Produce requests appended by partition leaders (a request carries one or more of a partition's batches).");
        FetchRequests = _meter.CreateCounter<long>("orleansstream.fetch.requests", "{request}", "Fetches that returned batches to consumers and followers.");
        FetchRecords = _meter.CreateCounter<long>("orleansstream.fetch.records", "{record}", "Records returned to consumers and followers.");
        FetchBytes = _meter.CreateCounter<long>("orleansstream.fetch.bytes", "By", "Record batch bytes returned to consumers and followers.");
        FetchBatches = _meter.CreateCounter<long>("orleansstream.fetch.batches", "{batch}", "Record batches returned to consumers and followers.");
        KafkaConnections = _meter.CreateUpDownCounter<long>("orleansstream.kafka.connections", "{connection}", "Open Kafka client connections.");
        KafkaRequestsRefused = _meter.CreateCounter<long>("orleansstream.kafka.requests.refused", "{request}",
            "Kafka requests that closed their connection: malformed, oversized (socket.request.max.bytes), of an API version not advertised, before SASL authentication, or a connection over max.connections.per.ip.");
        KafkaAuthenticationFailures = _meter.CreateCounter<long>("orleansstream.kafka.authentication.failures", "{failure}",
            "SASL authentications that failed on a Kafka listener (Kafka's failed-authentication-total), by mechanism.");
        KafkaReauthentications = _meter.CreateCounter<long>("orleansstream.kafka.reauthentications", "{reauthentication}",
            "SASL re-authentications (KIP-368) that succeeded on a Kafka listener (Kafka's successful-reauthentication-total), by mechanism.");
        ClientTelemetryPushes = _meter.CreateCounter<long>("orleansstream.client_telemetry.pushes", "{push}",
            "Client telemetry pushes (KIP-714 PushTelemetry) whose metrics this broker took, by client_software_name.");
        ClientTelemetryBytes = _meter.CreateCounter<long>("orleansstream.client_telemetry.bytes", "By",
            "Bytes of OTLP metrics (decompressed) that clients pushed to this broker, by client_software_name.");
        ClientTelemetryForwardDropped = _meter.CreateCounter<long>("orleansstream.client_telemetry.forward.dropped", "{push}",
            "Client telemetry pushes not forwarded to the OTLP collector (OrleansStream:ClientMetrics:OtlpEndpoint), by reason: queue_full or failed.");
        TierUploadedBytes = _meter.CreateCounter<long>("orleansstream.tier.uploaded.bytes", "By", "Segment bytes copied to the remote tier.");
        TierUploadFailures = _meter.CreateCounter<long>("orleansstream.tier.upload.failures", "{failure}",
            "Tiering passes that failed and will be retried with back-off.");
        RemoteFetchDuration = _meter.CreateHistogram<double>("orleansstream.tier.remote_fetch.duration", "s",
            "Time to serve a fetch below the local log start from the remote tier.",
            tags: null, advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = DurationBuckets });
        _requestDuration = _meter.CreateHistogram<double>(
            "orleansstream.request.duration", "s", "Time a broker took to answer a request, fetch long-poll waits included.",
            tags: null, advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = DurationBuckets });

        Transactions = new TransactionCoordinatorMetrics(_meter);

        _meter.CreateObservableGauge("orleansstream.partition.isr.size", () => ObserveLed(static p => p.Replication.Isr), "{replica}",
            "In-sync replicas of each partition this broker leads.");
        _meter.CreateObservableGauge("orleansstream.partition.replicas", () => ObserveLed(static p => p.Replication.Replicas), "{replica}",
            "Assigned replicas of each partition this broker leads.");
        _meter.CreateObservableGauge("orleansstream.partitions.leader", () => CountLed(static _ => true), "{partition}",
            "Partitions this broker leads (Kafka's LeaderCount).");
        _meter.CreateObservableGauge("orleansstream.partitions.under_replicated", () => CountLed(static p => p.Replication.Isr < p.Replication.Replicas), "{partition}",
            "Partitions this broker leads whose ISR is smaller than their replica set (Kafka's UnderReplicatedPartitions).");
        _consumerLag = _meter.CreateObservableGauge("orleansstream.consumer.lag", ObserveConsumerLag, "{record}",
            "High watermark minus the group's committed offset, per group and partition.");
        _meter.CreateObservableCounter("orleansstream.log.writeback.bytes", ObserveWriteback, "By",
            "Segment bytes whose write-out to the device each partition replica on this broker started (OrleansStream:SegmentWritebackBytes).");
        _meter.CreateObservableGauge("orleansstream.tier.upload.lag.segments", () => ObserveTierLag(bytes: false), "{segment}",
            "Closed local segments below the high watermark not yet copied to the remote tier (Kafka's RemoteCopyLagSegments).");
        _meter.CreateObservableGauge("orleansstream.tier.upload.lag.bytes", () => ObserveTierLag(bytes: true), "By",
            "Bytes of closed local segments not yet copied to the remote tier (Kafka's RemoteCopyLagBytes).");
    }

    /// <summary>The meter the instruments live on (for listeners in tests).</summary>
    public Meter Meter => _meter;

    internal Counter<long> ProduceRecords { get; }
    internal Counter<long> ProduceBytes { get; }
    internal Counter<long> ProduceBatches { get; }
    internal Counter<long> ProduceRequests { get; }
    internal Counter<long> FetchRequests { get; }
    internal Counter<long> FetchRecords { get; }
    internal Counter<long> FetchBytes { get; }
    internal Counter<long> FetchBatches { get; }
    internal UpDownCounter<long> KafkaConnections { get; }
    internal Counter<long> KafkaRequestsRefused { get; }
    internal Counter<long> KafkaAuthenticationFailures { get; }
    internal Counter<long> KafkaReauthentications { get; }
    internal Counter<long> ClientTelemetryPushes { get; }
    internal Counter<long> ClientTelemetryBytes { get; }
    internal Counter<long> ClientTelemetryForwardDropped { get; }
    internal Counter<long> TierUploadedBytes { get; }
    internal Counter<long> TierUploadFailures { get; }
    internal Histogram<double> RemoteFetchDuration { get; }

    /// <summary>The transaction coordinators' instruments (one set per host, shared by its coordinator shards).</summary>
    public TransactionCoordinatorMetrics Transactions { get; }

    /// <summary>True while an exporter or listener observes request latency (the filter skips timing otherwise).</summary>
    public bool RequestDurationEnabled => _requestDuration.Enabled;

    /// <summary>True while an exporter or listener observes consumer lag (groups skip refreshing high watermarks otherwise).</summary>
    public bool ConsumerLagEnabled => _consumerLag.Enabled;

    /// <summary>
    /// The handle of one replica activation. It joins the gauges now and leaves them when disposed; a newer activation
    /// of the same partition replaces it.
    /// </summary>
    public PartitionMetrics ForPartition(string topic, int partition)
    {
        var handle = new PartitionMetrics(this, new TopicPartition(topic, partition));
        _partitions[handle.Partition] = handle;
        return handle;
    }

    /// <summary>The consumer-lag handle of one group activation; disposing it ends the group's lag series.</summary>
    public ConsumerGroupMetrics ForGroup(string groupId)
    {
        var handle = new ConsumerGroupMetrics(this, groupId);
        _groups[groupId] = handle;
        return handle;
    }

    /// <summary>A request finished after <paramref name="elapsed"/>; a failure carries Kafka's error name as <c>error.type</c>.</summary>
    public void RecordRequest(BrokerOperation operation, TimeSpan elapsed, ErrorCode error = ErrorCode.None)
    {
        if (error == ErrorCode.None)
            _requestDuration.Record(elapsed.TotalSeconds, OperationTags[(int)operation]);
        else
            _requestDuration.Record(elapsed.TotalSeconds, OperationTags[(int)operation], new KeyValuePair<string, object?>("error.type", ErrorName(error)));
    }

    /// <summary>Same as <see cref="RecordRequest(BrokerOperation, TimeSpan, ErrorCode)"/> from a <see cref="Stopwatch.GetTimestamp"/> start.</summary>
    public void RecordRequest(BrokerOperation operation, long startTimestamp, ErrorCode error = ErrorCode.None)
        => RecordRequest(operation, Stopwatch.GetElapsedTime(startTimestamp), error);

    public void Dispose() => _meter.Dispose();

    internal void Remove(PartitionMetrics handle) => _partitions.TryRemove(new KeyValuePair<TopicPartition, PartitionMetrics>(handle.Partition, handle));

    internal void Remove(ConsumerGroupMetrics handle) => _groups.TryRemove(new KeyValuePair<string, ConsumerGroupMetrics>(handle.GroupId, handle));

    // Enum names are interned by the runtime's cache after the first call; unknown codes fall back to the number.
    private static string ErrorName(ErrorCode error) =>
        Enum.IsDefined(error) ? error.ToString() : ((short)error).ToString(System.Globalization.CultureInfo.InvariantCulture);

    private List<Measurement<int>> ObserveLed(Func<PartitionMetrics, int> value)
    {
        var measurements = new List<Measurement<int>>();
        foreach (var (_, p) in _partitions)
            if (p.Replication.IsLeader) measurements.Add(new Measurement<int>(value(p), p.GaugeTags));
        return measurements;
    }

    private int CountLed(Func<PartitionMetrics, bool> predicate)
    {
        var count = 0;
        foreach (var (_, p) in _partitions)
            if (p.Replication.IsLeader && predicate(p)) count++;
        return count;
    }

    private List<Measurement<long>> ObserveTierLag(bool bytes)
    {
        var measurements = new List<Measurement<long>>();
        foreach (var (_, p) in _partitions)
        {
            var (segments, size) = p.TierLag;
            if (segments >= 0 && p.Replication.IsLeader) measurements.Add(new Measurement<long>(bytes ? size : segments, p.GaugeTags));
        }
        return measurements;
    }

    private List<Measurement<long>> ObserveWriteback()
    {
        var measurements = new List<Measurement<long>>();
        foreach (var (_, p) in _partitions)
            if (p.WritebackStartedBytes is var bytes and >= 0) measurements.Add(new Measurement<long>(bytes, p.GaugeTags));
        return measurements;
    }

    private List<Measurement<long>> ObserveConsumerLag()
    {
        var measurements = new List<Measurement<long>>();
        foreach (var (_, group) in _groups)
            group.Observe(measurements);
        return measurements;
    }
}
