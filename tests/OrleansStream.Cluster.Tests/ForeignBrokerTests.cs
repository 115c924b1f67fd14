using Microsoft.Extensions.DependencyInjection;
using OrleansStream.Server.Cluster;

namespace OrleansStream.Cluster.Tests;

/// <summary>
/// Kafka's cluster id check on a broker: one restarted with a data directory whose <c>meta.properties</c> names
/// another cluster is refused by the controller, gets no replicas and opens none of the partitions it had.
/// </summary>
public sealed class ForeignBrokerTests(ClusterFixture fixture) : IClassFixture<ClusterFixture>
{
    private const string Foreign = "Silo_2";

    [Fact]
    public async Task A_broker_whose_data_names_another_cluster_is_refused_and_serves_no_partition()
    {
        var held = PartitionTestKit.UniqueTopic("held");
        await fixture.CreateTopic(held, partitions: 1, replicationFactor: 3);
        var directory = fixture.DataDirectory(Foreign);
        await Eventually.WaitUntilAsync(() => Task.FromResult(MetaProperties.Read(directory).ClusterId is not null),
            $"{Foreign} records the cluster id");
        var ours = MetaProperties.Read(fixture.DataDirectory(ClusterFixture.BrokerIdOf(0))).ClusterId;
        Assert.NotNull(ours);
        Assert.Equal(ours, MetaProperties.Read(directory).ClusterId);

        await fixture.StopSiloAsync(Foreign);
        new MetaProperties("another-cluster", 9).Write(directory, Foreign);
        var silo = await fixture.StartSiloAsync(Foreign);
        var registration = silo.ServiceProvider.GetRequiredService<BrokerRegistration>();
        // Not ready from the start (its data names a cluster it has not registered with), then refused.
        Assert.NotNull(registration.Problem);
        await Eventually.WaitUntilAsync(() => Task.FromResult(registration.Problem?.Contains(ours, StringComparison.Ordinal) == true),
            $"the controller refuses {Foreign}", state: () => registration.Problem ?? "ready");

        Assert.Contains("another-cluster", registration.Problem, StringComparison.Ordinal);
        Assert.Contains(ours, registration.Problem, StringComparison.Ordinal);
        Assert.Equal(new MetaProperties("another-cluster", 9), MetaProperties.Read(directory));

        // No replica of a new topic goes to it: two brokers are left for replicas.
        var spread = PartitionTestKit.UniqueTopic("spread");
        var results = await fixture.Controller.CreateTopics([new NewTopic(PartitionTestKit.UniqueTopic("rf3"), 1, 3), new NewTopic(spread, 6, 2)]);
        Assert.Equal([ErrorCode.InvalidReplicationFactor, ErrorCode.None], results.Select(r => r.Error));
        var metadata = Assert.Single((await fixture.Controller.GetMetadata(new MetadataRequest([spread]))).Topics);
        Assert.DoesNotContain(metadata.Partitions.SelectMany(p => p.Replicas), r => r.BrokerId == Foreign);

        // The replica it held does not open its log there.
        var partition = await fixture.Controller.Partition(held, 0);
        var replica = partition.Replicas.Single(r => r.BrokerId == Foreign).ReplicaId;
        var refused = await Assert.ThrowsAnyAsync<Exception>(() => fixture.Grains.GetGrain<IPartitionReplicaGrain>(GrainKeys.Replica(held, 0, replica)).GetStatus());
        Assert.Contains(nameof(ErrorCode.InconsistentClusterId), refused.ToString(), StringComparison.Ordinal);
    }
}
