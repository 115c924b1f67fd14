using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Configuration.Internal;
using Orleans.Storage;
using Orleans.Runtime.Hosting;
using Orleans.Persistence.FileStorage;
using OrleansStream.Server;
using OrleansStream.Server.Diagnostics;
using OrleansStream.Server.Kafka;
using OrleansStream.Server.Persistence;
using OrleansStream.Server.Placement;
using OrleansStream.Server.Replication;
using OrleansStream.Server.Security;
using OrleansStream.Server.Tiering;
using OrleansStream.Server.Transactions.ProducerIds;

namespace Orleans.Hosting;

public static class OrleansStreamSiloBuilderExtensions
{
    /// <summary>
    /// Makes this silo a broker: the controller and partition replica grains, broker placement, TLS when
    /// <c>OrleansStream:Tls</c> names a certificate (<see cref="BrokerTlsOptions"/>), and file grain
    /// storage named <see cref="OrleansStreamDefaults.GrainStorageName"/> unless the host registered a grain storage
    /// of that name before calling this or configuration selects one (Orleans' Azure Blob provider in production,
    /// with managed identity through <see cref="AzureStorageIdentity"/>). Options come from the <c>OrleansStream</c> section
    /// when the host binds it, then from <paramref name="configure"/>.
    /// </summary>
    public static ISiloBuilder AddOrleansStream(this ISiloBuilder builder, Action<BrokerOptions>? configure = null)
    {
        var services = builder.Services;
        var options = services.AddOptions<BrokerOptions>();
        if (configure is not null) options.Configure(configure);
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<BrokerOptions>, BrokerOptionsValidator>());
        options.ValidateOnStart();
        builder.AddOrleansStreamGroups();
        builder.AddOrleansStreamTransactions();
        builder.AddAzureStorageIdentity();

        // A configured broker id names the silo too, so membership (and placement) can find the broker by name.
        services.AddOptions<SiloOptions>().PostConfigure<IOptions<BrokerOptions>>((silo, broker) =>
        {
            if (!string.IsNullOrWhiteSpace(broker.Value.BrokerId)) silo.SiloName = broker.Value.BrokerId;
        });

        services.TryAddSingleton(TimeProvider.System);
        services.TryAddKeyedSingleton(OrleansStream.Server.Cluster.BrokerRegistration.TimeProviderKey, static (sp, _) => sp.GetRequiredService<TimeProvider>());
        services.AddOrleansStreamMetrics();
        services.AddOrleansStreamTiering();
        services.AddOrleansStreamTls();
        services.AddKafkaListener();
        services.TryAddSingleton<BrokerIdentity>();
        services.TryAddSingleton<BrokerLocator>();
        services.TryAddSingleton<OrleansStream.Server.Cluster.SiloDepartures>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IActivationWorkingSetObserver, OrleansStream.Server.Cluster.DeactivationSignal>());
        services.TryAddSingleton<OrleansStream.Server.Partitions.LocalPartitionDirectories>();
        services.TryAddSingleton<OrleansStream.Server.Cluster.BrokerRegistration>();
        services.TryAddSingleton(ProducerIdManager.Create);
        services.TryAddSingleton<IProducerIdAllocator>(sp => sp.GetRequiredService<ProducerIdManager>());
        services.TryAddSingleton<OrleansStream.Server.Transactions.IProducerIdGenerator>(sp => sp.GetRequiredService<ProducerIdManager>());
        services.AddPlacementDirector<BrokerPlacementStrategy, BrokerPlacementDirector>();
        services.AddSingleton<MembershipWatcher>();
        services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(sp => sp.GetRequiredService<MembershipWatcher>());

        services.AddOptions<FileGrainStorageOptions>(OrleansStreamDefaults.GrainStorageName)
            .Configure<IOptions<BrokerOptions>>((file, broker) => file.RootDirectory = broker.Value.ResolvedGrainStateDirectory);
        if (!HasGrainStorage(services, OrleansStreamDefaults.GrainStorageName))
        {
            // Orleans' FileGrainStorage tears records on concurrent reads and checks ETags without a lock; silos share this directory.
            services.AddTransient<IPostConfigureOptions<FileGrainStorageOptions>, DefaultStorageProviderSerializerOptionsConfigurator<FileGrainStorageOptions>>();
            services.AddGrainStorage(OrleansStreamDefaults.GrainStorageName, AtomicFileGrainStorage.Create);
        }
        return builder;
    }

    private static bool HasGrainStorage(IServiceCollection services, string name)
    {
        foreach (var d in services)
            if (d.IsKeyedService && d.ServiceType == typeof(Orleans.Storage.IGrainStorage) && Equals(d.ServiceKey, name)) return true;
        return false;
    }
}
