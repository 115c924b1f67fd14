using System.Globalization;
using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Configuration;
using Orleans.Hosting;
using OrleansStream.Client;

namespace OrleansStream.TestKit;

/// <summary>
/// Several processes of the real broker executable on loopback with Redis clustering (a <see cref="RedisServer"/> in
/// the test process, so any silo may die), plus an Orleans client connected to their gateways. Everything is started
/// on free ports and torn down.
/// </summary>
public sealed class SiloProcesses : IAsyncDisposable
{
    // A deadline, not a wait: a silo process is ready in 5-15 s alone, but the suite runs test projects side by side on
    // 2 cores, each starting silo processes, and a start then took over a minute.
    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(120);
    private readonly List<ExternalProcess?> _silos = [];
    private readonly List<(int SiloPort, int GatewayPort, int HealthPort, int KafkaPort)> _ports = [];
    private readonly Action<int, Dictionary<string, string?>>? _configure;
    private readonly Action<IClientBuilder>? _configureClient;
    private RedisServer? _redis;
    private IHost? _clientHost;

    private SiloProcesses(Action<int, Dictionary<string, string?>>? configure, Action<IClientBuilder>? configureClient)
    {
        _configure = configure;
        _configureClient = configureClient;
    }

    public string Root { get; } = Path.Combine(Path.GetTempPath(), "orleansstream-mp", Guid.NewGuid().ToString("N"));

    public IClusterClient Client => _clientHost!.Services.GetRequiredService<IClusterClient>();

    public int RedisPort => _redis!.Port;

    public static string BrokerId(int index) => $"mp{index}";

    /// <summary>The silo's gateway as the CLI's <c>--gateway</c> takes it.</summary>
    public string Gateway(int index) => $"127.0.0.1:{_ports[index].GatewayPort}";

    public int HealthPort(int index) => _ports[index].HealthPort;

    /// <summary>Silo <paramref name="index"/>'s Kafka listener (each silo is one Kafka broker).</summary>
    public int KafkaPort(int index) => _ports[index].KafkaPort;

    /// <summary>Every silo's Kafka listener, as Kafka's <c>bootstrap.servers</c> takes them.</summary>
    public string BootstrapServers => string.Join(',', _ports.Select(p => $"127.0.0.1:{p.KafkaPort}"));

    public IPEndPoint GatewayEndpoint(int index) => new(IPAddress.Loopback, _ports[index].GatewayPort);

    /// <summary>The silo's silo-to-silo endpoint.</summary>
    public IPEndPoint SiloEndpoint(int index) => new(IPAddress.Loopback, _ports[index].SiloPort);

    /// <summary>What a silo printed so far (its last run when it is not running).</summary>
    public string Output(int index) => _silos[index]?.Output ?? "";

