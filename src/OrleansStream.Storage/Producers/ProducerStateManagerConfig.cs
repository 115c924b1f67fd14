namespace OrleansStream.Storage.Producers;

/// <summary>Kafka's ProducerStateManagerConfig, with Kafka's default.</summary>
public sealed record ProducerStateManagerConfig
{
    public const string ProducerIdExpirationMsKey = "producer.id.expiration.ms";

    /// <summary><c>producer.id.expiration.ms</c>: forget a producer with no open transaction after this long without a write.</summary>
    public long ProducerIdExpirationMs { get; init; } = 24L * 60 * 60 * 1000;
}
