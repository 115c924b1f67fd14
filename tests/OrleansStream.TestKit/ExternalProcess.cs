using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;

namespace OrleansStream.TestKit;

/// <summary>
/// A child process the tests start (a silo, the CLI, Azurite): its output is kept for assertions and diagnostics,
/// callers wait for a line to appear (an event, not a timer) or for the exit, each with a deadline, and signal it as
/// an operator or the platform would (SIGTERM, SIGKILL, SIGSTOP/SIGCONT). Disposing kills whatever is still running.
/// </summary>
public sealed partial class ExternalProcess : IAsyncDisposable
{
    private const int SigTerm = 15;
    private const int SigCont = 18;
    private const int SigStop = 19;

    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly StringBuilder _stdout = new();
    private readonly StringBuilder _stderr = new();
    private readonly List<(string Fragment, TaskCompletionSource Seen)> _waiters = [];
    private readonly TaskCompletionSource<int> _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private ExternalProcess(string name, Process process)
    {
        Name = name;
        _process = process;
    }

    public string Name { get; }

    public int Id => _process.Id;

    /// <summary>Standard output and error, interleaved as the lines arrived.</summary>
    public string Output
    {
        get { lock (_output) return _output.ToString(); }
    }

    public bool HasExited => _process.HasExited;

    /// <summary>Standard input, for a process started with <c>keepInput</c>.</summary>
    public StreamWriter Input => _process.StandardInput;

    /// <summary>
    /// Starts <paramref name="fileName"/>; a null value in <paramref name="environment"/> removes that variable. Standard
    /// input receives <paramref name="stdin"/> (when given) and is then closed, so nothing waits on the test's terminal,
    /// unless <paramref name="keepInput"/>: then the test writes it through <see cref="Input"/> and closes it.
    /// </summary>
    public static ExternalProcess Start(string name, string fileName, IEnumerable<string> arguments,
        IReadOnlyDictionary<string, string?>? environment = null, string? workingDirectory = null, string? stdin = null, bool keepInput = false)
    {
        var startInfo = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Path.GetTempPath(),
            StandardOutputEncoding = new UTF8Encoding(false),
            StandardErrorEncoding = new UTF8Encoding(false),
            StandardInputEncoding = new UTF8Encoding(false),
        };
        foreach (var argument in arguments) startInfo.ArgumentList.Add(argument);
        if (environment is not null)
            foreach (var (key, value) in environment)
            {
                if (value is null) startInfo.Environment.Remove(key);
                else startInfo.Environment[key] = value;
            }

