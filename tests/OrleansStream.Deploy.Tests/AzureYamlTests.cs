namespace OrleansStream.Deploy.Tests;

/// <summary>
/// azure.yaml against azd's published schema (tests/validate-azure-yaml.js): read from ../shared beside the checkout,
/// else downloaded from azd's URL, else the test fails naming both. The node modules come from the test kit's build.
/// </summary>
public sealed class AzureYamlTests
{
    private static readonly string Script = Repository.Path("tests", "validate-azure-yaml.js");
    private static readonly string AzureYaml = Repository.Path("azure.yaml");

    [Fact]
    public async Task AzureYaml_IsValidAgainstAzdSchema()
    {
        var result = await ExternalProcess.RunAsync("node", [Script, AzureYaml]);

        Assert.True(result.ExitCode == 0, result.Output);
        Assert.StartsWith("OK:", result.Stdout.Trim(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Schema_IsDownloadedFromAzdsUrl_WhenNotBesideTheCheckout()
    {
        // A schema in azd's layout (schemas/v1.0/azure.yaml.json and an extension it refers to), served on loopback.
        const string extension = "https://raw.githubusercontent.com/Azure/azure-dev/main/cli/azd/extensions/x.y/schemas/x.y.json";
        var files = new Dictionary<string, string>
        {
            ["/schemas/v1.0/azure.yaml.json"] = $$"""
                { "$schema": "https://json-schema.org/draft/2019-09/schema", "$id": "https://raw.githubusercontent.com/Azure/azure-dev/main/schemas/v1.0/azure.yaml.json",
                  "type": "object", "required": ["name", "services"],
                  "properties": { "name": { "type": "string" }, "services": { "type": "object", "additionalProperties": { "$ref": "{{extension}}" } } } }
                """,
            ["/cli/azd/extensions/x.y/schemas/x.y.json"] = """{ "type": "object", "required": ["project"] }""",
        };
        await using var server = TestHttpServer.Start(r => files.TryGetValue(r.Path, out var body) ? TestHttpResponse.Json(body) : TestHttpResponse.NotFound);
        var empty = Directory.CreateTempSubdirectory("os-azd-shared-");
        var cache = Directory.CreateTempSubdirectory("os-azd-cache-");
        try
        {
            var result = await ExternalProcess.RunAsync("node", [Script, AzureYaml], environment: new Dictionary<string, string?>
            {
                ["ORLEANSSTREAM_SHARED_DIR"] = empty.FullName,
                ["ORLEANSSTREAM_AZD_SCHEMA_BASE"] = server.Url + "/",
                ["ORLEANSSTREAM_AZD_SCHEMA_CACHE"] = cache.FullName,
            });

            Assert.True(result.ExitCode == 0, result.Output);
            Assert.Contains("1 remote refs served from ext/", result.Stdout, StringComparison.Ordinal);
            Assert.Equal(["/cli/azd/extensions/x.y/schemas/x.y.json", "/schemas/v1.0/azure.yaml.json"], server.Requests.Select(r => r.Path).Order(StringComparer.Ordinal));
            Assert.True(File.Exists(Path.Combine(cache.FullName, "ext", "x.y.json")));
        }
        finally
        {
            empty.Delete(recursive: true);
            cache.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task MissingSchema_FailsNamingTheSharedFolderAndTheUrl()
    {
        var empty = Directory.CreateTempSubdirectory("os-azd-shared-");
        try
        {
            var result = await ExternalProcess.RunAsync("node", [Script, AzureYaml], environment: new Dictionary<string, string?>
            {
                ["ORLEANSSTREAM_SHARED_DIR"] = empty.FullName,
                // Nothing listens there: the download fails at once.
                ["ORLEANSSTREAM_AZD_SCHEMA_BASE"] = $"http://127.0.0.1:{ExternalProcess.FreeTcpPort()}/",
                ["ORLEANSSTREAM_AZD_SCHEMA_CACHE"] = Path.Combine(empty.FullName, "cache"),
            });

            Assert.Equal(1, result.ExitCode);
            Assert.Contains(Path.Combine(empty.FullName, "schemas", "azure-yaml", "azure.yaml.v1.json"), result.Stderr, StringComparison.Ordinal);
            Assert.Contains("https://raw.githubusercontent.com/Azure/azure-dev/main/schemas/v1.0/azure.yaml.json", result.Stderr, StringComparison.Ordinal);
        }
        finally
        {
            empty.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task AzureYaml_NamesTheSiloProjectAndItsDockerfile()
    {
        var text = await File.ReadAllTextAsync(AzureYaml, TestContext.Current.CancellationToken);

        Assert.Contains("project: src/OrleansStream.Silo", text, StringComparison.Ordinal);
        Assert.Contains("host: containerapp", text, StringComparison.Ordinal);
        Assert.Contains("language: dotnet", text, StringComparison.Ordinal);
        Assert.True(File.Exists(Repository.Path("src", "OrleansStream.Silo", "OrleansStream.Silo.csproj")));
        Assert.True(File.Exists(Repository.Path("src", "OrleansStream.Silo", "Dockerfile")));
    }
}
