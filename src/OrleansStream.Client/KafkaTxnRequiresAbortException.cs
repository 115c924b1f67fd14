namespace OrleansStream.Client;

/// <summary>The current transaction cannot commit: call <see cref="IProducer{TKey,TValue}.AbortTransaction(TimeSpan)"/>, then begin a new one.</summary>
public class KafkaTxnRequiresAbortException(Error error, Exception? inner = null) : KafkaException(error, inner);
