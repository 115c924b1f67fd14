using Orleans.Concurrency;
using OrleansStream.Server.Cluster;
using OrleansStream.Server.Partitions;
using OrleansStream.Server.Transactions.ProducerIds;

namespace OrleansStream.Server.Controller;

/// <summary>The controller's answer to an ISR change: the partition's state after it (null for an unknown partition).</summary>
[GenerateSerializer, Immutable]
public sealed record AlterPartitionResult(ErrorCode Error, PartitionState? State);

/// <summary>What brokers (placement, replicas, the membership watcher) ask of the controller; not for clients.</summary>
public interface IControllerInternalGrain : IGrainWithStringKey
{
    /// <summary>The broker replica <paramref name="replicaId"/> is assigned to, null when the partition is unknown.</summary>
    [AlwaysInterleave]
    Task<string?> GetReplicaBroker(string topic, int partition, int replicaId);

    /// <summary>The partition's current LeaderAndIsr, null when the topic or partition is unknown.</summary>
    [AlwaysInterleave]
    Task<PartitionState?> GetPartitionState(string topic, int partition);

    /// <summary>
    /// Kafka's AlterPartition: the leader <paramref name="leaderReplicaId"/> in <paramref name="leaderEpoch"/> asks to
    /// set the ISR, based on the state of <paramref name="partitionEpoch"/>. A stale leader epoch, a non-leader or a
    /// stale partition epoch is refused (FencedLeaderEpoch / NotLeaderOrFollower / InvalidUpdateVersion).
    /// </summary>
    Task<AlterPartitionResult> AlterPartition(string topic, int partition, int leaderReplicaId, int leaderEpoch, int partitionEpoch, IReadOnlyList<int> isr);

    /// <summary>
    /// Membership changed: move leadership off dead brokers (clean election from the ISR unless the topic allows
    /// unclean election), drop dead brokers from ISRs, move the replicas of brokers gone for longer than
    /// <c>ReplicaReassignmentDelayMs</c> to other live brokers, and wake the replicas of brokers that came back.
    /// </summary>
    Task BrokersChanged();

    /// <summary>The keys of every replica assigned to <paramref name="brokerId"/>, which a (re)started broker activates.</summary>
    [AlwaysInterleave]
    Task<IReadOnlyList<string>> GetBrokerReplicas(string brokerId);

    /// <summary>
    /// Of the partition directories a (re)started broker found on its disk, those whose replica the controller has
    /// moved to other brokers (same topic id, broker no longer among the replicas): the broker removes them.
    /// </summary>
    [AlwaysInterleave]
    Task<IReadOnlyList<LocalPartition>> FindStrayPartitions(string brokerId, IReadOnlyList<LocalPartition> local);

    /// <summary>
    /// Kafka's BrokerRegistration: a starting broker presents what its <c>meta.properties</c> records and gets the
    /// cluster id and its node id to record, or InconsistentClusterId when its data belongs to another cluster (the
    /// reply then carries this cluster's id) or this controller lost its state (no cluster id in the reply).
    /// Interleaves: a registration that changes the state waits for the changes in progress, one that does not (a
    /// restart) is answered at once.
    /// </summary>
    [AlwaysInterleave]
    Task<BrokerRegistrationReply> RegisterBroker(string brokerId, string? clusterId, int? nodeId);

    /// <summary>
    /// Kafka's AllocateProducerIds (KIP-730): the next block of producer ids for <paramref name="brokerId"/>, durable in
    /// the controller's state before it is returned. NotController (retriable) when another activation wrote the state
    /// first; InconsistentClusterId when this controller lost its state or the broker belongs to another cluster.
    /// </summary>
    Task<AllocateProducerIdsResult> AllocateProducerIds(string brokerId);

    /// <summary>Every registered broker's node id and the broker this controller activation runs on (Metadata's controller_id).</summary>
    [AlwaysInterleave]
    Task<BrokerNodes> GetBrokerNodes();

