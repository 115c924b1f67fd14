namespace OrleansStream.Deploy.Tests;

/// <summary>azure.yaml against azd's published schema (the same node script CI runs in .ci/steps/deploy.sh).</summary>
public sealed class AzureYamlTests
{
    [Fact]
    public async Task AzureYaml_IsValidAgainstAzdSchema()
    {
        var script = TestEnvironment.InRepository("tests", "validate-azure-yaml.js");
        var modules = TestEnvironment.InRepository("tests", "node_modules", "ajv");
        if (!Directory.Exists(modules))
        {
            Unavailable($"{modules} is missing: run `npm ci` in tests/ (.ci/run does).");
        }

        var result = await TestEnvironment.RunAsync("node", [script, TestEnvironment.InRepository("azure.yaml")]);
        if (result.ExitCode == 3)
        {
            Unavailable(result.Output.Trim());
        }

        Assert.True(result.ExitCode == 0, result.Output);
        Assert.StartsWith("OK:", result.StandardOutput.Trim(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task AzureYaml_NamesTheSiloProjectAndItsDockerfile()
    {
        var text = await File.ReadAllTextAsync(TestEnvironment.InRepository("azure.yaml"), TestContext.Current.CancellationToken);

        Assert.Contains("project: src/OrleansStream.Silo", text, StringComparison.Ordinal);
        Assert.Contains("host: containerapp", text, StringComparison.Ordinal);
        Assert.Contains("language: dotnet", text, StringComparison.Ordinal);
        Assert.True(File.Exists(TestEnvironment.InRepository("src", "OrleansStream.Silo", "OrleansStream.Silo.csproj")));
        Assert.True(File.Exists(TestEnvironment.InRepository("src", "OrleansStream.Silo", "Dockerfile")));
    }

    // A missing schema or node module fails the test, in CI and elsewhere: nothing is silently left unvalidated.
    private static void Unavailable(string reason) => Assert.Fail(reason);
}
