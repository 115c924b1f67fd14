namespace OrleansStream.Client;

/// <summary>How a producer picks a partition for a message without one (librdkafka's <c>partitioner</c> values).</summary>
public enum Partitioner
{
    /// <summary>Every message to a random partition (sticky per batch).</summary>
    Random,
    /// <summary>CRC-32 of the key; null keys all go to one partition.</summary>
    Consistent,
    /// <summary>CRC-32 of the key; null keys spread (sticky per batch).</summary>
    ConsistentRandom,
    /// <summary>Java-compatible murmur2 of the key; null keys all go to one partition.</summary>
    Murmur2,
    /// <summary>Java-compatible murmur2 of the key; null keys spread (sticky per batch). Java's and the default.</summary>
    Murmur2Random,
}
