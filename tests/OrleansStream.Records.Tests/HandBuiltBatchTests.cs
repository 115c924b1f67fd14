using System.Buffers.Binary;

namespace OrleansStream.Records.Tests;

/// <summary>Batches written byte by byte from Kafka's protocol guide, read with our reader and compared with our builder.</summary>
public class HandBuiltBatchTests
{
    private const long SaramaTimestamp = 1479847795000;

    // One record: timestampDelta 5, key 01020304, value 050607, header key 08090A value 0B0C; length 20.
    private static readonly byte[] SaramaRecord =
    [
        40, 0, 10, 0,
        8, 1, 2, 3, 4,
        6, 5, 6, 7,
        2, 6, 8, 9, 10, 4, 11, 12,
    ];

    // CRC-32C values published with IBM/sarama's records tests (an independent Go implementation).
    [Fact]
    public void Header_only_batches_have_the_known_CRCs()
    {
        byte[] empty = KafkaSpec.Batch(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, []);
        byte[] control = KafkaSpec.Batch(0, 0, RecordBatchHeader.ControlFlagMask, 0, 0, 0, 0, 0, 0, 0, []);

        Assert.Equal(0x595FB7DDu, RecordBatchHeader.ComputeCrc(empty));
        Assert.Equal(0x512E43D9u, RecordBatchHeader.ComputeCrc(control));
        Assert.Equal(ErrorCode.None, RecordBatchHeader.Validate(control, out var header));
        Assert.True(header.IsControl);
        Assert.False(header.IsTransactional);
    }

    [Fact]
    public void Record_with_key_value_and_header_reads_back_with_the_known_CRC()
    {
        byte[] batch = KafkaSpec.Batch(0, 0, 0, 0, SaramaTimestamp, 0, 0, 0, 0, 1, SaramaRecord);

        Assert.Equal(0x547961FDu, BinaryPrimitives.ReadUInt32BigEndian(batch.AsSpan(RecordBatchHeader.CrcOffset)));
        Assert.Equal(0x547961FDu, RecordBatchHeader.ComputeCrc(batch));
        var view = RecordBatchReader.Batch(batch);
        Assert.Equal(ErrorCode.None, view.Validate());
        int count = 0;
        foreach (var record in view.Records())
        {
            count++;
            Assert.Equal(0, record.Offset);
            Assert.Equal(SaramaTimestamp + 5, record.TimestampMs);
            Assert.Equal([1, 2, 3, 4], record.Key.ToArray());
            Assert.Equal([5, 6, 7], record.Value.ToArray());
            Assert.False(record.KeyIsNull);
            Assert.False(record.ValueIsNull);
            Assert.Equal(1, record.HeaderCount);
            Assert.Equal(21, record.SizeInBytes);
            foreach (var header in record.Headers)
            {
                Assert.Equal([8, 9, 10], header.KeyUtf8.ToArray());
                Assert.Equal([11, 12], header.Value.ToArray());
                Assert.False(header.ValueIsNull);
            }
        }
        Assert.Equal(1, count);
    }

    [Fact]
    public void Builder_writes_the_spec_bytes_for_nulls_empties_headers_and_producer_fields()
    {
        const long t0 = 1_700_000_000_000;
        byte[] records = new KafkaSpec()
            // offset 0: key "k", value "v", timestampDelta 0, one header "h" = null
            .Raw(22, 0, 0, 0, 2, (byte)'k', 2, (byte)'v', 2, 2, (byte)'h', 1)
            // offset 1: null key, null value (tombstone), timestampDelta -3, no headers
            .Raw(12, 0, 5, 2, 1, 1, 0)
            // offset 2: empty key, empty value, timestampDelta +70 (two-byte varlong 0x8C 0x01), two headers
            .Raw(30, 0, 0x8C, 0x01, 4, 0, 0, 4, 4, (byte)'a', (byte)'b', 2, 9, 2, (byte)'c', 0)
            .ToArray();
        Assert.Equal(12 + 7 + 16, records.Length);
        byte[] expected = KafkaSpec.Batch(
            baseOffset: 0, partitionLeaderEpoch: -1, attributes: RecordBatchHeader.TransactionalFlagMask, lastOffsetDelta: 2,
            baseTimestamp: t0, maxTimestamp: t0 + 70, producerId: 4242, producerEpoch: 7, baseSequence: 100, recordCount: 3,
            records);

        using var builder = new RecordBatchBuilder(64);
        builder.Reset(producerId: 4242, producerEpoch: 7, baseSequence: 100, isTransactional: true);
        builder.Append(t0, "k"u8.ToArray(), "v"u8.ToArray(), [new RecordHeader("h", null)]);
        builder.Append(t0 - 3, null, null);
        builder.Append(t0 + 70, [], [], [new RecordHeader("ab", [9]), new RecordHeader("c", [])]);

        Assert.Equal(expected.Length, builder.SizeInBytes);
        Assert.Equal(expected, builder.ToArray());
    }

