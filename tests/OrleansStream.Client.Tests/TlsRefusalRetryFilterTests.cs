using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Orleans.Runtime.Messaging;
using OrleansStream.Client.Connection;

namespace OrleansStream.Client.Tests;

public sealed class TlsRefusalRetryFilterTests
{
    [Fact]
    public async Task A_failure_that_is_no_certificate_refusal_goes_to_the_filter_registered_before()
    {
        var closed = new IPEndPoint(IPAddress.Loopback, OrleansStream.TestKit.TestPorts.Reserve());
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.UseOrleansClient(client => client
            .UseStaticClustering(closed)
            .UseSecurityProtocol(new Config { SecurityProtocol = SecurityProtocol.Ssl }));
        using var host = builder.Build();

        var filter = host.Services.GetRequiredService<IClientConnectionRetryFilter>();
        var retry = await filter.ShouldRetryConnectionAttempt(new ConnectionFailedException("gone"), TestContext.Current.CancellationToken);

        Assert.IsType<TlsRefusalRetryFilter>(filter);
        // No gateway answered, so nothing refused the certificate: Orleans' linear back-off decides, and it retries.
        Assert.True(retry);
    }
}
