namespace OrleansStream.Client.Admin;

/// <summary>Kafka's DescribeProducersOptions without its brokerId: the partition's leader is asked, Kafka's default.</summary>
public sealed class DescribeProducersOptions : AdminOptions;

public sealed class AbortTransactionOptions : AdminOptions;

/// <summary>
/// One producer in a partition's producer state, Kafka's ProducerState: its epoch, the last sequence and timestamp it
/// wrote, the coordinator epoch of its last marker (null before any) and the first offset of its open transaction (null
/// when none; a transaction still open long after its timeout is hanging).
/// </summary>
public sealed record ProducerState(long ProducerId, int ProducerEpoch, int LastSequence, long LastTimestamp, int? CoordinatorEpoch, long? CurrentTransactionStartOffset);

/// <summary>A partition's active producers, Kafka's PartitionProducerState.</summary>
public sealed record DescribeProducersResult(TopicPartition TopicPartition, List<ProducerState> ActiveProducers);

public sealed record DescribeProducersReport(TopicPartition TopicPartition, List<ProducerState> ActiveProducers, Error Error);

/// <summary>A partition's DescribeProducers failed: every partition's outcome is in <see cref="Results"/>.</summary>
public sealed class DescribeProducersException(List<DescribeProducersReport> results)
    : KafkaException(AdminReports.FirstError(results, static r => ((string?)r.TopicPartition.ToString(), r.Error), "describe producers of"))
{
    public List<DescribeProducersReport> Results { get; } = results;
}

/// <summary>
/// Kafka's AbortTransactionSpec: the transaction of <paramref name="ProducerId"/> at <paramref name="ProducerEpoch"/>
/// open on <paramref name="TopicPartition"/>, and the coordinator epoch its ABORT marker carries (at least that of the
/// producer's last marker, <see cref="ProducerState.CoordinatorEpoch"/>; 0 when it had none).
/// </summary>
public sealed record AbortTransactionSpec(TopicPartition TopicPartition, long ProducerId, short ProducerEpoch, int CoordinatorEpoch);
