using Microsoft.Extensions.Logging;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Hosting;
using Orleans.TestingHost;
using OrleansStream.Server;

namespace OrleansStream.TestKit;

/// <summary>
/// Three in-process silos, each a broker with its own data directory (<c>{Root}/{brokerId}</c>) and a stable broker id
/// (its silo name, <c>Silo_0</c>...). Grain state is shared under <c>{Root}/grain-state</c>, as a cluster's grain
/// storage is. Use it as a class, collection or assembly fixture; derive to change
/// <see cref="SiloCount"/> or the broker options. Tests that stop silos should use their own instance.
/// </summary>
public class ClusterFixture : IAsyncLifetime
{
    private readonly Dictionary<int, InProcessSiloHandle> _silos = [];
    private InProcessTestCluster? _cluster;

    public ClusterFixture()
    {
        Root = Path.Combine(Path.GetTempPath(), "orleansstream-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Root);
    }

    /// <summary>Temp directory holding every silo's data directory; removed on dispose.</summary>
    public string Root { get; }

    public virtual int SiloCount => 3;

    public InProcessTestCluster Cluster => _cluster ?? throw new InvalidOperationException("The cluster is not deployed yet.");

    public IClusterClient Client => Cluster.Client;

    public IGrainFactory Grains => Client;

    public IClusterControllerGrain Controller => Client.GetGrain<IClusterControllerGrain>(GrainKeys.Controller);

    public static string BrokerIdOf(int instance) => $"Silo_{instance}";

    public string DataDirectory(string brokerId) => Path.Combine(Root, brokerId);

    public string PartitionDirectory(string brokerId, string topic, int partition) => Path.Combine(DataDirectory(brokerId), $"{topic}-{partition}");

    /// <summary>The running silos, by instance number; a stopped or killed silo is absent until started again.</summary>
    public IReadOnlyDictionary<int, InProcessSiloHandle> Silos
    {
        get { lock (_silos) return new Dictionary<int, InProcessSiloHandle>(_silos); }
    }

    public InProcessSiloHandle Silo(string brokerId)
    {
        foreach (var (_, handle) in Silos)
            if (handle.Name == brokerId) return handle;
        throw new InvalidOperationException($"Broker '{brokerId}' is not running.");
    }

    /// <summary>Adjusts every broker's options (after the fixture's own settings).</summary>
    protected virtual void ConfigureBroker(BrokerOptions options) { }

    /// <summary>Adjusts every silo (after AddOrleansStream).</summary>
    protected virtual void ConfigureSilo(ISiloBuilder silo) { }

    /// <summary>Adjusts the silo of broker <paramref name="brokerId"/> (after AddOrleansStream); by default as <see cref="ConfigureSilo(ISiloBuilder)"/>.</summary>
    protected virtual void ConfigureSilo(string brokerId, ISiloBuilder silo) => ConfigureSilo(silo);

    /// <summary>Adjusts the cluster's client.</summary>
    protected virtual void ConfigureClient(IClientBuilder client) { }

    public virtual async ValueTask InitializeAsync()
    {
        var builder = new InProcessTestClusterBuilder((short)SiloCount);
        builder.Options.ConfigureFileLogging = false;
        builder.ConfigureSilo((silo, siloBuilder) =>
        {
            siloBuilder.AddOrleansStream(o =>
            {
                o.DataDirectory = DataDirectory(silo.SiloName);
                o.GrainStateDirectory = Path.Combine(Root, "grain-state");
                // A leader given back to its preferred replica at some point of a long shared fixture's life would move
                // leaders under tests that do not expect it; LeaderElectionTests turn it on.
                o.AutoLeaderRebalanceEnable = false;
                ConfigureBroker(o);
            });
            ConfigureSilo(silo.SiloName, siloBuilder);
            if (Environment.GetEnvironmentVariable("OS_TEST_LOG") is { Length: > 0 } logFile)
                siloBuilder.Services.AddLogging(b => b.AddProvider(new FileLineLoggerProvider(logFile, silo.SiloName)));
        });
        builder.ConfigureClient(ConfigureClient);
        _cluster = builder.Build();
        await _cluster.DeployAsync();
        lock (_silos)
            foreach (var s in _cluster.Silos) _silos[s.InstanceNumber] = s;
    }

    /// <summary>Stops a silo gracefully (grains deactivate, logs flush and close) and starts it again with the same broker id and data.</summary>
    public async Task<InProcessSiloHandle> RestartSiloAsync(string brokerId)
    {
        await StopSiloAsync(brokerId);
        return await StartSiloAsync(brokerId);
    }

    public async Task StopSiloAsync(string brokerId)
    {
        var handle = Silo(brokerId);
        lock (_silos) _silos.Remove(handle.InstanceNumber);
        await Cluster.StopSiloAsync(handle);
    }

    /// <summary>Kills a silo without any shutdown, as a crash would.</summary>
    public async Task KillSiloAsync(string brokerId)
    {
        var handle = Silo(brokerId);
        lock (_silos) _silos.Remove(handle.InstanceNumber);
        await Cluster.KillSiloAsync(handle);
    }

    /// <summary>Starts a stopped or killed broker again, same id, same data directory.</summary>
    public async Task<InProcessSiloHandle> StartSiloAsync(string brokerId)
    {
        var instance = int.Parse(brokerId.AsSpan("Silo_".Length));
        var handle = await Cluster.StartSiloAsync(instance, Cluster.Options);
        lock (_silos) _silos[instance] = handle;
        return handle;
    }

    /// <summary>
    /// Starts every one of the fixture's brokers that is not running: a test class that stops or kills silos of a shared
    /// fixture calls it after each test, so that one failing before it restarts them leaves the next test every broker.
    /// </summary>
    public async Task StartStoppedSilosAsync()
    {
        for (var instance = 0; instance < SiloCount; instance++)
            if (!Silos.ContainsKey(instance)) await StartSiloAsync(BrokerIdOf(instance));
    }

    public virtual async ValueTask DisposeAsync()
    {
        if (_cluster is not null)
        {
            var owned = new HashSet<InProcessSiloHandle>(_cluster.Silos);
            foreach (var (_, handle) in Silos)
                if (!owned.Contains(handle))
                {
                    try { await handle.StopSiloAsync(true); } catch (Exception) { }
                    await handle.DisposeAsync();
                }
            await _cluster.StopAllSilosAsync();
            await _cluster.DisposeAsync();
        }
        try { Directory.Delete(Root, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        GC.SuppressFinalize(this);
    }
}
