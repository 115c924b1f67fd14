using Microsoft.Extensions.DependencyInjection;
using Orleans.Hosting;
using Orleans.TestingHost;
using OrleansStream.Server;
using OrleansStream.Server.Tiering;
using OrleansStream.Storage.Tiering;

namespace OrleansStream.Tiering.Tests;

/// <summary>
/// Three in-process brokers tiering to a real Azurite, as production tiers to Azure Blob Storage: each silo has its own
/// data directory <c>{Root}/{brokerId}</c> and its own <see cref="AzureBlobTierStore"/> over one shared container. The
/// leaders' tiering task runs every 100 ms, the tier's compaction every 300 ms and local retention/compaction every 200 ms, so tests wait for seconds, not minutes.
/// </summary>
public sealed class TieringCluster : IAsyncLifetime
{
    private readonly Dictionary<string, InProcessSiloHandle> _silos = [];
    private InProcessTestCluster? _cluster;

    public string Root { get; } = Path.Combine(Path.GetTempPath(), "os-tiering-cluster-" + Guid.NewGuid().ToString("N"));

    public string Container { get; } = AzuriteFixture.NewContainerName();

    public Azurite Azurite { get; private set; } = null!;

    public InProcessTestCluster Cluster => _cluster ?? throw new InvalidOperationException("The cluster is not deployed yet.");

    public IClusterClient Client => Cluster.Client;

    /// <summary>The tier as the brokers see it, for assertions on the manifest and objects.</summary>
    public AzureBlobTierStore Tier { get; private set; } = null!;

    public static string BrokerIdOf(int instance) => $"Silo_{instance}";

    public string PartitionDirectory(string brokerId, string topic, int partition) => Path.Combine(Root, brokerId, $"{topic}-{partition}");

    public async ValueTask InitializeAsync()
    {
        Directory.CreateDirectory(Root);
        Azurite = await Azurite.StartAsync();
        Tier = new AzureBlobTierStore(new AzureBlobTierStoreSettings { ConnectionString = Azurite.ConnectionString, Container = Container });
        var builder = new InProcessTestClusterBuilder(3);
        builder.Options.ConfigureFileLogging = false;
        builder.ConfigureSilo((silo, siloBuilder) =>
        {
            siloBuilder.AddOrleansStream(o =>
            {
                o.DataDirectory = Path.Combine(Root, silo.SiloName);
                o.GrainStateDirectory = Path.Combine(Root, "grain-state");
                o.LogRetentionCheckIntervalMs = 200;
                o.ReplicaLagTimeMaxMs = 2_000;
                o.ReplicaFetchWaitMaxMs = 200;
            });
            siloBuilder.Services.Configure<TierStoreOptions>(o =>
            {
                o.Kind = TierStoreKind.AzureBlob;
                o.ConnectionString = Azurite.ConnectionString;
                o.Container = Container;
                o.TaskIntervalMs = 100;
                o.RemoteCompactionIntervalMs = 300;
                o.ReadChunkBytes = 64 << 10;
            });
        });
        _cluster = builder.Build();
        await _cluster.DeployAsync();
        foreach (var s in _cluster.Silos) _silos[s.Name] = s;
    }

    /// <summary>Stops a broker gracefully (its grains deactivate and close their logs).</summary>
    public async Task StopSiloAsync(string brokerId)
    {
        var handle = _silos[brokerId];
        _silos.Remove(brokerId);
        await Cluster.StopSiloAsync(handle);
    }

    /// <summary>Starts a stopped broker again: same id, same data directory (which the test may have wiped).</summary>
    public async Task StartSiloAsync(string brokerId) =>
        _silos[brokerId] = await Cluster.StartSiloAsync(int.Parse(brokerId.AsSpan("Silo_".Length)), Cluster.Options);

    public async Task<RemoteLogManifest> ManifestAsync(string topic, int partition) =>
        (await VersionedManifest.LoadAsync(Tier, topic, partition, TestContext.Current.CancellationToken)).Manifest;

    /// <summary>Base offsets of the local segment files of one replica (empty when the directory is gone).</summary>
    public List<long> LocalSegments(string brokerId, string topic, int partition)
    {
        var found = new List<long>();
        var directory = PartitionDirectory(brokerId, topic, partition);
        if (!Directory.Exists(directory)) return found;
        foreach (var file in Directory.EnumerateFiles(directory, "*.log"))
            if (long.TryParse(Path.GetFileNameWithoutExtension(file), out var baseOffset)) found.Add(baseOffset);
        found.Sort();
        return found;
    }

    public async ValueTask DisposeAsync()
    {
        if (_cluster is not null)
        {
            var owned = new HashSet<InProcessSiloHandle>(_cluster.Silos);
            foreach (var handle in _silos.Values)
                if (!owned.Contains(handle))
                {
                    try { await handle.StopSiloAsync(true); } catch (Exception) { }
                    await handle.DisposeAsync();
                }
            await _cluster.StopAllSilosAsync();
            await _cluster.DisposeAsync();
        }
        if (Azurite is not null) await Azurite.DisposeAsync();
        try { Directory.Delete(Root, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
