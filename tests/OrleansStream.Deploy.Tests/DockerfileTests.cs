using System.Text.RegularExpressions;

namespace OrleansStream.Deploy.Tests;

/// <summary>
/// No Docker engine runs here, so the image is checked by its parts: the Dockerfile's shape, the publish output its
/// final stage copies, and the entrypoint it runs.
/// </summary>
[Trait("Category", "Slow")]
public sealed partial class DockerfileTests
{
    private static readonly string DockerfilePath = Repository.Path("src", "OrleansStream.Silo", "Dockerfile");

    [Fact]
    public async Task Dockerfile_IsMultiStageOnMcrDotNet10_NonRoot_WithSiloGatewayHealthAndKafkaPorts()
    {
        var lines = await Instructions();

        var from = lines.Where(l => l.StartsWith("FROM ", StringComparison.Ordinal)).ToList();
        Assert.Equal(2, from.Count);
        Assert.StartsWith("FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build", from[0], StringComparison.Ordinal);
        Assert.StartsWith("FROM mcr.microsoft.com/dotnet/aspnet:10.0", from[1], StringComparison.Ordinal);

        var user = Assert.Single(lines, l => l.StartsWith("USER ", StringComparison.Ordinal));
        Assert.DoesNotContain("root", user, StringComparison.Ordinal);
        Assert.NotEqual("USER 0", user);

        var expose = Assert.Single(lines, l => l.StartsWith("EXPOSE ", StringComparison.Ordinal));
        Assert.Equal(["11111", "30000", "8080", "9092"], expose["EXPOSE ".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries));

        Assert.Equal("ENTRYPOINT [\"dotnet\", \"OrleansStream.Silo.dll\"]", lines[^1]);
        Assert.Contains("COPY --from=build /app/publish .", lines);
    }

    [Fact]
    public async Task DockerIgnore_KeepsBuildOutputAndSecretsOutOfTheContext()
    {
        var ignored = await File.ReadAllLinesAsync(Repository.Path(".dockerignore"), TestContext.Current.CancellationToken);

        foreach (var pattern in new[] { "**/bin/", "**/obj/", "**/node_modules/", ".git/", ".azure/" })
        {
            Assert.Contains(pattern, ignored);
        }
    }

    [Fact]
    public async Task Publish_ProducesTheEntrypointTheImageRuns()
    {
        var publish = await PublishedSilo.DirectoryAsync();

        Assert.True(File.Exists(Path.Combine(publish, "OrleansStream.Silo.dll")), $"OrleansStream.Silo.dll is missing from {publish}.");
        Assert.True(File.Exists(Path.Combine(publish, "OrleansStream.Silo.runtimeconfig.json")));
        Assert.True(File.Exists(Path.Combine(publish, "OrleansStream.Server.dll")));
        // Membership and grain state providers the deployment selects from configuration, and Redis, the documented option.
        foreach (var provider in new[] { "Orleans.Clustering.AzureStorage.dll", "Orleans.Persistence.AzureStorage.dll", "Orleans.Clustering.Redis.dll" })
            Assert.True(File.Exists(Path.Combine(publish, provider)), $"{provider} is missing from {publish}.");
    }

    [Fact]
    public async Task Entrypoint_StartsAnswersHealthAndShutsDownOnSigterm()
    {
        var data = Directory.CreateTempSubdirectory("os-deploy-entry-");
        var health = ExternalProcess.FreeTcpPort();
        await using var silo = await PublishedSilo.StartAsync("silo", new Dictionary<string, string?>
        {
            ["Orleans__ClusterId"] = "entrypoint-" + Guid.NewGuid().ToString("N"),
            ["Orleans__Endpoints__SiloPort"] = ExternalProcess.FreeTcpPort().ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Orleans__Endpoints__GatewayPort"] = ExternalProcess.FreeTcpPort().ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["OrleansStream__DataDirectory"] = data.FullName,
            ["OrleansStream__HealthPort"] = health.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["OrleansStream__HealthAddress"] = "127.0.0.1",
        });
        try
        {
            await silo.WaitForOutputAsync("Application started", TimeSpan.FromSeconds(60));
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{health}") };

            using var live = await http.GetAsync("/healthz", TestContext.Current.CancellationToken);
            using var ready = await http.GetAsync("/ready", TestContext.Current.CancellationToken);

            Assert.Equal(System.Net.HttpStatusCode.OK, live.StatusCode);
            Assert.Equal(System.Net.HttpStatusCode.OK, ready.StatusCode);
            Assert.Equal(0, (await silo.StopAsync(TimeSpan.FromSeconds(60))).ExitCode);
        }
        finally
        {
            await silo.DisposeAsync();
            data.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task Entrypoint_ExitsWith2OnABadTopicDefault()
    {
        var data = Directory.CreateTempSubdirectory("os-deploy-bad-");
        await using var silo = await PublishedSilo.StartAsync("bad-defaults", new Dictionary<string, string?>
        {
            ["Orleans__ClusterId"] = "bad-defaults-" + Guid.NewGuid().ToString("N"),
            ["Orleans__Endpoints__SiloPort"] = ExternalProcess.FreeTcpPort().ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Orleans__Endpoints__GatewayPort"] = ExternalProcess.FreeTcpPort().ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["OrleansStream__DataDirectory"] = data.FullName,
            ["OrleansStream__HealthPort"] = ExternalProcess.FreeTcpPort().ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["OrleansStream__HealthAddress"] = "127.0.0.1",
            ["OrleansStream__TopicDefaults__log_segment_bytes"] = "10",
        });
        try
        {
            Assert.Equal(2, (await silo.WaitForExitAsync(TimeSpan.FromSeconds(60))).ExitCode);
            Assert.Contains("orleansstream-silo: invalid configuration: OrleansStream:TopicDefaults:log_segment_bytes '10' is invalid", silo.Output, StringComparison.Ordinal);
        }
        finally
        {
            data.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task ContainerPublish_IsConfiguredLikeTheDockerfile()
    {
        var result = await ExternalProcess.RunAsync("dotnet",
        [
            "msbuild", Repository.Path("src", "OrleansStream.Silo", "OrleansStream.Silo.csproj"),
            "-getProperty:ContainerRepository", "-getProperty:ContainerUser", "-getProperty:EnableSdkContainerSupport",
            "-getProperty:ContainerBaseImage", "-getItem:ContainerPort",
        ]);

        Assert.True(result.ExitCode == 0, result.Output);
        var output = result.Stdout;
        Assert.Contains("\"ContainerRepository\": \"orleansstream-silo\"", output, StringComparison.Ordinal);
        Assert.Contains("\"ContainerUser\": \"app\"", output, StringComparison.Ordinal);
        Assert.Contains("\"EnableSdkContainerSupport\": \"true\"", output, StringComparison.Ordinal);
        Assert.Contains("mcr.microsoft.com/dotnet/aspnet:10.0", output, StringComparison.Ordinal);
        foreach (var port in new[] { "11111", "30000", "8080" })
        {
            Assert.Contains($"\"Identity\": \"{port}\"", output, StringComparison.Ordinal);
        }
    }

    private static async Task<List<string>> Instructions()
    {
        var text = await File.ReadAllTextAsync(DockerfilePath, TestContext.Current.CancellationToken);
        text = LineContinuation().Replace(text, " ");
        return text.Split('\n')
            .Select(l => l.Trim())
            .Where(l => l.Length > 0 && !l.StartsWith('#'))
            .ToList();
    }

    [GeneratedRegex(@"\\\r?\n\s*")]
    private static partial Regex LineContinuation();
}
