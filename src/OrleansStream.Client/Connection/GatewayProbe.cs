using System.Net;
using System.Net.Sockets;

namespace OrleansStream.Client.Connection;

/// <summary>
/// The listed gateways that accepted a TCP connection, in the order they answered, and why the others did not;
/// <see cref="Silent"/> are those that neither accepted nor refused in time.
/// </summary>
internal sealed record GatewayProbeResult(IReadOnlyList<IPEndPoint> Live, IReadOnlyList<string> Failures, IReadOnlyList<IPEndPoint> Silent);

/// <summary>
/// Kafka's bootstrap: which listed gateways accept a connection now. All are tried at once; once one answers, the
/// rest get <see cref="Grace"/> more, so a gateway whose host is gone (silence, no reset) costs that and not a timeout.
/// With TLS a gateway counts only once the handshake succeeds, so a refused certificate fails the start at once.
/// </summary>
internal static class GatewayProbe
{
    public static readonly TimeSpan Grace = TimeSpan.FromMilliseconds(100);

    private const string NoAnswer = "no answer in time";

    public static Task<GatewayProbeResult> ProbeAsync(IReadOnlyList<IPEndPoint> gateways, TimeSpan timeout, GatewayTls? tls = null, TimeSpan? grace = null) =>
        ProbeAsync(gateways, timeout, grace, (gateway, token) => TryConnectAsync(gateway, tls, token));

    /// <summary>
    /// The probe with its connect step given (<paramref name="connect"/>: null when the gateway accepted, else why not).
    /// Each attempt's outcome is matched to its gateway by index, never by the task object: an async method that
    /// completes at once with null hands out the runtime's one cached task, so two gateways that accepted at once (a
    /// loopback connect often does) shared one task, and looking it up found the first gateway twice and lost the other,
    /// a live gateway that Orleans then closed the client's connection to.
    /// </summary>
    internal static async Task<GatewayProbeResult> ProbeAsync(IReadOnlyList<IPEndPoint> gateways, TimeSpan timeout, TimeSpan? grace,
        Func<IPEndPoint, CancellationToken, Task<string?>> connect)
    {
        using var deadline = new CancellationTokenSource(timeout);
        var pending = new List<Task<(int Index, string? Failure)>>(gateways.Count);
        for (var i = 0; i < gateways.Count; i++) pending.Add(AttemptAsync(i, connect(gateways[i], deadline.Token)));
        var live = new List<IPEndPoint>(gateways.Count);
        var failures = new List<string>();
        var silent = new List<IPEndPoint>();
        while (pending.Count > 0)
        {
            var done = await Task.WhenAny(pending).ConfigureAwait(false);
            pending.Remove(done);
            var (index, failure) = await done.ConfigureAwait(false);
            var gateway = gateways[index];
            if (failure is not null)
            {
                failures.Add($"{gateway}: {failure}");
                if (failure == NoAnswer) silent.Add(gateway);
                continue;
            }
            if (live.Count == 0) deadline.CancelAfter(grace ?? Grace);
            live.Add(gateway);
        }
        return new GatewayProbeResult(live, failures, silent);

        static async Task<(int, string?)> AttemptAsync(int index, Task<string?> attempt) => (index, await attempt.ConfigureAwait(false));
    }

    /// <summary>
    /// True once one of <paramref name="gateways"/> (which accepted a moment ago) refuses a connection (its silo is gone),
    /// checking every <paramref name="interval"/>; false when <paramref name="cancellationToken"/> ends the watch first.
    /// A gateway that is slow to answer is not taken for gone.
    /// </summary>
    public static async Task<bool> WatchForRefusalAsync(IReadOnlyList<IPEndPoint> gateways, TimeSpan interval, CancellationToken cancellationToken)
    {
        try
        {
            using var timer = new PeriodicTimer(interval);
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
                foreach (var gateway in gateways)
                    if (await RefusesAsync(gateway, interval, cancellationToken).ConfigureAwait(false) == true) return true;
        }
        catch (OperationCanceledException)
        {
        }
        return false;
    }

    /// <summary>True when the gateway refused a connection, false when it accepted, null when it did not answer within <paramref name="timeout"/>.</summary>
    private static async Task<bool?> RefusesAsync(IPEndPoint gateway, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        if (await TryConnectAsync(gateway, null, deadline.Token).ConfigureAwait(false) is null) return false;
        return deadline.IsCancellationRequested ? null : true;
    }

    /// <summary>Null when the gateway accepted, else the reason it did not.</summary>
    private static async Task<string?> TryConnectAsync(IPEndPoint gateway, GatewayTls? tls, CancellationToken cancellationToken)
    {
        using var socket = new Socket(gateway.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            await socket.ConnectAsync(gateway, cancellationToken).ConfigureAwait(false);
            if (tls is null) return null;
            var stream = new NetworkStream(socket, ownsSocket: false);
            await using (stream.ConfigureAwait(false))
                return await tls.HandshakeAsync(stream, gateway, cancellationToken).ConfigureAwait(false);
        }
        catch (SocketException e)
        {
            return e.SocketErrorCode.ToString();
        }
        catch (OperationCanceledException)
        {
            return NoAnswer;
        }
    }
}
