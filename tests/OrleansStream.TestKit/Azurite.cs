using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Azure.Storage.Blobs;

namespace OrleansStream.TestKit;

/// <summary>
/// A real Azurite (blob and table services; its queue service runs too, unused) started from tests/node_modules (which
/// the test kit's build installs) on 127.0.0.1 with free ports and a temporary location. It can be stopped and started again on the same port and location (for
/// outage tests). A missing Azurite fails.
/// </summary>
public sealed class Azurite : IAsyncDisposable
{
    private const string AccountKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
    private static readonly TimeSpan PortTimeout = TimeSpan.FromSeconds(60);
    private readonly string _location;
    private ExternalProcess? _process;

    private readonly int _queuePort;

    private Azurite(int port, int tablePort, int queuePort, string location)
    {
        Port = port;
        TablePort = tablePort;
        _queuePort = queuePort;
        _location = location;
    }

    /// <summary>The blob service's port.</summary>
    public int Port { get; }

    public int TablePort { get; }

    public string ConnectionString =>
        $"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={AccountKey};BlobEndpoint=http://127.0.0.1:{Port}/devstoreaccount1;"
        + $"TableEndpoint=http://127.0.0.1:{TablePort}/devstoreaccount1;";

    public bool IsRunning => _process is { HasExited: false };

    public static string Executable => Repository.Path("tests", "node_modules", ".bin", "azurite");

    public static async Task<Azurite> StartAsync()
    {
        var location = Path.Combine(Path.GetTempPath(), "os-azurite-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(location);
        var azurite = new Azurite(ExternalProcess.FreeTcpPort(), ExternalProcess.FreeTcpPort(), ExternalProcess.FreeTcpPort(), location);
        await azurite.StartAgainAsync();
        return azurite;
    }

    public BlobContainerClient Container(string name) => new BlobServiceClient(ConnectionString).GetBlobContainerClient(name);

    public async Task StartAgainAsync()
    {
        if (IsRunning) return;
        if (!File.Exists(Executable))
            throw new InvalidOperationException(
                $"Azurite is not installed at {Executable}: building the test kit runs `npm ci` in tests/ (needs Node and npm).");
        if (_process is not null) await _process.DisposeAsync();
        _process = ExternalProcess.Start("azurite", Executable,
        [
            "--blobHost", "127.0.0.1", "--blobPort", Port.ToString(CultureInfo.InvariantCulture),
            "--tableHost", "127.0.0.1", "--tablePort", TablePort.ToString(CultureInfo.InvariantCulture),
            "--queueHost", "127.0.0.1", "--queuePort", _queuePort.ToString(CultureInfo.InvariantCulture), "--location", _location,
            "--skipApiVersionCheck", "--disableTelemetry", "--silent", "--loose",
        ]);
        await Eventually.WaitUntilAsync(async () =>
        {
            if (_process.HasExited) throw new InvalidOperationException($"Azurite exited before listening on {Port}:\n{_process.Output}");
            return await IsListeningAsync(Port) && await IsListeningAsync(TablePort);
        }, $"Azurite listens on {Port} (blob) and {TablePort} (table)", PortTimeout);
    }

    public async Task StopAsync()
    {
        if (_process is null) return;
        // SIGTERM lets Azurite flush its metadata (a SIGKILL can lose the last seconds of writes, which a real Blob
        // Storage outage never does); kill only if it does not exit within the deadline.
        try
        {
            await _process.StopAsync(TimeSpan.FromSeconds(20));
        }
        catch (TimeoutException)
        {
            await _process.KillAsync(TimeSpan.FromSeconds(30));
        }
        await _process.DisposeAsync();
        _process = null;
        await Eventually.WaitUntilAsync(async () => !await IsListeningAsync(Port), $"Azurite's port {Port} is closed", PortTimeout);
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        try { Directory.Delete(_location, recursive: true); } catch (IOException) { }
    }

    private static async Task<bool> IsListeningAsync(int port)
    {
        using var client = new TcpClient();
        try
        {
            await client.ConnectAsync(IPAddress.Loopback, port).WaitAsync(TimeSpan.FromSeconds(2));
            return true;
        }
        catch (Exception e) when (e is SocketException or TimeoutException)
        {
            return false;
        }
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
