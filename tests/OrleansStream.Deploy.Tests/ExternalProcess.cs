using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;

namespace OrleansStream.Deploy.Tests;

/// <summary>
/// A child process the tests start (a silo, redis-server, Azurite): its output is kept for diagnostics, and callers
/// wait for a line to appear (an event, not a timer) with a deadline.
/// </summary>
internal sealed partial class ExternalProcess : IAsyncDisposable
{
    private const int SigTerm = 15;

    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly List<(string Fragment, TaskCompletionSource Seen)> _waiters = [];
    private readonly TaskCompletionSource<int> _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private ExternalProcess(string name, Process process)
    {
        Name = name;
        _process = process;
    }

    public string Name { get; }

    public int Id => _process.Id;

    public string Output
    {
        get { lock (_output) return _output.ToString(); }
    }

    public bool HasExited => _process.HasExited;

    public static ExternalProcess Start(string name, string fileName, IEnumerable<string> arguments, IReadOnlyDictionary<string, string?>? environment = null, string? workingDirectory = null)
    {
        var startInfo = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = false,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Path.GetTempPath(),
        };
        foreach (var argument in arguments) startInfo.ArgumentList.Add(argument);
        if (environment is not null)
        {
            foreach (var (key, value) in environment)
            {
                if (value is null) startInfo.Environment.Remove(key);
                else startInfo.Environment[key] = value;
            }
        }

        var process = new Process { StartInfo = startInfo, EnableRaisingEvents = true };
        var external = new ExternalProcess(name, process);
        process.OutputDataReceived += (_, e) => external.OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => external.OnLine(e.Data);
        process.Exited += (_, _) => external.OnExited();
        if (!process.Start()) throw new InvalidOperationException($"{name}: {fileName} did not start.");
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return external;
    }

    /// <summary>Waits until a line containing <paramref name="fragment"/> has been printed; fails if the process exits first.</summary>
    public async Task WaitForOutputAsync(string fragment, TimeSpan timeout)
    {
        TaskCompletionSource seen;
        lock (_output)
        {
            if (_output.ToString().Contains(fragment, StringComparison.Ordinal)) return;
            seen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters.Add((fragment, seen));
        }

        using var cts = new CancellationTokenSource(timeout);
        var finished = await Task.WhenAny(seen.Task, _exited.Task, Task.Delay(Timeout.Infinite, cts.Token)).ConfigureAwait(false);
        if (finished == seen.Task) return;
        if (finished == _exited.Task)
        {
            lock (_output) if (_output.ToString().Contains(fragment, StringComparison.Ordinal)) return;
            throw new InvalidOperationException($"{Name} exited with code {_exited.Task.Result} before printing '{fragment}'.\n{Output}");
        }

        throw new TimeoutException($"{Name} did not print '{fragment}' within {timeout}.\n{Output}");
    }

    /// <summary>SIGTERM, as Container Apps stops a replica, then waits for the exit code.</summary>
    public async Task<int> StopAsync(TimeSpan timeout)
    {
        if (!_process.HasExited && SendSignal(_process.Id, SigTerm) != 0)
            throw new InvalidOperationException($"{Name}: kill(SIGTERM) failed with errno {Marshal.GetLastPInvokeError()}.");
        return await WaitForExitAsync(timeout).ConfigureAwait(false);
    }

    /// <summary>SIGKILL (kill -9): no shutdown code runs.</summary>
    public async Task KillAsync(TimeSpan timeout)
    {
        if (!_process.HasExited) _process.Kill(entireProcessTree: false);
        await WaitForExitAsync(timeout).ConfigureAwait(false);
    }

    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"{Name} did not exit within {timeout}.\n{Output}");
        }

        _process.WaitForExit();
        return _process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync().ConfigureAwait(false);
            }
        }
        catch (InvalidOperationException)
        {
            // Never started or already reaped.
        }

        _process.Dispose();
    }

    public static int FreeTcpPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private void OnLine(string? line)
    {
        if (line is null) return;
        List<TaskCompletionSource>? release = null;
        lock (_output)
        {
            _output.AppendLine(line);
            for (var i = _waiters.Count - 1; i >= 0; i--)
            {
                if (line.Contains(_waiters[i].Fragment, StringComparison.Ordinal))
                {
                    (release ??= []).Add(_waiters[i].Seen);
                    _waiters.RemoveAt(i);
                }
            }
        }

        if (release is not null) foreach (var seen in release) seen.TrySetResult();
    }

    private void OnExited()
    {
        try
        {
            _exited.TrySetResult(_process.ExitCode);
        }
        catch (InvalidOperationException)
        {
            _exited.TrySetResult(-1);
        }
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int SendSignal(int pid, int signal);
}
