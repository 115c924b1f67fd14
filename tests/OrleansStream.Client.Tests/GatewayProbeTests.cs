using OrleansStream.TestKit;
using System.Net;
using System.Net.Sockets;
using OrleansStream.Client.Connection;

namespace OrleansStream.Client.Tests;

public sealed class GatewayProbeTests
{
    private static IPEndPoint ClosedPort()
    {
        // Reserved, so no parallel test's listener is given it while this one expects a refusal.
        return new IPEndPoint(IPAddress.Loopback, TestPorts.Reserve());
    }

    [Fact]
    public async Task Lists_the_gateways_that_accept_and_names_why_the_others_did_not()
    {
        using var live = new TcpListener(IPAddress.Loopback, 0);
        live.Start();
        var liveEndpoint = (IPEndPoint)live.LocalEndpoint;
        var dead = ClosedPort();

        var result = await GatewayProbe.ProbeAsync([dead, liveEndpoint], TimeSpan.FromSeconds(30));

        Assert.Equal([liveEndpoint], result.Live);
        Assert.Equal([$"{dead}: {SocketError.ConnectionRefused}"], result.Failures);
    }

    /// <summary>
    /// A connect that completes at once (a loopback connect often does) made the probe's attempt complete at once with
    /// null, and the runtime hands out one cached task for every such result: the probe found the gateways by their
    /// tasks, listed the first of them and lost the others, and Orleans then closed the client's connections to those
    /// live gateways (a 100-kill soak's test client lost one so, and its calls were unanswered for 25 s).
    /// </summary>
    [Fact]
    public async Task Lists_every_gateway_that_accepted_at_once_though_their_attempts_share_one_task()
    {
        Assert.Same(AcceptedAtOnce(), AcceptedAtOnce());
        var gateways = new[] { new IPEndPoint(IPAddress.Loopback, 1), new IPEndPoint(IPAddress.Loopback, 2), new IPEndPoint(IPAddress.Loopback, 3) };

        var result = await GatewayProbe.ProbeAsync(gateways, TimeSpan.FromSeconds(30), grace: null, (_, _) => AcceptedAtOnce());

        Assert.Equal(3, result.Live.Distinct().Count());
        Assert.All(gateways, g => Assert.Contains(g, result.Live));
        Assert.Empty(result.Failures);

        static async Task<string?> AcceptedAtOnce()
        {
            await Task.CompletedTask;
            return null;
        }
    }

    [Fact]
    public async Task Lists_two_live_loopback_gateways_and_the_refusing_one()
    {
        using var first = new TcpListener(IPAddress.Loopback, 0);
        using var second = new TcpListener(IPAddress.Loopback, 0);
        first.Start();
        second.Start();
        var live = new[] { (IPEndPoint)first.LocalEndpoint, (IPEndPoint)second.LocalEndpoint };
        var dead = ClosedPort();

        var result = await GatewayProbe.ProbeAsync([live[0], dead, live[1]], TimeSpan.FromSeconds(30));

        Assert.All(live, g => Assert.Contains(g, result.Live));
        Assert.Equal(2, result.Live.Count);
        Assert.Equal([$"{dead}: {SocketError.ConnectionRefused}"], result.Failures);
    }

    [Fact]
    public async Task Lists_none_when_no_gateway_accepts()
    {
        var dead = new[] { ClosedPort(), ClosedPort() };

        var result = await GatewayProbe.ProbeAsync(dead, TimeSpan.FromSeconds(30));

        Assert.Empty(result.Live);
        Assert.Equal(2, result.Failures.Count);
    }

    [Fact]
    public async Task The_start_watch_reports_a_gateway_that_accepted_and_then_refuses()
    {
        var gateway = new TcpListener(IPAddress.Loopback, TestPorts.Reserve());
        gateway.Start();
        var endpoint = (IPEndPoint)gateway.LocalEndpoint;
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        cancel.CancelAfter(TimeSpan.FromSeconds(30));

        var watch = GatewayProbe.WatchForRefusalAsync([endpoint], TimeSpan.FromMilliseconds(50), cancel.Token);
        using (await gateway.AcceptTcpClientAsync(cancel.Token)) { } // the first check accepted
        gateway.Stop();

        Assert.True(await watch);
    }

    /// <summary>
    /// The start's probe gave the client this gateway and it died before the watch first looked: the watch checked the
    /// listed gateways on its own and took one that refused at its first check for one the client never had.
    /// </summary>
    [Fact]
    public async Task The_start_watch_reports_a_gateway_that_refuses_at_its_first_check()
    {
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        cancel.CancelAfter(TimeSpan.FromSeconds(30));

        Assert.True(await GatewayProbe.WatchForRefusalAsync([ClosedPort()], TimeSpan.FromMilliseconds(50), cancel.Token));
    }
}
