using System.Net;
using Orleans.Messaging;
using Orleans.Runtime.Messaging;

namespace OrleansStream.Client.Connection;

/// <summary>
/// Orleans retries a failed start for about three minutes. A gateway that refuses the client's certificate lets the
/// handshake finish and then closes the connection, which Orleans cannot tell from a gateway going down; this asks the
/// gateways once more and, when every one that answers refuses the certificate, ends the start with that reason.
/// Other failures go to the filter that was registered before (Orleans' linear backoff by default).
/// </summary>
internal sealed class TlsRefusalRetryFilter(GatewayTls tls, IGatewayListProvider gateways, IClientConnectionRetryFilter? inner)
    : IClientConnectionRetryFilter
{
    /// <summary>A refusing gateway closes at once; an accepting one stays silent, waiting for Orleans' preamble.</summary>
    internal static readonly TimeSpan VerdictWait = TimeSpan.FromSeconds(3);

    public async Task<bool> ShouldRetryConnectionAttempt(Exception exception, CancellationToken cancellationToken)
    {
        if (exception is ConnectionFailedException && await RefusalAsync(cancellationToken).ConfigureAwait(false) is { } refusal)
            throw new KafkaException(new Error(ErrorCode.BrokerNotAvailable, refusal));
        return inner is not null && await inner.ShouldRetryConnectionAttempt(exception, cancellationToken).ConfigureAwait(false);
    }

    private async Task<string?> RefusalAsync(CancellationToken cancellationToken)
    {
        var uris = await gateways.GetGateways().ConfigureAwait(false);
        var checks = new List<Task<string?>>(uris.Count);
        foreach (var uri in uris)
            if (IPAddress.TryParse(uri.Host.Trim('[', ']'), out var address))
                checks.Add(tls.RefusalAfterHandshakeAsync(new IPEndPoint(address, uri.Port), VerdictWait, cancellationToken));
        var refusals = await Task.WhenAll(checks).ConfigureAwait(false);
        foreach (var refusal in refusals)
            if (refusal is null) return null;
        return refusals.Length == 0 ? null : $"no listed gateway accepts this client ({string.Join(", ", refusals)})";
    }
}
