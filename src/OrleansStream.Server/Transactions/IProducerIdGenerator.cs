namespace OrleansStream.Server.Transactions;

/// <summary>
/// Kafka's ProducerIdGenerator: hands out producer ids from a block the controller allocated (KIP-730). Synchronous,
/// as Kafka's: the implementation prefetches the next block in the background and answers false while none is ready.
/// </summary>
public interface IProducerIdGenerator
{
    /// <summary>A producer id never handed out before, or false while no block is available (the caller retries).</summary>
    bool TryGenerateProducerId(out long producerId);
}
