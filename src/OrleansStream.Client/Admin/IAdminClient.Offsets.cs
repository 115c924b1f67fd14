using OrleansStream.Client.Admin;

namespace OrleansStream.Client;

public partial interface IAdminClient
{
    /// <summary>
    /// Kafka's Admin.listOffsets (KIP-396): each partition's offset for its <see cref="OffsetSpec"/> (earliest, latest,
    /// the first at or after a timestamp, the record with the largest timestamp), asked of its leader. Throws
    /// <see cref="ListOffsetsException"/> with every partition's outcome when any partition failed, as Confluent.Kafka does.
    /// </summary>
    Task<ListOffsetsResult> ListOffsetsAsync(IEnumerable<TopicPartitionOffsetSpec> topicPartitionOffsets, ListOffsetsOptions? options = null);

    /// <summary>
    /// Kafka's Admin.deleteRecords: each partition's log start offset moved up to its offset (<see cref="Offset.End"/>:
    /// the high watermark), on every in-sync replica within <see cref="DeleteRecordsOptions.OperationTimeout"/>. Throws
    /// <see cref="DeleteRecordsException"/> with every partition's outcome when any partition failed.
    /// </summary>
    Task<List<DeleteRecordsResult>> DeleteRecordsAsync(IEnumerable<TopicPartitionOffset> topicPartitionOffsets, DeleteRecordsOptions? options = null);
}
