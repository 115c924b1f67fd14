using System.Buffers.Binary;

namespace OrleansStream.Records;

/// <summary>
/// Kafka's murmur2 (org.apache.kafka.common.utils.Utils.murmur2), bit-compatible with the Java client and librdkafka's
/// murmur2 partitioners, so a key lands on the same partition index whichever client produced it.
/// </summary>
public static class Murmur2
{
    private const uint Seed = 0x9747b28c;
    private const uint M = 0x5bd1e995;
    private const int R = 24;

    public static int Hash(ReadOnlySpan<byte> data)
    {
        int length = data.Length;
        uint h = Seed ^ (uint)length;
        int blocks = length & ~3;
        for (int i = 0; i < blocks; i += 4)
        {
            uint k = BinaryPrimitives.ReadUInt32LittleEndian(data[i..]);
            k *= M;
            k ^= k >> R;
            k *= M;
            h *= M;
            h ^= k;
        }
        switch (length & 3)
        {
            case 3:
                h ^= (uint)data[blocks + 2] << 16;
                goto case 2;
            case 2:
                h ^= (uint)data[blocks + 1] << 8;
                goto case 1;
            case 1:
                h ^= data[blocks];
                h *= M;
                break;
        }
        h ^= h >> 13;
        h *= M;
        h ^= h >> 15;
        return (int)h;
    }

    /// <summary>Kafka's Utils.toPositive: clears the sign bit (not Math.Abs, which fails on int.MinValue).</summary>
    public static int ToPositive(int number) => number & 0x7fffffff;

    /// <summary>The default partitioner's choice for a non-null key: toPositive(murmur2(key)) % numPartitions.</summary>
    public static int Partition(ReadOnlySpan<byte> key, int numPartitions)
    {
        if (numPartitions <= 0)
            throw new OrleansStreamException(ErrorCode.InvalidPartitions, $"Number of partitions must be positive, got {numPartitions}.");
        return ToPositive(Hash(key)) % numPartitions;
    }
}
