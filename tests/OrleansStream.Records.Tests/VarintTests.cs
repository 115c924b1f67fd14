namespace OrleansStream.Records.Tests;

public class VarintTests
{
    // Zig-zag maps 0,-1,1,-2,... to 0,1,2,3,...; then 7 bits per byte, least significant first (Kafka's ByteUtils).
    public static TheoryData<int, byte[]> IntCases => new()
    {
        { 0, [0x00] },
        { -1, [0x01] },
        { 1, [0x02] },
        { 63, [0x7E] },
        { -64, [0x7F] },
        { 64, [0x80, 0x01] },
        { -65, [0x81, 0x01] },
        { 8191, [0xFE, 0x7F] },
        { 8192, [0x80, 0x80, 0x01] },
        { 1048575, [0xFE, 0xFF, 0x7F] },
        { 1048576, [0x80, 0x80, 0x80, 0x01] },
        { 134217728, [0x80, 0x80, 0x80, 0x80, 0x01] },
        { int.MaxValue, [0xFE, 0xFF, 0xFF, 0xFF, 0x0F] },
        { int.MinValue, [0xFF, 0xFF, 0xFF, 0xFF, 0x0F] },
    };

    public static TheoryData<long, byte[]> LongCases => new()
    {
        { 0L, [0x00] },
        { -1L, [0x01] },
        { 64L, [0x80, 0x01] },
        { (long)int.MaxValue, [0xFE, 0xFF, 0xFF, 0xFF, 0x0F] },
        { (long)int.MinValue, [0xFF, 0xFF, 0xFF, 0xFF, 0x0F] },
        { 1L << 34, [0x80, 0x80, 0x80, 0x80, 0x80, 0x01] },
        { long.MaxValue, [0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01] },
        { long.MinValue, [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01] },
    };

    [Theory]
    [MemberData(nameof(IntCases))]
    public void Varint_has_the_spec_encoding(int value, byte[] expected)
    {
        var buffer = new byte[Varint.MaxVarintBytes];
        int written = Varint.WriteVarint(buffer, value);
        Assert.Equal(expected, buffer[..written]);
        Assert.Equal(expected.Length, Varint.SizeOfVarint(value));
        Assert.Equal(value, Varint.ReadVarint(expected, out int read));
        Assert.Equal(expected.Length, read);
    }

    [Theory]
    [MemberData(nameof(LongCases))]
    public void Varlong_has_the_spec_encoding(long value, byte[] expected)
    {
        var buffer = new byte[Varint.MaxVarlongBytes];
        int written = Varint.WriteVarlong(buffer, value);
        Assert.Equal(expected, buffer[..written]);
        Assert.Equal(expected.Length, Varint.SizeOfVarlong(value));
        Assert.Equal(value, Varint.ReadVarlong(expected, out int read));
        Assert.Equal(expected.Length, read);
    }

    [Fact]
    public void Reading_stops_at_the_first_byte_without_continuation_bit()
    {
        Assert.Equal(64, Varint.ReadVarint([0x80, 0x01, 0xFF, 0xFF], out int read));
        Assert.Equal(2, read);
    }

    [Theory]
    [InlineData(new byte[] { })]
    [InlineData(new byte[] { 0x80 })]
    [InlineData(new byte[] { 0xFF, 0xFF, 0xFF, 0xFF })]
    [InlineData(new byte[] { 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01 })]
    public void Truncated_or_too_long_varint_is_CorruptMessage(byte[] bytes)
    {
        Assert.False(Varint.TryReadVarint(bytes, out _, out _));
        var ex = Assert.Throws<OrleansStreamException>(() => Varint.ReadVarint(bytes, out _));
        Assert.Equal(ErrorCode.CorruptMessage, ex.Code);
    }

    [Fact]
    public void Varlong_longer_than_ten_bytes_is_CorruptMessage()
    {
        byte[] eleven = [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01];
        var ex = Assert.Throws<OrleansStreamException>(() => Varint.ReadVarlong(eleven, out _));
        Assert.Equal(ErrorCode.CorruptMessage, ex.Code);
    }

    [Fact]
    public void Unsigned_sizes_cover_every_group_boundary()
    {
        for (int bits = 0; bits < 64; bits++)
        {
            ulong value = 1UL << bits;
            Assert.Equal(bits / 7 + 1, Varint.SizeOfUnsignedVarlong(value));
            Assert.Equal(bits / 7 + 1, Varint.SizeOfUnsignedVarlong(value | (value - 1)));
            if (bits < 32)
                Assert.Equal(bits / 7 + 1, Varint.SizeOfUnsignedVarint((uint)value));
        }
        Assert.Equal(1, Varint.SizeOfUnsignedVarint(0));
        Assert.Equal(1, Varint.SizeOfUnsignedVarlong(0));
    }
}
