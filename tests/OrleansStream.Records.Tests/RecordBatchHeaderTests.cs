using OrleansStream.Records;

namespace OrleansStream.Records.Tests;

public class RecordBatchHeaderTests
{
    [Fact]
    public void Crc32C_matches_the_standard_check_value()
    {
        // The CRC-32C check value of "123456789" (RFC 3720, iSCSI).
        Assert.Equal(0xE3069283u, Crc32C.HashToUInt32("123456789"u8));
    }

    [Fact]
    public void Validate_rejects_a_short_buffer()
    {
        Assert.Equal(ErrorCode.CorruptMessage, RecordBatchHeader.Validate(new byte[10], out _));
    }
}
