using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Orleans.Configuration;
using Orleans.Hosting;
using Orleans.Runtime;
using OrleansStream.Client;

namespace OrleansStream.Failover.Tests;

/// <summary>
/// Kafka's bootstrap: a client listing three gateways, one of them just killed, connects through the live ones; and the
/// client's gateway list follows the gateways that die and come back.
/// </summary>
[Trait("Category", "Slow")]
public sealed class BootstrapGatewayTests
{
    /// <summary>
    /// The bound is 1 s (a local connect takes milliseconds); the assertion allows 3 s because this machine runs
    /// several builds at once. Listing the dead gateway to Orleans as it is cost 5 s (or 10, 15) whenever the client
    /// chose it for its first request, so 3 s still tells the two apart.
    /// </summary>
    private static readonly TimeSpan ConnectBound = TimeSpan.FromSeconds(3);

    /// <summary>
    /// Orleans picks the gateway for its first request at random (one start in three chose the dead one): with 30
    /// starts, a client that may choose it passes by chance once in 10^5 runs.
    /// </summary>
    private const int Connects = 30;

    [Fact]
    public async Task A_client_listing_a_killed_gateway_connects_through_the_live_ones_within_the_bound()
    {
        await using var cluster = await SiloProcesses.StartAsync(3);
        var gateways = new[] { cluster.GatewayEndpoint(0), cluster.GatewayEndpoint(1), cluster.GatewayEndpoint(2) };
        cluster.Kill(1);

        var took = new List<TimeSpan>(Connects);
        for (var i = 0; i < Connects; i++)
        {
            var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
            builder.UseOrleansClient(client =>
            {
                client.UseBootstrapGateways(gateways);
                client.Configure<ClusterOptions>(o => { o.ClusterId = "orleansstream"; o.ServiceId = "orleansstream"; });
            });
            using var host = builder.Build();
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
            deadline.CancelAfter(TimeSpan.FromSeconds(30));

            var started = Stopwatch.StartNew();
            await host.StartAsync(deadline.Token);
            took.Add(started.Elapsed);
            await host.StopAsync(deadline.Token);
        }

        var slowest = TimeSpan.Zero;
        foreach (var t in took) if (t > slowest) slowest = t;
        Assert.True(slowest < ConnectBound,
            $"with gateway {gateways[1]} dead and two alive, connects took (ms): {string.Join(", ", took.ConvertAll(t => t.TotalMilliseconds.ToString("F0")))}");
    }

    /// <summary>
    /// Orleans leaves a gateway whose connection failed out of the client's live gateways until the list provider's
    /// refresh period has passed, and with its default (1 min) a client whose silos were killed and restarted in turn
    /// was down to one live gateway, then closed a connection to a live one whose answers waited there for the next kill
    /// or minute (BootstrapGatewayListProvider). The bootstrap list is probed every 2 s instead, so the list follows.
    /// </summary>
    [Fact]
    public async Task The_gateway_list_leaves_a_killed_gateway_out_and_takes_it_back_once_restarted()
    {
        await using var cluster = await SiloProcesses.StartAsync(3);
        var gateways = new[] { cluster.GatewayEndpoint(0), cluster.GatewayEndpoint(1), cluster.GatewayEndpoint(2) };
        using var updates = new GatewayListUpdates();
        using var host = BootstrapClient(gateways);
        await host.StartAsync(TestContext.Current.CancellationToken);
        var client = GatewayListUpdates.GatewayManagerOf(host.Services);
        // Deadlines well inside Orleans' default refresh period of 1 min.
        var deadline = TimeSpan.FromSeconds(30);

        cluster.Kill(0);
        await Eventually.WaitUntilAsync(() => updates.Live(client) is { } live && !Lists(live, gateways[0]),
            "the client's live gateways leave the killed one out", deadline, () => updates.Describe(client));
        await cluster.StartSiloAsync(0);
        await Eventually.WaitUntilAsync(() => updates.Live(client) is { } live && Lists(live, gateways[0]) && live.Count == 3,
            "the client's live gateways take the restarted one back", deadline, () => updates.Describe(client));

        await host.StopAsync(TestContext.Current.CancellationToken);
    }

