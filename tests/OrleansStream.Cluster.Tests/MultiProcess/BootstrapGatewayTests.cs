using System.Diagnostics;
using Microsoft.Extensions.Hosting;
using Orleans.Configuration;
using Orleans.Hosting;
using OrleansStream.Client;

namespace OrleansStream.Cluster.Tests.MultiProcess;

/// <summary>Kafka's bootstrap: a client listing three gateways, one of them just killed, connects through the live ones.</summary>
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
}
