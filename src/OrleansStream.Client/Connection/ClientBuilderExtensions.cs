using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Messaging;
using OrleansStream.Client.Connection;

namespace OrleansStream.Client;

/// <summary>Connecting an Orleans client to an OrleansStream cluster.</summary>
public static class ClientBuilderExtensions
{
    /// <summary>
    /// Kafka's <c>bootstrap.servers</c> for an Orleans client, in place of <c>UseStaticClustering</c>: the gateways are
    /// probed together and the client starts with those that accept a connection, so one dead gateway in the list
    /// does not delay the start. With none answering, the start fails at once naming each gateway's error.
    /// </summary>
    public static IClientBuilder UseBootstrapGateways(this IClientBuilder builder, IEnumerable<IPEndPoint> gateways)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(gateways);
        var endpoints = new List<IPEndPoint>(gateways);
        if (endpoints.Count == 0) throw new ArgumentException("list at least one gateway", nameof(gateways));
        return builder.ConfigureServices(services => services
            .AddSingleton(new BootstrapGateways(endpoints))
            .AddSingleton<IGatewayListProvider, BootstrapGatewayListProvider>());
    }
}
