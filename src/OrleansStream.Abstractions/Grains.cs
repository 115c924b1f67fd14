using Orleans.Concurrency;

namespace OrleansStream;

/// <summary>
/// ZooKeeper's (KRaft's) role: topics, replica placement, leaders, epochs and ISR, one activation per cluster,
/// keyed <see cref="GrainKeys.Controller"/>.
/// </summary>
public interface IClusterControllerGrain : IGrainWithStringKey
{
    Task<IReadOnlyList<TopicResult>> CreateTopics(IReadOnlyList<NewTopic> topics, bool validateOnly = false);

    /// <summary>
    /// Deletes the topics. With <paramref name="topicIds"/> (one per name, KIP-516's deletion by id), a name whose topic
    /// now has another id (deleted and created again) is not deleted: <c>UnknownTopicId</c>.
    /// </summary>
    Task<IReadOnlyList<TopicResult>> DeleteTopics(IReadOnlyList<string> topics, IReadOnlyList<Guid>? topicIds = null);

    Task<IReadOnlyList<TopicResult>> CreatePartitions(IReadOnlyList<PartitionsIncrease> increases, bool validateOnly = false);

    /// <summary>Kafka's AlterConfigs and IncrementalAlterConfigs of topics; the replicas get the new configs with LeaderAndIsr.</summary>
    Task<IReadOnlyList<TopicResult>> AlterConfigs(IReadOnlyList<TopicConfigsChange> changes, bool validateOnly = false);

    /// <summary>
    /// Kafka's DescribeConfigs, as the Kafka listener answers it, for clients that talk to grains: a topic's overrides
    /// from this controller over the broker defaults of the silo it runs on, and that broker's own settings (a broker
    /// resource naming another broker is refused with InvalidRequest, as a Kafka broker refuses one not its own).
    /// </summary>
    [AlwaysInterleave]
    Task<IReadOnlyList<ResourceConfigs>> DescribeConfigs(IReadOnlyList<DescribeConfigsQuery> resources, bool includeSynonyms);

    /// <summary>
    /// Kafka's ElectLeaders (KIP-460): the preferred replica (the first of the assignment) of each partition made leader
    /// where it is live and in the ISR, or, unclean, a leader for each partition without a live one (from the ISR first,
    /// then any live replica). Null <paramref name="partitions"/>: every partition, and only those where an election was
    /// needed are reported, as Kafka's controller answers.
    /// </summary>
    Task<IReadOnlyList<ElectionResult>> ElectLeaders(ElectionType type, IReadOnlyList<ElectionPartitions>? partitions);

    /// <summary>
    /// Kafka's AlterPartitionReassignments (KIP-455): each partition is moved to its target replicas (node ids): the
    /// replicas new to it join and catch up from the leader, and once all are in sync the partition becomes the target
    /// (a leader outside it hands over to an in-sync target replica) and the replicas left out stop and remove their
    /// data. A null target cancels the reassignment in progress. Answered once the change is stored, one result per
    /// target in order.
    /// </summary>
    Task<IReadOnlyList<ReassignmentResult>> AlterPartitionReassignments(IReadOnlyList<ReassignmentTarget> targets);

    /// <summary>
    /// Kafka's ListPartitionReassignments: the reassignments in progress, of every partition (null) or of the named
    /// partitions of the named topics (those unknown or not reassigning are left out, as Kafka's controller answers).
    /// </summary>
    [AlwaysInterleave]
    Task<IReadOnlyList<OngoingReassignment>> ListPartitionReassignments(IReadOnlyList<ElectionPartitions>? partitions);

    [AlwaysInterleave]
    Task<ClusterMetadata> GetMetadata(MetadataRequest request);

    /// <summary>
    /// Kafka's DescribeCluster for clients that talk to grains: the cluster id, the controller's node id, and each live
    /// broker with its node id and first advertised Kafka listener, as a Kafka broker lists its listener's endpoints.
    /// </summary>
    [AlwaysInterleave]
    Task<ClusterDescription> DescribeCluster();

    /// <summary>
    /// Kafka's CreateAcls for clients that talk to grains (trusted: no ACL check): the controller code the Kafka
    /// listener forwards to, so the checks (InvalidRequest with Kafka's message), the single write and the ACL version
    /// the brokers reload on are the same. One result per binding, in order.
    /// </summary>
    Task<IReadOnlyList<AclCreationResult>> CreateAclBindings(IReadOnlyList<AclBindingInfo> bindings);

