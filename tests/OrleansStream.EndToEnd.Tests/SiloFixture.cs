using System.Diagnostics;
using System.Text;

namespace OrleansStream.EndToEnd.Tests;

/// <summary>
/// One real broker process (the built OrleansStream.Silo) on free ports with a temporary data directory, shared by the
/// tests of this assembly, and a way to run the built CLI against it.
/// </summary>
public sealed class SiloFixture : IAsyncLifetime
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(90);
    private static readonly TimeSpan CliTimeout = TimeSpan.FromSeconds(60);
    private readonly StringBuilder _siloOutput = new();
    private readonly TaskCompletionSource _started = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Process? _silo;

    public string DataDirectory { get; } = Path.Combine(Path.GetTempPath(), "os-e2e-" + Guid.NewGuid().ToString("N")[..8]);

    public int GatewayPort { get; } = Processes.FreePort();

    public string Gateway => $"127.0.0.1:{GatewayPort}";

    public string CliDll { get; } = Processes.BuiltDll("OrleansStream.Cli", "orleansstream");

    public async ValueTask InitializeAsync()
    {
        Directory.CreateDirectory(DataDirectory);
        var silo = Processes.Dotnet(Processes.BuiltDll("OrleansStream.Silo", "OrleansStream.Silo"), [], DataDirectory);
        int siloPort = Processes.FreePort();
        silo.Environment["Orleans__Endpoints__SiloPort"] = siloPort.ToString();
        silo.Environment["Orleans__Endpoints__GatewayPort"] = GatewayPort.ToString();
        // The README's multi-process set-up names the primary silo alone; a lone PrimarySiloEndPoint once stopped the host.
        silo.Environment["Orleans__Clustering__PrimarySiloEndPoint"] = $"127.0.0.1:{siloPort}";
        silo.Environment["OrleansStream__DataDirectory"] = DataDirectory;
        silo.Environment["OrleansStream__HealthPort"] = Processes.FreePort().ToString();
        silo.Environment["OrleansStream__HealthAddress"] = "127.0.0.1";
        silo.Environment["OrleansStream__BrokerId"] = "e2e-broker";
        // Groups form at once instead of waiting 3 s for more members (the CLI group test starts its consumers together).
        silo.Environment["OrleansStream__Groups__GroupInitialRebalanceDelayMs"] = "0";
        silo.Environment["Logging__LogLevel__Default"] = "Warning";
        silo.Environment["Logging__LogLevel__Microsoft.Hosting.Lifetime"] = "Information";
        silo.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        silo.Environment["DOTNET_ENVIRONMENT"] = "Production";

        _silo = new Process { StartInfo = silo, EnableRaisingEvents = true };
        _silo.OutputDataReceived += (_, e) => OnSiloLine(e.Data);
        _silo.ErrorDataReceived += (_, e) => OnSiloLine(e.Data);
        _silo.Exited += (_, _) => _started.TrySetException(new InvalidOperationException($"The silo exited with {_silo.ExitCode} before it started:\n{SiloOutput}"));
        _silo.Start();
        _silo.BeginOutputReadLine();
        _silo.BeginErrorReadLine();
        _silo.StandardInput.Close();
        try
        {
            // The host logs "Application started" once every hosted service, the silo included, has started.
            await _started.Task.WaitAsync(StartTimeout);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"The silo did not start within {StartTimeout}:\n{SiloOutput}");
        }
    }

    public string SiloOutput
    {
        get
        {
            lock (_siloOutput)
                return _siloOutput.ToString();
        }
    }

    private void OnSiloLine(string? line)
    {
        if (line is null)
            return;
        lock (_siloOutput)
            _siloOutput.AppendLine(line);
        if (line.Contains("Application started", StringComparison.Ordinal))
            _started.TrySetResult();
    }

    /// <summary>Runs the CLI against this silo (the gateway option is added) and waits for it to exit.</summary>
    public Task<CliResult> RunCliAsync(params string[] args) => RunCliWithInputAsync(null, args);

    public Task<CliResult> RunCliWithInputAsync(string? stdin, params string[] args) =>
        RunCliRawAsync(stdin, [.. args, "--gateway", Gateway]);

    /// <summary>Runs the CLI with exactly <paramref name="args"/>.</summary>
    public async Task<CliResult> RunCliRawAsync(string? stdin, string[] args, IReadOnlyDictionary<string, string>? environment = null)
    {
        var info = Processes.Dotnet(CliDll, args, DataDirectory);
        info.Environment.Remove("ORLEANSSTREAM_GATEWAY");
        if (environment is not null)
            foreach (var (k, v) in environment)
                info.Environment[k] = v;
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (stdin is not null)
            await process.StandardInput.WriteAsync(stdin);
        process.StandardInput.Close();
        using var deadline = new CancellationTokenSource(CliTimeout);
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"orleansstream {string.Join(' ', args)} did not exit within {CliTimeout}; stderr so far: {await stderr}");
        }
        return new CliResult(process.ExitCode, await stdout, await stderr);
    }

    public async ValueTask DisposeAsync()
    {
        if (_silo is { HasExited: false })
        {
            _silo.Kill(entireProcessTree: true);
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await _silo.WaitForExitAsync(deadline.Token);
        }
        _silo?.Dispose();
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
