using OrleansStream.TestKit;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Orleans.Configuration;
using Orleans.Messaging;
using Orleans.Runtime;
using OrleansStream.Client.Connection;

namespace OrleansStream.Client.Tests;

/// <summary>
/// The bootstrap list's refresh probes only the gateways that did not accept last time, and every gateway again after
/// Orleans closed a gateway connection, after the client's watch saw a silo leave, or once every full-probe period. The
/// probes are counted as the connections each gateway's listener has pending: a probe's connect completes only once
/// the connection is queued there.
/// </summary>
public sealed class BootstrapGatewayListProviderTests : IDisposable
{
    private readonly TcpListener _first = Listen(TestPorts.Reserve());
    private readonly TcpListener _second = Listen(TestPorts.Reserve());
    private readonly IPEndPoint _down;
    private readonly FakeTimeProvider _time = new();
    private readonly BootstrapGatewayListProvider _provider;

    public BootstrapGatewayListProviderTests()
    {
        var down = Listen(TestPorts.Reserve());
        _down = (IPEndPoint)down.LocalEndpoint;
        down.Stop();
        _provider = new BootstrapGatewayListProvider(
            new BootstrapGateways([Endpoint(_first), _down, Endpoint(_second)]),
            Options.Create(new GatewayOptions()), Options.Create(new ConnectionOptions()), time: _time)
        {
            // Every live gateway's probe is counted: on a loaded machine the second may take longer than the 100 ms grace.
            ProbeGrace = TimeSpan.FromSeconds(30),
        };
    }

    [Fact]
    public async Task A_refresh_probes_only_the_gateways_that_did_not_accept_last_time()
    {
        Assert.Equal([Uri(_first), Uri(_second)], await _provider.GetGateways());
        Assert.Equal((1, 1), (Probes(_first, 1), Probes(_second, 1)));

        Assert.Equal([Uri(_first), Uri(_second)], await _provider.GetGateways());
        Assert.Equal((0, 0), (Probes(_first, 0), Probes(_second, 0)));

        // The gateway that refused is probed at every refresh and listed, in the listed order, once it accepts.
        using var back = Listen(_down.Port);
        Assert.Equal([Uri(_first), _down.ToGatewayUri(), Uri(_second)], await _provider.GetGateways());
        Assert.Equal((0, 1, 0), (Probes(_first, 0), Probes(back, 1), Probes(_second, 0)));
    }

    /// <summary>The start's watch (BootstrapStart) watches the gateways the first probe gave the client, and only those.</summary>
    [Fact]
    public async Task The_first_probe_names_the_gateways_the_client_starts_with_and_later_ones_do_not_change_them()
    {
        Assert.False(_provider.FirstLive.IsCompleted);

        await _provider.GetGateways();
        using var back = Listen(_down.Port);
        await _provider.GetGateways();

        Assert.Equal([Endpoint(_first), Endpoint(_second)], await _provider.FirstLive);
    }

    [Fact]
    public async Task Every_gateway_is_probed_again_after_Orleans_closed_a_gateway_connection()
    {
        await _provider.GetGateways();
        Drain(_first, _second);

        _provider.NotifyGatewayCountChanged(1, 2, connectionRecovered: false);
        _second.Stop();

        Assert.Equal([Uri(_first)], await _provider.GetGateways());
        Assert.Equal(1, Probes(_first, 1));
    }

    [Fact]
    public async Task Every_gateway_is_probed_again_once_a_full_probe_period_has_passed()
    {
        await _provider.GetGateways();
        Drain(_first, _second);

        _time.Advance(BootstrapGatewayListProvider.FullProbePeriod - TimeSpan.FromSeconds(1));
        await _provider.GetGateways();
        Assert.Equal((0, 0), (Probes(_first, 0), Probes(_second, 0)));

        _time.Advance(TimeSpan.FromSeconds(1));
        await _provider.GetGateways();
        Assert.Equal((1, 1), (Probes(_first, 1), Probes(_second, 1)));
    }

    [Fact]
    public async Task Every_gateway_is_probed_again_after_the_clients_watch_saw_a_silo_leave()
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.UseOrleansClient(c => c.UseBootstrapGateways([Endpoint(_first), _down, Endpoint(_second)]));
        using var host = builder.Build();
        var provider = (BootstrapGatewayListProvider)host.Services.GetRequiredService<IGatewayListProvider>();
        provider.ProbeGrace = TimeSpan.FromSeconds(30);
        var watch = SiloFailureWatch.For(host.Services.GetRequiredService<IClusterClient>());
        var one = SiloAddress.New(new IPEndPoint(IPAddress.Loopback, 11111), 1);
        var two = SiloAddress.New(new IPEndPoint(IPAddress.Loopback, 11112), 1);
        await provider.GetGateways();
        Drain(_first, _second);

        watch.Apply(new MembershipView(1, [one, two]));
        await provider.GetGateways();
        Assert.Equal((0, 0), (Probes(_first, 0), Probes(_second, 0)));