    /// <summary>
    /// A client that finds the gateways in the cluster's membership table (Redis here) reads the table every
    /// <c>GatewayListRefreshPeriod</c>, 1 min by Orleans' default, and leaves a gateway whose connection failed out for as
    /// long: <c>UseGatewayListRefresh</c> gives it the bootstrap list's 2 s, so the table's view of a killed and
    /// restarted silo reaches the client within seconds.
    /// </summary>
    [Fact]
    public async Task A_membership_table_client_with_the_short_refresh_follows_a_killed_and_restarted_gateway()
    {
        await using var cluster = await SiloProcesses.StartAsync(3);
        using var updates = new GatewayListUpdates();
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.UseOrleansClient(client =>
        {
            client.UseRedisClustering($"127.0.0.1:{cluster.RedisPort},abortConnect=False").UseGatewayListRefresh();
            client.Configure<ClusterOptions>(o => { o.ClusterId = "orleansstream"; o.ServiceId = "orleansstream"; });
        });
        using var host = builder.Build();
        await host.StartAsync(TestContext.Current.CancellationToken);
        var client = GatewayListUpdates.GatewayManagerOf(host.Services);
        var deadline = TimeSpan.FromSeconds(30);
        var killed = cluster.GatewayEndpoint(0);

        cluster.Kill(0);
        await Eventually.WaitUntilAsync(() => updates.Live(client) is { } live && !Lists(live, killed),
            "the client's live gateways leave the killed one out", deadline, () => updates.Describe(client));
        await cluster.StartSiloAsync(0);
        await Eventually.WaitUntilAsync(() => updates.Live(client) is { } live && Lists(live, killed) && live.Count == 3,
            "the client's live gateways take the restarted one back", deadline, () => updates.Describe(client));

        await host.StopAsync(TestContext.Current.CancellationToken);
    }

    private static IHost BootstrapClient(IPEndPoint[] gateways)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.UseOrleansClient(client =>
        {
            client.UseBootstrapGateways(gateways);
            client.Configure<ClusterOptions>(o => { o.ClusterId = "orleansstream"; o.ServiceId = "orleansstream"; });
        });
        return builder.Build();
    }

    private static bool Lists(IReadOnlyList<SiloAddress> live, IPEndPoint gateway)
    {
        foreach (var address in live)
            if (address.Endpoint.Equals(gateway)) return true;
        return false;
    }

    /// <summary>The live gateways of each Orleans client in this process, as its gateway manager last published them (Orleans' "Orleans.Gateway" diagnostics).</summary>
    private sealed class GatewayListUpdates : IObserver<DiagnosticListener>, IObserver<KeyValuePair<string, object?>>, IDisposable
    {
        private readonly ConcurrentDictionary<object, IReadOnlyList<SiloAddress>> _live = new(ReferenceEqualityComparer.Instance);
        private readonly ConcurrentBag<IDisposable> _subscriptions = [];
        private readonly IDisposable _listeners;

        public GatewayListUpdates() => _listeners = DiagnosticListener.AllListeners.Subscribe(this);

        /// <summary>The client's gateway manager, the source of its updates.</summary>
        public static object GatewayManagerOf(IServiceProvider services) =>
            services.GetRequiredService(typeof(IClusterClient).Assembly.GetType("Orleans.Messaging.GatewayManager", throwOnError: true)!);

        public IReadOnlyList<SiloAddress>? Live(object gatewayManager) => _live.GetValueOrDefault(gatewayManager);

        public string Describe(object gatewayManager) =>
            Live(gatewayManager) is { } live ? $"live gateways: {string.Join(", ", live)}" : "no gateway list published yet";

        public void OnNext(DiagnosticListener listener)
        {
            if (listener.Name == "Orleans.Gateway") _subscriptions.Add(listener.Subscribe(this));
        }

        public void OnNext(KeyValuePair<string, object?> value)
        {
            if (value.Key != "GatewayListUpdated" || value.Value is not { } update) return;
            var type = update.GetType();
            var source = type.GetField("Source")!.GetValue(update)!;
            _live[source] = (IReadOnlyList<SiloAddress>)type.GetField("LiveGateways")!.GetValue(update)!;
        }

        public void OnCompleted()
        {
        }

        public void OnError(Exception error)
        {
        }

        public void Dispose()
        {
            _listeners.Dispose();
            foreach (var subscription in _subscriptions) subscription.Dispose();
        }
    }
}
