using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Azure.Storage.Blobs;

namespace OrleansStream.Tiering.Tests;

/// <summary>
/// A real Azurite blob service started from tests/node_modules on 127.0.0.1 with a free port and a temporary location.
/// It can be stopped and started again on the same port and location (for outage tests). A missing Azurite fails.
/// </summary>
public sealed class Azurite : IAsyncDisposable
{
    private const string AccountKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
    private readonly string _location;
    private Process? _process;

    private Azurite(int port, string location)
    {
        Port = port;
        _location = location;
    }

    public int Port { get; }

    public string ConnectionString =>
        $"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={AccountKey};BlobEndpoint=http://127.0.0.1:{Port}/devstoreaccount1;";

    public bool IsRunning => _process is { HasExited: false };

    public static async Task<Azurite> StartAsync()
    {
        var location = Path.Combine(Path.GetTempPath(), "os-azurite-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(location);
        var azurite = new Azurite(FreePort(), location);
        await azurite.StartAgainAsync();
        return azurite;
    }

    public BlobContainerClient Container(string name) => new BlobServiceClient(ConnectionString).GetBlobContainerClient(name);

    public async Task StartAgainAsync()
    {
        if (IsRunning) return;
        var exe = FindAzurite();
        var psi = new ProcessStartInfo(exe)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[]
                 {
                     "--blobHost", "127.0.0.1", "--blobPort", Port.ToString(), "--location", _location,
                     "--skipApiVersionCheck", "--disableTelemetry", "--silent", "--loose",
                 })
            psi.ArgumentList.Add(arg);
        _process = Process.Start(psi) ?? throw new InvalidOperationException("Azurite did not start.");
        _process.OutputDataReceived += static (_, _) => { };
        _process.ErrorDataReceived += static (_, _) => { };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        await WaitForPortAsync(open: true);
    }

    public async Task StopAsync()
    {
        if (_process is null) return;
        if (!_process.HasExited)
        {
            // SIGTERM lets Azurite flush its metadata (a SIGKILL can lose the last seconds of writes, which a real
            // Blob Storage outage never does); kill only if it does not exit within the deadline.
            _ = SysKill(_process.Id, 15);
            using var graceful = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            try
            {
                await _process.WaitForExitAsync(graceful.Token);
            }
            catch (OperationCanceledException)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync();
            }
        }
        _process.Dispose();
        _process = null;
        await WaitForPortAsync(open: false);
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        try { Directory.Delete(_location, recursive: true); } catch (IOException) { }
    }

    private async Task WaitForPortAsync(bool open)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        using var ticks = new PeriodicTimer(TimeSpan.FromMilliseconds(50));
        while (true)
        {
            var isOpen = false;
            using (var client = new TcpClient())
            {
                try
                {
                    await client.ConnectAsync(IPAddress.Loopback, Port).WaitAsync(TimeSpan.FromSeconds(2));
                    isOpen = true;
                }
                catch (Exception e) when (e is SocketException or TimeoutException)
                {
                }
            }
            if (isOpen == open) return;
            if (open && _process is { HasExited: true })
                throw new InvalidOperationException($"Azurite exited with code {_process.ExitCode} before listening on {Port}.");
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"Azurite port {Port} did not become {(open ? "open" : "closed")} within 60 s.");
            await ticks.WaitForNextTickAsync();
        }
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int SysKill(int pid, int signal);

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static string FindAzurite()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "tests", "node_modules", ".bin", "azurite-blob");
            if (File.Exists(candidate)) return candidate;
            candidate = Path.Combine(dir.FullName, "node_modules", ".bin", "azurite-blob");
            if (File.Exists(candidate)) return candidate;
        }
        throw new InvalidOperationException(
            "Azurite is not installed: run `npm ci` in tests/ (tests/node_modules/.bin/azurite-blob). Tiering tests need a real Azurite.");
    }
}

/// <summary>One Azurite shared by the tests of a class; each test uses its own container.</summary>
public sealed class AzuriteFixture : IAsyncLifetime
{
    public Azurite Azurite { get; private set; } = null!;

    public async ValueTask InitializeAsync() => Azurite = await Azurite.StartAsync();

    public async ValueTask DisposeAsync() => await Azurite.DisposeAsync();

    public static string NewContainerName() => "t" + Guid.NewGuid().ToString("N");
}
