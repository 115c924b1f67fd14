using System.Collections.Concurrent;
using System.Collections.Frozen;
using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace OrleansStream.Server.Diagnostics;

/// <summary>
/// The broker's metrics on the <see cref="MeterName"/> meter: produce and fetch volume, request latency, ISR size,
/// under-replicated partitions, consumer lag and tier upload lag. Grains call the <c>Record*</c> methods once per
/// batch or request (never per record) and the <c>Report*</c> methods when a gauge's value changes; gauges are read
/// from that reported state when an exporter collects. Safe to call from any grain concurrently.
/// </summary>
public sealed class OrleansStreamMetrics : IDisposable
{
    public const string MeterName = "OrleansStream";

    private static readonly FrozenDictionary<BrokerOperation, string> OperationNames =
        Enum.GetValues<BrokerOperation>().ToFrozenDictionary(o => o, o => o.ToString());

    private static readonly FrozenDictionary<ErrorCode, string> ErrorNames =
        Enum.GetValues<ErrorCode>().ToFrozenDictionary(e => e, e => e.ToString());

    // Request latency buckets from 0.5 ms (an in-process append) to 30 s (long-poll fetches with a large max wait).
    private static readonly double[] DurationBuckets =
        [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

    private readonly Meter _meter;
    private readonly Counter<long> _produceRecords;
    private readonly Counter<long> _produceBytes;
    private readonly Counter<long> _fetchRecords;
    private readonly Counter<long> _fetchBytes;
    private readonly Counter<long> _tierUploadedBytes;
    private readonly Histogram<double> _requestDuration;

    private readonly ConcurrentDictionary<TopicPartition, PartitionState> _partitions = new();
    private readonly ConcurrentDictionary<ConsumerLagKey, LagCell> _consumerLag = new();
    private readonly ConcurrentDictionary<TopicPartition, TierLag> _tierLag = new();

    public OrleansStreamMetrics(IMeterFactory meterFactory)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        _meter = meterFactory.Create(MeterName);

        _produceRecords = _meter.CreateCounter<long>("orleansstream.produce.records", "{record}", "Records appended by partition leaders.");
        _produceBytes = _meter.CreateCounter<long>("orleansstream.produce.bytes", "By", "Record batch bytes appended by partition leaders.");
        _fetchRecords = _meter.CreateCounter<long>("orleansstream.fetch.records", "{record}", "Records returned to consumers and followers.");
        _fetchBytes = _meter.CreateCounter<long>("orleansstream.fetch.bytes", "By", "Record batch bytes returned to consumers and followers.");
        _tierUploadedBytes = _meter.CreateCounter<long>("orleansstream.tier.uploaded.bytes", "By", "Segment bytes copied to the remote tier.");
        _requestDuration = _meter.CreateHistogram<double>(
            "orleansstream.request.duration", "s", "Time a broker took to answer a request, fetch long-poll waits included.",
            tags: null, advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = DurationBuckets });

