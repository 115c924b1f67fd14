using Microsoft.Extensions.DependencyInjection;
using OrleansStream.Protocol;
using OrleansStream.Server.Kafka;

namespace OrleansStream.Kafka.Tests;

/// <summary>One in-process silo, for what its services say.</summary>
public sealed class OneSilo : ClusterFixture
{
    public override int SiloCount => 1;
}

public class VersionsTableTests(OneSilo silo) : IClassFixture<OneSilo>
{
    /// <summary>The listener closes a connection for an API without a handler: none may be advertised.</summary>
    [Fact]
    public void Every_advertised_API_has_one_handler_and_every_handler_is_advertised()
    {
        var services = silo.Silos[0].SiloHost.Services;
        var handlers = services.GetServices<IKafkaApiHandler>().Select(h => h.ApiKey).ToList();

        Assert.Equal(handlers.Count, handlers.Distinct().Count());
        Assert.Equal(ApiVersionsTable.Advertised.Select(a => a.Key).Order(), handlers.Order());
        Assert.Equal(handlers.Order(), services.GetRequiredService<KafkaConnectionHandler>().HandledApis.Order());
    }
}
