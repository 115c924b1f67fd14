using Microsoft.Extensions.DependencyInjection;
using Orleans.Messaging;

namespace OrleansStream.Client.Connection;

/// <summary>
/// Tells the client's <see cref="SiloFailureWatch"/> when Orleans closes a gateway connection, so the SDK's calls in
/// flight are given up at once rather than at Orleans' response timeout. The client is resolved at the first close, not
/// in the constructor: Orleans builds its observers with the client.
/// </summary>
internal sealed class GatewayConnectionWatch(IServiceProvider services) : IClusterConnectionStatusObserver
{
    public void NotifyGatewayCountChanged(int currentNumberOfGateways, int previousNumberOfGateways, bool connectionRecovered)
    {
        if (currentNumberOfGateways >= previousNumberOfGateways) return;
        try
        {
            if (services.GetService<IClusterClient>() is { } client) SiloFailureWatch.For(client).GatewayConnectionClosed();
        }
        catch (ObjectDisposedException)
        {
            // The client is being disposed: nothing of it is waiting any more.
        }
    }

    // The close that lost the last connection is reported by NotifyGatewayCountChanged too.
    public void NotifyClusterConnectionLost()
    {
    }
}
