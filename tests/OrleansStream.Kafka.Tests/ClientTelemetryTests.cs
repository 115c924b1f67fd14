using System.Collections.Concurrent;
using System.Text;
using Confluent.Kafka;
using OrleansStream.Protocol;
using OrleansStream.Records;
using M = OrleansStream.Protocol.Messages;

namespace OrleansStream.Kafka.Tests;

/// <summary>
/// Client telemetry (KIP-714) with librdkafka (Confluent.Kafka 2.16, whose <c>enable.metrics.push</c> is on by default):
/// a broker whose subscription matches one client id asks that client for its metrics every 500 ms, the client pushes
/// them, and the broker forwards each push to the test's OTLP/HTTP receiver; a client the subscription does not match
/// is asked for nothing and never pushes.
/// </summary>
public sealed class ClientTelemetryTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task A_matching_librdkafka_client_pushes_its_metrics_to_the_collector_and_another_never_pushes()
    {
        // An OTLP/HTTP collector's metrics endpoint: keeps what is posted, answers 200.
        await using var collector = TestHttpServer.Start(_ => TestHttpResponse.Ok);
        await using var silos = await SiloProcesses.StartAsync(1, (_, env) =>
        {
            env["OrleansStream__ClientMetrics__Subscriptions__pushers__Metrics"] = "org.apache.kafka.";
            env["OrleansStream__ClientMetrics__Subscriptions__pushers__IntervalMs"] = "500";
            env["OrleansStream__ClientMetrics__Subscriptions__pushers__Match"] = "client_id=telemetry-push,client_software_name=confluent-kafka-dotnet|librdkafka";
            env["OrleansStream__ClientMetrics__OtlpEndpoint"] = collector.Url;
        });
        var topic = "telemetry-" + Guid.NewGuid().ToString("N")[..8];

        var quietLog = new ConcurrentQueue<string>();
        var pushLog = new ConcurrentQueue<string>();
        using var quiet = Producer(silos.BootstrapServers, "telemetry-quiet", quietLog);
        using var pusher = Producer(silos.BootstrapServers, "telemetry-push", pushLog);
        await quiet.ProduceAsync(topic, new Message<Null, string> { Value = "q" }, TestContext.Current.CancellationToken);
        await pusher.ProduceAsync(topic, new Message<Null, string> { Value = "p" }, TestContext.Current.CancellationToken);

        // The quiet client is asked for no metrics; from then on its telemetry only asks again, after Kafka's default 5 minutes.
        await Eventually.WaitUntilAsync(() => Has(quietLog, "Handled GetTelemetrySubscriptions", "err = Success, metrics = 0"),
            "the unmatched client has its (empty) subscription", Wait, () => string.Join('\n', quietLog));

        // The matched client pushes every half second: wait for three of its pushes the collector received, each
        // carrying librdkafka's metrics under Kafka's names.
        await Eventually.WaitUntilAsync(() => collector.Requests.Count(r => Contains(r.Body, "org.apache.kafka.")) >= 3,
            "the collector received three pushes with librdkafka's org.apache.kafka. metrics", Wait,
            () => $"{collector.Requests.Count} posts; client log:\n{string.Join('\n', pushLog)}");
        Assert.True(Has(pushLog, "PushTelemetryRequest succeeded"), string.Join('\n', pushLog));
        Assert.All(collector.Requests, r => Assert.Equal(("/v1/metrics", "application/x-protobuf"), (r.Path, r.ContentType)));

        Assert.False(Has(quietLog, "Sending PushTelemetryRequest"), string.Join('\n', quietLog));
    }

    /// <summary>
    /// kafka-client-metrics.sh's requests, bare: IncrementalAlterConfigs on resource type 16 stores a subscription at the
    /// controller (checked as Kafka's ClientMetricsConfigs), the other broker describes and lists it within its poll, a
    /// librdkafka client it matches pushes through either broker, and deleting its configs removes it.
    /// </summary>
    [Fact]
    public async Task A_subscription_stored_with_IncrementalAlterConfigs_reaches_every_broker_and_its_client_pushes()
    {
        await using var collector = TestHttpServer.Start(_ => TestHttpResponse.Ok);
        await using var silos = await SiloProcesses.StartAsync(2, (_, env) => env["OrleansStream__ClientMetrics__OtlpEndpoint"] = collector.Url);
        await using var first = await KafkaWire.ConnectAsync(silos.KafkaPort(0));
        await using var second = await KafkaWire.ConnectAsync(silos.KafkaPort(1));

        Assert.Equal((ErrorCode.InvalidRequest, "Invalid value 50 for interval.ms, interval must be between 100 and 3600000 (1 hour)"),
            await AlterAsync(first, "dyn", ("interval.ms", 0, "50")));
        Assert.Equal((ErrorCode.InvalidConfig, "Illegal client matching pattern: client_rack=a"), await AlterAsync(first, "dyn", ("match", 0, "client_rack=a")));
        Assert.Empty(await ListAsync(first));

        Assert.Equal((ErrorCode.None, null), await AlterAsync(first, "dyn",
            ("metrics", 0, "org.apache.kafka."), ("interval.ms", 0, "500"), ("match", 0, "client_id=telemetry-dyn")));
        await Eventually.WaitUntilAsync(async () => (await DescribeAsync(second, "dyn")).Count == 3, "the other broker describes the stored subscription", Wait);
        Assert.Equal([("interval.ms", "500", (sbyte)7), ("match", "client_id=telemetry-dyn", (sbyte)7), ("metrics", "org.apache.kafka.", (sbyte)7)],
            (await DescribeAsync(second, "dyn")).Order());
        Assert.Equal(["dyn"], await ListAsync(second));

        var log = new ConcurrentQueue<string>();
        using (var producer = Producer(silos.BootstrapServers, "telemetry-dyn", log))
        {
            await producer.ProduceAsync("telemetry-dyn-" + Guid.NewGuid().ToString("N")[..8], new Message<Null, string> { Value = "d" }, TestContext.Current.CancellationToken);
            await Eventually.WaitUntilAsync(() => collector.Requests.Any(r => Contains(r.Body, "org.apache.kafka.")),
                "the collector received a push of the client the stored subscription matches", Wait, () => string.Join('\n', log));
        }

        Assert.Equal((ErrorCode.None, null), await AlterAsync(first, "dyn", ("metrics", 1, null), ("interval.ms", 1, null), ("match", 1, null)));
        Assert.Empty(await ListAsync(first));
        Assert.Empty(await DescribeAsync(first, "dyn"));

        // The telemetry requests, advertised only by brokers with a receiver, with odd values and mutated bytes.
        await OddRequestTests.RunAsync(silos, "telemetry-odd", async () => Assert.Empty(await ListAsync(first)),
            static key => key is ApiKey.GetTelemetrySubscriptions or ApiKey.PushTelemetry);
    }

    private static async Task<(ErrorCode, string?)> AlterAsync(KafkaWire wire, string name, params (string Key, sbyte Op, string? Value)[] configs)
    {
        var entries = configs.Select(c => new M.AlterConfigsEntry(c.Key, c.Op, c.Value)).ToArray();
        await wire.SendAsync(ApiKey.IncrementalAlterConfigs, 1, w =>
            new M.AlterConfigsRequest([new M.AlterConfigsResource(M.ConfigResourceType.ClientMetrics, name, entries)], false).Write(w, incremental: true, flexible: true));
        var r = new KafkaReader((await wire.ReadFrameAsync())!.AsSpan(5));
        _ = r.ReadInt32();
        Assert.Equal(1, r.ReadArrayLength(flexible: true));
        var error = (ErrorCode)r.ReadInt16();
        var message = r.ReadNullableString(flexible: true);
        Assert.Equal((sbyte)16, r.ReadInt8());
        Assert.Equal(name, r.ReadString(flexible: true));
        return (error, message);
    }

    /// <summary>DescribeConfigs v4 of one client metrics resource: each config's name, value and source.</summary>
    private static async Task<List<(string Name, string? Value, sbyte Source)>> DescribeAsync(KafkaWire wire, string name)
    {
        await wire.SendAsync(ApiKey.DescribeConfigs, 4, w =>
            new M.DescribeConfigsRequest([new M.DescribeConfigsResource(M.ConfigResourceType.ClientMetrics, name, null)], false, false).Write(w, 4));
        var r = new KafkaReader((await wire.ReadFrameAsync())!.AsSpan(5));
        _ = r.ReadInt32();
        Assert.Equal(1, r.ReadArrayLength(flexible: true));
        Assert.Equal(ErrorCode.None, (ErrorCode)r.ReadInt16());
        _ = r.ReadNullableString(flexible: true);
        _ = r.ReadInt8();
        _ = r.ReadString(flexible: true);
        var configs = new List<(string, string?, sbyte)>();
        for (var n = r.ReadArrayLength(flexible: true); n > 0; n--)
        {
            var config = (r.ReadString(flexible: true), r.ReadNullableString(flexible: true), Source: (sbyte)0);
            Assert.False(r.ReadBoolean());
            config.Source = r.ReadInt8();
            Assert.False(r.ReadBoolean());
            Assert.Equal(0, r.ReadArrayLength(flexible: true));
            _ = r.ReadInt8();
            _ = r.ReadNullableString(flexible: true);
            r.SkipTaggedFields();
            configs.Add(config);
        }
        return configs;
    }

    private static async Task<IReadOnlyList<string>> ListAsync(KafkaWire wire)
    {
        await wire.SendAsync(ApiKey.ListClientMetricsResources, 0, w => new M.ListClientMetricsResourcesRequest().Write(w, 0));
        var r = new KafkaReader((await wire.ReadFrameAsync())!.AsSpan(5));
        var response = M.ListClientMetricsResourcesResponse.Read(ref r, 0);
        Assert.Equal(ErrorCode.None, response.Error);
        return response.Names;
    }

    private static IProducer<Null, string> Producer(string bootstrap, string clientId, ConcurrentQueue<string> log) =>
        new ProducerBuilder<Null, string>(new ProducerConfig { BootstrapServers = bootstrap, ClientId = clientId, Debug = "telemetry" })
            .SetLogHandler((_, m) => log.Enqueue(m.Message))
            .Build();

    /// <summary>Whether one line of the client's log holds <paramref name="text"/> (and <paramref name="also"/>).</summary>
    private static bool Has(ConcurrentQueue<string> log, string text, string also = "")
    {
        foreach (var line in log)
            if (line.Contains(text, StringComparison.Ordinal) && line.Contains(also, StringComparison.Ordinal)) return true;
        return false;
    }

    private static bool Contains(byte[] body, string text) => body.AsSpan().IndexOf(Encoding.UTF8.GetBytes(text)) >= 0;
}
