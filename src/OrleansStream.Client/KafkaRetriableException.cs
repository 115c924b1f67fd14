namespace OrleansStream.Client;

/// <summary>The operation failed but may succeed if called again (a timeout while the coordinator was busy, for one).</summary>
public class KafkaRetriableException(Error error, Exception? inner = null) : KafkaException(error, inner);
