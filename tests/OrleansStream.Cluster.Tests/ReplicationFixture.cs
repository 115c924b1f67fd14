using OrleansStream.Server;

namespace OrleansStream.Cluster.Tests;

/// <summary>A cluster whose followers leave the ISR within a second of falling silent, for replication tests.</summary>
public sealed class ReplicationFixture : ClusterFixture
{
    protected override void ConfigureBroker(BrokerOptions options) => FastIsr(options);

    /// <summary>Followers leave the ISR within a second of falling silent, and their fetches wake five times a second.</summary>
    public static void FastIsr(BrokerOptions options)
    {
        options.ReplicaLagTimeMaxMs = 1_000;
        options.ReplicaFetchWaitMaxMs = 200;
    }
}
