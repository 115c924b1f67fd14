using System.Text;

namespace OrleansStream.Records.Tests;

public class Murmur2Tests
{
    // Vectors from Apache Kafka's UtilsTest.testMurmur2, computed by the Java client.
    [Theory]
    [InlineData("21", -973932308)]
    [InlineData("foobar", -790332482)]
    [InlineData("a-little-bit-long-string", -985981536)]
    [InlineData("a-little-bit-longer-string", -1486304829)]
    [InlineData("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971)]
    [InlineData("abc", 479470107)]
    public void Hash_matches_the_Java_client(string key, int expected)
    {
        Assert.Equal(expected, Murmur2.Hash(Encoding.UTF8.GetBytes(key)));
    }

    [Theory]
    [InlineData("21", 6)]
    [InlineData("foobar", 3)]
    [InlineData("abc", 100)]
    public void Partition_is_toPositive_of_hash_modulo_partitions(string key, int partitions)
    {
        int hash = Murmur2.Hash(Encoding.UTF8.GetBytes(key));
        int expected = (int)((uint)hash & 0x7fffffffu) % partitions;
        Assert.Equal(expected, Murmur2.Partition(Encoding.UTF8.GetBytes(key), partitions));
    }

    [Fact]
    public void ToPositive_clears_only_the_sign_bit()
    {
        Assert.Equal(0, Murmur2.ToPositive(int.MinValue));
        Assert.Equal(int.MaxValue, Murmur2.ToPositive(-1));
        Assert.Equal(5, Murmur2.ToPositive(5));
    }

    [Fact]
    public void Partition_rejects_a_non_positive_partition_count()
    {
        var ex = Assert.Throws<OrleansStreamException>(() => Murmur2.Partition("k"u8, 0));
        Assert.Equal(ErrorCode.InvalidPartitions, ex.Code);
    }

    [Fact]
    public void Hash_of_empty_input_is_defined()
    {
        // Kafka hashes zero bytes without special-casing them: h = seed ^ 0, then the final mix.
        Assert.Equal(275646681, Murmur2.Hash([]));
    }
}
