using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using OrleansStream.Records;
using OrleansStream.Server.Diagnostics;
using OrleansStream.Storage;
using OrleansStream.Storage.Tiering;

namespace OrleansStream.Deploy.Tests;

/// <summary>The broker's instruments as an exporter sees them, through a <see cref="MeterListener"/>.</summary>
public sealed class MetricsTests : IDisposable
{
    private readonly ServiceProvider _services;
    private readonly OrleansStreamMetrics _metrics;
    private readonly MeterListener _listener = new();
    private readonly List<(string Instrument, double Value, Dictionary<string, object?> Tags)> _measurements = [];

    public MetricsTests()
    {
        _services = new ServiceCollection().AddOrleansStreamMetrics().BuildServiceProvider();
        _metrics = _services.GetRequiredService<OrleansStreamMetrics>();
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (ReferenceEquals(instrument.Meter, _metrics.Meter)) listener.EnableMeasurementEvents(instrument);
        };
        _listener.SetMeasurementEventCallback<long>((i, v, tags, _) => Add(i, v, tags));
        _listener.SetMeasurementEventCallback<int>((i, v, tags, _) => Add(i, v, tags));
        _listener.SetMeasurementEventCallback<double>((i, v, tags, _) => Add(i, v, tags));
        _listener.Start();
    }

    [Fact]
    public void Meter_IsNamedOrleansStream()
    {
        Assert.Equal("OrleansStream", _metrics.Meter.Name);
        Assert.Equal(OrleansStreamMetrics.MeterName, _metrics.Meter.Name);
    }

    [Fact]
    public void ProduceAndFetch_CountRecordsBatchesAndBytesPerTopic()
    {
        using var partition = _metrics.ForPartition("orders", 0);
        var batches = Concat(Batch(10), Batch(5));
        partition.Produced(records: 10, bytes: 1_000, batches: 1);
        partition.Produced(records: 5, bytes: 500, batches: 2);
        partition.Fetched(batches);
        partition.ReplicaFetched(Batch(3));
        partition.Fetched([]);

        Assert.Equal(15, Sum("orleansstream.produce.records", "topic", "orders"));
        Assert.Equal(1_500, Sum("orleansstream.produce.bytes", "topic", "orders"));
        Assert.Equal(15, Sum("orleansstream.fetch.records", "fetcher", "consumer"));
        Assert.Equal(batches.Length, Sum("orleansstream.fetch.bytes", "fetcher", "consumer"));
        Assert.Equal(3, Sum("orleansstream.fetch.records", "fetcher", "follower"));
        Assert.Equal(3, Sum("orleansstream.produce.batches", "topic", "orders"));
        Assert.Equal(2, Sum("orleansstream.fetch.batches", "fetcher", "consumer"));
        Assert.Equal(1, Sum("orleansstream.fetch.batches", "fetcher", "follower"));
        Assert.Equal(2, Sum("orleansstream.produce.requests", "topic", "orders"));
        Assert.Equal(1, Sum("orleansstream.fetch.requests", "fetcher", "consumer")); // the empty fetch is not counted
        Assert.Equal(1, Sum("orleansstream.fetch.requests", "fetcher", "follower"));
        Assert.Single(_measurements, m => m.Instrument == "orleansstream.fetch.bytes" && Equals(m.Tags["fetcher"], "consumer"));
    }

    [Fact]
    public void CountRecords_ReadsOneHeaderPerBatchAndStopsAtAPartialBatch()
    {
        var batches = Concat(Batch(7), Batch(1), Batch(4));
        Assert.Equal(12, PartitionMetrics.CountRecords(batches));
        Assert.Equal(8, PartitionMetrics.CountRecords(batches.AsSpan(0, batches.Length - 10)));
        Assert.Equal(0, PartitionMetrics.CountRecords([]));
    }

    [Fact]
    public void Recording_AllocatesNothingPerBatch()
    {
        using var partition = _metrics.ForPartition("hot", 0);
        var batch = Batch(100);
        long seen = 0;
        using var quiet = new MeterListener();
        quiet.InstrumentPublished = (instrument, listener) =>
        {
            if (ReferenceEquals(instrument.Meter, _metrics.Meter)) listener.EnableMeasurementEvents(instrument);
        };
        quiet.SetMeasurementEventCallback<long>((_, v, _, _) => Interlocked.Add(ref seen, v));
        quiet.SetMeasurementEventCallback<double>((_, _, _, _) => Interlocked.Increment(ref seen));
        quiet.Start();
        _listener.Dispose(); // the recording listener allocates per measurement; measure with the quiet one only
        partition.Produced(1, 1);
        partition.Fetched(batch);
        partition.RemoteFetchCompleted(TimeSpan.FromMilliseconds(1));

        Assert.Equal(0, ThreadAllocations.Least(_ =>
        {
            for (var i = 0; i < 1_000; i++)
            {
                partition.Produced(100, batch.Length);
                partition.Fetched(batch);
                partition.ReplicaFetched(batch);
                partition.RemoteFetchCompleted(TimeSpan.FromMilliseconds(1));
                partition.ReportReplication(isLeader: true, replicas: 3, inSyncReplicas: 3);
            }
        }));
        Assert.True(seen > 1_000 * 100);
    }

    [Fact]
    public void RequestDuration_IsTaggedWithOperationAndKafkaErrorName()
    {
        _metrics.RecordRequest(BrokerOperation.Produce, TimeSpan.FromMilliseconds(4));
        _metrics.RecordRequest(BrokerOperation.Fetch, TimeSpan.FromMilliseconds(2), ErrorCode.OffsetOutOfRange);

        var produce = Assert.Single(_measurements, m => m.Instrument == "orleansstream.request.duration" && Equals(m.Tags["operation"], "Produce"));
        Assert.Equal(0.004, produce.Value, 6);
        Assert.False(produce.Tags.ContainsKey("error.type"));
        var fetch = Assert.Single(_measurements, m => m.Instrument == "orleansstream.request.duration" && Equals(m.Tags["operation"], "Fetch"));
        Assert.Equal("OffsetOutOfRange", fetch.Tags["error.type"]);
        Assert.True(_metrics.RequestDurationEnabled);
    }

    [Fact]
    public void ReplicationGauges_CountOnlyLedPartitions()
    {
        var a0 = _metrics.ForPartition("a", 0);
        using var a1 = _metrics.ForPartition("a", 1);
        using var a2 = _metrics.ForPartition("a", 2);
        a0.ReportReplication(isLeader: true, replicas: 3, inSyncReplicas: 3);
        a1.ReportReplication(isLeader: true, replicas: 3, inSyncReplicas: 2);
        a2.ReportReplication(isLeader: false, replicas: 3, inSyncReplicas: 1);

        _listener.RecordObservableInstruments();

        Assert.Equal(2, Last("orleansstream.partitions.leader"));
        Assert.Equal(1, Last("orleansstream.partitions.under_replicated"));
        var isr = _measurements.Where(m => m.Instrument == "orleansstream.partition.isr.size").ToList();
        Assert.Equal(2, isr.Count);
        Assert.Contains(isr, m => Equals(m.Tags["partition"], 1) && m.Value == 2);

        a1.ReportReplication(isLeader: true, replicas: 3, inSyncReplicas: 3);
        a0.Dispose();
        _measurements.Clear();
        _listener.RecordObservableInstruments();

        Assert.Equal(1, Last("orleansstream.partitions.leader"));
        Assert.Equal(0, Last("orleansstream.partitions.under_replicated"));
    }

    [Fact]
    public void ANewerActivation_KeepsItsSeriesWhenTheOlderOneEnds()
    {
        var older = _metrics.ForPartition("moved", 0);
        using var newer = _metrics.ForPartition("moved", 0);
        newer.ReportReplication(isLeader: true, replicas: 1, inSyncReplicas: 1);
        older.Dispose();

        _listener.RecordObservableInstruments();

        Assert.Equal(1, Last("orleansstream.partitions.leader"));
    }

    [Fact]
    public void ConsumerLagAndTierLag_AreReportedPerPartition()
    {
        var group = _metrics.ForGroup("billing");
        using var leader = _metrics.ForPartition("orders", 0);
        using var follower = _metrics.ForPartition("orders", 1);
        group.Committed(new TopicPartition("orders", 0), 58);
        group.HighWatermark(new TopicPartition("orders", 0), 100);
        group.Committed(new TopicPartition("orders", 1), 20);
        group.HighWatermark(new TopicPartition("orders", 1), 15);
        group.Committed(new TopicPartition("orders", 2), 5); // high watermark unknown: no series yet
        leader.ReportReplication(isLeader: true, replicas: 1, inSyncReplicas: 1);
        leader.TieringPassCompleted(bytesCopied: 4096, uploadLag: (2, 2048));
        follower.TieringPassCompleted(bytesCopied: 0, uploadLag: (7, 7000)); // a follower's lag is not reported

        _listener.RecordObservableInstruments();

        var lag = _measurements.Where(m => m.Instrument == "orleansstream.consumer.lag").ToList();
        Assert.Equal(2, lag.Count);
        Assert.Contains(lag, m => Equals(m.Tags["group"], "billing") && Equals(m.Tags["partition"], 0) && m.Value == 42);
        Assert.Contains(lag, m => Equals(m.Tags["partition"], 1) && m.Value == 0);
        Assert.Equal(2, Last("orleansstream.tier.upload.lag.segments"));
        Assert.Equal(2048, Last("orleansstream.tier.upload.lag.bytes"));
        Assert.Equal(4096, Sum("orleansstream.tier.uploaded.bytes", "topic", "orders"));

        group.Forget(new TopicPartition("orders", 1));
        _measurements.Clear();
        _listener.RecordObservableInstruments();
        Assert.Single(_measurements, m => m.Instrument == "orleansstream.consumer.lag");

        group.Dispose();
        _measurements.Clear();
        _listener.RecordObservableInstruments();
        Assert.DoesNotContain(_measurements, m => m.Instrument == "orleansstream.consumer.lag");
    }

    [Fact]
    public void TieringEngine_ReportsFailuresAndRemoteFetchLatencyThroughThePartition()
    {
        using var partition = _metrics.ForPartition("cold", 3);
        IRemoteLogMetrics tier = partition;
        tier.UploadFailed();
        tier.RemoteFetchCompleted(TimeSpan.FromMilliseconds(12));

        Assert.Equal(1, Sum("orleansstream.tier.upload.failures", "topic", "cold"));
        var fetch = Assert.Single(_measurements, m => m.Instrument == "orleansstream.tier.remote_fetch.duration");
        Assert.Equal(0.012, fetch.Value, 6);
    }

    [Fact]
    public void Writeback_adds_up_what_each_log_of_the_replica_started_and_only_grows()
    {
        var directory = Path.Combine(Path.GetTempPath(), "os-writeback-metric-" + Guid.NewGuid().ToString("N"));
        try
        {
            using var partition = _metrics.ForPartition("orders", 2);
            _listener.RecordObservableInstruments();
            Assert.DoesNotContain(_measurements, m => m.Instrument == "orleansstream.log.writeback.bytes"); // no log yet

            long first;
            using (var log = OpenLog(directory))
            {
                partition.ObserveLog(log);
                AppendUntilWritebackStarted(log);
                first = log.WritebackStartedBytes;
                _listener.RecordObservableInstruments();
                Assert.Equal(first, Last("orleansstream.log.writeback.bytes"));
                Assert.Equal(2, _measurements.Last(m => m.Instrument == "orleansstream.log.writeback.bytes").Tags["partition"]);
            }

            // The replica opens its log again (its directory freed): the counter goes on from what the first one started.
            using var reopened = OpenLog(directory);
            partition.ObserveLog(reopened);
            _listener.RecordObservableInstruments();
            Assert.Equal(first, Last("orleansstream.log.writeback.bytes"));
            AppendUntilWritebackStarted(reopened);
            _listener.RecordObservableInstruments();
            Assert.Equal(first + reopened.WritebackStartedBytes, Last("orleansstream.log.writeback.bytes"));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    private static PartitionLog OpenLog(string directory)
    {
        var log = PartitionLog.Open(directory, new LogConfig(), scheduler: new InlineScheduler());
        log.WritebackBytes = 1024;
        return log;
    }

    private static void AppendUntilWritebackStarted(PartitionLog log)
    {
        var before = log.WritebackStartedBytes;
        for (var i = 0; i < 100 && log.WritebackStartedBytes == before; i++) log.AppendAsLeader(Batch(20), 0);
        Assert.True(log.WritebackStartedBytes > before, "appending 1 KiB started a write-out");
    }

    /// <summary>Runs the log's background work (here: the write-out requests) on the thread that queues it.</summary>
    private sealed class InlineScheduler : TaskScheduler
    {
        protected override void QueueTask(Task task) => TryExecuteTask(task);

        protected override bool TryExecuteTaskInline(Task task, bool taskWasPreviouslyQueued) => TryExecuteTask(task);

        protected override IEnumerable<Task> GetScheduledTasks() => [];
    }

    public void Dispose()
    {
        _listener.Dispose();
        _services.Dispose();
    }

    private void Add<T>(Instrument instrument, T value, ReadOnlySpan<KeyValuePair<string, object?>> tags) where T : struct
    {
        var dictionary = new Dictionary<string, object?>();
        foreach (var tag in tags) dictionary[tag.Key] = tag.Value;
        lock (_measurements) _measurements.Add((instrument.Name, Convert.ToDouble(value, System.Globalization.CultureInfo.InvariantCulture), dictionary));
    }

    private double Sum(string instrument, string tag, string value)
        => _measurements.Where(m => m.Instrument == instrument && Equals(m.Tags[tag], value)).Sum(m => m.Value);

    private static byte[] Batch(int records)
    {
        using var builder = new RecordBatchBuilder();
        builder.Reset();
        for (var i = 0; i < records; i++) builder.Append(1_700_000_000_000, null, "value"u8.ToArray());
        return builder.ToArray();
    }

    private static byte[] Concat(params byte[][] parts) => [.. parts.SelectMany(p => p)];

    private double Last(string instrument) => _measurements.Last(m => m.Instrument == instrument).Value;
}
