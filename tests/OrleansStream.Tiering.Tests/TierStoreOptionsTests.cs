using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using OrleansStream.Server;
using OrleansStream.Server.Tiering;
using OrleansStream.Storage.Tiering;

namespace OrleansStream.Tiering.Tests;

public sealed class TierStoreOptionsTests
{
    private static ServiceProvider Build(Dictionary<string, string?> settings)
    {
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(new ConfigurationBuilder().AddInMemoryCollection(settings).Build());
        services.AddOptions<BrokerOptions>().Configure(o => o.DataDirectory = Path.Combine(Path.GetTempPath(), "os-opts-" + Guid.NewGuid().ToString("N")));
        services.AddSingleton(TimeProvider.System);
        services.AddOrleansStreamTiering();
        return services.BuildServiceProvider();
    }

    [Fact]
    public void The_default_is_a_folder_under_the_data_directory()
    {
        using var sp = Build([]);
        var store = Assert.IsType<FolderTierStore>(sp.GetRequiredService<ITierStore>());
        Assert.EndsWith(Path.DirectorySeparatorChar + "tier", store.Root);
        Assert.NotNull(sp.GetRequiredService<RemoteLogManagerFactory>());
    }

    [Fact]
    public void AzureBlob_is_bound_from_OrleansStream_TierStore()
    {
        using var sp = Build(new()
        {
            ["OrleansStream:TierStore:Kind"] = "AzureBlob",
            ["OrleansStream:TierStore:Container"] = "tier-prod",
            ["OrleansStream:TierStore:ServiceUri"] = "https://acct.blob.core.windows.net",
            ["OrleansStream:TierStore:ManagedIdentityClientId"] = "00000000-0000-0000-0000-000000000001",
        });
        var options = sp.GetRequiredService<IOptions<TierStoreOptions>>().Value;
        Assert.Equal(TierStoreKind.AzureBlob, options.Kind);
        Assert.Equal("00000000-0000-0000-0000-000000000001", options.ManagedIdentityClientId);
        var store = Assert.IsType<AzureBlobTierStore>(sp.GetRequiredService<ITierStore>());
        Assert.Equal("tier-prod", store.Container.Name);
        Assert.Equal("acct.blob.core.windows.net", store.Container.Uri.Host);
    }

    [Theory]
    [InlineData("AzureBlob", null, null, "orleansstream-tier")]
    [InlineData("AzureBlob", "UseDevelopmentStorage=true", "https://acct.blob.core.windows.net", "orleansstream-tier")]
    [InlineData("AzureBlob", "UseDevelopmentStorage=true", null, "Bad_Container")]
    public void Invalid_settings_are_rejected_with_the_key_named(string kind, string? connectionString, string? uri, string container)
    {
        using var sp = Build(new()
        {
            ["OrleansStream:TierStore:Kind"] = kind,
            ["OrleansStream:TierStore:ConnectionString"] = connectionString,
            ["OrleansStream:TierStore:ServiceUri"] = uri,
            ["OrleansStream:TierStore:Container"] = container,
        });
        var e = Assert.Throws<OptionsValidationException>(() => sp.GetRequiredService<IOptions<TierStoreOptions>>().Value);
        Assert.Contains("OrleansStream:TierStore", e.Message);
    }
}
