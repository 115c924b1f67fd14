namespace OrleansStream.Client;

/// <summary>A message could not be delivered.</summary>
public class ProduceException<TKey, TValue>(Error error, DeliveryResult<TKey, TValue> deliveryResult, Exception? inner = null)
    : KafkaException(error, inner)
{
    public DeliveryResult<TKey, TValue> DeliveryResult { get; } = deliveryResult;
}
