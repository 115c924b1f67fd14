namespace OrleansStream;

/// <summary>
/// Kafka's protocol error codes (org.apache.kafka.common.protocol.Errors), same names and numbers.
/// Kept in the dependency-free Records assembly because the storage engine, the grains and the SDK all speak them.
/// </summary>
public enum ErrorCode : short
{
    UnknownServerError = -1,
    None = 0,
    OffsetOutOfRange = 1,
    CorruptMessage = 2,
    UnknownTopicOrPartition = 3,
    InvalidFetchSize = 4,
    LeaderNotAvailable = 5,
    NotLeaderOrFollower = 6,
    RequestTimedOut = 7,
    BrokerNotAvailable = 8,
    ReplicaNotAvailable = 9,
    /// <summary>Kafka's MESSAGE_TOO_LARGE, surfaced to clients as RecordTooLargeException.</summary>
    RecordTooLarge = 10,
    /// <summary>Kafka's OFFSET_METADATA_TOO_LARGE: a committed offset's metadata over <c>offset.metadata.max.bytes</c>.</summary>
    OffsetMetadataTooLarge = 12,
    /// <summary>Kafka's COORDINATOR_LOAD_IN_PROGRESS (retriable), also what InitProducerId answers while the broker has no producer ids yet.</summary>
    CoordinatorLoadInProgress = 14,
    CoordinatorNotAvailable = 15,
    NotCoordinator = 16,
    InvalidTopic = 17,
    RecordListTooLarge = 18,
    NotEnoughReplicas = 19,
    NotEnoughReplicasAfterAppend = 20,
    InvalidRequiredAcks = 21,
    IllegalGeneration = 22,
    InconsistentGroupProtocol = 23,
    InvalidGroupId = 24,
    UnknownMemberId = 25,
    InvalidSessionTimeout = 26,
    RebalanceInProgress = 27,
    InvalidCommitOffsetSize = 28,
    TopicAuthorizationFailed = 29,
    GroupAuthorizationFailed = 30,
    ClusterAuthorizationFailed = 31,
    InvalidTimestamp = 32,
    UnsupportedSaslMechanism = 33,
    IllegalSaslState = 34,
    UnsupportedVersion = 35,
    TopicAlreadyExists = 36,
    InvalidPartitions = 37,
    InvalidReplicationFactor = 38,
    InvalidReplicaAssignment = 39,
    InvalidConfig = 40,
    NotController = 41,
    InvalidRequest = 42,
    PolicyViolation = 44,
    OutOfOrderSequenceNumber = 45,
    DuplicateSequenceNumber = 46,
    InvalidProducerEpoch = 47,
    InvalidTxnState = 48,
    InvalidProducerIdMapping = 49,
    InvalidTransactionTimeout = 50,
    ConcurrentTransactions = 51,
    TransactionCoordinatorFenced = 52,
    TransactionalIdAuthorizationFailed = 53,
    SecurityDisabled = 54,
    OperationNotAttempted = 55,
    KafkaStorageError = 56,
    LogDirNotFound = 57,
    SaslAuthenticationFailed = 58,
    UnknownProducerId = 59,
    NonEmptyGroup = 68,
    GroupIdNotFound = 69,
    TopicDeletionDisabled = 73,
    FencedLeaderEpoch = 74,
    UnknownLeaderEpoch = 75,
    UnsupportedCompressionType = 76,
    OffsetNotAvailable = 78,
    MemberIdRequired = 79,
    /// <summary>Kafka's PREFERRED_LEADER_NOT_AVAILABLE: a preferred election whose preferred replica is not live or not in the ISR.</summary>
    PreferredLeaderNotAvailable = 80,
    GroupMaxSizeReached = 81,
    FencedInstanceId = 82,
    /// <summary>Kafka's ELIGIBLE_LEADERS_NOT_AVAILABLE: an unclean election with no live replica to lead.</summary>
    EligibleLeadersNotAvailable = 83,
    /// <summary>Kafka's ELECTION_NOT_NEEDED: the preferred replica leads already (preferred), or a leader is live (unclean).</summary>
    ElectionNotNeeded = 84,
    /// <summary>Kafka's NO_REASSIGNMENT_IN_PROGRESS: a cancellation of a partition no reassignment is moving.</summary>
    NoReassignmentInProgress = 85,
    /// <summary>Kafka's GROUP_SUBSCRIBED_TO_TOPIC: OffsetDelete for a partition of a topic the group's members consume.</summary>
    GroupSubscribedToTopic = 86,
    InvalidRecord = 87,
    UnstableOffsetCommit = 88,
    /// <summary>Kafka's THROTTLING_QUOTA_EXCEEDED (KIP-599): a topic refused because its client's controller mutation quota is exhausted.</summary>
    ThrottlingQuotaExceeded = 89,
    ProducerFenced = 90,
    /// <summary>Kafka's RESOURCE_NOT_FOUND: a SCRAM credential to describe or delete that does not exist.</summary>
    ResourceNotFound = 91,
    /// <summary>Kafka's DUPLICATE_RESOURCE: a user named twice in one Describe/AlterUserScramCredentials request.</summary>
    DuplicateResource = 92,
    /// <summary>Kafka's UNACCEPTABLE_CREDENTIAL: a SCRAM credential with an empty user name or iterations out of bounds.</summary>
    UnacceptableCredential = 93,
    /// <summary>Kafka's INVALID_UPDATE_VERSION: an AlterPartition or LeaderAndIsr based on an older partition epoch.</summary>
    InvalidUpdateVersion = 95,
    /// <summary>Kafka's UNKNOWN_TOPIC_ID (retriable, KIP-516): a request naming a topic by an id no topic has (any more).</summary>
    UnknownTopicId = 100,
    /// <summary>
    /// Kafka's INCONSISTENT_CLUSTER_ID (not retriable): a broker's data directory names another cluster, or a controller
    /// without state faces brokers of an existing cluster (grain storage not shared).
    /// </summary>
    InconsistentClusterId = 104,
    /// <summary>Kafka's TRANSACTIONAL_ID_NOT_FOUND: DescribeTransactions for an id its coordinator does not know.</summary>
    TransactionalIdNotFound = 105,
    /// <summary>
    /// Kafka's INELIGIBLE_REPLICA (KIP-841): an AlterPartition that would add to the ISR a replica of a broker in
    /// controlled shutdown; nothing changes and the leader proposes again later.
    /// </summary>
    IneligibleReplica = 107,
    /// <summary>
    /// Kafka's FENCED_MEMBER_EPOCH (KIP-848): a ConsumerGroupHeartbeat with a member epoch the coordinator does not
    /// hold for the member; it gives up its partitions and rejoins with epoch 0.
    /// </summary>
    FencedMemberEpoch = 110,
    /// <summary>Kafka's UNRELEASED_INSTANCE_ID (KIP-848): a static member joining with an instance id another member still holds.</summary>
    UnreleasedInstanceId = 111,
    /// <summary>Kafka's UNSUPPORTED_ASSIGNOR (KIP-848): a ConsumerGroupHeartbeat naming a server assignor the coordinator lacks.</summary>
    UnsupportedAssignor = 112,
    /// <summary>Kafka's STALE_MEMBER_EPOCH (KIP-848): an OffsetCommit or OffsetFetch of a consumer group member with an epoch not its current one.</summary>
    StaleMemberEpoch = 113,
    /// <summary>Kafka's MISMATCHED_ENDPOINT_TYPE (KIP-919): DescribeCluster v1 asking a broker to describe the controllers.</summary>
    MismatchedEndpointType = 114,
    /// <summary>Kafka's UNSUPPORTED_ENDPOINT_TYPE (KIP-919): DescribeCluster v1 naming an endpoint type Kafka does not define.</summary>
    UnsupportedEndpointType = 115,
    /// <summary>Kafka's UNKNOWN_SUBSCRIPTION_ID (KIP-714): a PushTelemetry whose subscription id is not the client instance's current one.</summary>
    UnknownSubscriptionId = 117,
    /// <summary>Kafka's TELEMETRY_TOO_LARGE (KIP-714): a PushTelemetry whose metrics exceed <c>telemetry.max.bytes</c>.</summary>
    TelemetryTooLarge = 118,
    /// <summary>
    /// Kafka's TRANSACTION_ABORTABLE (KIP-890): a transaction's verification found the partition outside the producer's
    /// open transaction; the producer aborts the transaction and goes on. Answered to a Produce only from v11, which says
    /// the producer takes it; older versions get <see cref="InvalidTxnState"/> instead, as Kafka answers them.
    /// </summary>
    TransactionAbortable = 120,
    /// <summary>Kafka's INVALID_REGULAR_EXPRESSION: a ConsumerGroupHeartbeat's SubscribedTopicRegex that is not a valid regular expression.</summary>
    InvalidRegularExpression = 128,
}

/// <summary>An error with a Kafka error code. Thrown by the storage engine and the SDK; grains return codes instead.</summary>
public class OrleansStreamException(ErrorCode code, string message, Exception? inner = null) : Exception(message, inner)
{
    public ErrorCode Code { get; } = code;

    public override string ToString() => $"{Code}: {Message}";
}
