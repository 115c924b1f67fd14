using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using OrleansStream.Server.Kafka;

namespace OrleansStream.Server.Tests.Kafka;

/// <summary>How the Kafka listener finds a partition's leader for every produce and fetch request.</summary>
public sealed class PartitionLeadersTests : IDisposable
{
    // A silo host that is never started: its grain factory makes references, which is all the listener asks of it.
    private readonly IHost _host = new HostBuilder().UseOrleans(s => s.UseLocalhostClustering()).Build();

    public void Dispose() => _host.Dispose();

    private PartitionLeaders Leaders() => new(
        _host.Services.GetRequiredService<IGrainFactory>(),
        new BrokerIdentity(Options.Create(new BrokerOptions { BrokerId = "b0" }), Options.Create(new SiloOptions())),
        new MetadataCache(_host.Services.GetRequiredService<IGrainFactory>(), new OrleansStream.Server.Security.Authorization.KafkaAuthorizer(Microsoft.Extensions.Options.Options.Create(new OrleansStream.Server.Security.Authorization.AuthorizerOptions())),
            new OrleansStream.Server.Kafka.Security.SaslCredentialStore(Microsoft.Extensions.Options.Options.Create(new OrleansStream.Server.Kafka.Security.SaslOptions())),
            new OrleansStream.Server.Kafka.Quotas.ClientQuotaManager(TimeProvider.System),
            new FinalizedFeatures(Options.Create(new OrleansStream.Server.Transactions.TransactionCoordinatorOptions())),
            new OrleansStream.Server.ClientMetrics.ClientMetricsManager(Options.Create(new OrleansStream.Server.ClientMetrics.ClientMetricsOptions()), [], TimeProvider.System,
                NullLogger<OrleansStream.Server.ClientMetrics.ClientMetricsManager>.Instance),
            TimeProvider.System, NullLogger<MetadataCache>.Instance));

    private static TopicMetadata Topic(string name, params int[] leaders) => new(name, Guid.NewGuid(), ErrorCode.None,
        [.. leaders.Select((leader, p) => new PartitionMetadata(p, leader, 1, [new ReplicaInfo(0, "b0"), new ReplicaInfo(1, "b1")], [0, 1]))],
        new Dictionary<string, string>());

    [Fact]
    public void A_led_partition_resolves_to_the_same_reference_without_allocating_and_others_to_Kafkas_errors()
    {
        var leaders = Leaders();
        leaders.Update([Topic("orders", 0, 0)]);
        var first = leaders.Find("orders", 1);
        for (var i = 0; i < 10; i++) leaders.Find("orders", i % 2);

        var allocated = ThreadAllocations.Least(_ =>
        {
            for (var i = 0; i < 200; i++) leaders.Find("orders", i % 2);
        });

        Assert.Equal(0, allocated);
        Assert.Equal(ErrorCode.None, first.Error);
        Assert.Same(first.Replica, leaders.Find("orders", 1).Replica);
        Assert.Equal("orders/1/0", first.Replica!.GetPrimaryKeyString());
        Assert.Equal(ErrorCode.UnknownTopicOrPartition, leaders.Find("orders", 2).Error);
        Assert.Equal(ErrorCode.UnknownTopicOrPartition, leaders.Find("payments", 0).Error);
    }

    [Fact]
    public void New_metadata_with_another_leader_resolves_to_that_leader()
    {
        var leaders = Leaders();
        leaders.Update([Topic("orders", 1)]);
        Assert.Equal(ErrorCode.NotLeaderOrFollower, leaders.Find("orders", 0).Error); // led by b1; the topic is dropped

        leaders.Update([Topic("orders", 0)]);
        var found = leaders.Find("orders", 0);

        Assert.Equal(ErrorCode.None, found.Error);
        Assert.Equal("orders/0/0", found.Replica!.GetPrimaryKeyString());
    }
}
