namespace OrleansStream.Records.Tests;

public class AllocationTests
{
    [Fact]
    public void Encoding_and_reading_records_allocates_nothing_per_record()
    {
        var key = new byte[8];
        var value = new byte[92];
        using var builder = new RecordBatchBuilder(64 * 1024);
        EncodeAndRead(builder, key, value, 10); // warm up: JIT and the pool's first rent

        long sum = 0;
        long allocated = ThreadAllocations.Least(_ => sum = EncodeAndRead(builder, key, value, 500));

        Assert.Equal(0, allocated);
        Assert.Equal(500L * 499 / 2, sum);
    }

    private static long EncodeAndRead(RecordBatchBuilder builder, byte[] key, byte[] value, int count)
    {
        builder.Reset();
        for (int i = 0; i < count; i++)
            builder.Append(1_700_000_000_000 + i, key, false, value, false);
        ReadOnlyMemory<byte> batch = builder.Seal();
        long sum = 0;
        foreach (var view in RecordBatchReader.Batches(batch.Span))
            foreach (var record in view.Records())
                sum += record.Offset + record.Value.Length - value.Length;
        return sum;
    }

    [Fact]
    public void Builder_grows_past_its_initial_capacity_and_is_reusable()
    {
        using var builder = new RecordBatchBuilder(0);
        var value = new byte[1000];
        for (int i = 0; i < 100; i++)
            builder.Append(i, null, value);
        byte[] big = builder.ToArray();
        Assert.Equal(ErrorCode.None, RecordBatchHeader.Validate(big, out var header));
        Assert.Equal(100, header.RecordCount);

        builder.Reset();
        Assert.Equal(0, builder.Count);
        Assert.Equal(RecordBatchHeader.Size, builder.SizeInBytes);
        builder.Append(7, null, null);
        Assert.Equal(ErrorCode.None, RecordBatchHeader.Validate(builder.Seal().Span, out header));
        Assert.Equal(1, header.RecordCount);
        Assert.Equal(7, header.MaxTimestamp);
    }

    [Fact]
    public void Sealing_an_empty_batch_is_InvalidRecord_and_a_null_header_key_changes_nothing()
    {
        using var builder = new RecordBatchBuilder();
        var empty = Assert.Throws<OrleansStreamException>(() => builder.Seal());
        Assert.Equal(ErrorCode.InvalidRecord, empty.Code);

        builder.Append(1, null, [1]);
        int size = builder.SizeInBytes;
        var nullKey = Assert.Throws<OrleansStreamException>(() => builder.Append(2, null, [2], [new RecordHeader(null!, null)]));
        Assert.Equal(ErrorCode.InvalidRecord, nullKey.Code);
        Assert.Equal(size, builder.SizeInBytes);
        Assert.Equal(1, builder.Count);
    }
}
