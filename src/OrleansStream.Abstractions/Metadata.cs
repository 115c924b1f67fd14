namespace OrleansStream;

/// <summary>A topic to create. <paramref name="NumPartitions"/> and <paramref name="ReplicationFactor"/> of -1 take the broker defaults.</summary>
[GenerateSerializer, Immutable]
public sealed record NewTopic(string Name, int NumPartitions = -1, short ReplicationFactor = -1, IReadOnlyDictionary<string, string>? Configs = null);

[GenerateSerializer, Immutable]
public sealed record PartitionsIncrease(string Topic, int TotalCount);

/// <summary>
/// The outcome for one topic of an admin request: for a topic created or deleted, its <paramref name="TopicId"/> (zero
/// for a validate-only creation, which makes none), and for one created (or validated) what it was made with.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record TopicResult(string Topic, ErrorCode Error, string? ErrorMessage = null, Guid TopicId = default, CreatedTopic? Created = null);

/// <summary>What CreateTopics made a topic with, the broker defaults resolved (Kafka's CreateTopics v5+ answer, KIP-525): its config overrides.</summary>
[GenerateSerializer, Immutable]
public sealed record CreatedTopic(int NumPartitions, short ReplicationFactor, IReadOnlyDictionary<string, string> Configs);

/// <summary>A broker is a silo, known by a stable identity (its configured name), not by one incarnation.</summary>
[GenerateSerializer, Immutable]
public sealed record BrokerInfo(string BrokerId, string? Endpoint, bool IsAlive);

/// <summary>Kafka's DescribeCluster answer: the cluster id (null before the cluster has one), the controller's node id (-1 when none) and the live brokers.</summary>
[GenerateSerializer, Immutable]
public sealed record ClusterDescription(string? ClusterId, int ControllerNodeId, IReadOnlyList<ClusterNode> Nodes);

/// <summary>A live broker as Kafka names it: its node id and advertised Kafka endpoint, with the silo's broker id.</summary>
[GenerateSerializer, Immutable]
public sealed record ClusterNode(int NodeId, string BrokerId, string Host, int Port, string? Rack = null);

/// <summary>Replica <paramref name="ReplicaId"/> of a partition lives on broker <paramref name="BrokerId"/>.</summary>
[GenerateSerializer, Immutable]
public sealed record ReplicaInfo(int ReplicaId, string BrokerId);

/// <summary>A partition's leader (a replica id, -1 when none), leader epoch, replicas and in-sync replica ids.</summary>
[GenerateSerializer, Immutable]
public sealed record PartitionMetadata(
    int Partition,
    int Leader,
    int LeaderEpoch,
    IReadOnlyList<ReplicaInfo> Replicas,
    IReadOnlyList<int> Isr,
    ErrorCode Error = ErrorCode.None)
{
    public string? LeaderBroker
    {
        get
        {
            // Indexed: a foreach over the interface would allocate an enumerator on every produce and fetch request.
            for (var i = 0; i < Replicas.Count; i++)
                if (Replicas[i].ReplicaId == Leader) return Replicas[i].BrokerId;
            return null;
        }
    }
}

[GenerateSerializer, Immutable]
public sealed record TopicMetadata(
    string Name,
    Guid TopicId,
    ErrorCode Error,
    IReadOnlyList<PartitionMetadata> Partitions,
    IReadOnlyDictionary<string, string> Configs,
    string? ErrorMessage = null);

/// <summary>What clients cache; <paramref name="Version"/> grows with every change the controller makes.</summary>
[GenerateSerializer, Immutable]
public sealed record ClusterMetadata(long Version, IReadOnlyList<BrokerInfo> Brokers, IReadOnlyList<TopicMetadata> Topics);

/// <summary><paramref name="Topics"/> null means every topic.</summary>
[GenerateSerializer, Immutable]
public sealed record MetadataRequest(IReadOnlyList<string>? Topics, bool AllowAutoTopicCreation = false);

/// <summary>
/// Kafka's LeaderAndIsr: what the controller tells a replica about its partition. A replica acts only on a state
/// that is not older than the one it has: by leader epoch, then (within one leader epoch) by
/// <paramref name="PartitionEpoch"/>, which the controller bumps on every leader, ISR or replica change (KIP-497).
/// </summary>
[GenerateSerializer, Immutable]
public sealed record PartitionState(
    string Topic,
    Guid TopicId,
    int Partition,
    int Leader,
    int LeaderEpoch,
    int PartitionEpoch,
    IReadOnlyList<ReplicaInfo> Replicas,
    IReadOnlyList<int> Isr,
    IReadOnlyDictionary<string, string> Configs)
{
    /// <summary>True when this state is older than <paramref name="other"/> of the same topic incarnation.</summary>
    public bool IsOlderThan(PartitionState other) =>
        other is not null && TopicId == other.TopicId
        && (LeaderEpoch < other.LeaderEpoch || (LeaderEpoch == other.LeaderEpoch && PartitionEpoch < other.PartitionEpoch));
}

/// <summary>Kafka's AlterConfigOp.OpType, same numbers.</summary>
public enum AlterConfigOp : byte
{
    Set = 0,
    Delete = 1,
    Append = 2,
    Subtract = 3,
}

/// <summary>One config change; <paramref name="Value"/> is ignored by <see cref="AlterConfigOp.Delete"/>.</summary>
[GenerateSerializer, Immutable]
public sealed record AlterableConfig(string Name, AlterConfigOp Op, string? Value);

/// <summary>
/// A topic's config change. <paramref name="Incremental"/> false is Kafka's AlterConfigs: the topic's overrides become
/// exactly the given <see cref="AlterConfigOp.Set"/> entries. True is IncrementalAlterConfigs: each op applies to the
/// current overrides.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record TopicConfigsChange(string Topic, IReadOnlyList<AlterableConfig> Configs, bool Incremental);

/// <summary>Kafka's ElectionType (KIP-460): the preferred replica, or (unclean) any live replica of a partition without a live leader.</summary>
public enum ElectionType : sbyte
{
    Preferred = 0,
    Unclean = 1,
}

/// <summary>Partitions of one topic to elect leaders for (Kafka's ElectLeadersRequest TopicPartitions).</summary>
[GenerateSerializer, Immutable]
public sealed record ElectionPartitions(string Topic, IReadOnlyList<int> Partitions);

/// <summary>One partition's election outcome: None when its leader changed, else Kafka's reason it did not.</summary>
[GenerateSerializer, Immutable]
public sealed record ElectionResult(string Topic, int Partition, ErrorCode Error, string? ErrorMessage = null);


/// <summary>
/// One partition's target in Kafka's AlterPartitionReassignments (KIP-455): the node ids of its new replicas in order,
/// or null to cancel the reassignment in progress.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record ReassignmentTarget(string Topic, int Partition, IReadOnlyList<int>? Replicas);

/// <summary>One partition's reassignment outcome: None when it was started, completed or cancelled, else Kafka's error.</summary>
[GenerateSerializer, Immutable]
public sealed record ReassignmentResult(string Topic, int Partition, ErrorCode Error, string? ErrorMessage = null);

/// <summary>
/// Kafka's ongoing partition reassignment (ListPartitionReassignments): the current replicas (the target followed by
/// the removing ones), and the replicas being added and removed, as node ids.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record OngoingReassignment(string Topic, int Partition, IReadOnlyList<int> Replicas, IReadOnlyList<int> Adding, IReadOnlyList<int> Removing);
