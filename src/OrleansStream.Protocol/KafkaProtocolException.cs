namespace OrleansStream.Protocol;

/// <summary>A frame that does not parse as the request it claims to be; Kafka closes such a connection.</summary>
public sealed class KafkaProtocolException(string message) : Exception(message);
