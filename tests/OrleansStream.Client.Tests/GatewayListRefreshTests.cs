using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Messaging;
using OrleansStream.Client.Connection;

namespace OrleansStream.Client.Tests;

public sealed class GatewayListRefreshTests
{
    [Fact]
    public void The_bootstrap_list_refreshes_every_2_s_and_hears_of_closed_gateway_connections()
    {
        using var host = Client(c => c.UseBootstrapGateways([new IPEndPoint(IPAddress.Loopback, 30000)]));

        var provider = host.Services.GetRequiredService<IGatewayListProvider>();
        Assert.IsType<BootstrapGatewayListProvider>(provider);
        Assert.Contains(host.Services.GetServices<IClusterConnectionStatusObserver>(), o => ReferenceEquals(o, provider));
        Assert.Equal(TimeSpan.FromSeconds(2), host.Services.GetRequiredService<IOptions<GatewayOptions>>().Value.GatewayListRefreshPeriod);
    }

    [Fact]
    public void UseGatewayListRefresh_gives_any_gateway_list_the_same_period()
    {
        using var host = Client(c => c.UseLocalhostClustering().UseGatewayListRefresh());

        Assert.Equal(BootstrapGatewayListProvider.RefreshPeriod, host.Services.GetRequiredService<IOptions<GatewayOptions>>().Value.GatewayListRefreshPeriod);
    }

    /// <summary>A closed gateway connection reaches the SDK's failure watch, once however often the refresh is asked for.</summary>
    [Fact]
    public void The_gateway_list_refresh_tells_the_failure_watch_of_closed_gateway_connections()
    {
        using var host = Client(c => c.UseBootstrapGateways([new IPEndPoint(IPAddress.Loopback, 30000)]).UseGatewayListRefresh());

        Assert.Single(host.Services.GetServices<IClusterConnectionStatusObserver>(), static o => o is GatewayConnectionWatch);
    }

    private static IHost Client(Action<IClientBuilder> configure)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.UseOrleansClient(configure);
        return builder.Build();
    }
}
