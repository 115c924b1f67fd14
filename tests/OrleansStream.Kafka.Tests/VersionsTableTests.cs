using System.Runtime.CompilerServices;
using Microsoft.Extensions.DependencyInjection;
using OrleansStream.Protocol;
using OrleansStream.Server.Kafka;

namespace OrleansStream.Kafka.Tests;

public class VersionsTableTests
{
    /// <summary>The listener closes a connection for an API without a handler: none may be advertised.</summary>
    [Fact]
    public void Every_advertised_API_has_one_handler_and_every_handler_is_advertised()
    {
        var services = new ServiceCollection().AddKafkaListener();
        var handled = new List<ApiKey>();
        foreach (var d in services)
            if (d.ServiceType == typeof(IKafkaApiHandler))
                // ApiKey is a constant of each handler type: no dependencies are needed to read it.
                handled.Add(((IKafkaApiHandler)RuntimeHelpers.GetUninitializedObject(d.ImplementationType!)).ApiKey);

        Assert.Equal(handled.Count, handled.Distinct().Count());
        Assert.Equal(ApiVersionsTable.Advertised.Select(a => a.Key).Order(), handled.Order());
    }
}
