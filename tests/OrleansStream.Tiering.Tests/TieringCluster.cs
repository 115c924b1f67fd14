using Microsoft.Extensions.DependencyInjection;
using Orleans.Hosting;
using OrleansStream.Server;
using OrleansStream.Server.Tiering;
using OrleansStream.Storage.Tiering;

namespace OrleansStream.Tiering.Tests;

/// <summary>
/// The common three-broker cluster tiering to a real Azurite, as production tiers to Azure Blob Storage: each silo has
/// its own <see cref="AzureBlobTierStore"/> over one shared container. The leaders' tiering task runs every 100 ms, the
/// tier's compaction every 300 ms and local retention/compaction every 200 ms, so tests wait for seconds, not minutes.
/// </summary>
public sealed class TieringCluster : ClusterFixture
{
    public string Container { get; } = AzuriteFixture.NewContainerName();

    public Azurite Azurite { get; private set; } = null!;

    /// <summary>The tier as the brokers see it, for assertions on the manifest and objects.</summary>
    public AzureBlobTierStore Tier { get; private set; } = null!;

    public override async ValueTask InitializeAsync()
    {
        Azurite = await Azurite.StartAsync();
        Tier = new AzureBlobTierStore(new AzureBlobTierStoreSettings { ConnectionString = Azurite.ConnectionString, Container = Container });
        await base.InitializeAsync();
    }

    protected override void ConfigureBroker(BrokerOptions options)
    {
        options.LogRetentionCheckIntervalMs = 200;
        options.ReplicaLagTimeMaxMs = 2_000;
        options.ReplicaFetchWaitMaxMs = 200;
    }

    protected override void ConfigureSilo(ISiloBuilder silo) => silo.Services.Configure<TierStoreOptions>(o =>
    {
        o.Kind = TierStoreKind.AzureBlob;
        o.ConnectionString = Azurite.ConnectionString;
        o.Container = Container;
        o.TaskIntervalMs = 100;
        o.RemoteCompactionIntervalMs = 300;
        o.ReadChunkBytes = 64 << 10;
    });

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

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        if (Azurite is not null) await Azurite.DisposeAsync();
    }
}
