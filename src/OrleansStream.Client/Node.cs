namespace OrleansStream.Client;

/// <summary>A Kafka broker as Confluent.Kafka's Node names it: node id, host, port and rack.</summary>
public sealed record Node(int Id, string Host, int Port, string? Rack);
