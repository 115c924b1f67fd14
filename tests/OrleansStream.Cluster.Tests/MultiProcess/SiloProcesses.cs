using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Orleans.Configuration;
using Orleans.Hosting;

namespace OrleansStream.Cluster.Tests.MultiProcess;

/// <summary>
/// A redis-server and several processes of the real broker executable on loopback (Redis clustering, so any silo may
/// die), plus an Orleans client connected to their gateways. Everything is started on free ports and torn down.
/// </summary>
public sealed partial class SiloProcesses : IAsyncDisposable
{
    private readonly List<Process?> _silos = [];
    private readonly List<(int SiloPort, int GatewayPort, int HealthPort)> _ports = [];
    private Process? _redis;
    private IHost? _clientHost;

    public string Root { get; } = Path.Combine(Path.GetTempPath(), "orleansstream-mp", Guid.NewGuid().ToString("N"));

    public IClusterClient Client => _clientHost!.Services.GetRequiredService<IClusterClient>();

    public int RedisPort { get; private set; }

    public static string BrokerId(int index) => $"mp{index}";

    public static async Task<SiloProcesses> StartAsync(int count)
    {
        var cluster = new SiloProcesses();
        try
        {
            Directory.CreateDirectory(cluster.Root);
            await cluster.StartRedisAsync();
            for (var i = 0; i < count; i++) cluster._ports.Add((FreePort(), FreePort(), FreePort()));
            var starts = new List<Task>();
            for (var i = 0; i < count; i++)
            {
                cluster._silos.Add(null);
                starts.Add(cluster.StartSiloAsync(i));
            }
            await Task.WhenAll(starts);
            await cluster.ConnectClientAsync();
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    /// <summary>SIGKILL: no shutdown of any kind, as a crash or an OOM kill.</summary>
    public void Kill(int index)
    {
        var p = _silos[index] ?? throw new InvalidOperationException($"Silo {index} is not running.");
        p.Kill(entireProcessTree: true);
        p.WaitForExit();
        p.Dispose();
        _silos[index] = null;
    }

    /// <summary>SIGSTOP: the process stops answering anything, its sockets stay open, until it is killed.</summary>
    public void Freeze(int index)
    {
        var p = _silos[index] ?? throw new InvalidOperationException($"Silo {index} is not running.");
        if (SendSignal(p.Id, SigStop) != 0)
            throw new InvalidOperationException($"kill(SIGSTOP) of silo {index} failed with errno {Marshal.GetLastPInvokeError()}.");
    }

    private const int SigStop = 19;

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int SendSignal(int pid, int signal);

    public int IndexOf(string brokerId) => int.Parse(brokerId.AsSpan(2));

    public IPEndPoint GatewayEndpoint(int index) => new(IPAddress.Loopback, _ports[index].GatewayPort);

    public async Task StartSiloAsync(int index)
    {
        var (siloPort, gatewayPort, healthPort) = _ports[index];
        var start = new ProcessStartInfo("dotnet", [SiloDll()])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Root,
        };
        var env = start.Environment;
        env["OrleansStream__BrokerId"] = BrokerId(index);
        env["OrleansStream__DataDirectory"] = Path.Combine(Root, BrokerId(index));
        env["OrleansStream__GrainStateDirectory"] = Path.Combine(Root, "grain-state");
        env["OrleansStream__HealthPort"] = healthPort.ToString();
        env["OrleansStream__HealthAddress"] = "127.0.0.1";
        env["OrleansStream__ReplicaLagTimeMaxMs"] = "5000";
        env["Orleans__Endpoints__SiloPort"] = siloPort.ToString();
        env["Orleans__Endpoints__GatewayPort"] = gatewayPort.ToString();
        env["Orleans__Clustering__ProviderType"] = "Redis";
        env["Orleans__Clustering__ConnectionString"] = $"127.0.0.1:{RedisPort}";
        env["Logging__LogLevel__Default"] = "Warning";
        var log = Path.Combine(Root, $"{BrokerId(index)}.log");
        var process = Process.Start(start)!;
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) AppendLine(log, e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) AppendLine(log, e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _silos[index] = process;

        using var http = new HttpClient();
        await ClusterFixture.WaitUntilAsync(async () =>
        {
            if (process.HasExited) throw new InvalidOperationException($"Silo {index} exited with {process.ExitCode}; see {log}.");
            try
            {
                return (await http.GetAsync($"http://127.0.0.1:{healthPort}/ready")).IsSuccessStatusCode;
            }
            catch (HttpRequestException)
            {
                return false;
            }
        }, $"silo {index} is ready", TimeSpan.FromSeconds(60));
    }

    private static readonly Lock LogGate = new();

    private static void AppendLine(string path, string line)
    {
        lock (LogGate) File.AppendAllText(path, line + Environment.NewLine);
    }

    private async Task StartRedisAsync()
    {
        var server = File.Exists("/usr/bin/redis-server") ? "/usr/bin/redis-server" : "redis-server";
        RedisPort = FreePort();
        var start = new ProcessStartInfo(server, ["--port", RedisPort.ToString(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        {
            RedirectStandardOutput = true,
            UseShellExecute = false,
            WorkingDirectory = Root,
        };
        try
        {
            _redis = Process.Start(start);
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException("redis-server is required for the multi-process tests (.ci/run installs it).", e);
        }
        _redis!.BeginOutputReadLine();
        await ClusterFixture.WaitUntilAsync(() =>
        {
            try
            {
                using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                socket.Connect(IPAddress.Loopback, RedisPort);
                return Task.FromResult(true);
            }
            catch (SocketException)
            {
                return Task.FromResult(false);
            }
        }, "redis-server accepts connections", TimeSpan.FromSeconds(20));
    }

    private async Task ConnectClientAsync() => _clientHost = await ConnectClientAsync(Enumerable.Range(0, _ports.Count));

    /// <summary>Another client, connected to the gateways of the given silos only; the caller disposes it.</summary>
    /// <param name="responseTimeout">The client's Orleans response timeout (30 s unless given).</param>
    public async Task<IHost> ConnectClientAsync(IEnumerable<int> gatewaysOf, TimeSpan? responseTimeout = null)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        var gateways = new List<IPEndPoint>();
        foreach (var i in gatewaysOf) gateways.Add(new IPEndPoint(IPAddress.Loopback, _ports[i].GatewayPort));
        builder.UseOrleansClient(client =>
        {
            client.UseStaticClustering(gateways.ToArray());
            client.Configure<ClusterOptions>(o => { o.ClusterId = "orleansstream"; o.ServiceId = "orleansstream"; });
            if (responseTimeout is { } timeout) client.Configure<ClientMessagingOptions>(o => o.ResponseTimeout = timeout);
        });
        var host = builder.Build();
        await host.StartAsync();
        return host;
    }

    private static string SiloDll()
    {
        // tests/OrleansStream.Cluster.Tests/bin/{Config}/net10.0/ or .artifacts/{slot}/bin/OrleansStream.Cluster.Tests/{config}/
        var here = AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar);
        var candidates = new[]
        {
            Path.GetFullPath(Path.Combine(here, "..", "..", "..", "..", "..", "src", "OrleansStream.Silo", "bin",
                Path.GetFileName(Path.GetDirectoryName(here)!), Path.GetFileName(here), "OrleansStream.Silo.dll")),
            Path.GetFullPath(Path.Combine(here, "..", "..", "OrleansStream.Silo", Path.GetFileName(here), "OrleansStream.Silo.dll")),
        };
        foreach (var c in candidates)
            if (File.Exists(c)) return c;
        throw new FileNotFoundException($"The broker executable was not built; looked in {string.Join(", ", candidates)}.");
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public async ValueTask DisposeAsync()
    {
        if (_clientHost is not null)
        {
            try { await _clientHost.StopAsync(TimeSpan.FromSeconds(5)); } catch (Exception) { }
            _clientHost.Dispose();
        }
        for (var i = 0; i < _silos.Count; i++)
            if (_silos[i] is { } p)
            {
                try { p.Kill(entireProcessTree: true); p.WaitForExit(); } catch (InvalidOperationException) { }
                p.Dispose();
            }
        if (_redis is not null)
        {
            try { _redis.Kill(); _redis.WaitForExit(); } catch (InvalidOperationException) { }
            _redis.Dispose();
        }
        try { Directory.Delete(Root, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
