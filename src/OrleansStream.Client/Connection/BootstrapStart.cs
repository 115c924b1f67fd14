using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OrleansStream.Client.Connection;

namespace OrleansStream.Client;

/// <summary>Starting a host whose Orleans client lists its gateways with <see cref="ClientBuilderExtensions.UseBootstrapGateways"/>.</summary>
public static partial class BootstrapStart
{
    /// <summary>How often a start checks that the gateways that accepted still do.</summary>
    public static readonly TimeSpan GatewayCheckInterval = TimeSpan.FromMilliseconds(500);

    /// <summary>
    /// Builds the host with <paramref name="buildHost"/> and starts it, and builds and starts it again when a gateway
    /// that the start's probe accepted (one the client was given) refuses connections before the start ends (its silo
    /// died): the client's first calls (the cluster manifest) may have gone to that gateway, and Orleans ends them only
    /// at its response timeout (30 s), while a new start probes the gateways again and leaves the dead one out. A
    /// gateway slow to answer is not taken for dead, and one the probe already left out does not start it again. <paramref name="cancellationToken"/> bounds the whole start; a host without
    /// bootstrap gateways is started once. The caller owns (and disposes) the returned host.
    /// </summary>
    public static async Task<IHost> StartAsync(Func<IHost> buildHost, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(buildHost);
        while (true)
        {
            var host = buildHost();
            using var attempt = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            var gatewayLeft = host.Services.GetService<BootstrapGatewayListProvider>() is { } gateways
                ? CancelWhenAGatewayLeavesAsync(gateways, attempt)
                : Task.CompletedTask;
            try
            {
                await host.StartAsync(attempt.Token).ConfigureAwait(false);
                return host;
            }
            // Only the gateway check cancels an attempt while the caller's token is live: start again.
            catch (Exception) when (!cancellationToken.IsCancellationRequested && attempt.IsCancellationRequested)
            {
                if (host.Services.GetService<ILoggerFactory>() is { } logs) LogStartAgain(logs.CreateLogger(typeof(BootstrapStart)));
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

    /// <summary>
    /// Watches the gateways the start's probe gave the client. A first check of its own would race that probe: a gateway
    /// killed between the two would be watched though the client never had it (a needless new start), or given to the
    /// client and never watched (its first calls waiting for the response timeout).
    /// </summary>
    private static async Task CancelWhenAGatewayLeavesAsync(BootstrapGatewayListProvider gateways, CancellationTokenSource attempt)
    {
        IReadOnlyList<IPEndPoint> given;
        try
        {
            given = await gateways.FirstLive.WaitAsync(attempt.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return;
        }
        if (await GatewayProbe.WatchForRefusalAsync(given, GatewayCheckInterval, attempt.Token).ConfigureAwait(false))
            await attempt.CancelAsync().ConfigureAwait(false);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "A gateway the client was given refuses connections (its silo died) before the client started; starting it again")]
    private static partial void LogStartAgain(ILogger logger);
}
