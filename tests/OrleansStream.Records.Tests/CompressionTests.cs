using CsCheck;

namespace OrleansStream.Records.Tests;

public class CompressionTests
{
    public static TheoryData<CompressionType> Codecs => [CompressionType.Gzip, CompressionType.Snappy, CompressionType.Lz4, CompressionType.Zstd];

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

    [Theory]
    [MemberData(nameof(Codecs))]
    public void Builder_round_trips_every_codec_and_keeps_header_fields(CompressionType codec)
    {
        using var builder = new RecordBatchBuilder();
        builder.Reset(producerId: 3, producerEpoch: 1, baseSequence: 5, isTransactional: true, compression: codec);
        var value = new byte[200];
        for (int i = 0; i < 50; i++)
            builder.Append(1000 + i, [(byte)i], value);
        byte[] compressed = builder.ToArray();
        RecordBatchHeader.Stamp(compressed, 77, 4);

        Assert.Equal(ErrorCode.None, RecordBatchHeader.Validate(compressed, out var header));
        Assert.Equal(codec, header.Compression);
        Assert.True(header.IsTransactional);
        Assert.True(compressed.Length < builder.SizeInBytes / 4);

        byte[] plain = RecordBatchCompression.Decompress(compressed);
        Assert.Equal(ErrorCode.None, RecordBatchHeader.Validate(plain, out var plainHeader));
        Assert.Equal(CompressionType.None, plainHeader.Compression);
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

        using var again = new PooledBuffer();
        // The codecs are deterministic: compressing the plain batch again gives the same bytes, header and CRC included.
        Assert.Equal(compressed, RecordBatchCompression.Compress(plain, codec, again).ToArray());
    }

    private static byte[] Batch(CompressionType codec, long producerId, int baseSequence, int records)
    {
        using var builder = new RecordBatchBuilder();
        builder.Reset(producerId: producerId, producerEpoch: 2, baseSequence: baseSequence, compression: codec);
        for (var i = 0; i < records; i++)
            builder.Append(1000 + i, [(byte)i], new byte[100]);
        return builder.ToArray();
    }

    [Fact]
    public void Recompress_rewrites_each_batch_in_the_topics_codec_keeping_producer_fields_and_records()
    {
        byte[] batches = [.. Batch(CompressionType.Gzip, 7, 0, 10), .. Batch(CompressionType.None, 7, 10, 5), .. Batch(CompressionType.Zstd, 7, 15, 3)];
        using var output = new PooledBuffer();
        using var scratch = new PooledBuffer();

        Assert.True(RecordBatchCompression.NeedsRecompression(batches, CompressionType.Zstd));
        RecordBatchCompression.Recompress(batches, CompressionType.Zstd, output, scratch);

        var rewritten = output.WrittenSpan.ToArray();
        Assert.False(RecordBatchCompression.NeedsRecompression(rewritten, CompressionType.Zstd));
        var sequences = new List<int>();
        var keys = new List<byte>();
        for (var position = 0; position < rewritten.Length;)
        {
            var batch = rewritten.AsSpan(position, RecordBatchHeader.PeekTotalSize(rewritten.AsSpan(position)));
            Assert.Equal(ErrorCode.None, RecordBatchHeader.Validate(batch, out var header));
            Assert.Equal(CompressionType.Zstd, header.Compression);
            Assert.Equal((7L, (short)2), (header.ProducerId, header.ProducerEpoch));
            sequences.Add(header.BaseSequence);
            foreach (var record in RecordBatchReader.Batch(RecordBatchCompression.Decompress(batch)).Records()) keys.Add(record.Key[0]);
            position += batch.Length;
        }
        Assert.Equal([0, 10, 15], sequences);
        Assert.Equal([.. Enumerable.Range(0, 10).Select(i => (byte)i), .. Enumerable.Range(0, 5).Select(i => (byte)i), 0, 1, 2], keys);
        Assert.Equal(Batch(CompressionType.Zstd, 7, 15, 3), rewritten[^Batch(CompressionType.Zstd, 7, 15, 3).Length..]);

        RecordBatchCompression.Recompress(rewritten, CompressionType.None, output, scratch);
        Assert.False(RecordBatchCompression.NeedsRecompression(output.WrittenSpan, CompressionType.None));
    }

