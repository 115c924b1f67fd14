using System.Buffers.Binary;
using OrleansStream.Records;
using OrleansStream.Storage.Producers;

namespace OrleansStream.Storage;

/// <summary>
/// Kafka's log cleaner for <c>cleanup.policy=compact</c>: keeps the newest record of each key. Offsets never change:
/// a batch keeps its base offset, last offset delta and timestamps, and surviving records are copied byte for byte
/// (their deltas are relative to those). Empty batches go, except an active producer's last batch, kept as an empty
/// header so its producer state survives (Kafka's RETAIN_EMPTY); tombstones go once older than <c>delete.retention.ms</c>.
/// Control batches are kept whole, so transaction markers stay; the data of aborted transactions
/// (<see cref="AbortedBatches"/>) goes and never counts as a key's newest value. A compressed batch is read decompressed and, when records go, its kept records are
/// compressed again with the batch's own codec (Kafka keeps the original codec); a batch that keeps every record stays
/// byte for byte as the producer sent it.
/// </summary>
internal static class LogCleaner
{
    /// <summary>An empty offset map keyed by key bytes.</summary>
    public static Dictionary<byte[], long> NewOffsetMap() => new(KeyComparer.Instance);

    /// <summary>Adds the keys of a local segment's batches to an offset map.</summary>
    public static void AddToOffsetMap(Dictionary<byte[], long> map, LogSegment segment, AbortedBatches aborted)
    {
        using var reader = segment.OpenReader();
        AddToOffsetMap(map, reader, aborted, CancellationToken.None);
    }

    /// <summary>Adds the keys of every batch a reader yields to an offset map (Kafka's buildOffsetMap).</summary>
    public static void AddToOffsetMap(Dictionary<byte[], long> map, SegmentBatchReader reader, AbortedBatches aborted, CancellationToken cancellationToken)
    {
        using var scratch = new Scratch();
        while (reader.TryReadNext(out var bytes))
        {
            cancellationToken.ThrowIfCancellationRequested();
            AddToOffsetMap(map, bytes, aborted, ref scratch.Plain);
        }
    }

    /// <summary>Adds the keys of one segment's batches (a tiered segment's bytes) to an offset map.</summary>
    public static void AddToOffsetMap(Dictionary<byte[], long> map, ReadOnlySpan<byte> batches, AbortedBatches aborted)
    {
        using var scratch = new Scratch();
        AddToOffsetMap(map, batches, aborted, ref scratch.Plain);
    }

    private static void AddToOffsetMap(Dictionary<byte[], long> map, ReadOnlySpan<byte> batches, AbortedBatches aborted, ref PooledBuffer? plain)
    {
        var lookup = map.GetAlternateLookup<ReadOnlySpan<byte>>();
        foreach (var batch in RecordBatchReader.Batches(batches))
        {
            if (!IsCompactable(batch.Header) || aborted.Contains(batch.Header))
                continue;
            foreach (var record in RecordBatchCompression.Readable(batch, ref plain).Records())
            {
                if (!record.KeyIsNull)
                    lookup[record.Key] = record.Offset;
            }
        }
    }

    /// <summary>True when compaction would remove at least one record of the batches a reader yields.</summary>
    public static bool HasAnythingToRemove(SegmentBatchReader reader, Dictionary<byte[], long> map, long tombstoneHorizonMs, AbortedBatches aborted)
    {
        var lookup = map.GetAlternateLookup<ReadOnlySpan<byte>>();
        using var scratch = new Scratch();
        while (reader.TryReadNext(out var bytes))
        {
            if (HasAnythingToRemove(bytes, lookup, tombstoneHorizonMs, aborted, ref scratch.Plain))
                return true;
        }
        return false;
    }

    /// <summary>
    /// Appends the records compaction keeps from the batches a reader yields to <paramref name="output"/>, a cleaned
    /// segment that indexes them as they go (Kafka's cleanInto). <paramref name="lastBatchOfProducers"/> maps each active
    /// producer to its last batch's last offset.
    /// </summary>
    public static void CleanInto(SegmentBatchReader reader, LogSegment output, Dictionary<byte[], long> map, long tombstoneHorizonMs,
        IReadOnlyDictionary<long, long> lastBatchOfProducers, AbortedBatches aborted, ref CleanStats stats, CancellationToken cancellationToken)
    {
        var lookup = map.GetAlternateLookup<ReadOnlySpan<byte>>();
        using var scratch = new Scratch();
        while (reader.TryReadNext(out var bytes))
        {
            cancellationToken.ThrowIfCancellationRequested();
            var retained = Retained(bytes, lookup, tombstoneHorizonMs, lastBatchOfProducers, aborted, scratch, ref stats);
            if (!retained.IsEmpty)
                output.Append(retained);
        }
    }

    /// <summary>
    /// The compacted copy of a whole segment held in memory (a tiered segment), or null when no record would go.
    /// </summary>
    public static byte[]? Clean(ReadOnlySpan<byte> batches, Dictionary<byte[], long> map, long tombstoneHorizonMs, AbortedBatches aborted, ref CleanStats stats)
    {
        var lookup = map.GetAlternateLookup<ReadOnlySpan<byte>>();
        using var scratch = new Scratch();
        if (!HasAnythingToRemove(batches, lookup, tombstoneHorizonMs, aborted, ref scratch.Plain))
            return null;

        using var output = new MemoryStream(batches.Length);
        for (var position = 0; position < batches.Length;)
        {
            var size = RecordBatchHeader.PeekTotalSize(batches[position..]);
            output.Write(Retained(batches.Slice(position, size), lookup, tombstoneHorizonMs, null, aborted, scratch, ref stats));
            position += size;
        }
        return output.ToArray();
    }

