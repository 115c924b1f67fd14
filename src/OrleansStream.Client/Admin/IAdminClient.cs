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

    /// <summary>Kafka's Admin.listTransactions: every transactional id the coordinators know, with its producer id and state.</summary>
    Task<List<TransactionListingResult>> ListTransactionsAsync(TimeSpan? timeout = null);

    /// <summary>
    /// Kafka's Admin.listTransactions with its ListTransactionsOptions: only the ids in the states, of the producer ids
    /// and older than the duration it names (each filter asked of every coordinator shard, as Kafka's brokers filter).
    /// </summary>
    Task<List<TransactionListingResult>> ListTransactionsAsync(ListTransactionsOptions options);

    /// <summary>Kafka's Admin.describeTransactions: each id's state, producer id and epoch, timeout and partitions, from its coordinator.</summary>
    Task<List<TransactionDescription>> DescribeTransactionsAsync(IEnumerable<string> transactionalIds, TimeSpan? timeout = null);

    /// <summary>
    /// What each transaction coordinator shard (the list's index) has decided since it was created: commits, aborts by
    /// cause and producer fencings. Stored with each shard's state, so the sum is the cluster's, across failovers.
    /// </summary>
    Task<List<TransactionCoordinatorStats>> DescribeTransactionCoordinatorsAsync(TimeSpan? timeout = null);
}
