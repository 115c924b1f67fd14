using System.Collections.Concurrent;
using System.Net;
using System.Text;
using Confluent.Kafka;

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
        using var collector = new OtlpReceiver();
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
        await Eventually.WaitUntilAsync(() => collector.Received.Count(r => Contains(r.Body, "org.apache.kafka.")) >= 3,
            "the collector received three pushes with librdkafka's org.apache.kafka. metrics", Wait,
            () => $"{collector.Received.Count} posts; client log:\n{string.Join('\n', pushLog)}");
        Assert.True(Has(pushLog, "PushTelemetryRequest succeeded"), string.Join('\n', pushLog));
        Assert.All(collector.Received, r => Assert.Equal(("/v1/metrics", "application/x-protobuf"), (r.Path, r.ContentType)));

        Assert.False(Has(quietLog, "Sending PushTelemetryRequest"), string.Join('\n', quietLog));
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

    /// <summary>An OTLP/HTTP collector's metrics endpoint: keeps what is posted, answers 200.</summary>
    private sealed class OtlpReceiver : IDisposable
    {
        private readonly HttpListener _listener = new();
        private readonly ConcurrentQueue<(string Path, string? ContentType, byte[] Body)> _received = new();
        private readonly Task _serving;

        public OtlpReceiver()
        {
            var port = TestPorts.Reserve();
            Url = $"http://127.0.0.1:{port}";
            _listener.Prefixes.Add(Url + "/");
            _listener.Start();
            _serving = Task.Run(ServeAsync);
        }

        public string Url { get; }

        public IReadOnlyCollection<(string Path, string? ContentType, byte[] Body)> Received => _received;

        private async Task ServeAsync()
        {
            while (_listener.IsListening)
            {
                HttpListenerContext context;
                try
                {
                    context = await _listener.GetContextAsync();
                }
                catch (Exception e) when (e is HttpListenerException or ObjectDisposedException)
                {
                    return;
                }
                using var body = new MemoryStream();
                await context.Request.InputStream.CopyToAsync(body);
                _received.Enqueue((context.Request.Url!.AbsolutePath, context.Request.ContentType, body.ToArray()));
                context.Response.StatusCode = 200;
                context.Response.Close();
            }
        }

        public void Dispose()
        {
            _listener.Close();
            _serving.Wait(TimeSpan.FromSeconds(5));
        }
    }
}
