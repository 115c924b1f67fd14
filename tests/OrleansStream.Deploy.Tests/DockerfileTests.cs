using System.Text.RegularExpressions;

namespace OrleansStream.Deploy.Tests;

/// <summary>
/// No Docker engine runs here, so the image is checked by its parts: the Dockerfile's shape, the publish output its
/// final stage copies, and the entrypoint it runs.
/// </summary>
public sealed partial class DockerfileTests
{
    private static readonly string DockerfilePath = TestEnvironment.InRepository("src", "OrleansStream.Silo", "Dockerfile");

    [Fact]
    public async Task Dockerfile_IsMultiStageOnMcrDotNet10_NonRoot_WithSiloGatewayAndHealthPorts()
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
        Assert.Equal(["11111", "30000", "8080"], expose["EXPOSE ".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries));

        Assert.Equal("ENTRYPOINT [\"dotnet\", \"OrleansStream.Silo.dll\"]", lines[^1]);
        Assert.Contains("COPY --from=build /app/publish .", lines);
    }

    [Fact]
    public async Task DockerIgnore_KeepsBuildOutputAndSecretsOutOfTheContext()
    {
        var ignored = await File.ReadAllLinesAsync(TestEnvironment.InRepository(".dockerignore"), TestContext.Current.CancellationToken);

        foreach (var pattern in new[] { "**/bin/", "**/obj/", "**/node_modules/", ".git/", ".azure/" })
        {
            Assert.Contains(pattern, ignored);
        }
    }

    [Fact]
    public async Task Publish_ProducesTheEntrypointTheImageRuns()
    {
        var publish = await PublishAsync();
        try
        {
            var entry = Path.Combine(publish, "OrleansStream.Silo.dll");
            Assert.True(File.Exists(entry), $"{entry} is missing from the publish output.");
            Assert.True(File.Exists(Path.Combine(publish, "OrleansStream.Silo.runtimeconfig.json")));
            Assert.True(File.Exists(Path.Combine(publish, "OrleansStream.Server.dll")));
            Assert.True(File.Exists(Path.Combine(publish, "Orleans.Clustering.Redis.dll")));
        }
        finally
        {
            Directory.Delete(publish, recursive: true);
        }
    }

    [Fact]
    public async Task ContainerPublish_IsConfiguredLikeTheDockerfile()
    {
        var result = await TestEnvironment.RunAsync("dotnet",
        [
            "msbuild", TestEnvironment.InRepository("src", "OrleansStream.Silo", "OrleansStream.Silo.csproj"),
            "-getProperty:ContainerRepository", "-getProperty:ContainerUser", "-getProperty:EnableSdkContainerSupport",
            "-getProperty:ContainerBaseImage", "-getItem:ContainerPort",
        ]);

        Assert.True(result.ExitCode == 0, result.Output);
        var output = result.StandardOutput;
        Assert.Contains("\"ContainerRepository\": \"orleansstream-silo\"", output, StringComparison.Ordinal);
        Assert.Contains("\"ContainerUser\": \"app\"", output, StringComparison.Ordinal);
        Assert.Contains("\"EnableSdkContainerSupport\": \"true\"", output, StringComparison.Ordinal);
        Assert.Contains("mcr.microsoft.com/dotnet/aspnet:10.0", output, StringComparison.Ordinal);
        foreach (var port in new[] { "11111", "30000", "8080" })
        {
            Assert.Contains($"\"Identity\": \"{port}\"", output, StringComparison.Ordinal);
        }
    }

    /// <summary>
    /// Publishes the silo as the Dockerfile's build stage does, reusing this test run's build (the Dockerfile builds
    /// Release from scratch; only the configuration differs).
    /// </summary>
    internal static async Task<string> PublishAsync()
    {
        var output = Path.Combine(Path.GetTempPath(), "os-deploy-publish-" + Guid.NewGuid().ToString("N"));
        var result = await TestEnvironment.RunAsync("dotnet",
        [
            "publish", TestEnvironment.InRepository("src", "OrleansStream.Silo", "OrleansStream.Silo.csproj"),
            "--no-build", "-c", TestEnvironment.BuildConfiguration, "-o", output, "-p:UseAppHost=false", "-nologo",
        ]);
        Assert.True(result.ExitCode == 0, result.Output);
        return output;
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
