using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Orleans.Configuration.Internal;
using Orleans.Providers;
using Orleans.Runtime.Hosting;
using Orleans.Storage;
using OrleansStream.Server.Persistence;

[assembly: RegisterProvider("AzureBlobStorage", "GrainStorage", "Silo", typeof(AzureBlobGrainStorageProviderBuilder))]

namespace OrleansStream.Server.Persistence;

public static class AzureBlobGrainStorageExtensions
{
    /// <summary>Registers an <see cref="AzureBlobGrainStorage"/> named <paramref name="name"/>.</summary>
    public static ISiloBuilder AddAzureBlobGrainStorage(this ISiloBuilder builder, string name, Action<AzureBlobGrainStorageOptions> configure)
    {
        builder.Services.AddAzureBlobGrainStorage(name, ob => ob.Configure(configure));
        return builder;
    }

    public static IServiceCollection AddAzureBlobGrainStorage(
        this IServiceCollection services, string name, Action<OptionsBuilder<AzureBlobGrainStorageOptions>>? configure = null)
    {
        configure?.Invoke(services.AddOptions<AzureBlobGrainStorageOptions>(name));
        services.AddTransient<IConfigurationValidator>(sp =>
            new AzureBlobGrainStorageOptionsValidator(sp.GetRequiredService<IOptionsMonitor<AzureBlobGrainStorageOptions>>().Get(name), name));
        services.AddTransient<IPostConfigureOptions<AzureBlobGrainStorageOptions>, DefaultStorageProviderSerializerOptionsConfigurator<AzureBlobGrainStorageOptions>>();
        return services.AddGrainStorage(name, AzureBlobGrainStorage.Create);
    }
}

/// <summary>
/// Lets configuration select the provider, Orleans' provider model:
/// <c>Orleans:GrainStorage:{name}:ProviderType = AzureBlobStorage</c> with <c>ContainerName</c>, and <c>ConnectionString</c>
/// or <c>ServiceUri</c> (+ optional <c>ManagedIdentityClientId</c>) beside it.
/// </summary>
internal sealed class AzureBlobGrainStorageProviderBuilder : IProviderBuilder<ISiloBuilder>
{
    public void Configure(ISiloBuilder builder, string? name, IConfigurationSection configurationSection)
        => builder.Services.AddAzureBlobGrainStorage(
            name ?? ProviderConstants.DEFAULT_STORAGE_PROVIDER_NAME,
            ob => ob.Configure(options =>
            {
                if (configurationSection[nameof(options.ContainerName)] is { Length: > 0 } container) options.ContainerName = container;
                options.ConnectionString = configurationSection[nameof(options.ConnectionString)];
                if (configurationSection[nameof(options.ServiceUri)] is { Length: > 0 } uri) options.ServiceUri = new Uri(uri);
                options.ManagedIdentityClientId = configurationSection[nameof(options.ManagedIdentityClientId)];
                if (bool.TryParse(configurationSection[nameof(options.DeleteStateOnClear)], out var delete)) options.DeleteStateOnClear = delete;
            }));
}