    [Fact]
    public void Recompress_refuses_a_corrupt_batch_rather_than_give_it_a_fresh_CRC()
    {
        var batch = Batch(CompressionType.None, -1, -1, 4);
        batch[^1] ^= 0xFF;
        using var output = new PooledBuffer();
        using var scratch = new PooledBuffer();

        var refused = Assert.Throws<OrleansStreamException>(() => RecordBatchCompression.Recompress(batch, CompressionType.Lz4, output, scratch));

        Assert.Equal(ErrorCode.CorruptMessage, refused.Code);
    }

    /// <summary>The 21 record bytes of the sarama batch, compressed by tools other than the code under test.</summary>
    public static TheoryData<CompressionType, byte[]> SaramaRecordsByOtherTools => new()
    {
        // xerial snappy-java stream: 16-byte header, one big-endian block length, a raw snappy block written by hand
        // from the format description (varint length 21, one literal of 21 bytes).
        { CompressionType.Snappy, [0x82, 0x53, 0x4E, 0x41, 0x50, 0x50, 0x59, 0x00, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 23, 0x15, 0x50, .. SaramaRecords] },
        // The same raw block alone, as librdkafka sends snappy.
        { CompressionType.Snappy, [0x15, 0x50, .. SaramaRecords] },
        // lz4 1.9.4 CLI `lz4 -B4 --no-frame-crc`: FLG 0x60 (independent blocks), BD 0x40 (64 KiB), HC 0x82, one
        // uncompressed block (high bit of its size), end mark.
        { CompressionType.Lz4, [0x04, 0x22, 0x4D, 0x18, 0x60, 0x40, 0x82, 0x15, 0x00, 0x00, 0x80, .. SaramaRecords, 0, 0, 0, 0] },
        // The same with `lz4 -B4`: content checksum flag (FLG 0x64) and the XXH32 after the end mark.
        { CompressionType.Lz4, [0x04, 0x22, 0x4D, 0x18, 0x64, 0x40, 0xA7, 0x15, 0x00, 0x00, 0x80, .. SaramaRecords, 0, 0, 0, 0, 0x0C, 0x3B, 0xEF, 0x92] },
        // zstd 1.5.4 CLI `zstd -3 --no-content-size`: a frame without a content size, as zstd-jni streams write.
        { CompressionType.Zstd, [0x28, 0xB5, 0x2F, 0xFD, 0x04, 0x00, 0xA9, 0x00, 0x00, .. SaramaRecords, 0xC9, 0xA4, 0x0E, 0xB7] },
        // `zstd -19`: single-segment frame with its content size.
        { CompressionType.Zstd, [0x28, 0xB5, 0x2F, 0xFD, 0x24, 0x15, 0xA9, 0x00, 0x00, .. SaramaRecords, 0xC9, 0xA4, 0x0E, 0xB7] },
    };

    private static readonly byte[] SaramaRecords = [40, 0, 10, 0, 8, 1, 2, 3, 4, 6, 5, 6, 7, 2, 6, 8, 9, 10, 4, 11, 12];

    [Theory]
    [MemberData(nameof(SaramaRecordsByOtherTools))]
    public void Batch_compressed_by_another_implementation_decompresses_and_reads(CompressionType codec, byte[] payload)
    {
        byte[] batch = KafkaSpec.Batch(0, 0, (short)codec, 0, 1479847795000, 0, 0, 0, 0, 1, payload);

        byte[] plain = RecordBatchCompression.Decompress(batch);

        Assert.Equal(ErrorCode.None, RecordBatchHeader.Validate(plain, out var header));
        Assert.Equal(CompressionType.None, header.Compression);
        Assert.Equal(SaramaRecords, plain.AsSpan(RecordBatchHeader.Size).ToArray());
        foreach (var record in RecordBatchReader.Batch(plain).Records())
        {
            Assert.Equal(1479847795005, record.TimestampMs);
            Assert.Equal([1, 2, 3, 4], record.Key.ToArray());
            Assert.Equal([5, 6, 7], record.Value.ToArray());
        }
    }

