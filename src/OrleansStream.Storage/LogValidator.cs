using System.Buffers.Binary;
using OrleansStream.Records;
using OrleansStream.Storage.Producers;

namespace OrleansStream.Storage;

/// <summary>
/// Kafka's LogValidator: the checks a batch passes before it reaches a segment, and the leader's stamping of offsets,
/// leader epoch and (for LogAppendTime topics) timestamps. Sequence numbers and epochs are the producer state's
/// (<see cref="ProducerStateManager"/>); only what a batch says about itself is checked here.
/// </summary>
internal static class LogValidator
{
    /// <summary>Where a leader decompresses client batches to check them; reused while it stays small.</summary>
    [ThreadStatic]
    private static PooledBuffer? t_plain;

    /// <summary>A per-thread buffer grown past this by one huge batch goes back to the pool rather than stay held.</summary>
    private const int MaxHeldScratchBytes = 1 << 20;

    /// <summary>
    /// Validates every batch before anything is written (Kafka's analyzeAndValidateRecords): length, magic, CRC,
    /// <c>max.message.bytes</c>, a codec Kafka defines, keys on a compacted topic; a leader's batches must count their
    /// records, and a compressed one must decompress to exactly that many well-formed records (Kafka's
    /// validateMessagesAndAssignOffsetsCompressed; the stored batch stays as sent); a follower's offsets must increase.
    /// A client may not write control batches, nor an idempotent batch without a base sequence or beside other batches
    /// (Kafka's produce v3+: one batch per partition). Throws <see cref="OrleansStreamException"/> with Kafka's error code.
    /// </summary>
    public static ValidationSummary Validate(ReadOnlySpan<byte> batches, LogConfig config, bool asLeader,
        AppendOrigin origin = AppendOrigin.Replication)
    {
        if (batches.IsEmpty)
            throw new OrleansStreamException(ErrorCode.InvalidRecord, "The append holds no record batch.");
        long firstOffset = -1, lastOffset = -1, maxTimestamp = -1;
        int records = 0, count = 0, producerBatches = 0;
        for (var position = 0; position < batches.Length;)
        {
            var rest = batches[position..];
            var size = RecordBatchHeader.PeekTotalSize(rest);
            if (size < RecordBatchHeader.Size)
            {
                throw new OrleansStreamException(ErrorCode.CorruptMessage,
                    $"Record batch {count} at byte {position} has a length of {size} bytes; a batch needs at least {RecordBatchHeader.Size}.");
            }
            if (size > config.MaxMessageBytes)
            {
                throw new OrleansStreamException(ErrorCode.RecordTooLarge,
                    $"Record batch {count} is {size} bytes, larger than max.message.bytes ({config.MaxMessageBytes}).");
            }
            if (size > rest.Length)
            {
                throw new OrleansStreamException(ErrorCode.CorruptMessage,
                    $"Record batch {count} at byte {position} declares {size} bytes but only {rest.Length} remain.");
            }
            var error = RecordBatchHeader.Validate(rest[..size], out var header);
            if (error != ErrorCode.None)
                throw new OrleansStreamException(error, $"Record batch {count} at byte {position} is invalid ({error}).");
            if (asLeader && (header.RecordCount == 0 || header.LastOffsetDelta != header.RecordCount - 1))
            {
                throw new OrleansStreamException(ErrorCode.InvalidRecord,
                    $"Record batch {count} has {header.RecordCount} records but lastOffsetDelta {header.LastOffsetDelta}.");
            }
            if (origin == AppendOrigin.Client && header.IsControl)
                throw new OrleansStreamException(ErrorCode.InvalidRecord, $"Record batch {count}: clients are not allowed to write control records.");
            if (ProducerSequence.HasProducerId(header))
            {
                producerBatches++;
                if (origin == AppendOrigin.Client)
                    ValidateClientProducerBatch(header, count, batches.Length - size);
            }
            if (!RecordBatchCompression.IsSupported(header.Compression))
            {
                throw new OrleansStreamException(ErrorCode.UnsupportedCompressionType,
                    $"Record batch {count} names compression codec id {(int)header.Compression}, which Kafka does not define.");
            }
            if (asLeader && !header.IsControl)
            {
                var compacted = (config.CleanupPolicy & CleanupPolicy.Compact) != 0;
                if (header.Compression != CompressionType.None)
                    ValidateCompressed(rest[..size], count, compacted);
                else if (compacted)
                    RequireKeys(rest[..size], count);
            }
            if (!asLeader)
            {
                if (count > 0 && header.BaseOffset <= lastOffset)
                {
                    throw new OrleansStreamException(ErrorCode.InvalidRecord,
                        $"Record batch {count} starts at offset {header.BaseOffset}, not after the previous batch's {lastOffset}.");
                }
                if (count == 0)
                    firstOffset = header.BaseOffset;
                lastOffset = header.LastOffset;
            }
            maxTimestamp = Math.Max(maxTimestamp, header.MaxTimestamp);
            records += header.RecordCount;
            count++;
            position += size;
        }
        return new ValidationSummary(firstOffset, lastOffset, maxTimestamp, records, count, producerBatches);
    }