        _meter.CreateObservableGauge("orleansstream.partition.isr.size", ObserveIsrSize, "{replica}",
            "In-sync replicas of each partition this broker leads.");
        _meter.CreateObservableGauge("orleansstream.partition.replicas", ObserveReplicas, "{replica}",
            "Assigned replicas of each partition this broker leads.");
        _meter.CreateObservableGauge("orleansstream.partitions.leader", ObserveLeaderCount, "{partition}",
            "Partitions this broker leads (Kafka's LeaderCount).");
        _meter.CreateObservableGauge("orleansstream.partitions.under_replicated", ObserveUnderReplicated, "{partition}",
            "Partitions this broker leads whose ISR is smaller than their replica set (Kafka's UnderReplicatedPartitions).");
        _meter.CreateObservableGauge("orleansstream.consumer.lag", ObserveConsumerLag, "{record}",
            "High watermark minus the group's committed offset, per group and partition.");
        _meter.CreateObservableGauge("orleansstream.tier.upload.lag.segments", ObserveTierLagSegments, "{segment}",
            "Closed local segments not yet copied to the remote tier.");
        _meter.CreateObservableGauge("orleansstream.tier.upload.lag.bytes", ObserveTierLagBytes, "By",
            "Bytes of closed local segments not yet copied to the remote tier.");
    }

    /// <summary>The meter the instruments live on (for listeners in tests).</summary>
    public Meter Meter => _meter;

    /// <summary>A leader appended one produce request's batches.</summary>
    public void RecordProduce(string topic, int records, long bytes)
    {
        var tag = new KeyValuePair<string, object?>("topic", topic);
        _produceRecords.Add(records, tag);
        _produceBytes.Add(bytes, tag);
    }

    /// <summary>A replica answered a fetch; <paramref name="follower"/> when the fetcher is a follower replica.</summary>
    public void RecordFetch(string topic, int records, long bytes, bool follower = false)
    {
        var topicTag = new KeyValuePair<string, object?>("topic", topic);
        var kindTag = new KeyValuePair<string, object?>("fetcher", follower ? "follower" : "consumer");
        _fetchRecords.Add(records, topicTag, kindTag);
        _fetchBytes.Add(bytes, topicTag, kindTag);
    }

    /// <summary>A request finished after <paramref name="elapsed"/>; a failure carries Kafka's error name as <c>error.type</c>.</summary>
    public void RecordRequest(BrokerOperation operation, TimeSpan elapsed, ErrorCode error = ErrorCode.None)
    {
        var operationTag = new KeyValuePair<string, object?>("operation", OperationNames[operation]);
        if (error == ErrorCode.None)
        {
            _requestDuration.Record(elapsed.TotalSeconds, operationTag);
        }
        else
        {
            var errorName = ErrorNames.TryGetValue(error, out var name) ? name : ((short)error).ToString(System.Globalization.CultureInfo.InvariantCulture);
            _requestDuration.Record(elapsed.TotalSeconds, operationTag, new KeyValuePair<string, object?>("error.type", errorName));
        }
    }

    /// <summary>Same as <see cref="RecordRequest(BrokerOperation, TimeSpan, ErrorCode)"/> from a <see cref="Stopwatch.GetTimestamp"/> start.</summary>
    public void RecordRequest(BrokerOperation operation, long startTimestamp, ErrorCode error = ErrorCode.None)
        => RecordRequest(operation, Stopwatch.GetElapsedTime(startTimestamp), error);

    /// <summary>A segment was copied to the remote tier.</summary>
    public void RecordTierUpload(string topic, long bytes)
        => _tierUploadedBytes.Add(bytes, new KeyValuePair<string, object?>("topic", topic));

    /// <summary>
    /// The replica's view of its partition changed (leadership, replica set or ISR). Only leaders are counted in the
    /// ISR and under-replicated gauges, so each partition is reported once across the cluster.
    /// </summary>
    public void ReportPartition(TopicPartition partition, bool isLeader, int replicas, int inSyncReplicas)
    {
        var state = _partitions.GetOrAdd(partition, static _ => new PartitionState());
        state.Set(isLeader, replicas, inSyncReplicas);
    }

    /// <summary>The replica deactivated or was deleted: its partition leaves the gauges.</summary>
    public void ForgetPartition(TopicPartition partition)
    {
        _partitions.TryRemove(partition, out _);
        _tierLag.TryRemove(partition, out _);
    }

    /// <summary>A consumer group's lag on one partition: high watermark minus committed offset.</summary>
    public void ReportConsumerLag(string groupId, TopicPartition partition, long lag)
    {
        var box = _consumerLag.GetOrAdd(new ConsumerLagKey(groupId, partition), static _ => new LagCell());
        Volatile.Write(ref box.Value, Math.Max(0, lag));
    }

    /// <summary>The group is gone (deleted or deactivated): its lag series end.</summary>
    public void ForgetConsumerGroup(string groupId)
    {
        foreach (var key in _consumerLag.Keys)
        {
            if (key.GroupId == groupId)
            {
                _consumerLag.TryRemove(key, out _);
            }
        }
    }

    /// <summary>Closed segments of a partition waiting for upload to the tier.</summary>
    public void ReportTierUploadLag(TopicPartition partition, int segments, long bytes)
    {
        var lag = _tierLag.GetOrAdd(partition, static _ => new TierLag());
        lag.Set(segments, bytes);
    }

    public void Dispose() => _meter.Dispose();

    private List<Measurement<int>> ObserveIsrSize()
    {
        var measurements = new List<Measurement<int>>();
        foreach (var (partition, state) in _partitions)
        {
            var (isLeader, _, isr) = state.Read();
            if (isLeader) measurements.Add(new Measurement<int>(isr, PartitionTags(partition)));
        }

        return measurements;
    }

    private List<Measurement<int>> ObserveReplicas()
    {
        var measurements = new List<Measurement<int>>();
        foreach (var (partition, state) in _partitions)
        {
            var (isLeader, replicas, _) = state.Read();
            if (isLeader) measurements.Add(new Measurement<int>(replicas, PartitionTags(partition)));
        }

        return measurements;
    }

    private int ObserveLeaderCount()
    {
        var count = 0;
        foreach (var (_, state) in _partitions)
        {
            if (state.Read().IsLeader) count++;
        }

        return count;
    }

    private int ObserveUnderReplicated()
    {
        var count = 0;
        foreach (var (_, state) in _partitions)
        {
            var (isLeader, replicas, isr) = state.Read();
            if (isLeader && isr < replicas) count++;
        }

        return count;
    }

    private List<Measurement<long>> ObserveConsumerLag()
    {
        var measurements = new List<Measurement<long>>();
        foreach (var (key, box) in _consumerLag)
        {
            measurements.Add(new Measurement<long>(Volatile.Read(ref box.Value),
                new KeyValuePair<string, object?>("group", key.GroupId),
                new KeyValuePair<string, object?>("topic", key.Partition.Topic),
                new KeyValuePair<string, object?>("partition", key.Partition.Partition)));
        }

        return measurements;
    }

    private List<Measurement<long>> ObserveTierLagSegments()
    {
        var measurements = new List<Measurement<long>>();
        foreach (var (partition, lag) in _tierLag)
        {
            measurements.Add(new Measurement<long>(lag.Read().Segments, PartitionTags(partition)));
        }

        return measurements;
    }

    private List<Measurement<long>> ObserveTierLagBytes()
    {
        var measurements = new List<Measurement<long>>();
        foreach (var (partition, lag) in _tierLag)
        {
            measurements.Add(new Measurement<long>(lag.Read().Bytes, PartitionTags(partition)));
        }

        return measurements;
    }

    private static KeyValuePair<string, object?>[] PartitionTags(TopicPartition partition) =>
    [
        new("topic", partition.Topic),
        new("partition", partition.Partition),
    ];

    private readonly record struct ConsumerLagKey(string GroupId, TopicPartition Partition);

    private sealed class LagCell
    {
        public long Value;
    }

    // Reads and writes of the three values are paired under a lock so a gauge never sees a torn update.
    private sealed class PartitionState
    {
        private readonly Lock _lock = new();
        private bool _isLeader;
        private int _replicas;
        private int _isr;

        public void Set(bool isLeader, int replicas, int isr)
        {
            lock (_lock)
            {
                _isLeader = isLeader;
                _replicas = replicas;
                _isr = isr;
            }
        }

        public (bool IsLeader, int Replicas, int Isr) Read()
        {
            lock (_lock) return (_isLeader, _replicas, _isr);
        }
    }

    private sealed class TierLag
    {
        private readonly Lock _lock = new();
        private long _segments;
        private long _bytes;

        public void Set(long segments, long bytes)
        {
            lock (_lock)
            {
                _segments = segments;
                _bytes = bytes;
            }
        }

        public (long Segments, long Bytes) Read()
        {
            lock (_lock) return (_segments, _bytes);
        }
    }
}