        watch.Apply(new MembershipView(2, [one]));
        await provider.GetGateways();
        Assert.Equal((1, 1), (Probes(_first, 1), Probes(_second, 1)));
    }

    [Fact]
    public async Task A_gateway_connection_that_opens_asks_for_no_probe()
    {
        await _provider.GetGateways();
        Drain(_first, _second);

        _provider.NotifyGatewayCountChanged(2, 1, connectionRecovered: false);

        await _provider.GetGateways();
        Assert.Equal((0, 0), (Probes(_first, 0), Probes(_second, 0)));
    }

    /// <summary>
    /// A full probe gives the gateways after the first to accept only a short grace. A gateway the client is connected to
    /// that accepts only after it (a loaded machine) stays listed: leaving it out would make Orleans close the client's
    /// connection to it, and that gateway would hold the answers of every grain on its silo for the client.
    /// </summary>
    [Fact]
    public async Task A_full_probe_keeps_a_listed_gateway_that_accepts_after_the_grace()
    {
        using var fast = Listen(TestPorts.Reserve());
        var slow = new TcpListener(IPAddress.Loopback, TestPorts.Reserve());
        slow.Start(0);
        var fillers = new List<Socket>();
        try
        {
            var provider = new BootstrapGatewayListProvider(new BootstrapGateways([Endpoint(fast), Endpoint(slow)]),
                Options.Create(new GatewayOptions()), Options.Create(new ConnectionOptions()), time: _time)
            {
                ProbeGrace = TimeSpan.FromSeconds(30),
            };
            Assert.Equal([Uri(fast), Uri(slow)], await provider.GetGateways());
            Drain(fast, slow);

            // The slow gateway's accept queue is full: its kernel drops a connect's SYN, and the client sends it again
            // about a second later, long after the grace (none here) that the fast one's answer starts.
            await FillAcceptQueueAsync(slow, fillers);
            provider.ProbeGrace = TimeSpan.Zero;
            provider.NotifyGatewayCountChanged(1, 2, connectionRecovered: false);
            // The slow gateway accepts everything that reaches it until the refresh is done: the fillers' own SYNs,
            // sent again too, would otherwise take the queue's room back before the probe's next try (a queue drained
            // once, here, let them do so on a loaded CI machine, and the probe gave up after its 5 s).
            using var refreshed = new CancellationTokenSource();
            var refresh = provider.GetGateways();
            var accepting = AcceptUntilAsync(slow, refreshed.Token);
            var gateways = await refresh;
            await refreshed.CancelAsync();
            await accepting;

            Assert.Equal([Uri(fast), Uri(slow)], gateways);
        }
        finally
        {
            foreach (var filler in fillers) filler.Dispose();
            slow.Stop();
        }
    }

    /// <summary>Accepts and closes every connection that reaches <paramref name="listener"/> until <paramref name="stop"/>.</summary>
    private static async Task AcceptUntilAsync(TcpListener listener, CancellationToken stop)
    {
        try
        {
            while (true) (await listener.AcceptSocketAsync(stop)).Dispose();
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
    }

    /// <summary>Connects to the listener until a connect is not answered within a second: its accept queue is full.</summary>
    private static async Task FillAcceptQueueAsync(TcpListener listener, List<Socket> fillers)
    {
        for (var i = 0; i < 16; i++)
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            fillers.Add(socket);
            using var unanswered = new CancellationTokenSource(TimeSpan.FromSeconds(1));
            try
            {
                await socket.ConnectAsync(Endpoint(listener), unanswered.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
        Assert.Fail("the listener's accept queue never filled");
    }

    public void Dispose()
    {
        _first.Stop();
        _second.Stop();
    }

    private static TcpListener Listen(int port)
    {
        var listener = new TcpListener(IPAddress.Loopback, port);
        listener.Start();
        return listener;
    }

    private static IPEndPoint Endpoint(TcpListener listener) => (IPEndPoint)listener.LocalEndpoint;

    private static Uri Uri(TcpListener listener) => Endpoint(listener).ToGatewayUri();

    /// <summary>
    /// The connections made to the listener since the last count: waits (5 s at most) for the <paramref name="expected"/>
    /// ones, then takes whatever else is pending, so a count above the expected one shows.
    /// </summary>
    private static int Probes(TcpListener listener, int expected)
    {
        var count = 0;
        while (count < expected && listener.Server.Poll(TimeSpan.FromSeconds(5), SelectMode.SelectRead))
        {
            listener.AcceptSocket().Dispose();
            count++;
        }
        while (listener.Pending())
        {
            listener.AcceptSocket().Dispose();
            count++;
        }
        return count;
    }

    /// <summary>
    /// Takes the first probe's connection of each live gateway, waiting for it: a probe's connect can complete on the
    /// client's side a moment before the listener queues the connection, which would otherwise count it at the next step.
    /// </summary>
    private static void Drain(params TcpListener[] listeners)
    {
        foreach (var listener in listeners) Assert.Equal(1, Probes(listener, 1));
    }
}
