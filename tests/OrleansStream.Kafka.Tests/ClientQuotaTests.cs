using System.Text.Json;
using Confluent.Kafka;
using OrleansStream.Protocol;
using OrleansStream.Protocol.Messages;
using OrleansStream.Records;
using M = OrleansStream.Protocol.Messages;

namespace OrleansStream.Kafka.Tests;

/// <summary>
/// Client quotas (KIP-546's DescribeClientQuotas and AlterClientQuotas, enforced as Kafka's <c>ClientQuotaManager</c>):
/// stored and described with Kafka's filters and errors on the wire (librdkafka has no quota API), a producer and a
/// consumer over their byte rates throttled on the wire and a librdkafka producer seeing its throttle. Each test names
/// its own users and client ids: quotas stay on the shared brokers.
/// </summary>
[Collection(KafkaClusterCollection.Name)]
public sealed class ClientQuotaTests(KafkaCluster cluster)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Quotas_are_stored_described_with_Kafkas_filters_and_bad_ones_refused()
    {
        var alice = Unique("alice");
        var app = Unique("app");
        var ghost = Unique("ghost");
        await using var wire = await KafkaWire.ConnectAsync(cluster.Silos.KafkaPort(0));

        var altered = await AlterAsync(wire, 1, false,
            Entry([User(alice)], Set("producer_byte_rate", 1024), Set("consumer_byte_rate", 2048)),
            Entry([User(alice), Client(null)], Set("producer_byte_rate", 512)),
            Entry([Client(app)], Set("consumer_byte_rate", 4096)),
            Entry([]),
            Entry([User(ghost)], Set("request_percentage", 50)),
            Entry([User(ghost)], Set("producer_byte_rate", -1)),
            Entry([User(ghost)], Set("producer_byte_rate", 1.5)),
            Entry([User(ghost)], Set("x", 1)),
            Entry([User(ghost)], Set("producer_byte_rate", 1), Set("producer_byte_rate", 2)),
            Entry([new M.ClientQuotaEntity("ip", "10.0.0.1"), User(ghost)], Set("connection_creation_rate", 10)),
            Entry([Client("")], Set("producer_byte_rate", 1)),
            Entry([User(alice)], Set("producer_byte_rate", 1)));

        Assert.Equal([
            (ErrorCode.None, null), (ErrorCode.None, null), (ErrorCode.None, null),
            (ErrorCode.InvalidRequest, "Invalid empty client quota entity"),
            (ErrorCode.InvalidRequest, "Quota request_percentage is not enforced by this broker; it takes producer_byte_rate, consumer_byte_rate and controller_mutation_rate."),
            (ErrorCode.InvalidRequest, "Quota producer_byte_rate must be greater than 0"),
            (ErrorCode.InvalidRequest, "producer_byte_rate cannot be a fractional value."),
            (ErrorCode.InvalidRequest, "Invalid configuration key x"),
            (ErrorCode.InvalidRequest, $"Duplicate quota key producer_byte_rate not updating quota for this entity ClientQuotaEntity(entries={{user={ghost}}})"),
            (ErrorCode.InvalidRequest, "Invalid quota entity combination, IP entity shouldnot be combined with User or ClientId"),
            (ErrorCode.InvalidRequest, "Empty client-id not supported"),
            (ErrorCode.InvalidRequest, $"Ignoring duplicate entity ClientQuotaEntity(entries={{user={alice}}})")],
            altered.Select(static r => (r.Error, r.ErrorMessage)));

        // Alice's entities, either broker (the other catches up before it answers); strict asks for exactly the filter's types.
        await using var other = await KafkaWire.ConnectAsync(cluster.Silos.KafkaPort(1));
        var aliceOnly = await DescribeAsync(other, 1, true, Exact("user", alice));
        var aliceAll = await DescribeAsync(wire, 0, false, Exact("user", alice));
        var aliceDefaultClient = await DescribeAsync(wire, 1, true, Exact("user", alice), new ClientQuotaFilterComponent("client-id", ClientQuotaFilterComponent.MatchDefault, null));
        var anyClient = await DescribeAsync(wire, 1, false, new ClientQuotaFilterComponent("client-id", ClientQuotaFilterComponent.MatchAny, null));

        Assert.Equal([$"user={alice}: consumer_byte_rate=2048, producer_byte_rate=1024"], aliceOnly);
        Assert.Equal([$"user={alice}: consumer_byte_rate=2048, producer_byte_rate=1024", $"user={alice}, client-id=<default>: producer_byte_rate=512"], aliceAll);
        Assert.Equal([$"user={alice}, client-id=<default>: producer_byte_rate=512"], aliceDefaultClient);
        Assert.Contains($"client-id={app}: consumer_byte_rate=4096", anyClient);
        Assert.Contains($"user={alice}, client-id=<default>: producer_byte_rate=512", anyClient);

        // validate_only stores nothing; a removal removes one key.
        Assert.Equal(ErrorCode.None, Assert.Single(await AlterAsync(wire, 0, true, Entry([User(alice)], Set("producer_byte_rate", 1)))).Error);
        Assert.Equal(ErrorCode.None, Assert.Single(await AlterAsync(wire, 0, false, Entry([User(alice)], new ClientQuotaOp("producer_byte_rate", 0, true)))).Error);
        Assert.Equal([$"user={alice}: consumer_byte_rate=2048"], await DescribeAsync(wire, 1, true, Exact("user", alice)));

        // Kafka's refusals of a filter: the whole answer's error, no entries.
        await wire.SendAsync(ApiKey.DescribeClientQuotas, 1, w => new DescribeClientQuotasRequest(
            [new ClientQuotaFilterComponent("user", ClientQuotaFilterComponent.MatchExact, null)], false).Write(w, 1));
        var refused = Read(await wire.ReadFrameAsync(), static (ref KafkaReader r) => DescribeClientQuotasResponse.Read(ref r, 1));
        Assert.Equal((ErrorCode.InvalidRequest, "Request specified MATCH_TYPE_EXACT, but set match string to null.", (IReadOnlyList<ClientQuotaEntry>?)null),
            (refused.Error, refused.ErrorMessage, refused.Entries));
    }

    [Fact]
    public async Task A_producer_over_its_byte_rate_is_throttled_and_librdkafka_waits()
    {
        var topic = await cluster.CreateTopicAsync("quota-produce", partitions: 1);
        var wireClient = Unique("wire-producer");
        var confluentClient = Unique("confluent-producer");
        await using var wire = await KafkaWire.ConnectAsync(cluster.Silos.KafkaPort(0), wireClient);
        await AlterAsync(wire, 1, false, Entry([Client(wireClient)], Set("producer_byte_rate", 1000)), Entry([Client(confluentClient)], Set("producer_byte_rate", 1000)));
        var leader = await cluster.LeaderIndexAsync(topic, 0);
        await using var producer = await KafkaWire.ConnectAsync(cluster.Silos.KafkaPort(leader), wireClient);
        // The answering broker must hold the quotas before the first produce: a describe there catches it up.
        Assert.Equal(2, (await DescribeAsync(producer, 1, false, new ClientQuotaFilterComponent("client-id", ClientQuotaFilterComponent.MatchAny, null)))
            .Count(e => e.Contains(wireClient, StringComparison.Ordinal) || e.Contains(confluentClient, StringComparison.Ordinal)));

        // 4 KiB a request against 1,000 B/s measured over at least ten seconds: the third is over (12,288 B / 10 s).
        var throttles = new List<int>();
        for (var i = 0; i < 3; i++)
        {
            using var batch = new RecordBatchBuilder();
            batch.Reset();
            batch.Append(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), null, new byte[4000]);
            await producer.SendAsync(ApiKey.Produce, 9, w => new M.ProduceRequest(null, 1, 10_000, [new ProduceTopicData(topic, [new ProducePartitionData(0, batch.ToArray(), false)])]).Write(w, 9));
            var answer = Read(await producer.ReadFrameAsync(), static (ref KafkaReader r) => M.ProduceResponse.Read(ref r, 9));
            Assert.Equal(ErrorCode.None, answer.Topics[0].Partitions[0].Error);
            throttles.Add(answer.ThrottleTimeMs);
        }
        Assert.Equal(0, throttles[0]);
        Assert.Equal(0, throttles[1]);
        Assert.InRange(throttles[2], 1, 10_000);

        // librdkafka reads the throttle time and reports it in its broker statistics.
        var throttled = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var confluent = new ProducerBuilder<Null, byte[]>(new ProducerConfig
        {
            BootstrapServers = cluster.Silos.BootstrapServers,
            ClientId = confluentClient,
            StatisticsIntervalMs = 100,
            LingerMs = 0,
        }).SetStatisticsHandler((_, json) =>
        {
            if (MaxThrottle(json) is > 0 and var max) throttled.TrySetResult(max);
        }).Build();
        for (var i = 0; i < 4; i++) confluent.Produce(topic, new Message<Null, byte[]> { Value = new byte[4000] });
        Assert.True(await throttled.Task.WaitAsync(Timeout, TestContext.Current.CancellationToken) > 0);
    }

    [Fact]
    public async Task A_consumer_over_its_byte_rate_gets_an_empty_throttled_answer()
    {
        var topic = await cluster.CreateTopicAsync("quota-fetch", partitions: 1);
        var client = Unique("consumer");
        using (var producer = new ProducerBuilder<Null, byte[]>(new ProducerConfig { BootstrapServers = cluster.Silos.BootstrapServers, LingerMs = 0 }).Build())
            for (var i = 0; i < 8; i++)
                await producer.ProduceAsync(topic, new Message<Null, byte[]> { Value = new byte[4000] }, TestContext.Current.CancellationToken);
        await using var admin = await KafkaWire.ConnectAsync(cluster.Silos.KafkaPort(0));
        await AlterAsync(admin, 1, false, Entry([Client(client)], Set("consumer_byte_rate", 1000)));
        var leader = await cluster.LeaderIndexAsync(topic, 0);
        // The answering broker must hold the quota before the first fetch: a describe there catches it up.
        await using var consumer = await KafkaWire.ConnectAsync(cluster.Silos.KafkaPort(leader), client);
        Assert.Contains($"client-id={client}: consumer_byte_rate=1000", await DescribeAsync(consumer, 1, true, Exact("client-id", client)));

        var first = await FetchAsync(consumer, topic);
        var second = await FetchAsync(consumer, topic);

        // The quota bounds a response to ten windows' worth (10,000 B): here two batches, within the quota.
        Assert.Equal(0, first.ThrottleTimeMs);
        var records = Assert.Single(Assert.Single(first.Topics).Partitions).Records.Length;
        Assert.InRange(records, 4000, 10_000);
        // The same again would be over: an empty answer and the time to wait.
        Assert.Empty(second.Topics);
        Assert.InRange(second.ThrottleTimeMs, 1, 20_000);

        // A librdkafka consumer of its own client id over the same quota reads the throttle time from the answers.
        var confluentClient = Unique("confluent-consumer");
        await AlterAsync(admin, 1, false, Entry([Client(confluentClient)], Set("consumer_byte_rate", 1000)));
        // (On a connection of its own: the throttled one is not read for the throttle time.)
        await using (var leaderWire = await KafkaWire.ConnectAsync(cluster.Silos.KafkaPort(leader)))
            Assert.Single(await DescribeAsync(leaderWire, 1, true, Exact("client-id", confluentClient)));
        var throttled = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var confluent = new ConsumerBuilder<Ignore, byte[]>(new ConsumerConfig
        {
            BootstrapServers = cluster.Silos.BootstrapServers,
            ClientId = confluentClient,
            GroupId = Unique("quota-group"),
            StatisticsIntervalMs = 100,
            EnableAutoCommit = false,
        }).SetStatisticsHandler((_, json) =>
        {
            if (MaxThrottle(json) is > 0 and var max) throttled.TrySetResult(max);
        }).Build();
        confluent.Assign(new Confluent.Kafka.TopicPartitionOffset(topic, new Confluent.Kafka.Partition(0), Confluent.Kafka.Offset.Beginning));
        var deadline = DateTime.UtcNow + Timeout;
        while (!throttled.Task.IsCompleted && DateTime.UtcNow < deadline) confluent.Consume(TimeSpan.FromMilliseconds(100));
        Assert.True(throttled.Task.IsCompleted, "librdkafka's statistics showed no broker throttle within 30 s");
    }

    /// <summary>
    /// KIP-612's connection_creation_rate of an IP (a loopback address of this test's own, so no other test's connections
    /// count): ten connections in the first second are at 1/s over the ten windows the rate is measured over, the
    /// eleventh is over, held unread for its throttle time and closed. Kafka's refusals of IP entities beside it.
    /// </summary>
    [Fact]
    public async Task Connections_from_an_IP_over_its_connection_creation_rate_are_held_unread_then_closed()
    {
        var ip = System.Net.IPAddress.Parse("127.0.0.42");
        var ghost = Unique("ghost");
        await using var wire = await KafkaWire.ConnectAsync(cluster.Silos.KafkaPort(0));
        var altered = await AlterAsync(wire, 1, false,
            Entry([Ip("127.0.0.42")], Set("connection_creation_rate", 1)),
            Entry([Ip("not-an-ip")], Set("connection_creation_rate", 1)),
            Entry([Ip(null)], Set("producer_byte_rate", 1)),
            Entry([Ip("127.0.0.43")], Set("connection_creation_rate", 1.5)),
            Entry([User(ghost)], Set("connection_creation_rate", 1)));
        Assert.Equal([
            (ErrorCode.None, null),
            (ErrorCode.InvalidRequest, "not-an-ip is not a valid IP or resolvable host."),
            (ErrorCode.InvalidRequest, "Invalid configuration key producer_byte_rate"),
            (ErrorCode.InvalidRequest, "connection_creation_rate cannot be a fractional value."),
            (ErrorCode.InvalidRequest, "Invalid configuration key connection_creation_rate")],
            altered.Select(static r => (r.Error, r.ErrorMessage)));
        // The broker holds it once a describe there has caught up.
        Assert.Equal(["ip=127.0.0.42: connection_creation_rate=1"], await DescribeAsync(wire, 1, true, Exact("ip", "127.0.0.42")));

        var answered = 0;
        for (var i = 0; i < 10; i++)
        {
            await using var client = await KafkaWire.ConnectAsync(cluster.Silos.KafkaPort(0), from: ip);
            await client.SendAsync(ApiKey.ApiVersions, 0, static _ => { });
            if (await client.ReadFrameAsync() is not null) answered++;
        }
        Assert.Equal(10, answered);
        await using var over = await KafkaWire.ConnectAsync(cluster.Silos.KafkaPort(0), from: ip);
        await over.SendAsync(ApiKey.ApiVersions, 0, static _ => { });
        Assert.Null(await over.ReadFrameAsync()); // closed, never answered

        // Other addresses are not held: the quota is this IP's alone.
        await using var other = await KafkaWire.ConnectAsync(cluster.Silos.KafkaPort(0));
        await other.SendAsync(ApiKey.ApiVersions, 0, static _ => { });
        Assert.NotNull(await other.ReadFrameAsync());
    }

    /// <summary>
    /// KIP-599's controller_mutation_rate (1 partition a second, so a burst of ten): CreateTopics v7 (strict) takes two
    /// topics of 8 partitions, the second taking the tokens below zero, and refuses the third with
    /// ThrottlingQuotaExceeded and the time until the tokens are back; DeleteTopics v6 (strict) is then refused too;
    /// CreatePartitions v2 (permissive) adds twelve partitions and says how long to wait, and CreatePartitions v3 (strict)
    /// is refused ThrottlingQuotaExceeded with the partitions left as they were.
    /// </summary>
    [Fact]
    public async Task Topic_mutations_over_the_controller_mutation_rate_are_refused_when_strict_and_throttled_when_not()
    {
        var client = Unique("mutator");
        var (a, b, c) = (Unique("mutate-a"), Unique("mutate-b"), Unique("mutate-c"));
        await using (var wire = await KafkaWire.ConnectAsync(cluster.Silos.KafkaPort(0), client))
        {
            await AlterAsync(wire, 1, false, Entry([Client(client)], Set("controller_mutation_rate", 1)));
            await wire.SendAsync(ApiKey.CreateTopics, 7, w => new M.CreateTopicsRequest(
                [new M.CreatableTopic(a, 8, 1, false, []), new M.CreatableTopic(b, 8, 1, false, []), new M.CreatableTopic(c, 1, 1, false, [])], 30_000, false).Write(w, 7));
            var created = Read(await wire.ReadFrameAsync(), static (ref KafkaReader r) => M.CreateTopicsResponse.Read(ref r, 7));

            Assert.Equal([(a, ErrorCode.None), (b, ErrorCode.None), (c, ErrorCode.ThrottlingQuotaExceeded)], created.Topics.Select(static t => (t.Name, t.Error)));
            Assert.Equal("The throttling quota has been exceeded.", created.Topics[2].ErrorMessage);
            // Six tokens short at one a second.
            Assert.InRange(created.ThrottleTimeMs, 5000, 6000);
        }

        // (A connection of its own: the throttled one is not read for the throttle time.)
        await using var again = await KafkaWire.ConnectAsync(cluster.Silos.KafkaPort(0), client);
        await again.SendAsync(ApiKey.DeleteTopics, 6, w => new M.DeleteTopicsRequest([a], 30_000).Write(w, 6));
        var (deleteThrottle, deleted) = TopicErrors(await again.ReadFrameAsync(), ids: true);
        Assert.Equal([(a, ErrorCode.ThrottlingQuotaExceeded)], deleted);
        Assert.InRange(deleteThrottle, 1, 6000);

        await using var permissive = await KafkaWire.ConnectAsync(cluster.Silos.KafkaPort(0), client);
        await permissive.SendAsync(ApiKey.CreatePartitions, 2, w => new M.CreatePartitionsRequest([new M.CreatePartitionsTopic(b, 20, false)], 30_000, false).Write(w, 2));
        var (growThrottle, grown) = TopicErrors(await permissive.ReadFrameAsync(), ids: false);
        Assert.Equal([(b, ErrorCode.None)], grown);
        // Eighteen tokens short: the strict request below comes well before they are back.
        Assert.InRange(growThrottle, 1, 20_000);

        await using var strict = await KafkaWire.ConnectAsync(cluster.Silos.KafkaPort(0), client);
        await strict.SendAsync(ApiKey.CreatePartitions, 3, w => new M.CreatePartitionsRequest([new M.CreatePartitionsTopic(b, 21, false)], 30_000, false).Write(w, 3));
        var (refusedThrottle, refused) = TopicErrors(await strict.ReadFrameAsync(), ids: false);
        Assert.Equal([(b, ErrorCode.ThrottlingQuotaExceeded)], refused);
        Assert.InRange(refusedThrottle, 1, 20_000);
        Assert.Equal(20, (await cluster.Controller.GetMetadata(new OrleansStream.MetadataRequest([b]))).Topics.Single().Partitions.Count);
    }

    /// <summary>DeleteTopics v6 and CreatePartitions v2-3 answers (flexible): the throttle time and each topic's name and error.</summary>
    private static (int ThrottleTimeMs, List<(string?, ErrorCode)> Topics) TopicErrors(byte[]? frame, bool ids)
    {
        Assert.NotNull(frame);
        var r = new KafkaReader(frame.AsSpan(5));
        var throttle = r.ReadInt32();
        var topics = new List<(string?, ErrorCode)>();
        for (var n = r.ReadArrayLength(flexible: true); n > 0; n--)
        {
            var name = r.ReadNullableString(flexible: true);
            if (ids) r.ReadUuid();
            topics.Add((name, (ErrorCode)r.ReadInt16()));
            r.ReadNullableString(flexible: true);
            r.SkipTaggedFields();
        }
        return (throttle, topics);
    }

    private static async Task<M.FetchResponse> FetchAsync(KafkaWire wire, string topic)
    {
        await wire.SendAsync(ApiKey.Fetch, 12, w => new M.FetchRequest(-1, 0, 1, 50 << 20, 0, 0, -1,
            [new FetchTopic(topic, [new FetchPartition(0, -1, 0, -1, 1 << 20)])], "").Write(w, 12));
        return Read(await wire.ReadFrameAsync(), static (ref KafkaReader r) => M.FetchResponse.Read(ref r, 12));
    }

    private static long? MaxThrottle(string statistics)
    {
        using var json = JsonDocument.Parse(statistics);
        long? max = null;
        foreach (var broker in json.RootElement.GetProperty("brokers").EnumerateObject())
            if (broker.Value.TryGetProperty("throttle", out var throttle) && throttle.TryGetProperty("max", out var value))
                max = Math.Max(max ?? 0, value.GetInt64());
        return max;
    }

    private static async Task<IReadOnlyList<AlterClientQuotasResult>> AlterAsync(KafkaWire wire, short version, bool validateOnly, params ClientQuotaAlteration[] entries)
    {
        await wire.SendAsync(ApiKey.AlterClientQuotas, version, w => new AlterClientQuotasRequest(entries, validateOnly).Write(w, version));
        var answer = Read(await wire.ReadFrameAsync(), (ref KafkaReader r) => AlterClientQuotasResponse.Read(ref r, version), version >= 1);
        Assert.Equal(entries.Length, answer.Entries.Count);
        return answer.Entries;
    }

    /// <summary>Each entry as <c>user=alice, client-id=&lt;default&gt;: key=value, ...</c>, keys in order.</summary>
    private static async Task<List<string>> DescribeAsync(KafkaWire wire, short version, bool strict, params ClientQuotaFilterComponent[] components)
    {
        await wire.SendAsync(ApiKey.DescribeClientQuotas, version, w => new DescribeClientQuotasRequest(components, strict).Write(w, version));
        var answer = Read(await wire.ReadFrameAsync(), (ref KafkaReader r) => DescribeClientQuotasResponse.Read(ref r, version), version >= 1);
        Assert.Equal(ErrorCode.None, answer.Error);
        return answer.Entries!.Select(static e =>
            string.Join(", ", e.Entity.Select(static x => $"{x.EntityType}={x.EntityName ?? "<default>"}")) + ": "
            + string.Join(", ", e.Values.OrderBy(static v => v.Key, StringComparer.Ordinal).Select(static v => $"{v.Key}={v.Value}"))).ToList();
    }

    private delegate T Reading<out T>(ref KafkaReader reader);

    /// <summary>An answer's body: after the correlation id, and the header's tagged fields when flexible.</summary>
    private static T Read<T>(byte[]? frame, Reading<T> read, bool flexible = true)
    {
        Assert.NotNull(frame);
        var reader = new KafkaReader(frame.AsSpan(flexible ? 5 : 4));
        return read(ref reader);
    }

    private static ClientQuotaAlteration Entry(M.ClientQuotaEntity[] entity, params ClientQuotaOp[] ops) => new(entity, ops);

    private static ClientQuotaOp Set(string key, double value) => new(key, value, false);

    private static M.ClientQuotaEntity User(string? name) => new("user", name);

    private static M.ClientQuotaEntity Client(string? name) => new("client-id", name);

    private static M.ClientQuotaEntity Ip(string? name) => new("ip", name);

    private static ClientQuotaFilterComponent Exact(string type, string name) => new(type, ClientQuotaFilterComponent.MatchExact, name);

    private static string Unique(string prefix) => $"{prefix}-{Guid.NewGuid():N}"[..(prefix.Length + 9)];
}
