namespace OrleansStream.Client;

/// <summary>A Kafka broker as Confluent.Kafka's Node names it: node id, host, port and rack.</summary>
public sealed record Node(int Id, string Host, int Port, string? Rack)
{
    /// <summary>
    /// The broker's own id (<c>OrleansStream:BrokerId</c>), by which <see cref="Admin.TopicPartitionInfo.Replicas"/> name
    /// it; null where not known. Confluent.Kafka's Node has none: Kafka's replicas are node ids.
    /// </summary>
    public string? BrokerId { get; init; }
}
