namespace OrleansStream.Client;

/// <summary>What <see cref="IProducer{TKey,TValue}.Produce(string, Message{TKey,TValue}, Action{DeliveryReport{TKey,TValue}})"/> hands its handler.</summary>
public class DeliveryReport<TKey, TValue> : DeliveryResult<TKey, TValue>
{
    public Error Error { get; set; } = Error.NoError;
}
