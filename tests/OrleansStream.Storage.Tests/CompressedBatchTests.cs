using System.Text;
using Microsoft.Extensions.Time.Testing;
using OrleansStream.Records;

namespace OrleansStream.Storage.Tests;

/// <summary>A producer's compressed batches: stored as sent, checked by decompressing, compacted with their own codec.</summary>
public sealed class CompressedBatchTests : IDisposable
{
    public static TheoryData<CompressionType> Codecs => [CompressionType.Gzip, CompressionType.Snappy, CompressionType.Lz4, CompressionType.Zstd];

    private const long T0 = 1_700_000_000_000;
    private readonly TempDirectory _dir = new();
    private readonly FakeTimeProvider _time = new(DateTimeOffset.FromUnixTimeMilliseconds(T0));

    public void Dispose() => _dir.Dispose();

    private PartitionLog Open(LogConfig config) => PartitionLog.Open(_dir.Path, config, _time);

    private static byte[] Compressed(CompressionType codec, params TestRecord[] records)
    {
        using var output = new PooledBuffer();
        return RecordBatchCompression.Compress(TestBatches.Create(records), codec, output).ToArray();
    }

    private static TestRecord[] Numbered(string prefix, int count)
    {
        var records = new TestRecord[count];
        for (var i = 0; i < count; i++)
            records[i] = TestRecord.Of($"{prefix}{i % 7}", $"value {i} of a batch that compresses well, well, well", T0 + i);
        return records;
    }

    [Theory]
    [MemberData(nameof(Codecs))]
    public void A_compressed_batch_is_stored_byte_for_byte_as_sent(CompressionType codec)
    {
        using var log = Open(new LogConfig());
        log.AppendAsLeader(TestBatches.Create(TestRecord.Of("first", "plain")), 0);
        var sent = Compressed(codec, Numbered("k", 50));

        var info = log.AppendAsLeader(sent, 3);

        Assert.Equal((1L, 50L, 50), (info.FirstOffset, info.LastOffset, info.RecordCount));
        var expected = sent.ToArray();
        RecordBatchHeader.Stamp(expected, 1, 3); // the leader writes only baseOffset and leader epoch, outside the CRC
        var stored = log.Read(1, 1 << 20).ToArray();
        Assert.Equal(expected, stored);
        Assert.Equal(ErrorCode.None, RecordBatchHeader.Validate(stored, out var header));
        Assert.Equal(codec, header.Compression);
    }

    [Fact]
    public void An_unknown_codec_id_is_UnsupportedCompressionType_and_nothing_is_written()
    {
        using var log = Open(new LogConfig());
        var batch = TestBatches.Create(TestRecord.Of("k", "v"));
        batch[RecordBatchHeader.AttributesOffset + 1] |= 5;
        RecordBatchHeader.Reframe(batch, (CompressionType)5);

        var ex = Assert.Throws<OrleansStreamException>(() => log.AppendAsLeader(batch, 0));

        Assert.Equal(ErrorCode.UnsupportedCompressionType, ex.Code);
        Assert.Equal(0, log.LogEndOffset);
    }

    [Theory]
    [MemberData(nameof(Codecs))]
    public void A_compressed_batch_that_does_not_decompress_to_its_records_is_CorruptMessage(CompressionType codec)
    {
        using var log = Open(new LogConfig());
        var good = Compressed(codec, Numbered("k", 20));
        // Valid CRC over a payload cut short: only decompressing shows it.
        var cut = good[..^12];
        RecordBatchHeader.Reframe(cut, codec);
        // A header claiming more records than the payload holds.
        var miscounted = Compressed(codec, Numbered("k", 20));
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(miscounted.AsSpan(RecordBatchHeader.RecordsCountOffset), 21);
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(miscounted.AsSpan(RecordBatchHeader.LastOffsetDeltaOffset), 20);
        RecordBatchHeader.Reframe(miscounted, codec);

        foreach (var batch in new[] { cut, miscounted })
        {
            var ex = Assert.Throws<OrleansStreamException>(() => log.AppendAsLeader(batch, 0));
            Assert.Equal(ErrorCode.CorruptMessage, ex.Code);
        }
        Assert.Equal(0, log.LogEndOffset);
    }

    [Fact]
    public void A_compacted_topic_refuses_a_compressed_record_without_a_key()
    {
        using var log = Open(new LogConfig { CleanupPolicy = CleanupPolicy.Compact });
        var batch = Compressed(CompressionType.Lz4, TestRecord.Of("k", "v"), TestRecord.Of(null, "keyless"));

        var ex = Assert.Throws<OrleansStreamException>(() => log.AppendAsLeader(batch, 0));

        Assert.Equal(ErrorCode.InvalidRecord, ex.Code);
    }

    [Theory]
    [MemberData(nameof(Codecs))]
    public async Task Compaction_of_compressed_batches_keeps_their_codec(CompressionType codec)
    {
        using var log = Open(new LogConfig { CleanupPolicy = CleanupPolicy.Compact, SegmentBytes = 100_000 });
        // Keys k0..k6 repeat inside the first batch; the second batch rewrites k0..k2; the third keeps every record.
        var untouched = Compressed(codec, TestRecord.Of("u1", "x", T0), TestRecord.Of("u2", "y", T0));
        log.AppendAsLeader(Compressed(codec, Numbered("k", 30)), 0);
        log.AppendAsLeader(Compressed(codec, TestRecord.Of("k0", "new0", T0), TestRecord.Of("k1", "new1", T0), TestRecord.Of("k2", "new2", T0)), 0);
        log.AppendAsLeader(untouched, 0);
        log.Roll();
        log.AppendAsLeader(TestBatches.Create(TestRecord.Of("active", "a")), 0);

        var result = await log.CompactAsync();

        // k3..k6 keep their last records of batch one (offsets 24..27), k0..k2 their rewrites (30..32).
        Assert.Equal(30 - 4, result.RecordsRemoved);
        var batches = new List<(long Base, CompressionType Codec, byte[] Bytes)>();
        var records = new List<(long Offset, string Key, string Value)>();
        using var plain = new PooledBuffer();
        foreach (var batch in RecordBatchReader.Batches(RecoveryTests.ReadAll(log)))
        {
            Assert.Equal(ErrorCode.None, batch.Validate());
            batches.Add((batch.BaseOffset, batch.Compression, batch.Span.ToArray()));
            foreach (var record in RecordBatchReader.Batch(RecordBatchCompression.Decompress(batch.Span, plain)).Records())
                records.Add((record.Offset, Encoding.UTF8.GetString(record.Key), Encoding.UTF8.GetString(record.Value)));
        }
        Assert.Equal([codec, codec, codec, CompressionType.None], batches.Select(b => b.Codec));
        Assert.Equal([24L, 25L, 26L, 27L, 30L, 31L, 32L, 33L, 34L, 35L], records.Select(r => r.Offset));
        Assert.Equal(["k3", "k4", "k5", "k6", "k0", "k1", "k2", "u1", "u2", "active"], records.Select(r => r.Key));
        var expectedUntouched = untouched.ToArray();
        RecordBatchHeader.Stamp(expectedUntouched, 33, 0);
        Assert.Equal(expectedUntouched, batches[2].Bytes);
        Assert.Equal(0, (await log.CompactAsync()).RecordsRemoved);
    }
}