        var process = new Process { StartInfo = startInfo, EnableRaisingEvents = true };
        var external = new ExternalProcess(name, process);
        process.OutputDataReceived += (_, e) => external.OnLine(e.Data, external._stdout);
        process.ErrorDataReceived += (_, e) => external.OnLine(e.Data, external._stderr);
        process.Exited += (_, _) => external.OnExited();
        if (!process.Start()) throw new InvalidOperationException($"{name}: {fileName} did not start.");
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (stdin is not null) process.StandardInput.Write(stdin);
        if (!keepInput) process.StandardInput.Close();
        return external;
    }

    /// <summary>Starts a built .NET program (<c>dotnet app.dll</c>) without the SDK's first-run and telemetry output.</summary>
    public static ExternalProcess StartDotnet(string name, string dll, IEnumerable<string> arguments,
        IReadOnlyDictionary<string, string?>? environment = null, string? workingDirectory = null, string? stdin = null, bool keepInput = false)
    {
        var env = new Dictionary<string, string?> { ["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1", ["DOTNET_NOLOGO"] = "1" };
        if (environment is not null)
            foreach (var (key, value) in environment) env[key] = value;
        return Start(name, "dotnet", [dll, .. arguments], env, workingDirectory, stdin, keepInput);
    }

    /// <summary>Runs a program to its end in the checkout's root (so dotnet finds global.json) unless told otherwise; killed after <paramref name="timeout"/> (default 3 minutes).</summary>
    public static async Task<ProcessResult> RunAsync(string fileName, IEnumerable<string> arguments, string? workingDirectory = null,
        IReadOnlyDictionary<string, string?>? environment = null, string? stdin = null, TimeSpan? timeout = null)
    {
        await using var process = Start(Path.GetFileName(fileName), fileName, arguments, environment, workingDirectory ?? Repository.Root, stdin);
        return await process.WaitForExitAsync(timeout ?? TimeSpan.FromMinutes(3));
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

        try
        {
            var finished = await Task.WhenAny(seen.Task, _exited.Task).WaitAsync(timeout);
            if (finished == seen.Task) return;
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"{Name} did not print '{fragment}' within {timeout}.\n{Output}");
        }

        lock (_output) if (_output.ToString().Contains(fragment, StringComparison.Ordinal)) return;
        throw new InvalidOperationException($"{Name} exited with code {_exited.Task.Result} before printing '{fragment}'.\n{Output}");
    }

    /// <summary>SIGTERM, as Container Apps stops a replica or Ctrl-C ends a console program, then the outcome once it exited.</summary>
    public Task<ProcessResult> StopAsync(TimeSpan timeout)
    {
        Resume();
        Signal(SigTerm);
        return WaitForExitAsync(timeout);
    }

    /// <summary>SIGKILL (kill -9), the whole process tree: no shutdown code runs, as in a crash or an OOM kill.</summary>
    public async Task KillAsync(TimeSpan timeout)
    {
        if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        await WaitForExitAsync(timeout);
    }

    /// <summary>SIGSTOP: the process stops answering anything, its sockets stay open, until <see cref="Resume"/> or a kill.</summary>
    public void Freeze() => Signal(SigStop);

    /// <summary>SIGCONT after <see cref="Freeze"/>.</summary>
    public void Resume() => Signal(SigCont);

    public async Task<ProcessResult> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"{Name} did not exit within {timeout}.\n{Output}");
        }

        // The parameterless wait drains the redirected streams.
        _process.WaitForExit();
        lock (_output) return new ProcessResult(_process.ExitCode, _stdout.ToString(), _stderr.ToString());
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
                await _process.WaitForExitAsync(cts.Token);
            }
        }
        catch (InvalidOperationException)
        {
            // Never started or already reaped.
        }

        _process.Dispose();
    }

    /// <summary>A port no process listens on, reserved from other test processes while this one lives (<see cref="TestPorts"/>).</summary>
    public static int FreeTcpPort() => TestPorts.Reserve();

    private void Signal(int signal)
    {
        if (!_process.HasExited && SendSignal(_process.Id, signal) != 0 && !_process.HasExited)
            throw new InvalidOperationException($"{Name}: kill({signal}) failed with errno {Marshal.GetLastPInvokeError()}.");
    }

    // OS_PROCESS_LOG_DIR=path keeps every child's output in path/<name>.log, each run of a name appended after the last:
    // the output held in memory is one run's, so a stall in the middle of a soak that kills and restarts silos would
    // otherwise leave no log of the killed runs.
    private static readonly string? s_logDirectory = Environment.GetEnvironmentVariable("OS_PROCESS_LOG_DIR") is { Length: > 0 } d ? d : null;

    /// <summary>The folder of <c>OS_PROCESS_LOG_DIR</c>, or null when the processes' output is not kept.</summary>
    internal static string? LogDirectory => s_logDirectory;

    private void OnLine(string? line, StringBuilder stream)
    {
        if (line is null) return;
        List<TaskCompletionSource>? release = null;
        lock (_output)
        {
            if (s_logDirectory is { } directory)
                lock (s_logDirectory) // the runs of one name write one file: the killed run's last lines may still arrive
                {
                    Directory.CreateDirectory(directory);
                    File.AppendAllText(Path.Combine(directory, Name + ".log"), line + Environment.NewLine);
                }
            _output.AppendLine(line);
            stream.AppendLine(line);
            for (var i = _waiters.Count - 1; i >= 0; i--)
            {
                if (!line.Contains(_waiters[i].Fragment, StringComparison.Ordinal)) continue;
                (release ??= []).Add(_waiters[i].Seen);
                _waiters.RemoveAt(i);
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

/// <summary>The outcome of a process that ran to its end.</summary>
public sealed record ProcessResult(int ExitCode, string Stdout, string Stderr)
{
    public string Output => Stdout + Stderr;

    public string[] StdoutLines => Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    public string[] StderrLines => Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    public override string ToString() => $"exit {ExitCode}\nstdout:\n{Stdout}\nstderr:\n{Stderr}";
}
