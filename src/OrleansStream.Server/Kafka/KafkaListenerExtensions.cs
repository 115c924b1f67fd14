using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using OrleansStream.Server.ClientMetrics;
using OrleansStream.Server.Kafka.Handlers;
using OrleansStream.Server.Kafka.Security;
using OrleansStream.Server.Kafka.Security.OAuthBearer;
using OrleansStream.Server.Security;
using OrleansStream.Server.Security.Authorization;

namespace OrleansStream.Server.Kafka;

public static class KafkaListenerExtensions
{
    /// <summary>The Kafka listener's services: one handler per API, the metadata and leader caches, the broker view and the SASL users.</summary>
    public static IServiceCollection AddKafkaListener(this IServiceCollection services)
    {
        services.TryAddSingleton<FinalizedFeatures>();
        services.TryAddSingleton<MetadataCache>();
        services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(static sp => sp.GetRequiredService<MetadataCache>());
        services.TryAddSingleton<PartitionLeaders>();
        services.TryAddSingleton<TopicDescriptions>();
        services.TryAddSingleton<KafkaBrokers>();
        services.TryAddSingleton<LeaderHints>();
        services.TryAddSingleton<KafkaConnectionHandler>();
        services.TryAddSingleton<TransactionCoordinators>();
        services.AddOptions<SaslOptions>().BindConfiguration(SaslOptions.SectionName).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<SaslOptions>, SaslOptionsValidator>());
        services.TryAddSingleton<SaslCredentialStore>();
        services.AddOptions<OAuthBearerOptions>().BindConfiguration(OAuthBearerOptions.SectionName).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<OAuthBearerOptions>, OAuthBearerOptionsValidator>());
        services.TryAddSingleton<OAuthBearerValidators>();
        services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(static sp => sp.GetRequiredService<OAuthBearerValidators>());
        services.TryAddSingleton<Quotas.ClientQuotaManager>();
        services.TryAddSingleton<Quotas.ConnectionQuotas>();
        services.AddOptions<AuthorizerOptions>().BindConfiguration(AuthorizerOptions.SectionName).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<AuthorizerOptions>, AuthorizerOptionsValidator>());
        services.TryAddSingleton<KafkaAuthorizer>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IKafkaApiHandler, SaslHandshakeHandler>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IKafkaApiHandler, SaslAuthenticateHandler>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IKafkaApiHandler, ApiVersionsHandler>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IKafkaApiHandler, MetadataHandler>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IKafkaApiHandler, DescribeTopicPartitionsHandler>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IKafkaApiHandler, ElectLeadersHandler>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IKafkaApiHandler, AlterPartitionReassignmentsHandler>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IKafkaApiHandler, ListPartitionReassignmentsHandler>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IKafkaApiHandler, DescribeLogDirsHandler>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IKafkaApiHandler, AlterReplicaLogDirsHandler>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IKafkaApiHandler, ProduceHandler>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IKafkaApiHandler, FetchHandler>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IKafkaApiHandler, ListOffsetsHandler>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IKafkaApiHandler, OffsetForLeaderEpochHandler>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IKafkaApiHandler, DescribeAclsHandler>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IKafkaApiHandler, DescribeUserScramCredentialsHandler>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IKafkaApiHandler, AlterUserScramCredentialsHandler>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IKafkaApiHandler, DescribeClientQuotasHandler>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IKafkaApiHandler, AlterClientQuotasHandler>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IKafkaApiHandler, UpdateFeaturesHandler>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IKafkaApiHandler, CreateAclsHandler>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IKafkaApiHandler, DeleteAclsHandler>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IKafkaApiHandler, FindCoordinatorHandler>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IKafkaApiHandler, JoinGroupHandler>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IKafkaApiHandler, SyncGroupHandler>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IKafkaApiHandler, HeartbeatHandler>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IKafkaApiHandler, LeaveGroupHandler>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IKafkaApiHandler, OffsetCommitHandler>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IKafkaApiHandler, OffsetFetchHandler>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IKafkaApiHandler, DescribeGroupsHandler>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IKafkaApiHandler, ListGroupsHandler>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IKafkaApiHandler, DeleteGroupsHandler>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IKafkaApiHandler, OffsetDeleteHandler>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IKafkaApiHandler, ConsumerGroupHeartbeatHandler>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IKafkaApiHandler, ConsumerGroupDescribeHandler>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IKafkaApiHandler, CreateTopicsHandler>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IKafkaApiHandler, DeleteTopicsHandler>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IKafkaApiHandler, CreatePartitionsHandler>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IKafkaApiHandler, InitProducerIdHandler>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IKafkaApiHandler, AddPartitionsToTxnHandler>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IKafkaApiHandler, AddOffsetsToTxnHandler>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IKafkaApiHandler, EndTxnHandler>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IKafkaApiHandler, WriteTxnMarkersHandler>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IKafkaApiHandler, TxnOffsetCommitHandler>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IKafkaApiHandler, DescribeTransactionsHandler>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IKafkaApiHandler, ListTransactionsHandler>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IKafkaApiHandler, DescribeConfigsHandler>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IKafkaApiHandler, AlterConfigsHandler>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IKafkaApiHandler, IncrementalAlterConfigsHandler>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IKafkaApiHandler, DeleteRecordsHandler>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IKafkaApiHandler, DescribeClusterHandler>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IKafkaApiHandler, DescribeProducersHandler>());
        services.AddOptions<ClientMetricsOptions>().BindConfiguration(ClientMetricsOptions.SectionName).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<ClientMetricsOptions>, ClientMetricsOptionsValidator>());
        services.TryAddSingleton<ClientMetricsManager>();
        services.TryAddSingleton<ApiVersionManager>();
        services.TryAddSingleton<OtlpMetricsForwarder>();
        services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(static sp => sp.GetRequiredService<OtlpMetricsForwarder>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IClientTelemetryReceiver, ClientTelemetryMetricsReceiver>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IClientTelemetryReceiver, OtlpMetricsForwarder>(static sp => sp.GetRequiredService<OtlpMetricsForwarder>()));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IKafkaApiHandler, GetTelemetrySubscriptionsHandler>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IKafkaApiHandler, PushTelemetryHandler>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IKafkaApiHandler, ListClientMetricsResourcesHandler>());
        return services;
    }

    /// <summary>
    /// Binds every Kafka listener of <c>OrleansStream:Listeners</c> in this Kestrel server, each served by
    /// <see cref="KafkaConnectionHandler"/>; SSL and SASL_SSL listeners behind Kestrel's TLS middleware with the
    /// certificate of <c>OrleansStream:Tls</c>. Kestrel ignores its URLs once any endpoint is configured here, so a
    /// host configures its HTTP endpoints here too.
    /// </summary>
    public static KestrelServerOptions ListenKafka(this KestrelServerOptions kestrel)
    {
        ArgumentNullException.ThrowIfNull(kestrel);
        var services = kestrel.ApplicationServices;
        var options = services.GetRequiredService<IOptions<BrokerOptions>>().Value;
        HttpsConnectionAdapterOptions? tls = null;
        foreach (var listener in KafkaListeners.Bound(options))
        {
            if (listener.UsesTls) tls ??= BrokerTls.ForKafkaListeners(services.GetRequiredService<IOptions<BrokerTlsOptions>>().Value, options.SslClientAuth);
            kestrel.Listen(KafkaListeners.BindAddress(listener.Endpoint), listener.Endpoint.Port, l =>
            {
                if (listener.UsesTls) l.UseHttps(tls!);
                l.UseConnectionHandler<KafkaConnectionHandler>();
            });
        }
        return kestrel;
    }
}