    /// <summary>
    /// Kafka's CreateAcls at the controller: each valid binding is stored (one that exists already is not stored
    /// twice), all in one write; an invalid one is <see cref="ErrorCode.InvalidRequest"/> with Kafka's message.
    /// </summary>
    Task<IReadOnlyList<Security.Authorization.AclChangeResult>> CreateAcls(IReadOnlyList<Security.Authorization.AclBinding> bindings);

    /// <summary>Kafka's DeleteAcls at the controller: per filter, the bindings it removed, all in one write.</summary>
    Task<IReadOnlyList<Security.Authorization.AclChangeResult>> DeleteAcls(IReadOnlyList<Security.Authorization.AclBindingFilter> filters);

    /// <summary>Every ACL binding as last stored, with its version: what each broker's authorizer holds.</summary>
    [AlwaysInterleave]
    Task<Security.Authorization.AclSnapshot> GetAcls();

    /// <summary>
    /// Kafka's AlterUserScramCredentials at the controller: each change in order, all in one write; the removal of a
    /// credential that neither is stored nor comes from the forwarding broker's configuration is
    /// <see cref="ErrorCode.ResourceNotFound"/>.
    /// </summary>
    Task<IReadOnlyList<ControllerChangeResult>> AlterScramCredentials(IReadOnlyList<Kafka.Security.ScramCredentialChange> changes);

    /// <summary>Every stored SCRAM credential and removal, with its version: what each broker's credential store holds.</summary>
    [AlwaysInterleave]
    Task<Kafka.Security.ScramCredentialSnapshot> GetScramCredentials();

    /// <summary>
    /// Kafka's AlterClientQuotas at the controller: the brokers' checked changes (a value set, or removed), all in one
    /// write; <see cref="ErrorCode.NotController"/> when another activation wrote the state first.
    /// </summary>
    Task<ControllerChangeResult> AlterClientQuotas(IReadOnlyList<Kafka.Quotas.ClientQuotaChange> changes);

    /// <summary>Every stored client quota, with its version: what each broker's quota manager holds.</summary>
    [AlwaysInterleave]
    Task<Kafka.Quotas.ClientQuotaSnapshot> GetClientQuotas();

    /// <summary>
    /// KIP-714's client metrics resources at the controller (IncrementalAlterConfigs and AlterConfigs of type
    /// CLIENT_METRICS): each change applied to the subscription's stored configs and checked as Kafka's
    /// <c>ClientMetricsConfigs.validate</c>; the valid ones stored in one write (an empty result removes the
    /// subscription), none when <paramref name="validateOnly"/>. One result per change.
    /// </summary>
    Task<IReadOnlyList<ControllerChangeResult>> AlterClientMetrics(IReadOnlyList<ClientMetrics.ClientMetricsConfigsChange> changes, bool validateOnly);

    /// <summary>Every stored client metrics resource, with its version: what each broker's <c>ClientMetricsManager</c> holds.</summary>
    [AlwaysInterleave]
    Task<ClientMetrics.ClientMetricsSnapshot> GetClientMetrics();

    /// <summary>
    /// Kafka's UpdateFeatures at the controller: every update checked (<see cref="FeatureControl"/>), then all stored in
    /// one write with the finalized features epoch moved, or none; nothing stored when <paramref name="validateOnly"/>.
    /// </summary>
    Task<ControllerChangeResult> UpdateFeatures(IReadOnlyList<FeatureLevelUpdate> updates, bool validateOnly);

    /// <summary>The stored finalized feature levels and their epoch: what each broker's ApiVersions answers.</summary>
    [AlwaysInterleave]
    Task<FinalizedFeatureLevels> GetFinalizedFeatures();

    /// <summary>Kafka's controlled shutdown: hands the broker's leaderships to in-sync followers; returns how many moved.</summary>
    Task<int> ControlledShutdown(string brokerId);
}
