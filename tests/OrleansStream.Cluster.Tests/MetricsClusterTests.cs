using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Hosting;
using OrleansStream.Server;
using OrleansStream.Server.Diagnostics;
using OrleansStream.Server.Tiering;
using static OrleansStream.TestKit.PartitionTestKit;

namespace OrleansStream.Cluster.Tests;

/// <summary>
/// Two brokers that tier every 100 ms, drop a silent follower from the ISR within a second and start the write-out of
/// every 512 bytes appended to a segment.
/// </summary>
public sealed class MetricsFixture : ClusterFixture
{
    public override int SiloCount => 2;

    protected override void ConfigureBroker(BrokerOptions options)
    {
        ReplicationFixture.FastIsr(options);
        options.SegmentWritebackBytes = 512;
    }

    protected override void ConfigureSilo(ISiloBuilder silo) =>
        silo.Services.Configure<TierStoreOptions>(o => o.TaskIntervalMs = 100);
}

/// <summary>
/// Real produce, fetch, replication, tiering and commits move every instrument of the <c>OrleansStream</c> meter, as an
/// exporter would see them through a <see cref="MeterListener"/> on this cluster's silos.
/// </summary>
public sealed class MetricsClusterTests(MetricsFixture fixture) : IClassFixture<MetricsFixture>, IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly List<Sample> _samples = [];

    [Fact]
    public async Task RealTraffic_MovesEveryInstrument()
    {
        var meters = fixture.Silos.Values.ToDictionary(s => s.Name, s => s.ServiceProvider.GetRequiredService<OrleansStreamMetrics>().Meter);
        Listen(meters.Values);
        var topic = UniqueTopic("metrics");
        var tp = new TopicPartition(topic, 0);
        await fixture.CreateTopic(topic, replicationFactor: 2, configs: new()
        {
            ["segment.bytes"] = "1024", ["remote.storage.enable"] = "true", ["local.retention.ms"] = "0",
        });
        var partition = await fixture.Controller.Partition(topic, 0);
        var leaderMeter = meters[partition.LeaderBroker!];
        var follower = partition.Replicas.Single(r => r.ReplicaId != partition.Leader).BrokerId;
        var followerMeter = meters[follower];
        var leader = await fixture.Leader(topic, 0);

        // Produce: 20 requests of 5 records; counters move per request with the topic tag.
        long bytes = 0;
        for (var i = 0; i < 20; i++)
        {
            var batch = Batch([.. Enumerable.Range(0, 5).Select(r => $"value-{i}-{r}-{new string('x', 40)}")]);
            bytes += batch.Length;
            Assert.Equal(ErrorCode.None, (await leader.Produce(new ProduceRequest(Acks.All, 10_000, batch))).Error);
        }
        Assert.Equal(100, Sum("orleansstream.produce.records", topic));
        Assert.Equal(bytes, Sum("orleansstream.produce.bytes", topic));
        Assert.True(Count("orleansstream.request.duration", "operation", "Produce") >= 20);

        // Followers replicate (fetcher=follower) and stay in sync: ISR 2 of 2, nothing under-replicated.
        await Until(() => Sum("orleansstream.fetch.bytes", topic, "follower") >= bytes, "the follower fetched every byte");
        await Until(() => Gauge(leaderMeter, "orleansstream.partition.isr.size", topic) == 2
            && Gauge(leaderMeter, "orleansstream.partition.replicas", topic) == 2
            && Gauge(leaderMeter, "orleansstream.partitions.under_replicated") == 0
            && Gauge(leaderMeter, "orleansstream.partitions.leader") >= 1, "the leader reports a full ISR");

        // Writeback pacing: leader and follower each started writing out their segments (the broker's option reaches
        // the logs of both).
        await Until(() => Gauge(leaderMeter, "orleansstream.log.writeback.bytes", topic) >= 512
            && Gauge(followerMeter, "orleansstream.log.writeback.bytes", topic) >= 512, "both replicas started writing back");

        // Tiering: closed segments reach the tier, the upload lag drains, local copies go; reads at 0 come from the tier.
        await Until(() => Sum("orleansstream.tier.uploaded.bytes", topic) > 0
            && Gauge(leaderMeter, "orleansstream.tier.upload.lag.segments", topic) == 0
            && Gauge(leaderMeter, "orleansstream.tier.upload.lag.bytes", topic) == 0, "the tier holds every closed segment");
        await Until(async () =>
        {
            Assert.Equal(ErrorCode.None, (await leader.Fetch(new FetchRequest(0, 1 << 20, MinBytes: 0, MaxWaitMs: 0))).Error);
            return Count("orleansstream.tier.remote_fetch.duration", "topic", topic) > 0;
        }, "a fetch at offset 0 was served from the tier");

        // Consumers: records and bytes per fetch, the Fetch latency, and no failed fetch.
        Assert.Equal(100, (await ReadAll(leader)).Count);
        Assert.True(Sum("orleansstream.fetch.records", topic, "consumer") >= 100);
        Assert.True(Sum("orleansstream.fetch.bytes", topic, "consumer") >= bytes);
        Assert.True(Count("orleansstream.request.duration", "operation", "Fetch") > 0);

        // Commits: lag is the high watermark minus the committed offset, and falls to 0.
        var groupId = UniqueTopic("metrics-group");
        var group = fixture.Client.GetGrain<IConsumerGroupGrain>(groupId);
        Assert.Equal(ErrorCode.None, (await group.OffsetCommit(new OffsetCommitRequest("", -1, [new OffsetToCommit(tp, 30)]))).Error);
        await Until(() => Lag(groupId) == 70, "the lag of a commit at 30 of 100 is 70");
        Assert.Equal(ErrorCode.None, (await group.OffsetCommit(new OffsetCommitRequest("", -1, [new OffsetToCommit(tp, 100)]))).Error);
        await Until(() => Lag(groupId) == 0, "the lag falls to 0 after committing the high watermark");
        Assert.True(Count("orleansstream.request.duration", "operation", "OffsetCommit") >= 2);

        // A follower that stops fetching leaves the ISR: the partition is under-replicated.
        await fixture.StopSiloAsync(follower);
        await Until(() => Gauge(leaderMeter, "orleansstream.partition.isr.size", topic) == 1
            && Gauge(leaderMeter, "orleansstream.partitions.under_replicated") >= 1, "the leader reports the partition under-replicated");
    }

    public void Dispose() => _listener.Dispose();

    private void Listen(IEnumerable<Meter> meters)
    {
        var ours = meters.ToHashSet();
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (ours.Contains(instrument.Meter)) listener.EnableMeasurementEvents(instrument);
        };
        _listener.SetMeasurementEventCallback<long>((i, v, tags, _) => Add(i, v, tags));
        _listener.SetMeasurementEventCallback<int>((i, v, tags, _) => Add(i, v, tags));
        _listener.SetMeasurementEventCallback<double>((i, v, tags, _) => Add(i, v, tags));
        _listener.Start();
    }

    private void Add(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var dictionary = new Dictionary<string, object?>();
        foreach (var tag in tags) dictionary[tag.Key] = tag.Value;
        lock (_samples) _samples.Add(new Sample(instrument.Meter, instrument.Name, value, dictionary, instrument.IsObservable));
    }

    private List<Sample> Samples(string instrument)
    {
        lock (_samples) return _samples.Where(s => s.Instrument == instrument).ToList();
    }

    private double Sum(string instrument, string topic, string? fetcher = null) =>
        Samples(instrument).Where(s => Equals(s.Tags.GetValueOrDefault("topic"), topic)
            && (fetcher is null || Equals(s.Tags.GetValueOrDefault("fetcher"), fetcher))).Sum(s => s.Value);

    private int Count(string instrument, string tag, string value) =>
        Samples(instrument).Count(s => Equals(s.Tags.GetValueOrDefault(tag), value));

    /// <summary>The gauge's value at a fresh collection on <paramref name="meter"/> (for <paramref name="topic"/>'s partition 0), or -1.</summary>
    private double Gauge(Meter meter, string instrument, string? topic = null)
    {
        lock (_samples) _samples.RemoveAll(s => s.Observable);
        _listener.RecordObservableInstruments();
        var values = Samples(instrument).Where(s => s.Meter == meter
            && (topic is null || Equals(s.Tags.GetValueOrDefault("topic"), topic) && Equals(s.Tags.GetValueOrDefault("partition"), 0))).ToList();
        return values.Count == 0 ? -1 : values[^1].Value;
    }

    private double Lag(string groupId)
    {
        lock (_samples) _samples.RemoveAll(s => s.Observable);
        _listener.RecordObservableInstruments();
        var values = Samples("orleansstream.consumer.lag").Where(s => Equals(s.Tags.GetValueOrDefault("group"), groupId)).ToList();
        return values.Count == 1 ? values[0].Value : -1;
    }

    private static Task Until(Func<bool> condition, string what) =>
        Eventually.WaitUntilAsync(() => Task.FromResult(condition()), what);

    private static Task Until(Func<Task<bool>> condition, string what) => Eventually.WaitUntilAsync(condition, what);

    private sealed record Sample(Meter Meter, string Instrument, double Value, Dictionary<string, object?> Tags, bool Observable);
}