    /// <summary>
    /// One batch with the records compaction keeps: the batch itself if all stay, a rebuilt copy in
    /// <paramref name="scratch"/> if some do (compressed again with the batch's codec), empty if none (an active
    /// producer's last batch: its header alone, uncompressed, as Kafka writes an empty batch).
    /// </summary>
    private static ReadOnlySpan<byte> Retained(ReadOnlySpan<byte> bytes, Dictionary<byte[], long>.AlternateLookup<ReadOnlySpan<byte>> lookup,
        long tombstoneHorizonMs, IReadOnlyDictionary<long, long>? lastBatchOfProducers, AbortedBatches aborted, Scratch scratch, ref CleanStats stats)
    {
        var batch = RecordBatchReader.Batch(bytes);
        if (!IsCompactable(batch.Header))
            return bytes;
        var isAborted = aborted.Contains(batch.Header);
        var plain = RecordBatchCompression.Readable(batch, ref scratch.Plain);
        var kept = scratch.Kept ??= new PooledBuffer(plain.SizeInBytes);
        kept.Clear();
        kept.Write(plain.Span[..RecordBatchHeader.Size]);
        int keptCount = 0, position = RecordBatchHeader.Size;
        foreach (var record in plain.Records())
        {
            var droppedTombstone = false;
            var retain = !isAborted && Retain(record, lookup, tombstoneHorizonMs, out droppedTombstone);
            if (retain)
            {
                kept.Write(plain.Span.Slice(position, record.SizeInBytes));
                keptCount++;
            }
            else
            {
                stats.RecordsRemoved++;
                if (droppedTombstone)
                    stats.TombstonesRemoved++;
            }
            position += record.SizeInBytes;
        }
        if (keptCount == batch.RecordCount)
            return bytes;
        if (keptCount == 0 && !IsLastBatchOfProducer(batch.Header, lastBatchOfProducers))
            return [];
        var rebuilt = kept.WrittenSpanMutable;
        BinaryPrimitives.WriteInt32BigEndian(rebuilt[RecordBatchHeader.RecordsCountOffset..], keptCount);
        RecordBatchHeader.Reframe(rebuilt, CompressionType.None);
        return keptCount == 0 || batch.Compression == CompressionType.None
            ? rebuilt
            : RecordBatchCompression.Compress(rebuilt, batch.Compression,
                scratch.Compressed ??= new PooledBuffer(bytes.Length));
    }

    private static bool HasAnythingToRemove(ReadOnlySpan<byte> batches, Dictionary<byte[], long>.AlternateLookup<ReadOnlySpan<byte>> lookup, long tombstoneHorizonMs,
        AbortedBatches aborted, ref PooledBuffer? plain)
    {
        foreach (var batch in RecordBatchReader.Batches(batches))
        {
            if (!IsCompactable(batch.Header))
                continue;
            if (aborted.Contains(batch.Header) && batch.Header.RecordCount > 0)
                return true;
            foreach (var record in RecordBatchCompression.Readable(batch, ref plain).Records())
            {
                if (!Retain(record, lookup, tombstoneHorizonMs, out _))
                    return true;
            }
        }
        return false;
    }

    private static bool Retain(in Record record, Dictionary<byte[], long>.AlternateLookup<ReadOnlySpan<byte>> lookup, long tombstoneHorizonMs,
        out bool droppedTombstone)
    {
        droppedTombstone = false;
        if (record.KeyIsNull)
            return true;
        if (lookup.TryGetValue(record.Key, out var newest) && record.Offset < newest)
            return false;
        if (record.ValueIsNull && record.TimestampMs < tombstoneHorizonMs)
        {
            droppedTombstone = true;
            return false;
        }
        return true;
    }

    private static bool IsLastBatchOfProducer(in RecordBatchHeader header, IReadOnlyDictionary<long, long>? lastBatchOfProducers) =>
        ProducerSequence.HasProducerId(header) && lastBatchOfProducers is not null
        && lastBatchOfProducers.TryGetValue(header.ProducerId, out var lastOffset) && lastOffset == header.LastOffset;

    private static bool IsCompactable(in RecordBatchHeader header) => !header.IsControl;

    /// <summary>The buffers one pass reuses from batch to batch, each rented on first need.</summary>
    private sealed class Scratch : IDisposable
    {
        public PooledBuffer? Plain;
        public PooledBuffer? Kept;
        public PooledBuffer? Compressed;

        public void Dispose()
        {
            Plain?.Dispose();
            Kept?.Dispose();
            Compressed?.Dispose();
        }
    }

    internal struct CleanStats
    {
        public long RecordsRemoved;
        public long TombstonesRemoved;
    }

    /// <summary>Byte-wise key equality, with span lookups so probing the map allocates nothing.</summary>
    private sealed class KeyComparer : IEqualityComparer<byte[]>, IAlternateEqualityComparer<ReadOnlySpan<byte>, byte[]>
    {
        public static readonly KeyComparer Instance = new();

        public bool Equals(byte[]? x, byte[]? y) => x.AsSpan().SequenceEqual(y);

        public int GetHashCode(byte[] key) => GetHashCode((ReadOnlySpan<byte>)key);

        public bool Equals(ReadOnlySpan<byte> alternate, byte[] other) => alternate.SequenceEqual(other);

        public int GetHashCode(ReadOnlySpan<byte> alternate)
        {
            var hash = new HashCode();
            hash.AddBytes(alternate);
            return hash.ToHashCode();
        }

        public byte[] Create(ReadOnlySpan<byte> alternate) => alternate.ToArray();
    }
}
