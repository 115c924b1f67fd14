using OrleansStream.Server;

namespace OrleansStream.Cluster.Tests;

/// <summary>A cluster whose followers leave the ISR within a second of falling silent, for replication tests.</summary>
public sealed class ReplicationFixture : ClusterFixture
{
    protected override void ConfigureBroker(BrokerOptions options)
    {
        options.ReplicaLagTimeMaxMs = 1_000;
        options.ReplicaFetchWaitMaxMs = 200;
    }
}
