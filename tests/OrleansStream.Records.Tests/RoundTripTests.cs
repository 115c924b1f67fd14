namespace OrleansStream.Records.Tests;

public class RoundTripTests
{
    [Fact]
    public void Built_batch_reads_back()
    {
        using var builder = new RecordBatchBuilder();
        builder.Append(1000, "k"u8.ToArray(), "v"u8.ToArray(), [new RecordHeader("h", [1, 2])]);
        builder.Append(1005, null, null);
        byte[] bytes = builder.ToArray();

        Assert.Equal(ErrorCode.None, RecordBatchHeader.Validate(bytes, out var header));
        Assert.Equal(2, header.RecordCount);
        int seen = 0;
        foreach (var batch in RecordBatchReader.Batches(bytes))
        {
            foreach (var record in batch.Records())
            {
                Assert.Equal(seen, record.Offset);
                seen++;
            }
        }
        Assert.Equal(2, seen);
    }
}
