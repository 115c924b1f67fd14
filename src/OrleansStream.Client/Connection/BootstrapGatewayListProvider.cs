using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
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
/// waited. Read again at every refresh of the list (<see cref="GatewayOptions.GatewayListRefreshPeriod"/>,
/// <see cref="RefreshPeriod"/> unless the application sets it), so a gateway that comes back is used again.
/// </summary>
/// <remarks>
/// Orleans leaves a gateway whose connection failed out of the client's live list for <see cref="MaxStaleness"/> (the
/// refresh period), and at each refresh closes the client's connections to gateways not in that list. A gateway holds
/// the answers to calls that came through it for a client that went away until the client connects again (or its
/// ClientDropTimeout, 1 min, passes). With Orleans' 1 min period, a client whose silos were killed and restarted one
/// after another was down to one live gateway; when that one died, Orleans took the others for live again, and its
/// next refresh closed the connection to a live one, whose answers then waited for the next kill or minute.
/// <para>
/// A refresh probes the gateways that did not accept at the last probe, so one that comes back is listed within a
/// period; those that accepted are probed again only after Orleans closed a connection to a gateway
/// (<see cref="IClusterConnectionStatusObserver"/>), after the client's <see cref="SiloFailureWatch"/> saw a silo
/// leave the cluster (a gateway whose host went silent closes no connection), and once every
/// <see cref="FullProbePeriod"/>. Orleans itself leaves out for a period a listed gateway it failed to connect to.
/// Probing every gateway at every refresh cost each client a connection to every gateway every 2 s.
/// </para>
/// </remarks>
internal sealed partial class BootstrapGatewayListProvider(
    BootstrapGateways bootstrap, IOptions<GatewayOptions> gatewayOptions, IOptions<ConnectionOptions> connectionOptions,
    GatewayTls? tls = null, IServiceProvider? services = null, TimeProvider? time = null, ILogger<BootstrapGatewayListProvider>? logger = null)
    : IGatewayListProvider, IClusterConnectionStatusObserver
{
    private readonly ILogger _logger = logger ?? NullLogger<BootstrapGatewayListProvider>.Instance;
    /// <summary>How often the bootstrap list is read again: a gateway that came back is used again within this.</summary>
    public static readonly TimeSpan RefreshPeriod = TimeSpan.FromSeconds(2);

    /// <summary>How often every listed gateway is probed, the ones that accepted last time included.</summary>
    public static readonly TimeSpan FullProbePeriod = TimeSpan.FromSeconds(10);

    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private readonly Lock _gate = new();
    private readonly TaskCompletionSource<IReadOnlyList<IPEndPoint>> _firstLive = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private HashSet<IPEndPoint>? _live;
    private long _fullProbeDue;
    private bool _connectionClosed;
    private long _departuresSeen;
    private SiloFailureWatch? _watch;

    /// <summary>How long the other gateways may take once one accepted (<see cref="GatewayProbe.Grace"/>); tests that count every probe lengthen it.</summary>
    internal TimeSpan ProbeGrace { get; set; } = GatewayProbe.Grace;

    public TimeSpan MaxStaleness => gatewayOptions.Value.GatewayListRefreshPeriod;

    [Obsolete("Orleans no longer reads it; every provider is updatable.")]
    public bool IsUpdatable => true;

    public Task InitializeGatewayListProvider() => Task.CompletedTask;

    /// <summary>The gateways that accepted at the first probe, in the listed order: those the client starts with.</summary>
    public Task<IReadOnlyList<IPEndPoint>> FirstLive => _firstLive.Task;

    public async Task<IList<Uri>> GetGateways()
    {
        HashSet<IPEndPoint>? known;
        bool full;
        var departures = Departures();
        lock (_gate)
        {
            known = _live;
            full = known is null || _connectionClosed || departures != _departuresSeen || _time.GetTimestamp() >= _fullProbeDue;
            _connectionClosed = false;
            _departuresSeen = departures;
        }
        var probing = new List<IPEndPoint>(bootstrap.Endpoints.Count);
        foreach (var gateway in bootstrap.Endpoints)
            if (full || !known!.Contains(gateway)) probing.Add(gateway);
        var timeout = connectionOptions.Value.OpenConnectionTimeout;
        var probe = probing.Count == 0
            ? new GatewayProbeResult([], [], [])
            : await GatewayProbe.ProbeAsync(probing, timeout, tls, ProbeGrace).ConfigureAwait(false);

        var live = full ? new HashSet<IPEndPoint>(probe.Live) : new HashSet<IPEndPoint>(known!);
        if (!full) live.UnionWith(probe.Live);
        if (full && known is not null) live.UnionWith(await StillAcceptingAsync(known, probe.Silent, timeout).ConfigureAwait(false));
        // Not an Orleans rejection: Orleans' default retry filter would retry the start for minutes.
        if (live.Count == 0 && known is null)
            throw new KafkaException(new Error(ErrorCode.BrokerNotAvailable,
                $"no listed gateway accepts a connection ({string.Join(", ", probe.Failures)})"));
        lock (_gate)
        {
            _live = live;
            if (full) _fullProbeDue = _time.GetTimestamp() + (long)(FullProbePeriod.TotalSeconds * _time.TimestampFrequency);
        }
        if (known is null || !live.SetEquals(known))
            LogLiveChanged(string.Join(", ", Listed(live)), probe.Failures.Count == 0 ? "none" : string.Join("; ", probe.Failures));
        if (known is null) _firstLive.TrySetResult(Listed(live));
        // None live after the client connected before (every gateway silent): Orleans gets them all, as from a static list.
        return ListedUris(live.Count > 0 ? live : null);
    }

    /// <summary>
    /// The gateways of <paramref name="known"/> that were silent within the probe's grace but accept within the connection
    /// timeout. The grace keeps a start from waiting on a host that is gone; a gateway the client is connected to must
    /// not be dropped for answering late on a loaded machine: Orleans would close the client's connection to it, and that
    /// gateway holds the answers of every grain on its silo for the client until the client connects again (its
    /// ClientDropTimeout, 1 min), which it does not while the gateway is left out. A refusal still drops it at once.
    /// </summary>
    private async Task<IReadOnlyList<IPEndPoint>> StillAcceptingAsync(HashSet<IPEndPoint> known, IReadOnlyList<IPEndPoint> silent, TimeSpan timeout)
    {
        var again = new List<IPEndPoint>(silent.Count);
        foreach (var gateway in silent)
            if (known.Contains(gateway)) again.Add(gateway);
        if (again.Count == 0) return [];
        return (await GatewayProbe.ProbeAsync(again, timeout, tls, grace: timeout).ConfigureAwait(false)).Live;
    }

    /// <summary>The listed gateways (those in <paramref name="only"/>, when given) in the listed order: Orleans' round robin over the live gateways assumes a stable order.</summary>
    private List<Uri> ListedUris(HashSet<IPEndPoint>? only) => Listed(only).ConvertAll(static g => g.ToGatewayUri());

    private List<IPEndPoint> Listed(HashSet<IPEndPoint>? only)
    {
        var gateways = new List<IPEndPoint>(bootstrap.Endpoints.Count);
        foreach (var gateway in bootstrap.Endpoints)
            if (only is null || only.Contains(gateway)) gateways.Add(gateway);
        return gateways;
    }

    /// <summary>
    /// How many times the client's watch saw a silo leave the cluster. The client is resolved at the first refresh, not
    /// in the constructor: it is built from the same services as this list.
    /// </summary>
    private long Departures()
    {
        if (_watch is null && services is not null)
        {
            try
            {
                if (services.GetService<IClusterClient>() is { } client) _watch = SiloFailureWatch.For(client);
            }
            catch (ObjectDisposedException)
            {
                // The client is being disposed.
            }
        }
        return _watch?.Departures ?? 0;
    }

    public void NotifyGatewayCountChanged(int currentNumberOfGateways, int previousNumberOfGateways, bool connectionRecovered)
    {
        if (currentNumberOfGateways < previousNumberOfGateways) ConnectionClosed();
    }

    public void NotifyClusterConnectionLost() => ConnectionClosed();

    private void ConnectionClosed()
    {
        lock (_gate) _connectionClosed = true;
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Live bootstrap gateways now: [{Live}]; refused or silent: {Failures}")]
    private partial void LogLiveChanged(string live, string failures);
}
