using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Reflection;
using System.Text;

namespace OrleansStream.EndToEnd.Tests;

/// <summary>Finds the built executables of the solution and runs them with <c>dotnet</c>.</summary>
internal static class Processes
{
    private static readonly string Configuration =
        typeof(Processes).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug";

    public static string RepositoryRoot { get; } = FindRoot();

    /// <summary>The built <paramref name="assembly"/>.dll of src/<paramref name="project"/>, in bin/ or in the artifacts layout.</summary>
    public static string BuiltDll(string project, string assembly)
    {
        string[] candidates =
        [
            Path.Combine(RepositoryRoot, "src", project, "bin", Configuration, "net10.0", assembly + ".dll"),
            .. ArtifactsCandidates(project, assembly),
        ];
        foreach (var candidate in candidates)
            if (File.Exists(candidate))
                return candidate;
        throw new FileNotFoundException($"{assembly}.dll of {project} is not built; looked at: {string.Join(", ", candidates)}");
    }

    private static IEnumerable<string> ArtifactsCandidates(string project, string assembly)
    {
        var artifacts = Path.Combine(RepositoryRoot, ".artifacts");
        if (!Directory.Exists(artifacts))
            yield break;
        foreach (var slot in Directory.GetDirectories(artifacts))
            yield return Path.Combine(slot, "bin", project, Configuration.ToLowerInvariant(), assembly + ".dll");
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public static ProcessStartInfo Dotnet(string dll, IEnumerable<string> args, string workingDirectory)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardOutputEncoding = new UTF8Encoding(false),
            StandardErrorEncoding = new UTF8Encoding(false),
        };
        info.ArgumentList.Add(dll);
        foreach (var arg in args)
            info.ArgumentList.Add(arg);
        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        info.Environment["DOTNET_NOLOGO"] = "1";
        // A CLI started while the machine is busy may take longer than 15 s to join; the tests bound their own waits.
        info.Environment["ORLEANSSTREAM_CONNECT_TIMEOUT_MS"] = "60000";
        return info;
    }

    private static string FindRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "OrleansStream.sln")))
            dir = dir.Parent;
        return dir?.FullName ?? throw new DirectoryNotFoundException($"No OrleansStream.sln above {AppContext.BaseDirectory}.");
    }
}

/// <summary>The outcome of one CLI run.</summary>
public sealed record CliResult(int ExitCode, string Stdout, string Stderr)
{
    public string[] StdoutLines => Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    public string[] StderrLines => Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    public override string ToString() => $"exit {ExitCode}\nstdout:\n{Stdout}\nstderr:\n{Stderr}";
}
