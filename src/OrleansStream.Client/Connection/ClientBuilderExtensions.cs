using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Orleans.Configuration;
using Orleans.Messaging;
using OrleansStream.Client.Connection;

namespace OrleansStream.Client;

/// <summary>Connecting an Orleans client to an OrleansStream cluster.</summary>
public static class ClientBuilderExtensions
{
    /// <summary>
    /// Kafka's <c>bootstrap.servers</c> for an Orleans client, in place of <c>UseStaticClustering</c>: the gateways are
    /// probed together and the client starts with those that accept a connection, so one dead gateway in the list
    /// does not delay the start. With none answering, the start fails at once naming each gateway's error. The list is
    /// read again every <see cref="BootstrapGatewayListProvider.RefreshPeriod"/> (<see cref="UseGatewayListRefresh"/>;
    /// configure <see cref="GatewayOptions.GatewayListRefreshPeriod"/> after this call to change it), so a gateway
    /// that comes back is used again within seconds, as Kafka's clients reconnect to a broker that comes back.
    /// Start the host with <see cref="BootstrapStart.StartAsync"/> to survive a gateway that dies during the start.
    /// </summary>
    public static IClientBuilder UseBootstrapGateways(this IClientBuilder builder, IEnumerable<IPEndPoint> gateways)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(gateways);
        var endpoints = new List<IPEndPoint>(gateways);
        if (endpoints.Count == 0) throw new ArgumentException("list at least one gateway", nameof(gateways));
        return builder.UseGatewayListRefresh().ConfigureServices(services => services
            .AddSingleton(new BootstrapGateways(endpoints))
            .AddSingleton<BootstrapGatewayListProvider>()
            .AddSingleton<IGatewayListProvider>(static sp => sp.GetRequiredService<BootstrapGatewayListProvider>())
            // Orleans tells it when a gateway connection closes: the gateways that accepted are probed again then.
            .AddSingleton<IClusterConnectionStatusObserver>(static sp => sp.GetRequiredService<BootstrapGatewayListProvider>()));
    }

    /// <summary>
    /// Orleans' <see cref="GatewayOptions.GatewayListRefreshPeriod"/>, 2 s unless given (Orleans' default is 1 min): how
    /// long Orleans leaves a gateway whose connection failed out of the client's live gateways, and how often it reads
    /// its gateway list again. <see cref="UseBootstrapGateways"/> sets it; a client that finds its gateways in the
    /// cluster's membership table (<c>UseAzureStorageClustering</c>, <c>UseRedisClustering</c>) should call this too:
    /// with the default, a gateway whose silo was killed and restarted stays unused for a minute, and a client through
    /// several such restarts is left with one gateway, whose death then makes Orleans close connections to live ones
    /// that hold answers to calls in flight (docs/client.md, "Connecting"). Each period reads the membership table once.
    /// Not for Orleans' static list (<c>UseStaticClustering</c>): it offers a dead gateway again every period, and the
    /// client connects to it again each time; list the gateways with <see cref="UseBootstrapGateways"/> instead.
    /// <para>
    /// It also makes a gateway connection that closes end the SDK's calls in flight at once, as Kafka's client fails
    /// the requests in flight on a broker connection that closes, and its retry paths take over (Orleans ends them only at
    /// its response timeout; docs/client.md, "Connecting").
    /// </para>
    /// </summary>
    public static IClientBuilder UseGatewayListRefresh(this IClientBuilder builder, TimeSpan? period = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var refresh = period ?? BootstrapGatewayListProvider.RefreshPeriod;
        if (refresh <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(period), refresh, "the refresh period must be positive");
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IClusterConnectionStatusObserver, GatewayConnectionWatch>());
        return builder.Configure<GatewayOptions>(o => o.GatewayListRefreshPeriod = refresh);
    }

    /// <summary>
    /// Kafka's <c>security.protocol</c> and <c>ssl.*</c> keys of <paramref name="config"/> for an Orleans client:
    /// with <c>ssl</c>, every gateway connection is TLS (Orleans' <c>Microsoft.Orleans.Connections.Security</c>),
    /// the gateway's certificate is checked against <c>ssl.ca.location</c>, and the client presents its own
    /// certificate when one is configured. <c>plaintext</c> (the default) changes nothing. Bad or unreadable
    /// settings fail here with <see cref="ErrorCode.InvalidConfig"/>; a gateway refusing the certificate fails the
    /// start with the reason instead of Orleans' minutes of retries.
    /// </summary>
    public static IClientBuilder UseSecurityProtocol(this IClientBuilder builder, Config config)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(config);
        if (GatewayTls.From(config) is not { } tls) return builder;
        var services = builder.Services;
        services.AddSingleton(tls);
        ServiceDescriptor? previous = null;
        foreach (var d in services)
            if (d.ServiceType == typeof(IClientConnectionRetryFilter)) previous = d;
        services.AddSingleton<IClientConnectionRetryFilter>(sp => new TlsRefusalRetryFilter(
            tls, sp.GetRequiredService<IGatewayListProvider>(), previous is null ? null : (IClientConnectionRetryFilter)Resolve(sp, previous)));
        return builder.UseTls(tls.Configure);
    }

    private static object Resolve(IServiceProvider services, ServiceDescriptor descriptor) =>
        descriptor.ImplementationInstance
        ?? descriptor.ImplementationFactory?.Invoke(services)
        ?? ActivatorUtilities.CreateInstance(services, descriptor.ImplementationType!);
}
