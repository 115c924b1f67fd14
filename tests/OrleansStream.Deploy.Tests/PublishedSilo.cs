namespace OrleansStream.Deploy.Tests;

/// <summary>
/// The silo published once per test run as the Dockerfile's build stage does (reusing this run's build instead of a
/// Release build from scratch), started the way the image's ENTRYPOINT starts it: <c>dotnet OrleansStream.Silo.dll</c>.
/// </summary>
internal static class PublishedSilo
{
    private static readonly Lazy<Task<string>> Published = new(PublishAsync);

    public static Task<string> DirectoryAsync() => Published.Value;

    public static async Task<ExternalProcess> StartAsync(string name, IReadOnlyDictionary<string, string?> environment)
    {
        var directory = await DirectoryAsync();
        var env = new Dictionary<string, string?>(environment)
        {
            ["ASPNETCORE_ENVIRONMENT"] = "Production",
            ["Logging__Console__FormatterName"] = "simple",
            ["Logging__LogLevel__Default"] = "Warning",
            ["Logging__LogLevel__Microsoft.Hosting.Lifetime"] = "Information",
            ["Logging__LogLevel__OrleansStream"] = "Information",
            // The console logger must not wait on a terminal.
            ["TERM"] = "dumb",
        };
        // The embedded default Kafka listener (127.0.0.1:9092) would collide between silos started side by side.
        env.TryAdd("OrleansStream__Listeners", $"PLAINTEXT://127.0.0.1:{ExternalProcess.FreeTcpPort()}");
        return ExternalProcess.StartDotnet(name, Path.Combine(directory, "OrleansStream.Silo.dll"), [], env, directory);
    }

    private static async Task<string> PublishAsync()
    {
        var output = Path.Combine(Path.GetTempPath(), "os-deploy-silo-" + Guid.NewGuid().ToString("N"));
        var result = await ExternalProcess.RunAsync("dotnet",
        [
            "publish", Repository.Path("src", "OrleansStream.Silo", "OrleansStream.Silo.csproj"),
            "--no-build", "-c", Repository.Configuration, "-o", output, "-p:UseAppHost=false", "-nologo",
        ]);
        if (result.ExitCode != 0) throw new InvalidOperationException($"dotnet publish of the silo failed:\n{result.Output}");
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try { Directory.Delete(output, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        };
        return output;
    }
}
