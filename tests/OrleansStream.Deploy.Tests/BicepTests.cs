using System.Text.Json.Nodes;

namespace OrleansStream.Deploy.Tests;

/// <summary>infra/ compiles and lints with the Bicep CLI from NuGet, and the compiled template has the shape azd and Orleans need.</summary>
public sealed class BicepTests
{
    private static readonly string MainBicep = Repository.Path("infra", "main.bicep");

    [Fact]
    public async Task MainBicep_Builds_WithoutWarningsOrErrors()
    {
        var result = await Bicep.RunAsync("build", MainBicep, "--stdout");

        Assert.True(result.ExitCode == 0, result.Output);
        Assert.Empty(result.Stderr.Trim());
        Assert.NotNull(JsonNode.Parse(result.Stdout));
    }

    [Fact]
    public async Task MainBicep_Lints_WithoutFindings()
    {
        var result = await Bicep.RunAsync("lint", MainBicep);

        Assert.True(result.ExitCode == 0, result.Output);
        Assert.Empty(result.Output.Trim());
    }

    [Fact]
    public async Task Modules_AreAllLocal()
    {
        var template = await Bicep.CompileAsync(MainBicep);

        foreach (var file in Directory.EnumerateFiles(Repository.Path("infra"), "*.bicep", SearchOption.AllDirectories))
        {
            var text = await File.ReadAllTextAsync(file, TestContext.Current.CancellationToken);
            Assert.DoesNotContain("'br:", text, StringComparison.Ordinal);
            Assert.DoesNotContain("'br/", text, StringComparison.Ordinal);
            Assert.DoesNotContain("'ts:", text, StringComparison.Ordinal);
        }

        Assert.NotEmpty(Bicep.Resources(template, "Microsoft.Resources/deployments"));
    }

    [Fact]
    public async Task ParametersFile_MatchesTemplateParameters()
    {
        var template = await Bicep.CompileAsync(MainBicep);
        var parameters = (JsonObject)template["parameters"]!;
        var file = JsonNode.Parse(await File.ReadAllTextAsync(
            Repository.Path("infra", "main.parameters.json"), TestContext.Current.CancellationToken))!;
        var supplied = (JsonObject)file["parameters"]!;

        foreach (var (name, _) in supplied)
        {
            Assert.True(parameters.ContainsKey(name), $"main.parameters.json sets '{name}', which main.bicep does not declare.");
        }

        foreach (var (name, definition) in parameters)
        {
            if (definition!["defaultValue"] is null)
            {
                Assert.True(supplied.ContainsKey(name), $"main.bicep requires '{name}' but main.parameters.json does not supply it.");
            }
        }

        Assert.Equal(3, (int)parameters["siloCount"]!["defaultValue"]!);
        Assert.Equal("${SERVICE_SILO_IMAGE_NAME}", (string)supplied["siloImageName"]!["value"]!);
    }

    [Fact]
    public async Task Outputs_IncludeWhatAzdNeeds()
    {
        var template = await Bicep.CompileAsync(MainBicep);
        var outputs = (JsonObject)template["outputs"]!;

        foreach (var name in new[]
        {
            "AZURE_LOCATION", "AZURE_TENANT_ID", "AZURE_RESOURCE_GROUP", "AZURE_CONTAINER_REGISTRY_ENDPOINT",
            "AZURE_CONTAINER_REGISTRY_NAME", "AZURE_CONTAINER_APPS_ENVIRONMENT_ID", "AZURE_MANAGED_IDENTITY_CLIENT_ID",
            "AZURE_STORAGE_BLOB_ENDPOINT", "AZURE_STORAGE_TABLE_ENDPOINT", "ORLEANSSTREAM_KAFKA_BOOTSTRAP_SERVERS",
        })
        {
            Assert.True(outputs.ContainsKey(name), $"missing output {name}");
        }
    }

