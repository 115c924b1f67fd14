namespace OrleansStream.Client.Admin;

/// <summary>A topic to create. -1 partitions or replication factor take the broker's defaults.</summary>
public sealed class TopicSpecification
{
    public required string Name { get; set; }

    public int NumPartitions { get; set; } = -1;

    public short ReplicationFactor { get; set; } = -1;

    /// <summary>Topic configs by Kafka's keys (<c>retention.ms</c>, <c>cleanup.policy</c>, ...).</summary>
    public Dictionary<string, string>? Configs { get; set; }
}
