using Orleans.Concurrency;

namespace OrleansStream.Server.Controller;

/// <summary>What brokers (placement, replicas, the membership watcher) ask of the controller; not for clients.</summary>
public interface IControllerInternalGrain : IGrainWithStringKey
{
    /// <summary>The broker replica <paramref name="replicaId"/> is assigned to, null when the partition is unknown.</summary>
    [AlwaysInterleave]
    Task<string?> GetReplicaBroker(string topic, int partition, int replicaId);

    /// <summary>The partition's current LeaderAndIsr, null when the topic or partition is unknown.</summary>
    [AlwaysInterleave]
    Task<PartitionState?> GetPartitionState(string topic, int partition);
}
