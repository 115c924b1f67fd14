using System.Buffers.Binary;
using System.Globalization;
using OrleansStream.Records;

namespace OrleansStream.Storage.Producers;

/// <summary>A producer state snapshot that fails its version, size or CRC check (Kafka's CorruptSnapshotException).</summary>
public sealed class CorruptSnapshotException(string message) : OrleansStreamException(ErrorCode.KafkaStorageError, message);

/// <summary>
/// Kafka's producer snapshot file <c>{offset:D20}.snapshot</c>, version 1, big-endian: version int16, CRC-32C uint32
/// over everything after it, then an array (int32 count) of entries: producer_id int64, epoch int16, last_sequence
/// int32, last_offset int64, offset_delta int32, timestamp int64, coordinator_epoch int32, current_txn_first_offset int64.
/// As in Kafka, only a producer's last batch is kept, so after a reload older retries answer OutOfOrderSequenceNumber
/// instead of their offsets; batches replayed from the log after the snapshot restore the full window.
/// </summary>
public static class ProducerStateSnapshot
{
    public const string Suffix = ".snapshot";
    public const short Version = 1;

    private const int CrcOffset = 2;
    private const int EntriesOffset = CrcOffset + 4;
    private const int HeaderSize = EntriesOffset + 4;
    private const int EntrySize = 8 + 2 + 4 + 8 + 4 + 8 + 4 + 8;

    public static string FileName(long offset) => offset.ToString("D20", CultureInfo.InvariantCulture) + Suffix;

    /// <summary>The offset a snapshot file name stands for, or false for a file that is not a snapshot.</summary>
    public static bool TryParseOffset(string path, out long offset)
    {
        var name = Path.GetFileName(path.AsSpan());
        offset = -1;
        return name.EndsWith(Suffix, StringComparison.Ordinal)
            && long.TryParse(name[..^Suffix.Length], NumberStyles.None, CultureInfo.InvariantCulture, out offset);
    }

    /// <summary>Kafka's listSnapshotFiles: every snapshot in the directory, by offset.</summary>
    public static SortedList<long, string> List(string directory)
    {
        var snapshots = new SortedList<long, string>();
        if (!Directory.Exists(directory))
            return snapshots;
        foreach (var path in Directory.EnumerateFiles(directory, "*" + Suffix))
        {
            if (TryParseOffset(path, out var offset))
                snapshots[offset] = path;
        }
        return snapshots;
    }

    /// <summary>
    /// Writes the entries to a <c>.tmp</c> sibling and renames it over <paramref name="path"/>, so a reader sees a whole
    /// snapshot or none. With <paramref name="sync"/> the bytes are on disk before the rename; without, a crash may leave
    /// a torn file, which its CRC exposes on the next load.
    /// </summary>
    public static void Write(string path, IReadOnlyCollection<ProducerStateEntry> entries, bool sync)
    {
        var buffer = new byte[HeaderSize + entries.Count * EntrySize];
        var span = buffer.AsSpan();
        BinaryPrimitives.WriteInt16BigEndian(span, Version);
        BinaryPrimitives.WriteInt32BigEndian(span[EntriesOffset..], entries.Count);
        var position = HeaderSize;
        foreach (var entry in entries)
        {
            var e = span.Slice(position, EntrySize);
            BinaryPrimitives.WriteInt64BigEndian(e, entry.ProducerId);
            BinaryPrimitives.WriteInt16BigEndian(e[8..], entry.ProducerEpoch);
            BinaryPrimitives.WriteInt32BigEndian(e[10..], entry.LastSeq);
            BinaryPrimitives.WriteInt64BigEndian(e[14..], entry.LastDataOffset);
            BinaryPrimitives.WriteInt32BigEndian(e[22..], entry.LastOffsetDelta);
            BinaryPrimitives.WriteInt64BigEndian(e[26..], entry.LastTimestamp);
            BinaryPrimitives.WriteInt32BigEndian(e[34..], entry.CoordinatorEpoch);
            BinaryPrimitives.WriteInt64BigEndian(e[38..], entry.CurrentTxnFirstOffset ?? -1);
            position += EntrySize;
        }
        BinaryPrimitives.WriteUInt32BigEndian(span[CrcOffset..], Crc32C.HashToUInt32(span[EntriesOffset..]));
        WriteFile(path, buffer, sync);
    }

    /// <summary>Writes a snapshot's bytes as they are (one restored from tiered storage), fsynced, through a <c>.tmp</c> rename.</summary>
    public static void WriteFile(string path, ReadOnlySpan<byte> content, bool sync = true)
    {
        var tmp = path + ".tmp";
        using (var stream = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            stream.Write(content);
            if (sync)
                stream.Flush(flushToDisk: true);
        }
        File.Move(tmp, path, overwrite: true);
    }

    /// <summary>Forces a snapshot written without sync to disk (Kafka flushes a roll's snapshot in the background).</summary>
    public static void Flush(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite);
        stream.Flush(flushToDisk: true);
    }

    /// <summary>Kafka's readSnapshot. Throws <see cref="CorruptSnapshotException"/> for a wrong version, size or CRC.</summary>
    public static List<ProducerStateEntry> Read(string path)
    {
        var buffer = File.ReadAllBytes(path);
        var span = buffer.AsSpan();
        if (span.Length < HeaderSize)
            throw new CorruptSnapshotException($"Snapshot {path} is {span.Length} bytes, shorter than its header.");
        var version = BinaryPrimitives.ReadInt16BigEndian(span);
        if (version != Version)
            throw new CorruptSnapshotException($"Snapshot {path} contained an unknown file version {version}.");
        var crc = BinaryPrimitives.ReadUInt32BigEndian(span[CrcOffset..]);
        var computed = Crc32C.HashToUInt32(span[EntriesOffset..]);
        if (crc != computed)
            throw new CorruptSnapshotException($"Snapshot {path} is corrupt (CRC is no longer valid). Stored crc: {crc}. Computed crc: {computed}.");
        var count = BinaryPrimitives.ReadInt32BigEndian(span[EntriesOffset..]);
        if (count < 0 || HeaderSize + (long)count * EntrySize != span.Length)
            throw new CorruptSnapshotException($"Snapshot {path} names {count} entries in {span.Length} bytes.");

        var entries = new List<ProducerStateEntry>(count);
        for (var position = HeaderSize; position < span.Length; position += EntrySize)
        {
            var e = span.Slice(position, EntrySize);
            var lastOffset = BinaryPrimitives.ReadInt64BigEndian(e[14..]);
            var timestamp = BinaryPrimitives.ReadInt64BigEndian(e[26..]);
            var txnFirstOffset = BinaryPrimitives.ReadInt64BigEndian(e[38..]);
            BatchMetadata? batch = lastOffset >= 0
                ? new BatchMetadata(BinaryPrimitives.ReadInt32BigEndian(e[10..]), lastOffset, BinaryPrimitives.ReadInt32BigEndian(e[22..]), timestamp)
                : null;
            entries.Add(new ProducerStateEntry(
                producerId: BinaryPrimitives.ReadInt64BigEndian(e),
                producerEpoch: BinaryPrimitives.ReadInt16BigEndian(e[8..]),
                coordinatorEpoch: BinaryPrimitives.ReadInt32BigEndian(e[34..]),
                lastTimestamp: timestamp,
                currentTxnFirstOffset: txnFirstOffset >= 0 ? txnFirstOffset : null,
                firstBatch: batch));
        }
        return entries;
    }
}
