using System.Globalization;
using System.Text.RegularExpressions;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OrleansStream.Client;
using OrleansStream.Client.Admin;

namespace OrleansStream.Deploy.Tests;

/// <summary>
/// Three silo processes (the published silo dll, as the image runs it) configured like production (Azure Table
/// membership, Blob grain state and tier, all in one storage account; endpoint variables in Orleans' shape) except the
/// storage endpoint: Azurite (blob and table services) that the test starts on free ports. Closed segments of a tiered topic reach the Blob tier and are read
/// back from it once the local copies are gone. Produce and consume through the cluster; stop one silo gracefully
/// with no client error; kill one with SIGKILL and lose no acknowledged (acks=all) message. The only setting that
/// differs from production besides the endpoints is the tiering interval (0.5 s instead of 30 s), so the test need not wait.
/// </summary>
[Trait("Category", "Slow")]
public sealed class ProductionLikeClusterTests : IAsyncLifetime
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(90);
    private static readonly TimeSpan DeliveryDeadline = TimeSpan.FromSeconds(120);

    private readonly string _root = Directory.CreateTempSubdirectory("os-deploy-cluster-").FullName;
    private readonly string _clusterId = "deploy-" + Guid.NewGuid().ToString("N")[..12];
    private readonly SiloSlot[] _silos = new SiloSlot[3];
    private Azurite? _azurite;
    private IHost? _clientHost;
    private string _phase = "start";

    /// <summary>The storage account's connection string (blob and table endpoints); production uses ServiceUri and managed identity.</summary>
    private string StorageConnectionString => _azurite!.ConnectionString;

    public async ValueTask InitializeAsync()
    {
        _azurite = await Azurite.StartAsync();

        // Containers exist before the silos start, as Bicep creates them.
        var blobs = new BlobServiceClient(StorageConnectionString);
        await blobs.GetBlobContainerClient("grainstate").CreateIfNotExistsAsync();
        await blobs.GetBlobContainerClient("segments").CreateIfNotExistsAsync();

        for (var i = 0; i < _silos.Length; i++)
        {
            _silos[i] = new SiloSlot($"silo-{i}", Directory.CreateDirectory(Path.Combine(_root, $"silo-{i}")).FullName,
                ExternalProcess.FreeTcpPort(), ExternalProcess.FreeTcpPort(), ExternalProcess.FreeTcpPort());
        }

        // The first silo alone, then the others, so they all join one cluster through the membership table.
        await StartSiloAsync(0);
        await Task.WhenAll(StartSiloAsync(1), StartSiloAsync(2));

        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Orleans:ClusterId"] = _clusterId,
            ["Orleans:ServiceId"] = "orleansstream",
            ["Orleans:Clustering:ProviderType"] = "AzureTableStorage",
            ["Orleans:Clustering:ConnectionString"] = StorageConnectionString,
        });
        builder.UseOrleansClient();
        _clientHost = builder.Build();
        await _clientHost.StartAsync(TestContext.Current.CancellationToken);
    }

    // Every wait below has its own deadline; this one only guards against a hang none of them covers.
    [Fact(Timeout = 600_000)]
    public async Task ProduceConsume_SurvivesGracefulStopAndKill9_WithoutLosingAcknowledgedRecords()
    {
        var client = _clientHost!.Services.GetRequiredService<IClusterClient>();
        using var admin = new AdminClientBuilder(client).Build();
        _phase = "create topic";
        await admin.CreateTopicsAsync(
        [
            new TopicSpecification
            {
                Name = "events",
                NumPartitions = 3,
                ReplicationFactor = 3,
                Configs = new Dictionary<string, string> { ["min.insync.replicas"] = "2" },
            },
        ]).WaitAsync(TimeSpan.FromSeconds(60), TestContext.Current.CancellationToken);

        // Controller state went to Blob grain storage, not to a silo's disk.
        var grainState = new BlobServiceClient(StorageConnectionString).GetBlobContainerClient("grainstate");
        var stateBlobs = 0;
        await foreach (var _ in grainState.GetBlobsAsync(cancellationToken: TestContext.Current.CancellationToken)) stateBlobs++;
        Assert.True(stateBlobs > 0, "no grain state blob in Azurite: the silos did not use the Blob grain storage.");

        // A delivery gives up before the test's deadline, so a stuck one fails with its phase and the silos' output
        // rather than leaving the producer's disposal flushing (message.timeout.ms + request.timeout.ms) past the run's hang timeout.
        await using var producer = new ProducerBuilder<string, string>(client,
            new ProducerConfig { Acks = Acks.All, MessageTimeoutMs = (int)(DeliveryDeadline.TotalMilliseconds - 10_000) }).Build();
        var acknowledged = new HashSet<string>(StringComparer.Ordinal);

        // 0. Tiering to Blob: small segments of a remote.storage.enable topic land in the tier container as
        // {topic}/{partition}/{baseOffset:D20}-{id}.{log|index|timeindex|epoch|snapshot} (the producer-state snapshot when the segment has one); once the leader dropped its local copies
        // a consumer still reads the topic from offset 0.
        await TieredSegmentsReachBlobAndReadBackAsync(client, admin, producer);

        // 1. Steady state.
        _phase = "steady produce";
        await ProduceAsync(producer, "a", 0, 300, acknowledged, errorsAllowed: false);

        // 2. A graceful stop (SIGTERM, what Container Apps sends) while producing: no client error.
        _phase = "produce during SIGTERM";
        var stop = _silos[2].Process!.StopAsync(TimeSpan.FromSeconds(90));
        await ProduceAsync(producer, "b", 0, 300, acknowledged, errorsAllowed: false);
        Assert.Equal(0, (await stop).ExitCode);
        await ProduceAsync(producer, "b", 300, 100, acknowledged, errorsAllowed: false);

        // The stopped silo comes back with its broker id and data directory.
        _phase = "restart silo-2";
        await StartSiloAsync(2);

        // 3. kill -9 while producing: in-flight sends may fail, acknowledged ones must survive.
        _phase = "produce during kill -9";
        var production = ProduceAsync(producer, "c", 0, 300, acknowledged, errorsAllowed: true);
        await _silos[1].Process!.KillAsync(TimeSpan.FromSeconds(30));
        await production;
        _phase = "produce after kill -9";
        await ProduceAsync(producer, "d", 0, 100, acknowledged, errorsAllowed: false);

        // 4. Read everything back from the beginning of every partition.
        _phase = "consume";
        var consumed = await Task.Run(() => ConsumeAll(client, "events", partitions: 3, deadline: TimeSpan.FromSeconds(120)))
            .WaitAsync(TimeSpan.FromSeconds(180), TestContext.Current.CancellationToken);
        var missing = acknowledged.Where(v => !consumed.Contains(v)).Take(10).ToList();
        Assert.True(missing.Count == 0, $"{acknowledged.Count} acknowledged, {missing.Count}+ missing, e.g. {string.Join(", ", missing)}\n{Diagnostics()}");
        Assert.True(acknowledged.Count >= 800);
    }

    public async ValueTask DisposeAsync()
    {
        // Every child goes, whatever fails first: a leaked silo or Azurite outlives the test run.
        var failures = new List<Exception>();
        async Task Quietly(Func<ValueTask> dispose)
        {
            try { await dispose(); } catch (Exception e) { failures.Add(e); }
        }

        if (_clientHost is { } clientHost)
        {
            await Quietly(async () =>
            {
                try { await clientHost.StopAsync(CancellationToken.None); } catch (OperationCanceledException) { }
                clientHost.Dispose();
            });
        }

        foreach (var silo in _silos)
        {
            if (silo?.Process is { } process) await Quietly(process.DisposeAsync);
        }

        if (_azurite is not null) await Quietly(_azurite.DisposeAsync);
        try { Directory.Delete(_root, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        if (failures.Count > 0) throw new AggregateException("Stopping the cluster's processes failed.", failures);
    }

    private async Task StartSiloAsync(int index)
    {
        var slot = _silos[index];
        if (slot.Process is { } previous) await previous.DisposeAsync();
        slot.Process = await PublishedSilo.StartAsync(slot.BrokerId, new Dictionary<string, string?>
        {
            ["Orleans__ClusterId"] = _clusterId,
            ["Orleans__ServiceId"] = "orleansstream",
            ["Orleans__Endpoints__AdvertisedIPAddress"] = "127.0.0.1",
            ["Orleans__Endpoints__SiloPort"] = P(slot.SiloPort),
            ["Orleans__Endpoints__GatewayPort"] = P(slot.GatewayPort),
            ["Orleans__Endpoints__SiloListeningEndpoint"] = $"0.0.0.0:{slot.SiloPort}",
            ["Orleans__Endpoints__GatewayListeningEndpoint"] = $"0.0.0.0:{slot.GatewayPort}",
            ["Orleans__Clustering__ProviderType"] = "AzureTableStorage",
            ["Orleans__Clustering__ConnectionString"] = StorageConnectionString,
            ["Orleans__GrainStorage__orleansstream__ProviderType"] = "AzureBlobStorage",
            ["Orleans__GrainStorage__orleansstream__ConnectionString"] = StorageConnectionString,
            ["Orleans__GrainStorage__orleansstream__ContainerName"] = "grainstate",
            ["OrleansStream__BrokerId"] = slot.BrokerId,
            ["OrleansStream__DataDirectory"] = slot.DataDirectory,
            ["OrleansStream__HealthPort"] = P(slot.HealthPort),
            ["OrleansStream__TierStore__Kind"] = "AzureBlob",
            ["OrleansStream__TierStore__ConnectionString"] = StorageConnectionString,
            ["OrleansStream__TierStore__Container"] = "segments",
            ["OrleansStream__TierStore__TaskIntervalMs"] = "500",
        });
        await slot.Process.WaitForOutputAsync("Application started", StartTimeout);
    }

    private async Task TieredSegmentsReachBlobAndReadBackAsync(IClusterClient client, IAdminClient admin, IProducer<string, string> producer)
    {
        const string topic = "tiered";
        _phase = "create tiered topic";
        await admin.CreateTopicsAsync(
        [
            new TopicSpecification
            {
                Name = topic,
                NumPartitions = 1,
                ReplicationFactor = 3,
                Configs = new Dictionary<string, string>
                {
                    ["min.insync.replicas"] = "2", ["segment.bytes"] = "8192", ["remote.storage.enable"] = "true", ["local.retention.ms"] = "0",
                },
            },
        ]).WaitAsync(TimeSpan.FromSeconds(60), TestContext.Current.CancellationToken);
        _phase = "produce to the tiered topic";
        var tiered = new HashSet<string>(StringComparer.Ordinal);
        await ProduceAsync(producer, "t", 0, 200, tiered, errorsAllowed: false, topic, padding: 200);

        _phase = "segments reach the Blob tier";
        var container = new BlobServiceClient(StorageConnectionString).GetBlobContainerClient("segments");
        var segmentName = new Regex(@"^tiered/0/(?<base>\d{20})-(?<id>[^./]+)\.(?<kind>log|index|timeindex|epoch|snapshot)$", RegexOptions.CultureInvariant);
        var leaderDirectory = await LeaderPartitionDirectoryAsync(client, topic);
        List<string> names = [];
        List<string> complete = [];
        await Eventually.WaitUntilAsync(async () =>
        {
            names = [];
            await foreach (var blob in container.GetBlobsAsync(BlobTraits.None, BlobStates.None, $"{topic}/0/", TestContext.Current.CancellationToken))
                names.Add(blob.Name);
            // A segment is complete once all four files are up (a later one may be uploading while we look).
            complete = names.Where(n => n.EndsWith(".log", StringComparison.Ordinal)).Select(n => n[..^".log".Length])
                .Where(p => names.Contains(p + ".index") && names.Contains(p + ".timeindex") && names.Contains(p + ".epoch")).ToList();
            // Copied and then dropped locally: the leader's first segment is only in the tier now.
            return complete.Count >= 2 && !File.Exists(Path.Combine(leaderDirectory, $"{0:D20}.log"));
        }, "the tiered topic's first segments are in the Blob tier and gone locally", TimeSpan.FromSeconds(60), () => $"tier blobs: {string.Join(", ", names)}; leader files: {string.Join(", ", Directory.GetFiles(leaderDirectory).Select(Path.GetFileName))}");

        Assert.Contains($"{topic}/0/manifest.json", names);
        Assert.All(names.Where(n => !n.EndsWith("/manifest.json", StringComparison.Ordinal)), n => Assert.Matches(segmentName, n));
        Assert.Contains(complete, p => p.StartsWith($"{topic}/0/{0:D20}-", StringComparison.Ordinal));

        _phase = "consume the tiered topic from 0";
        var consumed = await Task.Run(() => ConsumeAll(client, topic, partitions: 1, deadline: TimeSpan.FromSeconds(60)))
            .WaitAsync(TimeSpan.FromSeconds(90), TestContext.Current.CancellationToken);
        Assert.Equal(tiered.Order(StringComparer.Ordinal), consumed.Order(StringComparer.Ordinal));
    }

    private async Task<string> LeaderPartitionDirectoryAsync(IClusterClient client, string topic)
    {
        var metadata = await client.GetGrain<IClusterControllerGrain>(GrainKeys.Controller).GetMetadata(new MetadataRequest([topic]));
        var broker = Assert.Single(Assert.Single(metadata.Topics).Partitions).LeaderBroker;
        var slot = _silos.Single(s => s.BrokerId == broker);
        return Path.Combine(slot.DataDirectory, $"{topic}-0");
    }

    private async Task ProduceAsync(IProducer<string, string> producer, string prefix, int from, int count,
        HashSet<string> acknowledged, bool errorsAllowed, string topic = "events", int padding = 0)
    {
        const int window = 25;
        for (var start = from; start < from + count; start += window)
        {
            var sends = new List<(string Value, Task<DeliveryResult<string, string>> Delivery)>(window);
            for (var i = start; i < Math.Min(start + window, from + count); i++)
            {
                var value = $"{prefix}-{i:D5}" + new string('x', padding);
                sends.Add((value, producer.ProduceAsync(topic, new Message<string, string> { Key = value, Value = value })));
            }

            foreach (var (value, delivery) in sends)
            {
                try
                {
                    // Longer than the producer's own delivery timeout would need after a failover; never forever.
                    await delivery.WaitAsync(DeliveryDeadline);
                    lock (acknowledged) acknowledged.Add(value);
                }
                catch (ProduceException<string, string>) when (errorsAllowed)
                {
                    // Not acknowledged: may or may not be in the log.
                }
                catch (TimeoutException)
                {
                    throw new TimeoutException($"{_phase}: delivery of {value} did not complete within {DeliveryDeadline}.\n{Diagnostics()}");
                }
                catch (ProduceException<string, string> e)
                {
                    throw new InvalidOperationException($"{_phase}: {value} failed: {e.Error}\n{Diagnostics()}", e);
                }
            }
        }
    }

    private static HashSet<string> ConsumeAll(IClusterClient client, string topic, int partitions, TimeSpan deadline)
    {
        using var consumer = new ConsumerBuilder<string, string>(client, new ConsumerConfig { EnablePartitionEof = true }).Build();
        consumer.Assign(Enumerable.Range(0, partitions).Select(p => new TopicPartitionOffset(new TopicPartition(topic, p), Offset.Beginning)));
        var values = new HashSet<string>(StringComparer.Ordinal);
        var ended = new HashSet<int>();
        var until = DateTime.UtcNow + deadline;
        while (ended.Count < partitions)
        {
            if (DateTime.UtcNow > until) throw new TimeoutException($"consumed {values.Count}; partitions at end: {string.Join(",", ended)}");
            var result = consumer.Consume(TimeSpan.FromSeconds(5));
            if (result is null) continue;
            if (result.IsPartitionEOF) ended.Add(result.Partition);
            else if (result.Message?.Value is { } value) values.Add(value);
        }

        return values;
    }

    private string Diagnostics()
        => string.Join("\n", _silos.Select(s => $"--- {s.BrokerId}\n{Tail(s.Process?.Output ?? "", 3000)}"));

    private static string Tail(string text, int chars) => text.Length <= chars ? text : text[^chars..];

    private static string P(int port) => port.ToString(CultureInfo.InvariantCulture);

    private sealed class SiloSlot(string brokerId, string dataDirectory, int siloPort, int gatewayPort, int healthPort)
    {
        public string BrokerId { get; } = brokerId;
        public string DataDirectory { get; } = dataDirectory;
        public int SiloPort { get; } = siloPort;
        public int GatewayPort { get; } = gatewayPort;
        public int HealthPort { get; } = healthPort;
        public ExternalProcess? Process { get; set; }
    }
}
