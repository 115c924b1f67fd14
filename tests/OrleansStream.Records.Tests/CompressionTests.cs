namespace OrleansStream.Records.Tests;

public class CompressionTests
{
    // The gzip batch from IBM/sarama's records tests: one record (key 01020304, value 050607, header 08090A=0B0C)
    // compressed by Go's compress/gzip, CRC 0x9FECB6BD.
    private static readonly byte[] SaramaGzipRecords =
    [
        31, 139, 8, 0, 0, 0, 0, 0, 0, 255, 210, 96, 224, 98, 224, 96, 100, 98, 102, 97, 99, 101,
        99, 103, 98, 227, 224, 228, 98, 225, 230, 1, 4, 0, 0, 255, 255, 173, 201, 88, 103, 21, 0, 0, 0,
    ];

    [Fact]
    public void Gzip_batch_from_another_client_decompresses_and_reads()
    {
        byte[] batch = KafkaSpec.Batch(0, 0, (short)CompressionType.Gzip, 0, 1479847795000, 0, 0, 0, 0, 1, SaramaGzipRecords);
        Assert.Equal(0x9FECB6BDu, RecordBatchHeader.ComputeCrc(batch));
        Assert.Equal(ErrorCode.None, RecordBatchHeader.Validate(batch, out _));

        byte[] plain = RecordBatchCompression.Decompress(batch);

        Assert.Equal(ErrorCode.None, RecordBatchHeader.Validate(plain, out var header));
        Assert.Equal(CompressionType.None, header.Compression);
        Assert.Equal(RecordBatchHeader.Size + 21, plain.Length);
        foreach (var record in RecordBatchReader.Batch(plain).Records())
        {
            Assert.Equal(1479847795005, record.TimestampMs);
            Assert.Equal([1, 2, 3, 4], record.Key.ToArray());
            Assert.Equal([5, 6, 7], record.Value.ToArray());
        }
    }

    [Fact]
    public void Gzip_builder_round_trips_and_keeps_header_fields()
    {
        using var builder = new RecordBatchBuilder();
        builder.Reset(producerId: 3, producerEpoch: 1, baseSequence: 5, isTransactional: true, compression: CompressionType.Gzip);
        var value = new byte[200];
        for (int i = 0; i < 50; i++)
            builder.Append(1000 + i, [(byte)i], value);
        byte[] compressed = builder.ToArray();
        RecordBatchHeader.Stamp(compressed, 77, 4);

        Assert.Equal(ErrorCode.None, RecordBatchHeader.Validate(compressed, out var header));
        Assert.Equal(CompressionType.Gzip, header.Compression);
        Assert.True(header.IsTransactional);
        Assert.True(compressed.Length < builder.SizeInBytes / 4);

        byte[] plain = RecordBatchCompression.Decompress(compressed);
        Assert.Equal(ErrorCode.None, RecordBatchHeader.Validate(plain, out var plainHeader));
        Assert.Equal(header.BaseOffset, plainHeader.BaseOffset);
        Assert.Equal(header.PartitionLeaderEpoch, plainHeader.PartitionLeaderEpoch);
        Assert.Equal(header.MaxTimestamp, plainHeader.MaxTimestamp);
        Assert.Equal(header.ProducerId, plainHeader.ProducerId);
        Assert.True(plainHeader.IsTransactional);
        long offset = 77;
        foreach (var record in RecordBatchReader.Batch(plain).Records())
        {
            Assert.Equal(offset, record.Offset);
            Assert.Equal((byte)(offset - 77), record.Key[0]);
            offset++;
        }
        Assert.Equal(127, offset);
    }

    [Theory]
    [InlineData(CompressionType.Snappy)]
    [InlineData(CompressionType.Lz4)]
    [InlineData(CompressionType.Zstd)]
    public void Other_codecs_are_UnsupportedCompressionType(CompressionType codec)
    {
        using var builder = new RecordBatchBuilder();
        var build = Assert.Throws<OrleansStreamException>(() => builder.Reset(compression: codec));
        Assert.Equal(ErrorCode.UnsupportedCompressionType, build.Code);

        byte[] batch = KafkaSpec.Batch(0, 0, (short)codec, 0, 0, 0, 0, 0, 0, 1, [1, 2, 3]);
        var read = Assert.Throws<OrleansStreamException>(() => RecordBatchCompression.Decompress(batch));
        Assert.Equal(ErrorCode.UnsupportedCompressionType, read.Code);
    }

    [Theory]
    [InlineData(new byte[] { 31, 139, 8, 0, 9, 9, 9, 9, 9, 9, 9 })]                          // truncated stream
    [InlineData(new byte[] { 31, 139, 8, 0, 0, 0, 0, 0, 0, 255, 0xFF, 0xFF, 0xFF, 0xFF })]   // reserved deflate block type
    [InlineData(new byte[] { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 })]                       // not gzip at all
    public void Garbage_gzip_payload_is_CorruptMessage(byte[] payload)
    {
        byte[] batch = KafkaSpec.Batch(0, 0, (short)CompressionType.Gzip, 0, 0, 0, 0, 0, 0, 1, payload);
        var ex = Assert.Throws<OrleansStreamException>(() => RecordBatchCompression.Decompress(batch));
        Assert.Equal(ErrorCode.CorruptMessage, ex.Code);
    }
}
