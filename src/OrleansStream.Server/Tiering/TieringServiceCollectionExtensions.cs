using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using OrleansStream.Storage;
using OrleansStream.Storage.Tiering;

namespace OrleansStream.Server.Tiering;

public static class TieringServiceCollectionExtensions
{
    /// <summary>
    /// Registers the broker's tier store (from <c>OrleansStream:TierStore</c>, validated at start), the shared remote
    /// read cache and the <see cref="RemoteLogManagerFactory"/> partition replicas use when <c>remote.storage.enable</c> is set.
    /// </summary>
    public static IServiceCollection AddOrleansStreamTiering(this IServiceCollection services, Action<TierStoreOptions>? configure = null)
    {
        var options = services.AddOptions<TierStoreOptions>().BindConfiguration(TierStoreOptions.SectionName);
        if (configure is not null) options.Configure(configure);
        options.ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<TierStoreOptions>, TierStoreOptionsValidator>());
        services.TryAddSingleton<ITierStore>(sp => CreateStore(sp.GetRequiredService<IOptions<TierStoreOptions>>().Value,
            sp.GetRequiredService<IOptions<BrokerOptions>>().Value));
        services.TryAddSingleton(sp =>
        {
            var o = sp.GetRequiredService<IOptions<TierStoreOptions>>().Value;
            return new RemoteReadCache(o.ReadCacheBytes, o.ReadChunkBytes);
        });
        services.TryAddSingleton<RemoteLogManagerFactory>();
        return services;
    }

    private static ITierStore CreateStore(TierStoreOptions options, BrokerOptions broker) => options.Kind switch
    {
        TierStoreKind.AzureBlob => new AzureBlobTierStore(options.ToAzureSettings()),
        _ => new FolderTierStore(string.IsNullOrWhiteSpace(options.Directory)
            ? Path.Combine(broker.ResolvedDataDirectory, "tier")
            : Path.GetFullPath(options.Directory)),
    };
}

/// <summary>Creates the <see cref="RemoteLogManager"/> of a partition over the broker's tier store and read cache.</summary>
public sealed class RemoteLogManagerFactory(ITierStore store, RemoteReadCache cache, TimeProvider time, IOptions<TierStoreOptions> options)
{
    public TimeSpan TaskInterval => TimeSpan.FromMilliseconds(options.Value.TaskIntervalMs);

    public ITierStore Store => store;

    public RemoteLogManager Create(string topic, int partition, PartitionLog log, IRemoteLogMetrics? metrics = null) =>
        new(topic, partition, log, store, time, cache,
            new RemoteLogManagerOptions { RemoteCompactionInterval = TimeSpan.FromMilliseconds(options.Value.RemoteCompactionIntervalMs) }, metrics);
}