    [Fact]
    public void Reader_distinguishes_null_from_empty_and_keeps_negative_timestamp_deltas()
    {
        byte[] records = new KafkaSpec()
            .Raw(12, 0, 5, 0, 1, 0, 0)          // null key, empty value, timestampDelta -3
            .Raw(12, 0, 0, 2, 0, 1, 0)          // empty key, null value, timestampDelta 0, offsetDelta 1
            .ToArray();
        byte[] batch = KafkaSpec.Batch(50, 3, 0, 1, 1000, 1000, -1, -1, -1, 2, records);

        var view = RecordBatchReader.Batch(batch);
        var e = view.Records().GetEnumerator();
        Assert.True(e.MoveNext());
        Assert.True(e.Current.KeyIsNull);
        Assert.False(e.Current.ValueIsNull);
        Assert.Equal(0, e.Current.Value.Length);
        Assert.Equal(997, e.Current.TimestampMs);
        Assert.Equal(50, e.Current.Offset);
        Assert.Null(e.Current.KeyToArray());
        Assert.True(e.MoveNext());
        Assert.False(e.Current.KeyIsNull);
        Assert.True(e.Current.ValueIsNull);
        Assert.Null(e.Current.ValueToArray());
        Assert.Equal(51, e.Current.Offset);
        Assert.False(e.MoveNext());
    }

    [Fact]
    public void Control_and_transactional_bits_survive_build_stamp_and_read()
    {
        using var builder = new RecordBatchBuilder();
        builder.Reset(producerId: 9, producerEpoch: 1, baseSequence: 0, isTransactional: true, isControl: true);
        builder.Append(5, [0, 0, 0, 0], [0, 0, 0, 0, 0, 0]);
        byte[] batch = builder.ToArray();
        RecordBatchHeader.Stamp(batch, 1234, 17);

        Assert.Equal(ErrorCode.None, RecordBatchHeader.Validate(batch, out var header));
        Assert.Equal(0x30, header.Attributes);
        Assert.True(header.IsControl);
        Assert.True(header.IsTransactional);
        Assert.Equal(1234, header.BaseOffset);
        Assert.Equal(17, header.PartitionLeaderEpoch);
        Assert.Equal(9, header.ProducerId);
        foreach (var record in RecordBatchReader.Batch(batch).Records())
            Assert.Equal(1234, record.Offset);
    }

    [Fact]
    public void LogAppendTime_batches_give_every_record_the_max_timestamp()
    {
        byte[] batch = KafkaSpec.Batch(0, 0, RecordBatchHeader.TimestampTypeMask, 1, 100, 9999, -1, -1, -1, 2,
            new KafkaSpec().Raw(12, 0, 0, 0, 1, 1, 0).Raw(12, 0, 2, 2, 1, 1, 0).ToArray());

        foreach (var record in RecordBatchReader.Batch(batch).Records())
            Assert.Equal(9999, record.TimestampMs);
    }

    [Theory]
    [InlineData(CompressionType.Gzip)]
    [InlineData(CompressionType.Snappy)]
    [InlineData(CompressionType.Lz4)]
    [InlineData(CompressionType.Zstd)]
    [InlineData((CompressionType)7)]
    public void Compressed_batch_keeps_its_header_but_reading_records_without_decompressing_is_UnsupportedCompressionType(CompressionType codec)
    {
        byte[] batch = KafkaSpec.Batch(10, 0, (short)codec, 0, SaramaTimestamp, 0, 0, 0, 0, 1, [31, 139, 8, 0, 1, 2, 3]);

        var view = RecordBatchReader.Batch(batch);
        Assert.Equal(ErrorCode.None, view.Validate());
        Assert.Equal(codec, view.Compression);
        Assert.Equal(10, view.BaseOffset);
        Assert.Equal(1, view.RecordCount);
        try
        {
            view.Records();
            Assert.Fail("expected UnsupportedCompressionType");
        }
        catch (OrleansStreamException ex)
        {
            Assert.Equal(ErrorCode.UnsupportedCompressionType, ex.Code);
        }
    }

