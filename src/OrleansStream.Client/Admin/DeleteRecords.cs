namespace OrleansStream.Client.Admin;

public sealed class DeleteRecordsOptions : AdminOptions
{
    /// <summary>
    /// How long the leader waits for every in-sync replica to move its log start (Kafka's DeleteRecords timeout_ms);
    /// default 60 s, Confluent.Kafka's.
    /// </summary>
    public TimeSpan? OperationTimeout { get; set; }
}

/// <summary>A partition's records are deleted below <see cref="Offset"/>: its low watermark (the least log start offset of its in-sync replicas).</summary>
public sealed record DeleteRecordsResult(string Topic, int Partition, long Offset);

public sealed record DeleteRecordsReport(string Topic, int Partition, long Offset, Error Error);

/// <summary>A partition's DeleteRecords failed: every partition's outcome is in <see cref="Results"/>.</summary>
public sealed class DeleteRecordsException(List<DeleteRecordsReport> results)
    : KafkaException(AdminReports.FirstError(results, static r => ((string?)$"{r.Topic}-{r.Partition}", r.Error), "delete records of"))
{
    public List<DeleteRecordsReport> Results { get; } = results;
}