    [Fact]
    public async Task Platform_IsLockedDown()
    {
        var template = await Bicep.CompileAsync(MainBicep);

        var storage = Assert.Single(Bicep.Resources(template, "Microsoft.Storage/storageAccounts"));
        Assert.False((bool)storage["properties"]!["allowSharedKeyAccess"]!);
        Assert.False((bool)storage["properties"]!["allowBlobPublicAccess"]!);
        Assert.Single(Bicep.Resources(template, "Microsoft.Storage/storageAccounts/blobServices/containers"));
        Assert.Single(Bicep.Resources(template, "Microsoft.Storage/storageAccounts/tableServices/tables"));

        var registry = Assert.Single(Bicep.Resources(template, "Microsoft.ContainerRegistry/registries"));
        Assert.False((bool)registry["properties"]!["adminUserEnabled"]!);

        var environment = Assert.Single(Bicep.Resources(template, "Microsoft.App/managedEnvironments"));
        Assert.True((bool)environment["properties"]!["vnetConfiguration"]!["internal"]!);

        Assert.Single(Bicep.Resources(template, "Microsoft.ManagedIdentity/userAssignedIdentities"));
        Assert.Single(Bicep.Resources(template, "Microsoft.OperationalInsights/workspaces"));
        // One storage account holds membership too: no Redis, no private endpoint.
        Assert.Empty(Bicep.Resources(template, "Microsoft.Cache/redisEnterprise"));
        Assert.Empty(Bicep.Resources(template, "Microsoft.Network/privateEndpoints"));

        // The silos' TLS certificate lives in a Key Vault that takes Entra ID roles only.
        var vault = Assert.Single(Bicep.Resources(template, "Microsoft.KeyVault/vaults"));
        Assert.True((bool)vault["properties"]!["enableRbacAuthorization"]!);

        // AcrPull, then Storage Blob and Table Data Contributor as one copy loop for the silos and one for the developer,
        // then Key Vault Secrets User for the silos and Certificates Officer for the developer.
        Assert.Equal(5, Bicep.Resources(template, "Microsoft.Authorization/roleAssignments").Count);
        var json = Bicep.Text(template);
        Assert.Contains("4633458b-17de-408a-b874-0445c86b69e6", json, StringComparison.Ordinal);
        Assert.Contains("a4417e6f-fecd-4de8-b567-7b0420b446b7", json, StringComparison.Ordinal);
        Assert.Contains("7f951dda-4ed3-4680-a7ca-43fe172d538d", json, StringComparison.Ordinal);
        Assert.Contains("ba92f5b4-2d11-453d-a403-e96b0029c9fe", json, StringComparison.Ordinal);
        Assert.Contains("0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3", json, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Silo_IsOneReplicaWithProbesGraceAndOrleansConfiguration()
    {
        var template = await Bicep.CompileAsync(Repository.Path("infra", "modules", "silo.bicep"));
        var app = Assert.Single(Bicep.Resources(template, "Microsoft.App/containerApps"));
        var properties = app["properties"]!;
        var templateNode = properties["template"]!;

        Assert.Equal(1, (int)templateNode["scale"]!["minReplicas"]!);
        Assert.Equal(1, (int)templateNode["scale"]!["maxReplicas"]!);
        var grace = template["parameters"]!["terminationGracePeriodSeconds"]!;
        Assert.True((int)grace["minValue"]! >= 60);
        Assert.True((int)grace["defaultValue"]! >= 60);

        // Probes and environment variables are template variables the app refers to.
        var json = Bicep.Text(template);
        foreach (var fragment in new[]
        {
            "\"path\":\"/healthz\"", "\"path\":\"/ready\"", "\"type\":\"Startup\"", "\"type\":\"Liveness\"", "\"type\":\"Readiness\"",
            "'transport', 'tcp'", "additionalPortMappings", "'storageType', 'EmptyDir'", "\"value\":\"AzureTableStorage\"",
        })
        {
            Assert.Contains(fragment, json, StringComparison.Ordinal);
        }

        foreach (var variable in new[]
        {
            "Orleans__ClusterId", "Orleans__ServiceId", "Orleans__Endpoints__SiloPort", "Orleans__Endpoints__GatewayPort",
            "Orleans__Endpoints__AdvertisedIPAddress", "Orleans__Endpoints__SiloListeningEndpoint",
            "Orleans__Endpoints__GatewayListeningEndpoint", "Orleans__Clustering__ProviderType",
            "Orleans__Clustering__ServiceUri", "Orleans__Clustering__ManagedIdentityClientId", "OrleansStream__DataDirectory", "OrleansStream__BrokerId",
            "OrleansStream__TierStore__Kind", "OrleansStream__TierStore__ServiceUri", "OrleansStream__TierStore__Container",
            "OrleansStream__Listeners", "OrleansStream__AdvertisedListeners", "AZURE_CLIENT_ID",
        })
        {
            Assert.Contains($"\"name\":\"{variable}\"", json, StringComparison.Ordinal);
        }

        Assert.Equal(8080, (int)template["parameters"]!["healthPort"]!["defaultValue"]!);
        // The Kafka port: an internal TCP port mapping, listened on and advertised at the environment's static IP.
        Assert.Contains("'targetPort', parameters('kafkaPort'), 'exposedPort', parameters('kafkaPort')", json, StringComparison.Ordinal);
        Assert.DoesNotContain("'external', true", json, StringComparison.Ordinal);
        Assert.Contains("format('{0}://{1}:{2}', variables('kafkaProtocol'), parameters('environmentStaticIp'), parameters('kafkaPort'))", json, StringComparison.Ordinal);
        // SASL_SSL with users: each user's SCRAM credential a Key Vault secret the app reads by its identity.
        Assert.Contains("if(variables('kafkaSasl'), 'SASL_SSL', 'PLAINTEXT')", json, StringComparison.Ordinal);
        Assert.Contains("format('OrleansStream__Sasl__Users__{0}__ScramSha512'", json, StringComparison.Ordinal);

        // TLS: the Key Vault certificate's secret mounted as a file the silo reads, by the app's identity.
        foreach (var fragment in new[]
        {
            "OrleansStream__Tls__CertificatePath", "OrleansStream__Tls__ClientAuth", "OrleansStream__Tls__CaPath",
            "OrleansStream__Tls__AllowedThumbprints", "'storageType', 'Secret'", "'keyVaultUrl'", "silo.pfx",
        })
        {
            Assert.Contains(fragment, json, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Tls_IsOnByDefaultWithTheCertificateFromKeyVaultAndAHookThatCreatesIt()
    {
        var template = await Bicep.CompileAsync(MainBicep);
        var parameters = template["parameters"]!;

        Assert.True((bool)parameters["enableTls"]!["defaultValue"]!);
        Assert.Equal("None", (string)parameters["tlsClientAuth"]!["defaultValue"]!);
        Assert.Contains("format('{0}secrets/{1}'", Bicep.Text(template), StringComparison.Ordinal);
        Assert.Contains("variables('tlsCertificateName')", Bicep.Text(template), StringComparison.Ordinal);
        var azureYaml = await File.ReadAllTextAsync(Repository.Path("azure.yaml"), TestContext.Current.CancellationToken);
        Assert.Contains("postprovision:", azureYaml, StringComparison.Ordinal);
        Assert.Contains("./infra/scripts/ensure-tls-certificate.sh", azureYaml, StringComparison.Ordinal);
        Assert.True(File.Exists(Repository.Path("infra", "scripts", "ensure-tls-certificate.ps1")));
        var policy = System.Text.Json.Nodes.JsonNode.Parse(await File.ReadAllTextAsync(
            Repository.Path("infra", "scripts", "tls-certificate-policy.json"), TestContext.Current.CancellationToken))!;
        // Server and client authentication: silos present it to each other in both roles; renewal keeps the key.
        Assert.Equal(["1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2"], policy["x509CertificateProperties"]!["ekus"]!.AsArray().Select(e => (string)e!));
        Assert.True((bool)policy["keyProperties"]!["reuseKey"]!);
    }

    [Fact]
    public async Task SmallDiskTopicDefaults_ReachEverySiloAndPassTheBrokersValidation()
    {
        var main = await Bicep.CompileAsync(MainBicep);
        var defaults = main["parameters"]!["topicDefaults"]!["defaultValue"]!.AsObject()
            .ToDictionary(p => p.Key, p => (string)p.Value!, StringComparer.Ordinal);
        Assert.Equal("67108864", defaults["log.segment.bytes"]);
        Assert.Equal("true", defaults["remote.storage.enable"]);
        Assert.Equal("3600000", defaults["log.local.retention.ms"]);
        Assert.Contains("\"topicDefaults\":{\"value\":\"[parameters('topicDefaults')]\"}", Bicep.Text(main), StringComparison.Ordinal);

        // The silo turns each key into OrleansStream__TopicDefaults__<key with dots as underscores>, which the broker accepts.
        var silo = Bicep.Text(await Bicep.CompileAsync(Repository.Path("infra", "modules", "silo.bicep")));
        Assert.Contains("OrleansStream__TopicDefaults__", silo, StringComparison.Ordinal);
        var asEnvironment = defaults.ToDictionary(p => p.Key.Replace('.', '_'), p => p.Value, StringComparer.Ordinal);
        var result = new OrleansStream.Server.BrokerOptionsValidator().Validate(null, new OrleansStream.Server.BrokerOptions { TopicDefaults = asEnvironment });
        Assert.True(result.Succeeded, result.FailureMessage);
    }

    /// <summary>
    /// OAUTHBEARER is off unless a JWKS URL is given; given one, each silo gets the <c>OrleansStream__Sasl__OAuthBearer__*</c>
    /// variables and mechanisms the broker accepts, and the listener turns SASL_SSL as it does for SCRAM users.
    /// </summary>
    [Fact]
    public async Task OAuthBearer_IsOffByDefaultAndReachesEverySiloAsTheBrokersSettings()
    {
        var main = await Bicep.CompileAsync(MainBicep);
        var parameters = main["parameters"]!;
        var mainText = Bicep.Text(main);
        foreach (var name in new[] { "kafkaOAuthBearerJwksEndpointUrl", "kafkaOAuthBearerExpectedAudience", "kafkaOAuthBearerExpectedIssuer", "kafkaOAuthBearerSubClaimName" })
        {
            Assert.Equal("", (string)parameters[name]!["defaultValue"]!);
            Assert.Contains($"\"{name}\":{{\"value\":\"[parameters('{name}')]\"}}", mainText, StringComparison.Ordinal);
        }

        var silo = Bicep.Text(await Bicep.CompileAsync(Repository.Path("infra", "modules", "silo.bicep")));
        Assert.Contains("\"kafkaOAuthBearer\":\"[and(variables('tls'), not(empty(parameters('kafkaOAuthBearerJwksEndpointUrl'))))]\"", silo, StringComparison.Ordinal);
        Assert.Contains("or(not(empty(parameters('kafkaSaslUsers'))), variables('kafkaOAuthBearer'))", silo, StringComparison.Ordinal);
        foreach (var variable in new[] { "EnabledMechanisms", "OAuthBearer__JwksEndpointUrl", "OAuthBearer__ExpectedAudience", "OAuthBearer__ExpectedIssuer", "OAuthBearer__SubClaimName" })
            Assert.Contains($"'OrleansStream__Sasl__{variable}'", silo, StringComparison.Ordinal);
        Assert.Contains("variables('kafkaOAuthBearerEnv')", silo, StringComparison.Ordinal);

        // The mechanisms the template sets, with and without SCRAM users, are ones the broker serves, OAUTHBEARER among them,
        // and a broker with the variables the template sets from an Entra ID JWKS URL passes its validation.
        var mechanisms = System.Text.RegularExpressions.Regex.Match(silo, @"if\(empty\(parameters\('kafkaSaslUsers'\)\), '([A-Z0-9,-]+)', '([A-Z0-9,-]+)'\)");
        Assert.True(mechanisms.Success, silo);
        foreach (var value in new[] { mechanisms.Groups[1].Value, mechanisms.Groups[2].Value })
        {
            var sasl = new OrleansStream.Server.Kafka.Security.SaslOptions { EnabledMechanisms = value };
            Assert.Contains("OAUTHBEARER", sasl.Mechanisms());
        }
        Assert.Equal(["OAUTHBEARER"], new OrleansStream.Server.Kafka.Security.SaslOptions { EnabledMechanisms = mechanisms.Groups[1].Value }.Mechanisms());
        Assert.Equal(["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"],
            new OrleansStream.Server.Kafka.Security.SaslOptions { EnabledMechanisms = mechanisms.Groups[2].Value }.Mechanisms());
        var options = new OrleansStream.Server.Kafka.Security.OAuthBearer.OAuthBearerOptions
        {
            JwksEndpointUrl = "https://login.microsoftonline.com/tenant/discovery/v2.0/keys",
            ExpectedAudience = "api://orleansstream",
            ExpectedIssuer = "https://login.microsoftonline.com/tenant/v2.0",
            SubClaimName = "oid",
        };
        var result = new OrleansStream.Server.Kafka.Security.OAuthBearer.OAuthBearerOptionsValidator(
            Microsoft.Extensions.Options.Options.Create(new OrleansStream.Server.Kafka.Security.SaslOptions { EnabledMechanisms = mechanisms.Groups[1].Value }))
            .Validate(null, options);
        Assert.True(result.Succeeded, result.FailureMessage);
    }
}

internal static class Bicep
{
    public static async Task<ProcessResult> RunAsync(params string[] arguments)
    {
        var executable = TestEnvironment.BicepExecutable;
        Assert.True(File.Exists(executable), $"Bicep CLI not found at {executable}; restore the test project (PackageDownload).");
        if (!OperatingSystem.IsWindows())
        {
            var mode = File.GetUnixFileMode(executable);
            if ((mode & UnixFileMode.UserExecute) == 0)
            {
                File.SetUnixFileMode(executable, mode | UnixFileMode.UserExecute);
            }
        }

        return await ExternalProcess.RunAsync(executable, arguments, environment: new Dictionary<string, string?>
        {
            ["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1",
            ["BICEP_TRACING_ENABLED"] = "false",
        });
    }

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, Lazy<Task<string>>> Compiled = new();

    /// <summary>Compiles once per file per test run; each caller gets its own mutable copy.</summary>
    public static async Task<JsonNode> CompileAsync(string file)
    {
        var json = await Compiled.GetOrAdd(file, f => new Lazy<Task<string>>(async () =>
        {
            var result = await RunAsync("build", f, "--stdout");
            Assert.True(result.ExitCode == 0, result.Output);
            return result.Stdout;
        })).Value;
        return JsonNode.Parse(json)!;
    }

    private static readonly System.Text.Json.JsonSerializerOptions Unescaped = new()
    {
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>The template as text with ARM expressions readable (quotes not escaped).</summary>
    public static string Text(JsonNode node) => node.ToJsonString(Unescaped);

    /// <summary>Every resource of a type, looking into nested module deployments.</summary>
    public static List<JsonNode> Resources(JsonNode template, string type)
    {
        var found = new List<JsonNode>();
        Collect(template, type, found);
        return found;
    }

    private static void Collect(JsonNode? node, string type, List<JsonNode> found)
    {
        switch (node)
        {
            case JsonObject obj:
                if (obj["type"] is JsonValue value && value.TryGetValue<string>(out var t)
                    && string.Equals(t, type, StringComparison.OrdinalIgnoreCase) && obj["apiVersion"] is not null)
                {
                    found.Add(obj);
                }

                foreach (var (_, child) in obj)
                {
                    Collect(child, type, found);
                }

                break;
            case JsonArray array:
                foreach (var child in array)
                {
                    Collect(child, type, found);
                }

                break;
        }
    }
}
