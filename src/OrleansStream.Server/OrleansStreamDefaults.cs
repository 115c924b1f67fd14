namespace OrleansStream.Server;

/// <summary>Names shared by the broker's parts and by the engineers who build on them.</summary>
public static class OrleansStreamDefaults
{
    /// <summary>The grain storage provider the controller and the consumer groups persist their state in.</summary>
    public const string GrainStorageName = "orleansstream";

    /// <summary>The configuration section bound to <see cref="BrokerOptions"/>.</summary>
    public const string ConfigurationSection = "OrleansStream";

    /// <summary>Kafka's server-side topic keys that are not log settings.</summary>
    public const string MinInsyncReplicasConfig = "min.insync.replicas";

    public const string UncleanLeaderElectionEnableConfig = "unclean.leader.election.enable";
}
