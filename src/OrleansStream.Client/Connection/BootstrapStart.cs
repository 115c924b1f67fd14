using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OrleansStream.Client.Connection;

namespace OrleansStream.Client;

/// <summary>Starting a host whose Orleans client lists its gateways with <see cref="ClientBuilderExtensions.UseBootstrapGateways"/>.</summary>
public static class BootstrapStart
{
    /// <summary>How often a start checks that the gateways that accepted still do.</summary>
    public static readonly TimeSpan GatewayCheckInterval = TimeSpan.FromMilliseconds(500);

    /// <summary>
    /// Builds the host with <paramref name="buildHost"/> and starts it, and builds and starts it again when a listed
    /// gateway that accepted at the start refuses connections before the start ends (its silo died): the client's
    /// first calls (the cluster manifest) may have gone to that gateway, and Orleans ends them only at its response
    /// timeout (30 s), while a new start probes the gateways again and leaves the dead one out. A gateway slow to
    /// answer is not taken for dead. <paramref name="cancellationToken"/> bounds the whole start; a host without
    /// bootstrap gateways is started once. The caller owns (and disposes) the returned host.
    /// </summary>
    public static async Task<IHost> StartAsync(Func<IHost> buildHost, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(buildHost);
        while (true)
        {
            var host = buildHost();
            using var attempt = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            var gatewayLeft = host.Services.GetService<BootstrapGateways>() is { } bootstrap
                ? CancelWhenAGatewayLeavesAsync(bootstrap.Endpoints, attempt)
                : Task.CompletedTask;
            try
            {
                await host.StartAsync(attempt.Token).ConfigureAwait(false);
                return host;
            }
            // Only the gateway check cancels an attempt while the caller's token is live: start again.
            catch (Exception) when (!cancellationToken.IsCancellationRequested && attempt.IsCancellationRequested)
            {
                host.Dispose();
            }
            catch (Exception)
            {
                host.Dispose();
                throw;
            }
            finally
            {
                await attempt.CancelAsync().ConfigureAwait(false);
                await gatewayLeft.ConfigureAwait(false);
            }
        }
    }

    private static async Task CancelWhenAGatewayLeavesAsync(IReadOnlyList<IPEndPoint> gateways, CancellationTokenSource attempt)
    {
        if (await GatewayProbe.WatchForRefusalAsync(gateways, GatewayCheckInterval, attempt.Token).ConfigureAwait(false))
            await attempt.CancelAsync().ConfigureAwait(false);
    }
}