    /// <summary>Kafka's DescribeAcls: the stored bindings the filter matches, from the controller's latest state.</summary>
    [AlwaysInterleave]
    Task<AclDescription> DescribeAcls(AclBindingInfo filter);

    /// <summary>Kafka's DeleteAcls: per filter, the bindings it removed, all in one write.</summary>
    Task<IReadOnlyList<AclDeletionResult>> DeleteAclBindings(IReadOnlyList<AclBindingInfo> filters);

    /// <summary>
    /// Kafka's DescribeUserScramCredentials as the Kafka listener answers it: each user's mechanisms and iterations
    /// (the stored credentials over those the controller's broker is configured with); null or empty: every user.
    /// </summary>
    [AlwaysInterleave]
    Task<IReadOnlyList<UserScramCredentials>> DescribeUserScramCredentials(IReadOnlyList<string>? users);

    /// <summary>
    /// Kafka's AlterUserScramCredentials with the Kafka listener's checks (a user altered twice, the iteration bounds,
    /// an unknown mechanism) and the same controller write, which moves the SCRAM version the brokers reload on.
    /// Results: the changes applied, then each refused user with Kafka's error, as Kafka's broker answers.
    /// </summary>
    Task<IReadOnlyList<UserScramCredentialResult>> AlterUserScramCredentials(
        IReadOnlyList<ScramCredentialDeletionInfo> deletions, IReadOnlyList<ScramCredentialUpsertionInfo> upsertions);
}

/// <summary>
/// One replica of one partition, keyed <see cref="GrainKeys.Replica"/> and activated on the broker the controller
/// assigned it to. Only the leader serves produce and fetch; the others answer <see cref="ErrorCode.NotLeaderOrFollower"/>.
/// </summary>
public interface IPartitionReplicaGrain : IGrainWithStringKey
{
    Task<ProduceResponse> Produce(ProduceRequest request);

    /// <summary>Long-polls, so it interleaves with produce calls that wake it.</summary>
    [AlwaysInterleave]
    Task<FetchResponse> Fetch(FetchRequest request);

    [AlwaysInterleave]
    Task<ListOffsetsResponse> ListOffsets(ListOffsetsRequest request);

    /// <summary>
    /// Kafka's OffsetForLeaderEpoch at the leader (KIP-320): where <paramref name="leaderEpoch"/> ended in this log, so a
    /// consumer can tell whether the records it consumed are still there after a leader change.
    /// <paramref name="currentLeaderEpoch"/> fences the answer as in Fetch (-1: not checked).
    /// </summary>
    [AlwaysInterleave]
    Task<EpochEndOffsetResponse> OffsetForLeaderEpoch(int leaderEpoch, int currentLeaderEpoch);

    [AlwaysInterleave]
    Task<ReplicaStatus> GetStatus();

    /// <summary>Kafka's DescribeProducers for this replica, leader or follower: the producers its producer state holds.</summary>
    [AlwaysInterleave]
    Task<DescribeProducersResponse> DescribeProducers();

    /// <summary>
    /// Kafka's DeleteRecords at the leader: moves the log start offset up and deletes the segments wholly below it;
    /// followers move theirs to the leader's on their next fetch, and the answer waits until every in-sync replica did
    /// (<see cref="ErrorCode.RequestTimedOut"/> after the request's timeout, at most 15 s). Refused for a topic without
    /// <c>cleanup.policy=delete</c>.
    /// </summary>
    Task<DeleteRecordsResponse> DeleteRecords(DeleteRecordsRequest request);

    /// <summary>
    /// Kafka's WriteTxnMarkers for this partition (sent by the transaction coordinator to the leader): a COMMIT or ABORT
    /// control batch for the producer, replicated like any batch and acknowledged once every in-sync replica has it.
    /// A coordinator epoch lower than the last one seen for the producer gets <see cref="ErrorCode.TransactionCoordinatorFenced"/>.
    /// </summary>
    Task<ErrorCode> WriteTxnMarker(WriteTxnMarkerRequest request);

    /// <summary>The controller's LeaderAndIsr; stale epochs are answered with <see cref="ErrorCode.FencedLeaderEpoch"/>.</summary>
    Task<ErrorCode> LeaderAndIsr(PartitionState state);

    /// <summary>Kafka's StopReplica with delete: closes the log and removes its files.</summary>
    Task DeleteReplica();
}