    /// <summary>
    /// Starts <paramref name="count"/> silos; <paramref name="environment"/> may change a silo's environment variables
    /// (the configuration keys in their <c>__</c> form) before it starts, e.g. to give each its own grain storage;
    /// <paramref name="client"/> adjusts <see cref="Client"/> and every client of <see cref="ConnectClientAsync"/> (TLS).
    /// </summary>
    public static async Task<SiloProcesses> StartAsync(
        int count, Action<int, Dictionary<string, string?>>? environment = null, Action<IClientBuilder>? client = null)
    {
        var cluster = new SiloProcesses(environment, client);
        try
        {
            Directory.CreateDirectory(cluster.Root);
            cluster._redis = RedisServer.Start();
            for (var i = 0; i < count; i++)
            {
                cluster._ports.Add((ExternalProcess.FreeTcpPort(), ExternalProcess.FreeTcpPort(), ExternalProcess.FreeTcpPort(), ExternalProcess.FreeTcpPort()));
                cluster._silos.Add(null);
            }
            var starts = new List<Task>();
            for (var i = 0; i < count; i++) starts.Add(cluster.StartFirstTimeAsync(i));
            await Task.WhenAll(starts);
            _ = await cluster.ConnectClientAsync();
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// A first start on fresh ports. A port found free may be taken by another test project's process before the silo
    /// binds it (the suite runs projects side by side): then the silo exits at once, and it starts again on new ports.
    /// </summary>
    private async Task StartFirstTimeAsync(int index)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await StartSiloAsync(index);
                return;
            }
            catch (InvalidOperationException e) when (attempt < 3 && e.Message.Contains("address already in use", StringComparison.OrdinalIgnoreCase))
            {
                _ports[index] = (ExternalProcess.FreeTcpPort(), ExternalProcess.FreeTcpPort(), ExternalProcess.FreeTcpPort(), ExternalProcess.FreeTcpPort());
            }
        }
    }

    /// <summary>SIGKILL: no shutdown of any kind, as a crash or an OOM kill.</summary>
    public void Kill(int index)
    {
        var p = _silos[index] ?? throw new InvalidOperationException($"Silo {index} is not running.");
        p.KillAsync(TimeSpan.FromSeconds(30)).GetAwaiter().GetResult();
        p.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _silos[index] = null;
    }

    /// <summary>SIGSTOP: the process stops answering anything, its sockets stay open, until it is killed.</summary>
    public void Freeze(int index) => (_silos[index] ?? throw new InvalidOperationException($"Silo {index} is not running.")).Freeze();

    public int IndexOf(string brokerId) => int.Parse(brokerId.AsSpan(2), CultureInfo.InvariantCulture);

    /// <summary>The index of the silo listening on <paramref name="siloPort"/>, -1 when none does.</summary>
    public int IndexOfSiloPort(int siloPort) => _ports.FindIndex(p => p.SiloPort == siloPort);

    public string DataDirectory(int index) => Path.Combine(Root, BrokerId(index));

    public Uri HealthUri(int index, string path) => new($"http://127.0.0.1:{_ports[index].HealthPort}/{path}");

    /// <summary>Starts silo <paramref name="index"/> (again, after a kill: same broker id, ports and data) and waits until it is ready.</summary>
    public async Task StartSiloAsync(int index)
    {
        var (siloPort, gatewayPort, healthPort, kafkaPort) = _ports[index];
        var env = new Dictionary<string, string?>
        {
            ["OrleansStream__BrokerId"] = BrokerId(index),
            ["OrleansStream__DataDirectory"] = DataDirectory(index),
            ["OrleansStream__GrainStateDirectory"] = Path.Combine(Root, "grain-state"),
            ["OrleansStream__HealthPort"] = healthPort.ToString(CultureInfo.InvariantCulture),
            ["OrleansStream__HealthAddress"] = "127.0.0.1",
            ["OrleansStream__Listeners"] = $"PLAINTEXT://127.0.0.1:{kafkaPort}",
            ["OrleansStream__ReplicaLagTimeMaxMs"] = "5000",
            ["Orleans__Endpoints__SiloPort"] = siloPort.ToString(CultureInfo.InvariantCulture),
            ["Orleans__Endpoints__GatewayPort"] = gatewayPort.ToString(CultureInfo.InvariantCulture),
            ["Orleans__Clustering__ProviderType"] = "Redis",
            ["Orleans__Clustering__ConnectionString"] = _redis!.ConnectionString,
            ["Logging__LogLevel__Default"] = "Warning",
        };
        _configure?.Invoke(index, env);
        if (_silos[index] is { } previous) await previous.DisposeAsync();
        var process = ExternalProcess.StartDotnet(BrokerId(index), Repository.BuiltDll("OrleansStream.Silo", "OrleansStream.Silo"), [], env, Root);
        _silos[index] = process;

        using var http = new HttpClient();
        await Eventually.WaitUntilAsync(async () =>
        {
            if (process.HasExited) throw new InvalidOperationException($"Silo {index} exited:\n{process.Output}");
            try
            {
                return (await http.GetAsync(new Uri($"http://127.0.0.1:{healthPort}/ready"))).IsSuccessStatusCode;
            }
            catch (HttpRequestException)
            {
                return false;
            }
        }, $"silo {index} is ready", ReadyTimeout, () => process.Output);
    }

    private async Task<IHost> ConnectClientAsync() => _clientHost = await ConnectClientAsync(Enumerable.Range(0, _ports.Count));

    /// <summary>Another client, connected to the gateways of the given silos only; the caller disposes it.</summary>
    /// <param name="gatewaysOf">The silos whose gateways the client lists.</param>
    /// <param name="responseTimeout">The client's Orleans response timeout (30 s unless given).</param>
    /// <param name="configure">Adjusts this client alone (after the cluster's own client settings).</param>
    /// <remarks>Connected as docs/client.md tells applications to: <c>UseBootstrapGateways</c>, started with <c>BootstrapStart</c>.</remarks>
    public async Task<IHost> ConnectClientAsync(IEnumerable<int> gatewaysOf, TimeSpan? responseTimeout = null, Action<IClientBuilder>? configure = null)
    {
        var gateways = new List<IPEndPoint>();
        foreach (var i in gatewaysOf) gateways.Add(new IPEndPoint(IPAddress.Loopback, _ports[i].GatewayPort));
        using var deadline = new CancellationTokenSource(ReadyTimeout);
        return await BootstrapStart.StartAsync(() =>
        {
            var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
            builder.UseOrleansClient(client =>
            {
                client.UseBootstrapGateways(gateways);
                client.Configure<ClusterOptions>(o => { o.ClusterId = "orleansstream"; o.ServiceId = "orleansstream"; });
                if (responseTimeout is { } timeout) client.Configure<ClientMessagingOptions>(o => o.ResponseTimeout = timeout);
                _configureClient?.Invoke(client);
                configure?.Invoke(client);
            });
            if (Environment.GetEnvironmentVariable("OS_TEST_CLIENT_LOG") is { Length: > 0 } logFile)
                builder.Logging.AddProvider(new FileLineLoggerProvider(logFile, "client", "Orleans", LogLevel.Information));
            if (ExternalProcess.LogDirectory is { } directory)
            {
                // The test process's own SDK decisions (failure watch, gateway list, group) and Orleans' gateway choices,
                // next to the silos' and the CLI processes' logs: rare lines, written only around a failover.
                Directory.CreateDirectory(directory);
                var file = Path.Combine(directory, "test-client.log");
                builder.Logging.AddFilter("OrleansStream.Client", LogLevel.Debug);
                builder.Logging.AddProvider(new FileLineLoggerProvider(file, "client", "OrleansStream.Client", LogLevel.Debug));
                builder.Logging.AddProvider(new FileLineLoggerProvider(file, "client", "Orleans.Messaging.GatewayManager", LogLevel.Information));
            }
            return builder.Build();
        }, deadline.Token);
    }

    public async ValueTask DisposeAsync()
    {
        if (_clientHost is not null)
        {
            try { await _clientHost.StopAsync(TimeSpan.FromSeconds(5)); } catch (Exception) { }
            _clientHost.Dispose();
        }
        foreach (var silo in _silos)
            if (silo is not null) await silo.DisposeAsync();
        _redis?.Dispose();
        try { Directory.Delete(Root, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
