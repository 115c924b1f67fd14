using Confluent.Kafka;

namespace OrleansStream.Kafka.Tests;

/// <summary>
/// Real Kafka clients across a leader change, each test on three broker processes of its own. After a leader change
/// librdkafka asks the new leader where the epoch of its last consumed record ended (OffsetForLeaderEpoch, KIP-320)
/// before it fetches again: after an unclean election the new leader's log is shorter than what the consumer read, and
/// the consumer must go on from where that log diverged, not start over.
/// </summary>
[Trait("Category", "Slow")]
public sealed class LeaderChangeTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task A_librdkafka_consumer_goes_on_from_the_truncation_point_after_an_unclean_election()
    {
        await using var silos = await SiloProcesses.StartAsync(3);
        var controller = silos.Client.GetGrain<IClusterControllerGrain>(GrainKeys.Controller);
        var topic = "unclean-" + Guid.NewGuid().ToString("N")[..8];
        Assert.Equal(ErrorCode.None, Assert.Single(await controller.CreateTopics(
            [new NewTopic(topic, 1, 2, new Dictionary<string, string> { ["unclean.leader.election.enable"] = "true" })])).Error);
        var before = await PartitionAsync(controller, topic);
        var leader = silos.IndexOf(before.LeaderBroker!);
        var follower = silos.IndexOf(before.Replicas.Single(r => r.ReplicaId != before.Leader).BrokerId);

        using var producer = new ProducerBuilder<Null, string>(new ProducerConfig
        {
            BootstrapServers = silos.BootstrapServers, Acks = Confluent.Kafka.Acks.All, LingerMs = 0, MessageTimeoutMs = 60_000,
        }).Build();
        for (var i = 0; i < 5; i++) await producer.ProduceAsync(topic, new Message<Null, string> { Value = $"a{i}" }, TestContext.Current.CancellationToken);

        // The follower dies; once the ISR is the leader alone, five more records are committed that only the leader has.
        silos.Kill(follower);
        await WaitForPartitionAsync(controller, topic, p => p.Isr.Count == 1, "the ISR shrinks to the leader");
        await WaitForBrokerDeadAsync(controller, SiloProcesses.BrokerId(follower));
        for (var i = 0; i < 5; i++) await producer.ProduceAsync(topic, new Message<Null, string> { Value = $"b{i}" }, TestContext.Current.CancellationToken);

        using var consumer = new ConsumerBuilder<Null, string>(new ConsumerConfig
        {
            BootstrapServers = silos.BootstrapServers,
            GroupId = "unclean-" + Guid.NewGuid().ToString("N")[..8],
            EnableAutoCommit = false,
            AutoOffsetReset = AutoOffsetReset.Earliest,
            TopicMetadataRefreshIntervalMs = 1000,
        }).Build();
        consumer.Assign(new Confluent.Kafka.TopicPartitionOffset(topic, 0, new Offset(0)));
        var read = new List<(long Offset, string Value)>();
        var deadline = DateTime.UtcNow + Wait;
        while (read.Count < 10 && DateTime.UtcNow < deadline)
            if (consumer.Consume(TimeSpan.FromSeconds(1)) is { } r) read.Add((r.Offset.Value, r.Message.Value));
        Assert.Equal(Enumerable.Range(0, 10).Select(i => ((long)i, i < 5 ? $"a{i}" : $"b{i - 5}")), read);

        // The leader dies and the follower returns: elected uncleanly, it leads from offset 5 in a new epoch.
        silos.Kill(leader);
        await silos.StartSiloAsync(follower);
        var elected = await WaitForPartitionAsync(controller, topic, p => p.Leader >= 0 && p.Replicas[p.Leader].BrokerId == SiloProcesses.BrokerId(follower),
            "the returned follower leads");
        Assert.True(elected.LeaderEpoch > before.LeaderEpoch);
        await producer.ProduceAsync(topic, new Message<Null, string> { Value = "c0" }, TestContext.Current.CancellationToken);

        // The consumer stood at offset 10 in the old epoch. The new leader answers that the epoch ended at 5, so it
        // seeks there and reads c0 next. Without that answer its fetch at 10 would be out of range and
        // auto.offset.reset would start it over at a0.
        var after = new List<(long Offset, string Value)>();
        var errors = new List<string>();
        deadline = DateTime.UtcNow + Wait;
        while (after.Count == 0 && DateTime.UtcNow < deadline)
        {
            try
            {
                if (consumer.Consume(TimeSpan.FromSeconds(1)) is { } r) after.Add((r.Offset.Value, r.Message.Value));
            }
            catch (ConsumeException e)
            {
                errors.Add(e.Error.ToString());
            }
        }
        Assert.True(after.SequenceEqual([(5L, "c0")]), $"read {string.Join(", ", after)} after the election; errors: {string.Join("; ", errors)}");
    }

    /// <summary>
    /// kill -9 of the leader under an idempotent librdkafka producer (acks=all, RF 3) and a consumer reading beside it:
    /// every record is acknowledged, and the consumer reads each exactly once, in order, across the new leader epoch.
    /// </summary>
    [Fact]
    public async Task Kafka_clients_lose_and_repeat_nothing_when_the_leader_is_killed()
    {
        const int Records = 3000;
        await using var silos = await SiloProcesses.StartAsync(3);
        var controller = silos.Client.GetGrain<IClusterControllerGrain>(GrainKeys.Controller);
        var topic = "failover-" + Guid.NewGuid().ToString("N")[..8];
        Assert.Equal(ErrorCode.None, Assert.Single(await controller.CreateTopics(
            [new NewTopic(topic, 1, 3, new Dictionary<string, string> { ["min.insync.replicas"] = "2" })])).Error);
        var before = await PartitionAsync(controller, topic);

        using var stop = new CancellationTokenSource(Wait);
        var read = new List<(long Offset, string Value)>();
        var reader = Task.Run(() =>
        {
            using var consumer = new ConsumerBuilder<Null, string>(new ConsumerConfig
            {
                BootstrapServers = silos.BootstrapServers,
                GroupId = "failover-" + Guid.NewGuid().ToString("N")[..8],
                EnableAutoCommit = false,
                AutoOffsetReset = AutoOffsetReset.Error,
                TopicMetadataRefreshIntervalMs = 1000,
            }).Build();
            consumer.Assign(new Confluent.Kafka.TopicPartitionOffset(topic, 0, new Offset(0)));
            while (read.Count < Records && !stop.IsCancellationRequested)
            {
                try
                {
                    if (consumer.Consume(TimeSpan.FromMilliseconds(200)) is { } r) read.Add((r.Offset.Value, r.Message.Value));
                }
                catch (ConsumeException e) when (!e.Error.IsFatal)
                {
                    // Transient errors while the leader is gone; a reset (auto.offset.reset=error) would be one too and
                    // show as a gap or a repeat below.
                }
            }
        }, TestContext.Current.CancellationToken);

        var acked = new List<string>();
        var failed = new List<string>();
        using (var producer = new ProducerBuilder<Null, string>(new ProducerConfig
        {
            BootstrapServers = silos.BootstrapServers, EnableIdempotence = true, LingerMs = 2, MessageTimeoutMs = 60_000,
        }).Build())
        {
            for (var i = 0; i < Records; i++)
            {
                var value = $"r{i}";
                producer.Produce(topic, new Message<Null, string> { Value = value }, d =>
                {
                    lock (acked) (d.Error.IsError ? failed : acked).Add(d.Error.IsError ? $"{value}: {d.Error}" : value);
                });
                if (i == Records / 3)
                {
                    producer.Flush(TimeSpan.FromSeconds(30));
                    silos.Kill(silos.IndexOf(before.LeaderBroker!));
                }
            }
            Assert.Equal(0, producer.Flush(TimeSpan.FromSeconds(90)));
        }
        await reader.WaitAsync(Wait, TestContext.Current.CancellationToken);

        await WaitForPartitionAsync(controller, topic, p => p.LeaderEpoch > before.LeaderEpoch, "the controller has elected a new leader");
        Assert.Empty(failed);
        Assert.Equal(Enumerable.Range(0, Records).Select(i => $"r{i}"), acked);
        Assert.Equal(Enumerable.Range(0, Records).Select(i => ((long)i, $"r{i}")), read);
    }

    private static async Task<PartitionMetadata> WaitForPartitionAsync(IClusterControllerGrain controller, string topic,
        Func<PartitionMetadata, bool> condition, string what)
    {
        PartitionMetadata seen = null!;
        await Eventually.WaitUntilAsync(async () =>
        {
            try
            {
                seen = await PartitionAsync(controller, topic).WaitAsync(TimeSpan.FromSeconds(5));
                return condition(seen);
            }
            catch (Exception e) when (e is not Xunit.Sdk.XunitException)
            {
                return false;
            }
        }, what, Wait);
        return seen;
    }

    private static async Task<PartitionMetadata> PartitionAsync(IClusterControllerGrain controller, string topic) =>
        Assert.Single(Assert.Single((await controller.GetMetadata(new MetadataRequest([topic]))).Topics).Partitions);

    private static Task WaitForBrokerDeadAsync(IClusterControllerGrain controller, string brokerId) =>
        Eventually.WaitUntilAsync(async () =>
        {
            try
            {
                var metadata = await controller.GetMetadata(new MetadataRequest([])).WaitAsync(TimeSpan.FromSeconds(5));
                return !metadata.Brokers.Any(b => b.BrokerId == brokerId && b.IsAlive);
            }
            catch (Exception e) when (e is not Xunit.Sdk.XunitException)
            {
                return false;
            }
        }, $"membership declares {brokerId} dead", Wait);
}