    [Fact]
    public void Concatenated_batches_enumerate_in_order_and_a_partial_tail_stops_the_walk()
    {
        byte[] a = KafkaSpec.Batch(0, 0, 0, 0, SaramaTimestamp, 0, 0, 0, 0, 1, SaramaRecord);
        byte[] b = KafkaSpec.Batch(1, 0, 0, 0, SaramaTimestamp, 0, 0, 0, 0, 1, SaramaRecord);
        byte[] all = [.. a, .. b, .. b.AsSpan(0, 30)];

        var batches = RecordBatchReader.Batches(all);
        long expectedBase = 0;
        while (batches.MoveNext())
            Assert.Equal(expectedBase++, batches.Current.BaseOffset);
        Assert.Equal(2, expectedBase);
        Assert.Equal(a.Length + b.Length, batches.BytesConsumed);
        Assert.True(batches.HasPartialTail);
    }

    [Theory]
    [InlineData(new byte[] { 40, 0, 10, 0, 8, 1, 2, 3 }, 1)]                       // record longer than the batch
    [InlineData(new byte[] { 8, 0, 10, 0, 20, 1, 2, 3, 4 }, 1)]                    // key longer than the record
    [InlineData(new byte[] { 12, 0, 0, 0, 1, 1, 0, 7, 7 }, 1)]                      // bytes after the last record
    [InlineData(new byte[] { 12, 0, 0, 0, 1, 1, 0 }, 2)]                            // fewer records than the count
    [InlineData(new byte[] { 12, 0, 0, 0, 3, 1, 0 }, 1)]                            // key length -2
    [InlineData(new byte[] { 12, 0, 0, 0, 1, 1, 1 }, 1)]                            // header count -1
    public void Malformed_records_are_CorruptMessage(byte[] records, int count)
    {
        byte[] batch = KafkaSpec.Batch(0, 0, 0, count - 1, 0, 0, -1, -1, -1, count, records);

        var ex = Assert.Throws<OrleansStreamException>(() =>
        {
            foreach (var record in RecordBatchReader.Batch(batch).Records())
                _ = record.Offset;
        });
        Assert.Equal(ErrorCode.CorruptMessage, ex.Code);
    }

    [Fact]
    public void Malformed_header_is_CorruptMessage_when_walked()
    {
        // One header whose value length (20) runs past the record (record lengths are zig-zag: 18 means 9).
        byte[] batch = KafkaSpec.Batch(0, 0, 0, 0, 0, 0, -1, -1, -1, 1, [18, 0, 0, 0, 1, 1, 2, 2, (byte)'h', 40]);

        var ex = Assert.Throws<OrleansStreamException>(() =>
        {
            foreach (var record in RecordBatchReader.Batch(batch).Records())
                foreach (var header in record.Headers)
                    _ = header.Value.Length;
        });
        Assert.Equal(ErrorCode.CorruptMessage, ex.Code);
    }

    [Fact]
    public void Impossible_batch_length_and_wrong_magic_are_rejected()
    {
        byte[] batch = KafkaSpec.Batch(0, 0, 0, 0, SaramaTimestamp, 0, 0, 0, 0, 1, SaramaRecord);
        byte[] shortLength = (byte[])batch.Clone();
        BinaryPrimitives.WriteInt32BigEndian(shortLength.AsSpan(8), 10);
        byte[] magic1 = (byte[])batch.Clone();
        magic1[16] = 1;

        var length = Assert.Throws<OrleansStreamException>(() => { foreach (var b in RecordBatchReader.Batches(shortLength)) _ = b.BaseOffset; });
        Assert.Equal(ErrorCode.CorruptMessage, length.Code);
        var version = Assert.Throws<OrleansStreamException>(() => RecordBatchReader.Batch(magic1));
        Assert.Equal(ErrorCode.UnsupportedVersion, version.Code);
    }

    [Fact]
    public void Flipped_byte_fails_CRC_validation()
    {
        byte[] batch = KafkaSpec.Batch(0, 0, 0, 0, SaramaTimestamp, 0, 0, 0, 0, 1, SaramaRecord);
        batch[^1] ^= 0x40;

        Assert.False(RecordBatchReader.Batch(batch).IsCrcValid);
        Assert.Equal(ErrorCode.CorruptMessage, RecordBatchReader.Batch(batch).Validate());
    }
}
