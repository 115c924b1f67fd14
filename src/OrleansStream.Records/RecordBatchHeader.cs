using System.Buffers.Binary;
using System.IO.Hashing;

namespace OrleansStream.Records;

/// <summary>Compression codec in attribute bits 0..2 (Kafka's CompressionType ids).</summary>
public enum CompressionType : byte { None = 0, Gzip = 1, Snappy = 2, Lz4 = 3, Zstd = 4 }

/// <summary>
/// The 61-byte header of a Kafka RecordBatch v2 (DefaultRecordBatch), big-endian:
/// baseOffset(8) batchLength(4) partitionLeaderEpoch(4) magic(1) crc(4) attributes(2)
/// lastOffsetDelta(4) baseTimestamp(8) maxTimestamp(8) producerId(8) producerEpoch(2)
/// baseSequence(4) recordsCount(4). The CRC-32C covers attributes..end, so a broker may
/// stamp baseOffset and partitionLeaderEpoch without recomputing it.
/// </summary>
public readonly struct RecordBatchHeader
{
    public const int Size = 61;
    public const byte CurrentMagic = 2;
    /// <summary>Bytes before batchLength's coverage starts (baseOffset + batchLength).</summary>
    public const int LogOverhead = 12;

    public const int BaseOffsetOffset = 0;
    public const int BatchLengthOffset = 8;
    public const int PartitionLeaderEpochOffset = 12;
    public const int MagicOffset = 16;
    public const int CrcOffset = 17;
    public const int AttributesOffset = 21;
    public const int LastOffsetDeltaOffset = 23;
    public const int BaseTimestampOffset = 27;
    public const int MaxTimestampOffset = 35;
    public const int ProducerIdOffset = 43;
    public const int ProducerEpochOffset = 51;
    public const int BaseSequenceOffset = 53;
    public const int RecordsCountOffset = 57;

    public const short CompressionCodecMask = 0x07;
    public const short TimestampTypeMask = 0x08;
    public const short TransactionalFlagMask = 0x10;
    public const short ControlFlagMask = 0x20;
    public const short DeleteHorizonFlagMask = 0x40;

    public long BaseOffset { get; init; }
    public int BatchLength { get; init; }
    public int PartitionLeaderEpoch { get; init; }
    public byte Magic { get; init; }
    public uint Crc { get; init; }
    public short Attributes { get; init; }
    public int LastOffsetDelta { get; init; }
    public long BaseTimestamp { get; init; }
    public long MaxTimestamp { get; init; }
    public long ProducerId { get; init; }
    public short ProducerEpoch { get; init; }
    public int BaseSequence { get; init; }
    public int RecordCount { get; init; }

    /// <summary>Whole batch size on disk and on the wire.</summary>
    public int TotalSize => BatchLength + LogOverhead;
    public long LastOffset => BaseOffset + LastOffsetDelta;
    public long NextOffset => LastOffset + 1;
    public CompressionType Compression => (CompressionType)(Attributes & CompressionCodecMask);
    public bool IsLogAppendTime => (Attributes & TimestampTypeMask) != 0;
    public bool IsTransactional => (Attributes & TransactionalFlagMask) != 0;
    public bool IsControl => (Attributes & ControlFlagMask) != 0;

    /// <summary>Reads the header fields; does not validate. Requires at least <see cref="Size"/> bytes.</summary>
    public static RecordBatchHeader Read(ReadOnlySpan<byte> batch)
    {
        if (batch.Length < Size)
            throw new OrleansStreamException(ErrorCode.CorruptMessage, $"Record batch header needs {Size} bytes, got {batch.Length}.");
        return new RecordBatchHeader
        {
            BaseOffset = BinaryPrimitives.ReadInt64BigEndian(batch),
            BatchLength = BinaryPrimitives.ReadInt32BigEndian(batch[BatchLengthOffset..]),
            PartitionLeaderEpoch = BinaryPrimitives.ReadInt32BigEndian(batch[PartitionLeaderEpochOffset..]),
            Magic = batch[MagicOffset],
            Crc = BinaryPrimitives.ReadUInt32BigEndian(batch[CrcOffset..]),
            Attributes = BinaryPrimitives.ReadInt16BigEndian(batch[AttributesOffset..]),
            LastOffsetDelta = BinaryPrimitives.ReadInt32BigEndian(batch[LastOffsetDeltaOffset..]),
            BaseTimestamp = BinaryPrimitives.ReadInt64BigEndian(batch[BaseTimestampOffset..]),
            MaxTimestamp = BinaryPrimitives.ReadInt64BigEndian(batch[MaxTimestampOffset..]),
            ProducerId = BinaryPrimitives.ReadInt64BigEndian(batch[ProducerIdOffset..]),
            ProducerEpoch = BinaryPrimitives.ReadInt16BigEndian(batch[ProducerEpochOffset..]),
            BaseSequence = BinaryPrimitives.ReadInt32BigEndian(batch[BaseSequenceOffset..]),
            RecordCount = BinaryPrimitives.ReadInt32BigEndian(batch[RecordsCountOffset..]),
        };
    }

    /// <summary>CRC-32C (Castagnoli) over attributes..end of a whole batch.</summary>
    public static uint ComputeCrc(ReadOnlySpan<byte> batch) =>
        Crc32C.HashToUInt32(batch[AttributesOffset..]);

    /// <summary>
    /// Checks a whole batch (exactly <paramref name="batch"/>.Length bytes): length, magic, CRC, offsets and count.
    /// Returns <see cref="ErrorCode.None"/> or the reason it is invalid, never throws.
    /// </summary>
    public static ErrorCode Validate(ReadOnlySpan<byte> batch, out RecordBatchHeader header)
    {
        header = default;
        if (batch.Length < Size) return ErrorCode.CorruptMessage;
        header = Read(batch);
        if (header.BatchLength < Size - LogOverhead || header.TotalSize != batch.Length) return ErrorCode.CorruptMessage;
        if (header.Magic != CurrentMagic) return ErrorCode.UnsupportedVersion;
        if (header.LastOffsetDelta < 0 || header.RecordCount < 0) return ErrorCode.CorruptMessage;
        if (ComputeCrc(batch) != header.Crc) return ErrorCode.CorruptMessage;
        return ErrorCode.None;
    }

    /// <summary>Writes baseOffset and partitionLeaderEpoch in place; the CRC stays valid because it does not cover them.</summary>
    public static void Stamp(Span<byte> batch, long baseOffset, int partitionLeaderEpoch)
    {
        BinaryPrimitives.WriteInt64BigEndian(batch, baseOffset);
        BinaryPrimitives.WriteInt32BigEndian(batch[PartitionLeaderEpochOffset..], partitionLeaderEpoch);
    }

    /// <summary>
    /// Writes the idempotent producer's fields (producerId, producerEpoch, baseSequence) into a sealed batch and
    /// recomputes its CRC, which covers them. Once per batch, when the producer first drains it.
    /// </summary>
    public static void StampProducer(Span<byte> batch, long producerId, short producerEpoch, int baseSequence)
    {
        BinaryPrimitives.WriteInt64BigEndian(batch[ProducerIdOffset..], producerId);
        BinaryPrimitives.WriteInt16BigEndian(batch[ProducerEpochOffset..], producerEpoch);
        BinaryPrimitives.WriteInt32BigEndian(batch[BaseSequenceOffset..], baseSequence);
        BinaryPrimitives.WriteUInt32BigEndian(batch[CrcOffset..], ComputeCrc(batch));
    }

    /// <summary>
    /// Sets the codec bits and batchLength of a whole batch whose records were just rewritten (compressed, decompressed,
    /// filtered), then its CRC.
    /// </summary>
    public static void Reframe(Span<byte> batch, CompressionType codec)
    {
        short attributes = BinaryPrimitives.ReadInt16BigEndian(batch[AttributesOffset..]);
        attributes = (short)((attributes & ~CompressionCodecMask) | (int)codec);
        BinaryPrimitives.WriteInt32BigEndian(batch[BatchLengthOffset..], batch.Length - LogOverhead);
        BinaryPrimitives.WriteInt16BigEndian(batch[AttributesOffset..], attributes);
        BinaryPrimitives.WriteUInt32BigEndian(batch[CrcOffset..], ComputeCrc(batch));
    }

    /// <summary>Size of the batch starting at <paramref name="buffer"/>, or -1 if fewer than 12 bytes are present.</summary>
    public static int PeekTotalSize(ReadOnlySpan<byte> buffer) =>
        buffer.Length < LogOverhead ? -1 : BinaryPrimitives.ReadInt32BigEndian(buffer[BatchLengthOffset..]) + LogOverhead;
}

/// <summary>Hardware-accelerated CRC-32C (System.IO.Hashing 11's Crc32 with the Castagnoli parameter set).</summary>
public static class Crc32C
{
    public static uint HashToUInt32(ReadOnlySpan<byte> data) => Crc32.HashToUInt32(Crc32ParameterSet.Crc32C, data);
}