    /// <summary>The text the files under Vectors/ compress (see Vectors/README.md).</summary>
    private static byte[] VectorText()
    {
        var text = new System.Text.StringBuilder();
        for (int i = 0; i < 2000; i++)
            text.Append(System.Globalization.CultureInfo.InvariantCulture, $"record {i:D5}: the quick brown fox jumps over the lazy dog {i % 7}\n");
        return System.Text.Encoding.ASCII.GetBytes(text.ToString());
    }

    [Theory]
    [InlineData(CompressionType.Gzip, "plain.gz", 1)]
    [InlineData(CompressionType.Lz4, "plain.lz4", 1)]
    [InlineData(CompressionType.Lz4, "plain-linked.lz4", 1)]
    [InlineData(CompressionType.Zstd, "plain.zst", 1)]
    [InlineData(CompressionType.Zstd, "plain-two-frames.zst", 2)]
    public void Multi_block_files_from_reference_tools_decompress(CompressionType codec, string file, int copies)
    {
        byte[] compressed = File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "Vectors", file));
        byte[] text = VectorText();
        using var output = new PooledBuffer(1024);

        RecordBatchCompression.DecompressRecords(codec, compressed, output);

        Assert.Equal(text.Length * copies, output.Length);
        for (int i = 0; i < copies; i++)
            Assert.True(output.WrittenSpan.Slice(i * text.Length, text.Length).SequenceEqual(text));
    }

    [Fact]
    public void Snappy_block_with_a_back_reference_written_by_hand_decompresses()
    {
        // varint 12, literal "abcd" (tag (4-1)<<2), copy with 1-byte offset: length 8, offset 4 (tag (8-4)<<2 | 1).
        byte[] block = [12, 0x0C, (byte)'a', (byte)'b', (byte)'c', (byte)'d', 0x11, 0x04];
        using var output = new PooledBuffer();

        RecordBatchCompression.DecompressRecords(CompressionType.Snappy, block, output);

        Assert.Equal("abcdabcdabcd"u8.ToArray(), output.WrittenSpan.ToArray());
    }

    [Fact]
    public void Snappy_writes_the_xerial_stream_in_32_KiB_blocks_with_big_endian_lengths()
    {
        byte[] text = VectorText();
        using var output = new PooledBuffer();

        RecordBatchCompression.CompressRecords(CompressionType.Snappy, text, output);

        ReadOnlySpan<byte> stream = output.WrittenSpan;
        Assert.Equal(new byte[] { 0x82, 0x53, 0x4E, 0x41, 0x50, 0x50, 0x59, 0x00, 0, 0, 0, 1, 0, 0, 0, 1 }, stream[..16].ToArray());
        int position = 16, blocks = 0;
        using var block = new PooledBuffer();
        while (position < stream.Length)
        {
            int length = System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(stream[position..]);
            block.Clear();
            RecordBatchCompression.DecompressRecords(CompressionType.Snappy, stream.Slice(position + 4, length), block);
            Assert.True(block.WrittenSpan.SequenceEqual(text.AsSpan(blocks * 32768, Math.Min(32768, text.Length - blocks * 32768))));
            position += 4 + length;
            blocks++;
        }
        Assert.Equal(position, stream.Length);
        Assert.Equal((text.Length + 32767) / 32768, blocks);
    }

    [Fact]
    public void Lz4_writes_the_frame_header_Kafka_writes()
    {
        using var output = new PooledBuffer();

        RecordBatchCompression.CompressRecords(CompressionType.Lz4, SaramaRecords, output);

        // Magic, then FLG/BD/HC exactly as the lz4 CLI writes them for 64 KiB independent blocks without checksums.
        Assert.Equal(new byte[] { 0x04, 0x22, 0x4D, 0x18, 0x60, 0x40, 0x82 }, output.WrittenSpan[..7].ToArray());
        Assert.Equal(new byte[] { 0, 0, 0, 0 }, output.WrittenSpan[^4..].ToArray());
    }

    [Fact]
    public void Lz4_and_zstd_output_reads_with_the_libraries_own_stream_decoders()
    {
        byte[] text = VectorText();
        using var lz4 = new PooledBuffer();
        using var zstd = new PooledBuffer();
        RecordBatchCompression.CompressRecords(CompressionType.Lz4, text, lz4);
        RecordBatchCompression.CompressRecords(CompressionType.Zstd, text, zstd);

        using var lz4Stream = K4os.Compression.LZ4.Streams.LZ4Stream.Decode(new MemoryStream(lz4.WrittenSpan.ToArray()));
        using var zstdStream = new ZstdSharp.DecompressionStream(new MemoryStream(zstd.WrittenSpan.ToArray()));
        Assert.Equal(text, ReadAll(lz4Stream));
        Assert.Equal(text, ReadAll(zstdStream));
    }

    private static byte[] ReadAll(Stream stream)
    {
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }

    [Theory]
    [InlineData(5)]
    [InlineData(7)]
    public void Unknown_codec_id_is_UnsupportedCompressionType(int id)
    {
        using var builder = new RecordBatchBuilder();
        var build = Assert.Throws<OrleansStreamException>(() => builder.Reset(compression: (CompressionType)id));
        Assert.Equal(ErrorCode.UnsupportedCompressionType, build.Code);

        byte[] batch = KafkaSpec.Batch(0, 0, (short)id, 0, 0, 0, 0, 0, 0, 1, [1, 2, 3]);
        var read = Assert.Throws<OrleansStreamException>(() => RecordBatchCompression.Decompress(batch));
        Assert.Equal(ErrorCode.UnsupportedCompressionType, read.Code);
    }

    [Theory]
    [MemberData(nameof(Codecs))]
    public void Truncated_or_garbage_payload_is_CorruptMessage(CompressionType codec)
    {
        using var builder = new RecordBatchBuilder();
        builder.Reset(compression: codec);
        for (int i = 0; i < 300; i++)
            builder.Append(i, null, VectorText().AsSpan(i * 100, 100).ToArray());
        byte[] whole = builder.ToArray()[RecordBatchHeader.Size..];

        // Cut inside the compressed data (9 bytes is past gzip's trailer): a gzip stream that ends early ends quietly
        // in .NET, and the record walk after decompression catches it.
        foreach (byte[] payload in new[] { whole[..(whole.Length / 2)], whole[..^9], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12] })
        {
            byte[] batch = KafkaSpec.Batch(0, 0, (short)codec, 299, 0, 299, -1, -1, -1, 300, payload);
            var ex = Assert.Throws<OrleansStreamException>(() => RecordBatchCompression.Decompress(batch));
            Assert.Equal(ErrorCode.CorruptMessage, ex.Code);
        }
    }

    [Theory]
    [MemberData(nameof(Codecs))]
    public void Decompression_stops_at_the_buffer_limit(CompressionType codec)
    {
        var zeros = new byte[4 << 20];
        using var compressed = new PooledBuffer();
        RecordBatchCompression.CompressRecords(codec, zeros, compressed);
        Assert.True(compressed.Length < zeros.Length / 15);

        using var bounded = new PooledBuffer(1024, maxLength: 1 << 20);
        var ex = Assert.Throws<OrleansStreamException>(() => RecordBatchCompression.DecompressRecords(codec, compressed.WrittenSpan, bounded));
        Assert.Equal(ErrorCode.RecordTooLarge, ex.Code);
        Assert.True(bounded.Length <= (1 << 20) + (64 << 10)); // lz4's decoder may take one 64 KiB block past it

        using var exact = new PooledBuffer(1024, maxLength: zeros.Length);
        RecordBatchCompression.DecompressRecords(codec, compressed.WrittenSpan, exact);
        Assert.Equal(zeros.Length, exact.Length);
    }

    [Fact]
    public void Random_inputs_round_trip_through_every_codec()
    {
        var compressible = Gen.Select(Gen.Byte.Array[1, 64], Gen.Int[0, 5000], (motif, repeats) =>
        {
            var bytes = new byte[motif.Length * repeats];
            for (int i = 0; i < bytes.Length; i++)
                bytes[i] = motif[i % motif.Length];
            return bytes;
        });
        Gen.Select(Gen.OneOf(Gen.Byte.Array[0, 100_000], compressible), Gen.Int[1, 4]).Sample(t =>
        {
            var (input, id) = t;
            var codec = (CompressionType)id;
            using var compressed = new PooledBuffer(64);
            using var plain = new PooledBuffer(64);
            RecordBatchCompression.CompressRecords(codec, input, compressed);
            RecordBatchCompression.DecompressRecords(codec, compressed.WrittenSpan, plain);
            Assert.True(plain.WrittenSpan.SequenceEqual(input));
        }, iter: 300);
    }

    [Theory]
    [MemberData(nameof(Codecs))]
    public void No_records_round_trip_through_every_codec(CompressionType codec)
    {
        using var compressed = new PooledBuffer(64);
        using var plain = new PooledBuffer(64);
        RecordBatchCompression.CompressRecords(codec, [], compressed);
        RecordBatchCompression.DecompressRecords(codec, compressed.WrittenSpan, plain);

        Assert.Equal(0, plain.Length);
        // GZipStream writes nothing for no bytes; what we write is Java's GZIPOutputStream's empty member.
        if (codec == CompressionType.Gzip)
            Assert.Equal("1f8b08000000000000ff03000000000000000000", Convert.ToHexStringLower(compressed.WrittenSpan));
    }

    [Fact]
    public void An_empty_gzip_payload_is_a_corrupt_message()
    {
        using var plain = new PooledBuffer(64);
        var ex = Assert.Throws<OrleansStreamException>(() => RecordBatchCompression.DecompressRecords(CompressionType.Gzip, [], plain));
        Assert.Equal(ErrorCode.CorruptMessage, ex.Code);
        Assert.IsType<InvalidDataException>(ex.InnerException);
    }

    [Fact]
    public void Random_batches_round_trip_through_every_codec()
    {
        var record = Gen.Select(Gen.Byte.Array[0, 40], Gen.Byte.Array[0, 300], Gen.Long[0, 1L << 40]);
        Gen.Select(record.Array[1, 200], Gen.Int[1, 4]).Sample(t =>
        {
            var (records, id) = t;
            using var builder = new RecordBatchBuilder(64);
            builder.Reset(compression: (CompressionType)id);
            foreach (var (key, value, timestamp) in records)
                builder.Append(timestamp, key, value);
            byte[] batch = builder.ToArray();
            using var plain = new PooledBuffer(64);

            int i = 0;
            foreach (var r in RecordBatchReader.Batch(RecordBatchCompression.Decompress(batch, plain)).Records())
            {
                Assert.True(r.Key.SequenceEqual(records[i].Item1));
                Assert.True(r.Value.SequenceEqual(records[i].Item2));
                Assert.Equal(records[i].Item3, r.TimestampMs);
                i++;
            }
            Assert.Equal(records.Length, i);
        }, iter: 200);
    }

    [Theory]
    [InlineData(CompressionType.Snappy)]
    [InlineData(CompressionType.Lz4)]
    [InlineData(CompressionType.Zstd)]
    public void Decompressing_into_a_reused_buffer_allocates_nothing_per_record(CompressionType codec)
    {
        using var builder = new RecordBatchBuilder();
        builder.Reset(compression: codec);
        var value = new byte[100];
        for (int i = 0; i < 150; i++)
            builder.Append(i, null, value);
        byte[] batch = builder.ToArray();
        using var plain = new PooledBuffer(64 * 1024);
        RecordBatchCompression.Decompress(batch, plain); // warm up: JIT, the thread's codec state

        // The least of three windows: a background collection can charge one a lump it never allocated (ThreadAllocations).
        long allocated = ThreadAllocations.Least(_ =>
        {
            for (int i = 0; i < 20; i++)
                RecordBatchCompression.Decompress(batch, plain);
        });

        // At most the codec's small decoder object per batch (snappy 80 bytes, lz4 about 400, zstd none): not per record.
        Assert.True(allocated / 20 < 512, $"{allocated / 20} bytes per batch of 150 records");
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
