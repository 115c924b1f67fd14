using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using OrleansStream.Server.Diagnostics;

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
    public void ProduceAndFetch_CountRecordsAndBytesPerTopic()
    {
        _metrics.RecordProduce("orders", records: 10, bytes: 1_000);
        _metrics.RecordProduce("orders", records: 5, bytes: 500);
        _metrics.RecordFetch("orders", records: 7, bytes: 700);
        _metrics.RecordFetch("orders", records: 3, bytes: 300, follower: true);

        Assert.Equal(15, Sum("orleansstream.produce.records", "topic", "orders"));
        Assert.Equal(1_500, Sum("orleansstream.produce.bytes", "topic", "orders"));
        Assert.Equal(7, Sum("orleansstream.fetch.records", "fetcher", "consumer"));
        Assert.Equal(300, Sum("orleansstream.fetch.bytes", "fetcher", "follower"));
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
    }

    [Fact]
    public void ReplicationGauges_CountOnlyLedPartitions()
    {
        _metrics.ReportPartition(new TopicPartition("a", 0), isLeader: true, replicas: 3, inSyncReplicas: 3);
        _metrics.ReportPartition(new TopicPartition("a", 1), isLeader: true, replicas: 3, inSyncReplicas: 2);
        _metrics.ReportPartition(new TopicPartition("a", 2), isLeader: false, replicas: 3, inSyncReplicas: 1);

        _listener.RecordObservableInstruments();

        Assert.Equal(2, Last("orleansstream.partitions.leader"));
        Assert.Equal(1, Last("orleansstream.partitions.under_replicated"));
        var isr = _measurements.Where(m => m.Instrument == "orleansstream.partition.isr.size").ToList();
        Assert.Equal(2, isr.Count);
        Assert.Contains(isr, m => Equals(m.Tags["partition"], 1) && m.Value == 2);

        _metrics.ReportPartition(new TopicPartition("a", 1), isLeader: true, replicas: 3, inSyncReplicas: 3);
        _metrics.ForgetPartition(new TopicPartition("a", 0));
        _measurements.Clear();
        _listener.RecordObservableInstruments();

        Assert.Equal(1, Last("orleansstream.partitions.leader"));
        Assert.Equal(0, Last("orleansstream.partitions.under_replicated"));
    }

    [Fact]
    public void ConsumerLagAndTierLag_AreReportedPerPartition()
    {
        _metrics.ReportConsumerLag("billing", new TopicPartition("orders", 0), 42);
        _metrics.ReportConsumerLag("billing", new TopicPartition("orders", 1), -5);
        _metrics.ReportTierUploadLag(new TopicPartition("orders", 0), segments: 2, bytes: 2048);

        _listener.RecordObservableInstruments();

        var lag = _measurements.Where(m => m.Instrument == "orleansstream.consumer.lag").ToList();
        Assert.Contains(lag, m => Equals(m.Tags["group"], "billing") && Equals(m.Tags["partition"], 0) && m.Value == 42);
        Assert.Contains(lag, m => Equals(m.Tags["partition"], 1) && m.Value == 0);
        Assert.Equal(2, Last("orleansstream.tier.upload.lag.segments"));
        Assert.Equal(2048, Last("orleansstream.tier.upload.lag.bytes"));

        _metrics.ForgetConsumerGroup("billing");
        _measurements.Clear();
        _listener.RecordObservableInstruments();
        Assert.DoesNotContain(_measurements, m => m.Instrument == "orleansstream.consumer.lag");
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

    private double Last(string instrument) => _measurements.Last(m => m.Instrument == instrument).Value;
}
