using System.Globalization;

namespace OrleansStream.EndToEnd.Tests;

/// <summary>
/// One real broker process (the built OrleansStream.Silo) on free ports with a temporary data directory, shared by the
/// tests of a class, and ways to run the built CLI against it.
/// </summary>
public sealed class SiloFixture : IAsyncLifetime
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(90);
    private static readonly TimeSpan CliTimeout = TimeSpan.FromSeconds(60);
    private ExternalProcess? _silo;

    public string DataDirectory { get; } = Path.Combine(Path.GetTempPath(), "os-e2e-" + Guid.NewGuid().ToString("N")[..8]);

    public int GatewayPort { get; } = ExternalProcess.FreeTcpPort();

    public string Gateway => $"127.0.0.1:{GatewayPort}";

    /// <summary>The broker's Kafka listener, for Kafka clients (<c>bootstrap.servers</c>).</summary>
    public int KafkaPort { get; } = ExternalProcess.FreeTcpPort();

    public string BootstrapServers => $"127.0.0.1:{KafkaPort}";

    public string CliDll { get; } = Repository.BuiltDll("OrleansStream.Cli", "orleansstream");

    public string SiloOutput => _silo?.Output ?? "";

    public async ValueTask InitializeAsync()
    {
        Directory.CreateDirectory(DataDirectory);
        var siloPort = ExternalProcess.FreeTcpPort().ToString(CultureInfo.InvariantCulture);
        _silo = ExternalProcess.StartDotnet("silo", Repository.BuiltDll("OrleansStream.Silo", "OrleansStream.Silo"), [], new Dictionary<string, string?>
        {
            ["Orleans__Endpoints__SiloPort"] = siloPort,
            ["Orleans__Endpoints__GatewayPort"] = GatewayPort.ToString(CultureInfo.InvariantCulture),
            // The README's multi-process set-up names the primary silo alone; a lone PrimarySiloEndPoint once stopped the host.
            ["Orleans__Clustering__PrimarySiloEndPoint"] = $"127.0.0.1:{siloPort}",
            ["OrleansStream__DataDirectory"] = DataDirectory,
            ["OrleansStream__HealthPort"] = ExternalProcess.FreeTcpPort().ToString(CultureInfo.InvariantCulture),
            ["OrleansStream__HealthAddress"] = "127.0.0.1",
            ["OrleansStream__BrokerId"] = "e2e-broker",
            ["OrleansStream__Listeners"] = $"PLAINTEXT://127.0.0.1:{KafkaPort}",
            // Groups form at once instead of waiting 3 s for more members (the CLI group test starts its consumers together).
            ["OrleansStream__Groups__GroupInitialRebalanceDelayMs"] = "0",
            ["Logging__LogLevel__Default"] = "Warning",
            ["Logging__LogLevel__Microsoft.Hosting.Lifetime"] = "Information",
            ["ASPNETCORE_ENVIRONMENT"] = "Production",
            ["DOTNET_ENVIRONMENT"] = "Production",
        }, DataDirectory);
        // The host logs "Application started" once every hosted service, the silo included, has started.
        await _silo.WaitForOutputAsync("Application started", StartTimeout);
    }

    /// <summary>Runs the CLI against this silo (the gateway option is added) and waits for it to exit.</summary>
    public Task<ProcessResult> RunCliAsync(params string[] args) => RunCliWithInputAsync(null, args);

    public Task<ProcessResult> RunCliWithInputAsync(string? stdin, params string[] args) =>
        RunCliRawAsync(stdin, [.. args, "--gateway", Gateway]);

    /// <summary>Runs the CLI with exactly <paramref name="args"/>.</summary>
    public async Task<ProcessResult> RunCliRawAsync(string? stdin, string[] args, IReadOnlyDictionary<string, string>? environment = null)
    {
        await using var cli = StartCliRaw("orleansstream " + string.Join(' ', args), args, stdin, environment);
        return await cli.WaitForExitAsync(CliTimeout);
    }

    /// <summary>A CLI that keeps running (a console consumer) until the test stops it; the gateway option is added.</summary>
    public ExternalProcess StartCli(string name, params string[] args) => StartCliRaw(name, [.. args, "--gateway", Gateway], null, null);

    private ExternalProcess StartCliRaw(string name, string[] args, string? stdin, IReadOnlyDictionary<string, string>? environment)
    {
        var env = new Dictionary<string, string?>
        {
            ["ORLEANSSTREAM_GATEWAY"] = null,
            // A CLI started while the machine is busy may take longer than 15 s to join; the tests bound their own waits.
            ["ORLEANSSTREAM_CONNECT_TIMEOUT_MS"] = "60000",
        };
        if (environment is not null)
            foreach (var (k, v) in environment) env[k] = v;
        return ExternalProcess.StartDotnet(name, CliDll, args, env, DataDirectory, stdin);
    }

    public async ValueTask DisposeAsync()
    {
        if (_silo is not null) await _silo.DisposeAsync();
        try
        {
            Directory.Delete(DataDirectory, recursive: true);
        }
        catch (IOException)
        {
            // A file still held by a dying process: the temp directory is cleaned by the OS later.
        }
    }
}