    /// <summary>Kafka's LogValidator.validateBatch for a client's idempotent batch, and ProduceRequest v3's one-batch rule.</summary>
    private static void ValidateClientProducerBatch(in RecordBatchHeader header, int batchIndex, int otherBytes)
    {
        if (header.BaseSequence < 0)
        {
            throw new OrleansStreamException(ErrorCode.InvalidRecord,
                $"Record batch {batchIndex} of producer {header.ProducerId} has the invalid base sequence {header.BaseSequence}.");
        }
        if (otherBytes != 0)
        {
            throw new OrleansStreamException(ErrorCode.InvalidRecord,
                $"Record batch {batchIndex} of producer {header.ProducerId} is not alone: an idempotent producer sends one batch per partition.");
        }
    }

    /// <summary>Decompresses a compressed batch (walking its records) and, on a compacted topic, checks their keys.</summary>
    private static void ValidateCompressed(ReadOnlySpan<byte> batch, int batchIndex, bool requireKeys)
    {
        var plain = t_plain ??= new PooledBuffer(64 * 1024, RecordBatchCompression.DefaultMaxDecompressedBytes);
        try
        {
            var records = RecordBatchCompression.Decompress(batch, plain);
            if (requireKeys)
                RequireKeys(records, batchIndex);
        }
        catch (OrleansStreamException ex) when (ex.Code is ErrorCode.CorruptMessage or ErrorCode.RecordTooLarge)
        {
            throw new OrleansStreamException(ex.Code, $"Record batch {batchIndex}: {ex.Message}", ex);
        }
        finally
        {
            if (plain.Capacity > MaxHeldScratchBytes)
            {
                t_plain = null;
                plain.Dispose();
            }
        }
    }

    /// <summary>Kafka's LogValidator rule: a compacted topic cannot accept a record without a key.</summary>
    private static void RequireKeys(ReadOnlySpan<byte> batch, int batchIndex)
    {
        foreach (var record in RecordBatchReader.Batch(batch).Records())
        {
            if (record.KeyIsNull)
            {
                throw new OrleansStreamException(ErrorCode.InvalidRecord,
                    $"Record batch {batchIndex} holds a record without a key at offset delta {record.OffsetDelta}; a compacted topic needs keys.");
            }
        }
    }

    /// <summary>Kafka's setMaxTimestamp(LOG_APPEND_TIME): sets the timestamp-type bit and maxTimestamp, then the CRC.</summary>
    private static void StampLogAppendTime(Span<byte> batch, long nowMs)
    {
        var attributes = BinaryPrimitives.ReadInt16BigEndian(batch[RecordBatchHeader.AttributesOffset..]);
        BinaryPrimitives.WriteInt16BigEndian(batch[RecordBatchHeader.AttributesOffset..], (short)(attributes | RecordBatchHeader.TimestampTypeMask));
        BinaryPrimitives.WriteInt64BigEndian(batch[RecordBatchHeader.MaxTimestampOffset..], nowMs);
        BinaryPrimitives.WriteUInt32BigEndian(batch[RecordBatchHeader.CrcOffset..], RecordBatchHeader.ComputeCrc(batch));
    }

    /// <summary>
    /// The leader's stamping (Kafka's assignOffsetsNonCompressed): each batch gets its base offset from
    /// <paramref name="firstOffset"/> on and the leader epoch, and the append time when <paramref name="logAppendTime"/>
    /// is set. Returns the offset after the last batch; <paramref name="maxTimestamp"/> is the largest batch timestamp.
    /// </summary>
    public static long AssignOffsets(Span<byte> batches, long firstOffset, int leaderEpoch, long logAppendTime, out long maxTimestamp)
    {
        var next = firstOffset;
        maxTimestamp = -1L;
        for (var position = 0; position < batches.Length;)
        {
            var batch = batches[position..];
            var size = RecordBatchHeader.PeekTotalSize(batch);
            batch = batch[..size];
            RecordBatchHeader.Stamp(batch, next, leaderEpoch);
            if (logAppendTime >= 0)
                StampLogAppendTime(batch, logAppendTime);
            maxTimestamp = Math.Max(maxTimestamp, BinaryPrimitives.ReadInt64BigEndian(batch[RecordBatchHeader.MaxTimestampOffset..]));
            next += BinaryPrimitives.ReadInt32BigEndian(batch[RecordBatchHeader.LastOffsetDeltaOffset..]) + 1;
            position += size;
        }
        return next;
    }
}

/// <summary>
/// What validation learnt of an append: its offsets (a follower's; -1 for a leader's), max timestamp and counts, with
/// the batches that carry a producer id (none: the producer state is left alone).
/// </summary>
internal readonly record struct ValidationSummary(long FirstOffset, long LastOffset, long MaxTimestamp, int Records, int Batches, int ProducerBatches);
