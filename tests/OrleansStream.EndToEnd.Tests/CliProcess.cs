using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;

namespace OrleansStream.EndToEnd.Tests;

/// <summary>A CLI process that keeps running (a console consumer) until the test signals it.</summary>
internal sealed partial class CliProcess : IAsyncDisposable
{
    private const int SigTerm = 15;
    private const int SigCont = 18;
    private const int SigStop = 19;

    private readonly Process _process;
    private readonly StringBuilder _stdout = new();
    private readonly StringBuilder _stderr = new();

    private CliProcess(string name, Process process)
    {
        Name = name;
        _process = process;
    }

    public string Name { get; }

    public static CliProcess Start(string name, SiloFixture silo, params string[] args)
    {
        var info = Processes.Dotnet(silo.CliDll, [.. args, "--gateway", silo.Gateway], silo.DataDirectory);
        info.Environment.Remove("ORLEANSSTREAM_GATEWAY");
        var process = new Process { StartInfo = info };
        var cli = new CliProcess(name, process);
        process.OutputDataReceived += (_, e) => cli.Append(cli._stdout, e.Data);
        process.ErrorDataReceived += (_, e) => cli.Append(cli._stderr, e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        process.StandardInput.Close();
        return cli;
    }

    private void Append(StringBuilder to, string? line)
    {
        if (line is null) return;
        lock (to) to.AppendLine(line);
    }

    public bool HasExited => _process.HasExited;

    /// <summary>SIGSTOP: the process freezes (no fetch, no commit, no heartbeat) until <see cref="Resume"/>.</summary>
    public void Pause() => Signal(SigStop);

    public void Resume() => Signal(SigCont);

    /// <summary>SIGTERM, as Ctrl-C ends a console consumer, then the outcome once it exited.</summary>
    public async Task<CliResult> StopAsync(TimeSpan timeout)
    {
        if (!_process.HasExited) Signal(SigTerm);
        using var deadline = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"{Name} did not exit within {timeout} of SIGTERM.\n{Output}");
        }
        return new CliResult(_process.ExitCode, Read(_stdout), Read(_stderr));
    }

    public string Output => $"{Name} stdout:\n{Read(_stdout)}\n{Name} stderr:\n{Read(_stderr)}";

    private static string Read(StringBuilder from)
    {
        lock (from) return from.ToString();
    }

    private void Signal(int signal)
    {
        if (!_process.HasExited && SendSignal(_process.Id, signal) != 0)
            throw new InvalidOperationException($"{Name}: kill({signal}) failed with errno {Marshal.GetLastPInvokeError()}.");
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            Signal(SigCont);
            _process.Kill(entireProcessTree: true);
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await _process.WaitForExitAsync(deadline.Token);
        }
        _process.Dispose();
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int SendSignal(int pid, int signal);
}
