using OrleansStream.Client.Admin;

namespace OrleansStream.Client;

public partial interface IAdminClient
{
    /// <summary>
    /// Kafka's Admin.describeProducers (KIP-664): each partition's active producers as its leader's producer state holds
    /// them, the first offset of each one's open transaction among them. Throws <see cref="DescribeProducersException"/>
    /// with every partition's outcome when any partition failed; <see cref="ArgumentException"/> for a partition named twice.
    /// </summary>
    Task<List<DescribeProducersResult>> DescribeProducersAsync(IEnumerable<TopicPartition> partitions, DescribeProducersOptions? options = null);

    /// <summary>
    /// Kafka's Admin.abortTransaction (KIP-664): an ABORT marker for the producer written by the partition's leader as its
    /// transaction coordinator would, so the last stable offset moves past a hanging transaction. Only for a transaction
    /// its coordinator will not complete: the partition's side of a live one ends without the others. Kafka's refusals are
    /// a <see cref="KafkaException"/> with the code: <c>InvalidProducerEpoch</c> (older than the producer's),
    /// <c>TransactionCoordinatorFenced</c> (older than its last marker's), <c>UnknownTopicOrPartition</c>.
    /// </summary>
    Task AbortTransactionAsync(AbortTransactionSpec spec, AbortTransactionOptions? options = null);
}
