using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Time.Testing;
using Orleans.Runtime;

namespace OrleansStream.Client.Tests;

/// <summary>
/// A client's first membership view cannot show a departure that came before it (a CLI command started during a
/// failover); the silo that answers tells how long ago it saw a silo leave, and the calls sent before that are given up
/// as for a departure the client saw itself. The watch's own polls go to a client that is never started: they fail, and
/// the views are applied by the test.
/// </summary>
public sealed class SiloFailureWatchTests : IDisposable
{
    private static readonly SiloAddress One = SiloAddress.New(new IPEndPoint(IPAddress.Loopback, 11111), 1);
    private static readonly SiloAddress Two = SiloAddress.New(new IPEndPoint(IPAddress.Loopback, 11112), 1);

    private readonly FakeTimeProvider _time = new();
    private readonly IHost _host;
    private readonly SiloFailureWatch _watch;

    public SiloFailureWatchTests()
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.UseOrleansClient(c => c.UseLocalhostClustering());
        _host = builder.Build();
        _watch = new SiloFailureWatch(_host.Services.GetRequiredService<IClusterClient>(), _time);
    }

    [Fact]
    public async Task A_first_view_from_a_silo_that_saw_a_silo_leave_moments_ago_gives_up_the_calls_sent_before_that()
    {
        var sentBefore = new TaskCompletionSource<int>();
        var before = _watch.Call(sentBefore.Task);
        _time.Advance(TimeSpan.FromSeconds(1));
        var sentAfter = new TaskCompletionSource<int>();
        var after = _watch.Call(sentAfter.Task);
        _time.Advance(TimeSpan.FromMilliseconds(300));

        _watch.Apply(new MembershipView(7, [One, Two], SinceDeparture: TimeSpan.FromMilliseconds(600)));

        await Assert.ThrowsAsync<SiloUnavailableException>(() => before.WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken));
        Assert.Equal(1, _watch.Departures);
        sentAfter.SetResult(5);
        Assert.Equal(5, await after.WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task A_first_view_from_a_silo_that_saw_no_recent_departure_gives_up_nothing()
    {
        var sent = new TaskCompletionSource<int>();
        var call = _watch.Call(sent.Task);
        _time.Advance(TimeSpan.FromSeconds(1));

        _watch.Apply(new MembershipView(7, [One, Two], SinceDeparture: SiloFailureWatch.SettleTime + TimeSpan.FromSeconds(1)));
        _watch.Apply(new MembershipView(8, [One, Two], SinceDeparture: null));

        Assert.Equal(0, _watch.Departures);
        sent.SetResult(5);
        Assert.Equal(5, await call.WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken));
    }

    public void Dispose() => _host.Dispose();
}
