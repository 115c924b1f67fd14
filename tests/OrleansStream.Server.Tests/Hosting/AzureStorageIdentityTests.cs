using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Orleans.Clustering.AzureStorage;
using Orleans.Configuration;
using OrleansStream.Server;

namespace OrleansStream.Server.Tests.Hosting;

public sealed class AzureStorageIdentityTests
{
    private static IServiceProvider Silo(Dictionary<string, string?> configuration)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(configuration);
        builder.UseOrleans(silo => silo.AddOrleansStream());
        return builder.Build().Services;
    }

    [Fact]
    public void A_ServiceUri_beside_the_provider_type_connects_grain_state_and_membership_with_the_service_uri()
    {
        var services = Silo(new()
        {
            ["Orleans:Clustering:ProviderType"] = "AzureTableStorage",
            ["Orleans:Clustering:ServiceUri"] = "https://account.table.core.windows.net/",
            ["Orleans:Clustering:ManagedIdentityClientId"] = "00000000-0000-0000-0000-000000000001",
            [$"Orleans:GrainStorage:{OrleansStreamDefaults.GrainStorageName}:ProviderType"] = "AzureBlobStorage",
            [$"Orleans:GrainStorage:{OrleansStreamDefaults.GrainStorageName}:ServiceUri"] = "https://account.blob.core.windows.net/",
            [$"Orleans:GrainStorage:{OrleansStreamDefaults.GrainStorageName}:ContainerName"] = "grainstate",
        });

        var blob = services.GetRequiredService<IOptionsMonitor<AzureBlobStorageOptions>>().Get(OrleansStreamDefaults.GrainStorageName);
        Assert.Equal(new Uri("https://account.blob.core.windows.net/"), blob.BlobServiceClient!.Uri);
        Assert.Equal("grainstate", blob.ContainerName);
        var table = services.GetRequiredService<IOptions<AzureStorageClusteringOptions>>().Value;
        Assert.Equal(new Uri("https://account.table.core.windows.net/"), table.TableServiceClient!.Uri);
    }

    [Fact]
    public void Both_a_ServiceUri_and_a_connection_string_fail_at_start_up()
    {
        var e = Assert.Throws<OrleansConfigurationException>(() => Silo(new()
        {
            ["Orleans:Clustering:ProviderType"] = "AzureTableStorage",
            ["Orleans:Clustering:ServiceUri"] = "https://account.table.core.windows.net/",
            ["Orleans:Clustering:ConnectionString"] = "UseDevelopmentStorage=true",
        }));
        Assert.Contains("Orleans:Clustering", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_connection_string_is_left_to_Orleans_provider_builder()
    {
        const string connectionString = "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;"
            + "BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;TableEndpoint=http://127.0.0.1:10002/devstoreaccount1;";
        var services = Silo(new()
        {
            ["Orleans:Clustering:ProviderType"] = "AzureTableStorage",
            ["Orleans:Clustering:ConnectionString"] = connectionString,
            [$"Orleans:GrainStorage:{OrleansStreamDefaults.GrainStorageName}:ProviderType"] = "AzureBlobStorage",
            [$"Orleans:GrainStorage:{OrleansStreamDefaults.GrainStorageName}:ConnectionString"] = connectionString,
        });

        var blob = services.GetRequiredService<IOptionsMonitor<AzureBlobStorageOptions>>().Get(OrleansStreamDefaults.GrainStorageName);
        Assert.Equal(new Uri("http://127.0.0.1:10000/devstoreaccount1"), blob.BlobServiceClient!.Uri);
    }
}
