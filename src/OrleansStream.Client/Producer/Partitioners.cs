using System.IO.Hashing;
using OrleansStream.Records;

namespace OrleansStream.Client;

/// <summary>The built-in key partitioners; null keys of the *Random kinds are spread by the producer (sticky per batch).</summary>
public static class Partitioners
{
    /// <summary>Java's DefaultPartitioner for keyed records: toPositive(murmur2(key)) % partitions.</summary>
    public static int Murmur2(ReadOnlySpan<byte> key, int partitionCount) => Records.Murmur2.Partition(key, partitionCount);

    /// <summary>librdkafka's consistent partitioner: CRC-32 (IEEE) of the key, unsigned, modulo partitions.</summary>
    public static int Consistent(ReadOnlySpan<byte> key, int partitionCount) => (int)(Crc32.HashToUInt32(key) % (uint)partitionCount);

    /// <summary>
    /// The partition for a keyed record, or -1 when the producer should pick one (a null key with a *Random or the
    /// Random partitioner).
    /// </summary>
    internal static int ForKey(Partitioner partitioner, ReadOnlySpan<byte> key, bool keyIsNull, int partitionCount) => partitioner switch
    {
        Partitioner.Random => -1,
        Partitioner.Murmur2Random or Partitioner.ConsistentRandom when keyIsNull => -1,
        Partitioner.Murmur2 or Partitioner.Murmur2Random => Murmur2(key, partitionCount),
        _ => Consistent(key, partitionCount),
    };
}
