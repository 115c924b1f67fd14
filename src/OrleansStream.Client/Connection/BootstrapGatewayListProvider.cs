using System.Net;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Messaging;

namespace OrleansStream.Client.Connection;

/// <summary>The gateways the application listed (Kafka's <c>bootstrap.servers</c>).</summary>
internal sealed record BootstrapGateways(IReadOnlyList<IPEndPoint> Endpoints);

/// <summary>
/// Orleans' gateway list, limited to the listed gateways that accept a connection now. Orleans' static list hands the
/// client every listed gateway, a dead one included; the client then fetches the cluster manifest from one chosen at
/// random and, when that is the dead one, tries again only 5 s later, so a start took 5, 10 or 15 s while live gateways
/// waited. Probed again at every refresh of the list (<see cref="GatewayOptions.GatewayListRefreshPeriod"/>,
/// <see cref="RefreshPeriod"/> unless the application sets it), so a gateway that comes back is used again.
/// </summary>
/// <remarks>
/// Orleans leaves a gateway whose connection failed out of the client's live list for <see cref="MaxStaleness"/> (the
/// refresh period), and at each refresh closes the client's connections to gateways not in that list. A gateway holds
/// the answers to calls that came through it for a client that went away until the client connects again (or its
/// ClientDropTimeout, 1 min, passes). With Orleans' 1 min period, a client whose silos were killed and restarted one
/// after another was down to one live gateway; when that one died, Orleans took the others for live again, and its
/// next refresh closed the connection to a live one, whose answers then waited for the next kill or minute. Probed at
/// every refresh, the list is as fresh as the refresh period, so a short one is cheap and brings such a gateway back.
/// </remarks>
internal sealed class BootstrapGatewayListProvider(
    BootstrapGateways bootstrap, IOptions<GatewayOptions> gatewayOptions, IOptions<ConnectionOptions> connectionOptions,
    GatewayTls? tls = null)
    : IGatewayListProvider
{
    /// <summary>How often the bootstrap list is probed again: a gateway that came back is used again within this.</summary>
    public static readonly TimeSpan RefreshPeriod = TimeSpan.FromSeconds(2);

    private bool _answered;

    public TimeSpan MaxStaleness => gatewayOptions.Value.GatewayListRefreshPeriod;

    [Obsolete("Orleans no longer reads it; every provider is updatable.")]
    public bool IsUpdatable => true;

    public Task InitializeGatewayListProvider() => Task.CompletedTask;

    public async Task<IList<Uri>> GetGateways()
    {
        var probe = await GatewayProbe.ProbeAsync(bootstrap.Endpoints, connectionOptions.Value.OpenConnectionTimeout, tls).ConfigureAwait(false);
        if (probe.Live.Count > 0)
        {
            _answered = true;
            return ToUris(probe.Live);
        }
        // Not an Orleans rejection: Orleans' default retry filter would retry the start for minutes.
        if (!_answered)
            throw new KafkaException(new Error(ErrorCode.BrokerNotAvailable,
                $"no listed gateway accepts a connection ({string.Join(", ", probe.Failures)})"));
        // Connected before and every gateway is silent now: Orleans keeps trying them all, as with a static list.
        return ToUris(bootstrap.Endpoints);
    }

    private static List<Uri> ToUris(IReadOnlyList<IPEndPoint> endpoints)
    {
        var uris = new List<Uri>(endpoints.Count);
        foreach (var endpoint in endpoints) uris.Add(endpoint.ToGatewayUri());
        return uris;
    }
}
