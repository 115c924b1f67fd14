using OrleansStream.Client.Admin;

namespace OrleansStream.Client;

/// <summary>Topic administration, shaped like Confluent.Kafka's IAdminClient.</summary>
public partial interface IAdminClient : IDisposable
{
    string Name { get; }

    /// <summary>Throws <see cref="CreateTopicsException"/> with one report per topic when any topic fails.</summary>
    Task CreateTopicsAsync(IEnumerable<TopicSpecification> topics, CreateTopicsOptions? options = null);

    /// <summary>Throws <see cref="DeleteTopicsException"/> with one report per topic when any topic fails.</summary>
    Task DeleteTopicsAsync(IEnumerable<string> topics, DeleteTopicsOptions? options = null);

    /// <summary>Throws <see cref="CreatePartitionsException"/> with one report per topic when any topic fails.</summary>
    Task CreatePartitionsAsync(IEnumerable<PartitionsSpecification> partitionsSpecifications, CreatePartitionsOptions? options = null);

    /// <summary>One topic's metadata (never creates it).</summary>
    ClusterMetadata GetMetadata(string topic, TimeSpan timeout);

    /// <summary>Every topic's metadata.</summary>
    ClusterMetadata GetMetadata(TimeSpan timeout);

    Task<ClusterMetadata> GetMetadataAsync(IEnumerable<string>? topics = null);

    /// <summary>
    /// Kafka's Admin.electLeaders (KIP-460): the preferred replica made leader of each partition where it is live and in
    /// sync, or (unclean) a leader for each partition without a live one. Null <paramref name="partitions"/>: every
    /// partition, and the result lists those that needed an election. Throws <see cref="ElectLeadersException"/> when
    /// any partition's election failed or was not needed (ElectionNotNeeded), as Confluent.Kafka does.
    /// </summary>
    Task<ElectLeadersResult> ElectLeadersAsync(ElectionType electionType, IEnumerable<TopicPartition>? partitions, ElectLeadersOptions? options = null);

    /// <summary>Per partition: leader, replicas, ISR and the leader's log start/end. Throws <see cref="DescribeTopicsException"/> when a topic fails.</summary>
    Task<DescribeTopicsResult> DescribeTopicsAsync(IEnumerable<string> topics, DescribeTopicsOptions? options = null);

    /// <summary>Every topic's description.</summary>
    Task<DescribeTopicsResult> DescribeTopicsAsync(DescribeTopicsOptions? options = null);

    // Consumer group administration.

    /// <summary>Every group the cluster knows, with its state.</summary>
    Task<ListConsumerGroupsResult> ListConsumerGroupsAsync(TimeSpan? timeout = null);

    /// <summary>The groups in one of the options' states and of one of their types (Confluent.Kafka's <c>MatchStates</c>, <c>MatchTypes</c>).</summary>
    Task<ListConsumerGroupsResult> ListConsumerGroupsAsync(ListConsumerGroupsOptions options);

    /// <summary>State, assignor and members with their assignments. A missing group throws <see cref="ConsumerGroupException"/> (GroupIdNotFound).</summary>
    Task<DescribeConsumerGroupsResult> DescribeConsumerGroupsAsync(IEnumerable<string> groups, TimeSpan? timeout = null);

    /// <summary>
    /// Committed offsets with log end and lag per partition: <paramref name="partitions"/>, or (null) every partition
    /// the group committed for or owns. A missing group throws <see cref="ConsumerGroupException"/> (GroupIdNotFound).
    /// </summary>
    Task<ListConsumerGroupOffsetsResult> ListConsumerGroupOffsetsAsync(string group, IEnumerable<TopicPartition>? partitions = null, TimeSpan? timeout = null);

    /// <summary>Overwrites committed offsets; only while the group has no members (NonEmptyGroup). All or nothing.</summary>
    Task AlterConsumerGroupOffsetsAsync(string group, IEnumerable<TopicPartitionOffset> offsets, TimeSpan? timeout = null);

    /// <summary>
    /// Kafka's <c>--reset-offsets</c> for every partition of <paramref name="topic"/>: <paramref name="to"/> is
    /// <see cref="Offset.Beginning"/>, <see cref="Offset.End"/> or an offset (clamped to each partition's log).
    /// Only while the group has no members (NonEmptyGroup). Returns the new offsets.
    /// </summary>
    Task<List<TopicPartitionOffset>> ResetConsumerGroupOffsetsAsync(string group, string topic, long to, TimeSpan? timeout = null);

    /// <summary>Removes empty groups and their offsets (NonEmptyGroup, GroupIdNotFound).</summary>
    Task DeleteConsumerGroupsAsync(IEnumerable<string> groups, TimeSpan? timeout = null);

    /// <summary>
    /// Kafka's deleteConsumerGroupOffsets (OffsetDelete): removes the group's committed offsets of <paramref name="partitions"/>.
    /// Partitions of topics the group's members subscribe to keep theirs (GroupSubscribedToTopic, each in the exception's
    /// partitions) while the others go; GroupIdNotFound for a group that does not exist.
    /// </summary>
    Task DeleteConsumerGroupOffsetsAsync(string group, IEnumerable<TopicPartition> partitions, TimeSpan? timeout = null);

    /// <summary>Kafka's Admin.listTransactions: every transactional id the coordinators know, with its producer id and state.</summary>
    Task<List<TransactionListingResult>> ListTransactionsAsync(TimeSpan? timeout = null);

    /// <summary>Kafka's Admin.describeTransactions: each id's state, producer id and epoch, timeout and partitions, from its coordinator.</summary>
    Task<List<TransactionDescription>> DescribeTransactionsAsync(IEnumerable<string> transactionalIds, TimeSpan? timeout = null);

    /// <summary>
    /// What each transaction coordinator shard (the list's index) has decided since it was created: commits, aborts by
    /// cause and producer fencings. Stored with each shard's state, so the sum is the cluster's, across failovers.
    /// </summary>
    Task<List<TransactionCoordinatorStats>> DescribeTransactionCoordinatorsAsync(TimeSpan? timeout = null);
}
