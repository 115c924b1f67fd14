using System.Text;
using OrleansStream.Client;

namespace OrleansStream.Client.Tests;

public sealed class PartitionerTests
{
    // Kafka's UtilsTest.testMurmur2 and librdkafka's rdmurmur2.c vectors: Java's murmur2 of the UTF-8 bytes.
    public static TheoryData<string, int> JavaMurmur2Vectors => new()
    {
        { "21", -973932308 },
        { "foobar", -790332482 },
        { "a-little-bit-long-string", -985981536 },
        { "a-little-bit-longer-string", -1486304829 },
        { "lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971 },
        { "abc", 479470107 },
        { "1", -1993445489 },
        { "12", 126087238 },
        { "123", -267702483 },
        { "1234", -1614185708 },
        { "12345", -1188365604 },
    };

    [Theory]
    [MemberData(nameof(JavaMurmur2Vectors))]
    public void Murmur2_key_lands_on_the_partition_a_Java_producer_picks(string key, int javaHash)
    {
        var bytes = Encoding.UTF8.GetBytes(key);
        foreach (var partitions in new[] { 1, 3, 6, 7, 12, 100 })
        {
            var java = (javaHash & 0x7fffffff) % partitions;
            Assert.Equal(java, Partitioners.Murmur2(bytes, partitions));
            Assert.Equal(java, Partitioners.ForKey(Partitioner.Murmur2Random, bytes, keyIsNull: false, partitions));
            Assert.Equal(java, Partitioners.ForKey(Partitioner.Murmur2, bytes, keyIsNull: false, partitions));
        }
    }

    [Fact]
    public void Null_keys_are_left_to_the_sticky_partitioner_only_by_the_random_kinds()
    {
        Assert.Equal(-1, Partitioners.ForKey(Partitioner.Murmur2Random, default, keyIsNull: true, 5));
        Assert.Equal(-1, Partitioners.ForKey(Partitioner.ConsistentRandom, default, keyIsNull: true, 5));
        Assert.Equal(-1, Partitioners.ForKey(Partitioner.Random, "k"u8, keyIsNull: false, 5));
        // The non-random kinds map every null key to one fixed partition, as librdkafka does.
        var murmur = Partitioners.ForKey(Partitioner.Murmur2, default, keyIsNull: true, 5);
        Assert.InRange(murmur, 0, 4);
        Assert.Equal(murmur, Partitioners.ForKey(Partitioner.Murmur2, default, keyIsNull: true, 5));
        Assert.Equal(0, Partitioners.ForKey(Partitioner.Consistent, default, keyIsNull: true, 5));
    }

    [Fact]
    public void Consistent_partitioner_is_crc32_of_the_key()
    {
        // CRC-32 (IEEE) of "123456789" is the check value 0xCBF43926.
        Assert.Equal((int)(0xCBF43926u % 10), Partitioners.Consistent("123456789"u8, 10));
        Assert.Equal(Partitioners.Consistent("k"u8, 7), Partitioners.ForKey(Partitioner.ConsistentRandom, "k"u8, false, 7));
    }
}
