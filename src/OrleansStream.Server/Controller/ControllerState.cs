namespace OrleansStream.Server.Controller;

/// <summary>The controller's persisted state: every topic's assignment, leader, epoch and ISR; brokers; producer ids handed out.</summary>
[GenerateSerializer]
public sealed class ControllerState
{
    [Id(0)] public long MetadataVersion { get; set; }

    [Id(1)] public Dictionary<string, TopicState> Topics { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Kafka's <c>cluster.id</c>: made once, when a truly new cluster starts; every broker records it.</summary>
    [Id(2)] public string? ClusterId { get; set; }

    /// <summary>Each broker's int32 node id (Kafka's <c>node.id</c>), kept with its data directory too.</summary>
    [Id(3)] public Dictionary<string, int> NodeIds { get; set; } = new(StringComparer.Ordinal);

    /// <summary>
    /// Kafka's <c>ProducerIdsRecord.nextProducerId</c>: the first id of the next producer id block. Written before a
    /// block is handed out, so every id below it may be in use and none at or above it is.
    /// </summary>
    [Id(4)] public long NextProducerIdBlockStart { get; set; }

    /// <summary>Every ACL binding (Kafka's AccessControlEntryRecords), in the order created.</summary>
    [Id(5)] public List<Security.Authorization.AclBinding> Acls { get; set; } = [];

    /// <summary>Moves with every change of <see cref="Acls"/>: a broker reloads its authorizer's bindings when it did.</summary>
    [Id(6)] public long AclVersion { get; set; }

    /// <summary>
    /// The SCRAM credentials changed at run time (Kafka's UserScramCredentialRecords), and the removals of credentials
    /// the brokers' configuration gives.
    /// </summary>
    [Id(7)] public List<Kafka.Security.StoredScramCredential> ScramCredentials { get; set; } = [];

    /// <summary>Moves with every change of <see cref="ScramCredentials"/>: a broker reloads them when it did.</summary>
    [Id(8)] public long ScramVersion { get; set; }

    /// <summary>The client quotas (Kafka's ClientQuotaRecords): each entity's values by key.</summary>
    [Id(9)] public List<Kafka.Quotas.StoredClientQuota> ClientQuotas { get; set; } = [];

    /// <summary>Moves with every change of <see cref="ClientQuotas"/>: a broker reloads them when it did.</summary>
    [Id(10)] public long ClientQuotaVersion { get; set; }

    /// <summary>
    /// The finalized feature levels (Kafka's FeatureLevelRecords) once an UpdateFeatures was stored; null before, when
    /// every broker answers its configured levels.
    /// </summary>
    [Id(11)] public Dictionary<string, short>? FinalizedFeatures { get; set; }

    /// <summary>Kafka's finalized features epoch: moves with every change of <see cref="FinalizedFeatures"/> (0 before the first).</summary>
    [Id(12)] public long FinalizedFeaturesEpoch { get; set; }

    /// <summary>KIP-714's client metrics resources (Kafka's ConfigRecords of type CLIENT_METRICS): each subscription's configs.</summary>
    [Id(13)] public Dictionary<string, Dictionary<string, string>> ClientMetrics { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Moves with every change of <see cref="ClientMetrics"/>: a broker reloads them when it did.</summary>
    [Id(14)] public long ClientMetricsVersion { get; set; }
}

[GenerateSerializer]
public sealed class TopicState
{
    [Id(0)] public string Name { get; set; } = "";

    [Id(1)] public Guid TopicId { get; set; }

    /// <summary>The topic's overrides of broker defaults, with Kafka's keys.</summary>
    [Id(2)] public Dictionary<string, string> Configs { get; set; } = new(StringComparer.Ordinal);

    [Id(3)] public List<PartitionAssignment> Partitions { get; set; } = [];
}

/// <summary>One partition: replica id i lives on broker <see cref="Replicas"/>[i].</summary>
[GenerateSerializer]
public sealed class PartitionAssignment
{
    [Id(0)] public int Partition { get; set; }

    [Id(1)] public List<string> Replicas { get; set; } = [];

    /// <summary>The leader's replica id, -1 when no replica can lead.</summary>
    [Id(2)] public int Leader { get; set; }

    [Id(3)] public int LeaderEpoch { get; set; }

    [Id(4)] public List<int> Isr { get; set; } = [];

    /// <summary>KIP-497's partition epoch: bumped on every leader, ISR or replica change, so stale updates are refused.</summary>
    [Id(5)] public int PartitionEpoch { get; set; }

    /// <summary>
    /// The replica id (the replica grain's key) at each position of <see cref="Replicas"/>; null while every position is
    /// its own id, as in state stored before the first reassignment. Positions follow Kafka's replica order (the first is
    /// the preferred replica) and change with a reassignment; a replica's id does not, so its grain and log stay.
    /// <see cref="Leader"/> and <see cref="Isr"/> are positions.
    /// </summary>
    [Id(6)] public List<int>? ReplicaIds { get; set; }

    /// <summary>Kafka's <c>addingReplicas</c>: the brokers a reassignment in progress adds (null or empty when none).</summary>
    [Id(7)] public List<string>? AddingReplicas { get; set; }

    /// <summary>Kafka's <c>removingReplicas</c>: the brokers a reassignment in progress removes once it completes.</summary>
    [Id(8)] public List<string>? RemovingReplicas { get; set; }

    public int ReplicaIdAt(int position) => ReplicaIds is { } ids ? ids[position] : position;

    /// <summary>The position of replica id <paramref name="replicaId"/>, -1 when the partition has no such replica.</summary>
    public int PositionOf(int replicaId)
    {
        if (ReplicaIds is not { } ids) return (uint)replicaId < (uint)Replicas.Count ? replicaId : -1;
        return ids.IndexOf(replicaId);
    }

    public bool IsReassigning => AddingReplicas is { Count: > 0 } || RemovingReplicas is { Count: > 0 };
}
