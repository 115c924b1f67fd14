using System.Buffers.Binary;
using Microsoft.Win32.SafeHandles;

namespace OrleansStream.Storage;

/// <summary>
/// Kafka's AbortedTxn: a transaction that an ABORT marker ended, as its segment's <c>.txnindex</c> records it.
/// <see cref="LastOffset"/> is the marker's offset; <see cref="LastStableOffset"/> is where the last stable offset stood
/// once the marker was written (every later abort starts at or after it).
/// </summary>
public readonly record struct AbortedTxn(long ProducerId, long FirstOffset, long LastOffset, long LastStableOffset)
{
    public const short CurrentVersion = 0;
    public const int EntrySize = 2 + 8 + 8 + 8 + 8;

    public void Write(Span<byte> entry)
    {
        BinaryPrimitives.WriteInt16BigEndian(entry, CurrentVersion);
        BinaryPrimitives.WriteInt64BigEndian(entry[2..], ProducerId);
        BinaryPrimitives.WriteInt64BigEndian(entry[10..], FirstOffset);
        BinaryPrimitives.WriteInt64BigEndian(entry[18..], LastOffset);
        BinaryPrimitives.WriteInt64BigEndian(entry[26..], LastStableOffset);
    }

    public static AbortedTxn Read(ReadOnlySpan<byte> entry)
    {
        var version = BinaryPrimitives.ReadInt16BigEndian(entry);
        if (version != CurrentVersion)
            throw new OrleansStreamException(ErrorCode.KafkaStorageError, $"Aborted transaction entry has version {version}; only {CurrentVersion} is known.");
        return new AbortedTxn(
            BinaryPrimitives.ReadInt64BigEndian(entry[2..]),
            BinaryPrimitives.ReadInt64BigEndian(entry[10..]),
            BinaryPrimitives.ReadInt64BigEndian(entry[18..]),
            BinaryPrimitives.ReadInt64BigEndian(entry[26..]));
    }
}

/// <summary>
/// Kafka's TransactionIndex: a segment's <c>{baseOffset:D20}.txnindex</c>, the aborted transactions whose ABORT marker
/// lies in the segment, in marker order, <see cref="AbortedTxn.EntrySize"/> bytes each. The file exists only once a
/// transaction aborted there. Entries are few (aborts are rare), so they are held in memory, read on first use.
/// </summary>
internal sealed class TransactionIndex : IDisposable
{
    public const string Suffix = ".txnindex";

    private List<AbortedTxn>? _entries;
    private SafeFileHandle? _file;
    private bool _unsynced;

    public TransactionIndex(string path) => Path = path;

    public string Path { get; }

    /// <summary>Every entry, in marker order.</summary>
    public IReadOnlyList<AbortedTxn> AllAbortedTxns => Entries;

    private List<AbortedTxn> Entries => _entries ??= Load(Path);

    /// <summary>Appends an aborted transaction; its marker must come after every indexed one (Kafka's check).</summary>
    public void Append(AbortedTxn txn)
    {
        var entries = Entries;
        if (entries.Count > 0 && txn.LastOffset <= entries[^1].LastOffset)
        {
            throw new InvalidOperationException(
                $"The last offset of appended transactions must increase: {txn.LastOffset} after {entries[^1].LastOffset} in {Path}.");
        }
        Span<byte> entry = stackalloc byte[AbortedTxn.EntrySize];
        txn.Write(entry);
        RandomAccess.Write(OpenFile(), entry, (long)entries.Count * AbortedTxn.EntrySize);
        entries.Add(txn);
        _unsynced = true;
    }

    /// <summary>Kafka's truncateTo: drops the transactions whose marker is at or after <paramref name="offset"/>.</summary>
    public void TruncateTo(long offset)
    {
        var entries = Entries;
        var keep = entries.Count;
        while (keep > 0 && entries[keep - 1].LastOffset >= offset)
            keep--;
        if (keep == entries.Count)
            return;
        entries.RemoveRange(keep, entries.Count - keep);
        RandomAccess.SetLength(OpenFile(), (long)keep * AbortedTxn.EntrySize);
        _unsynced = true;
    }

    /// <summary>
    /// Kafka's collectAbortedTxns: adds the transactions that overlap [<paramref name="fetchOffset"/>,
    /// <paramref name="upperBoundOffset"/>) to <paramref name="into"/>. True when the search is complete: an entry's last
    /// stable offset reached the upper bound, so no later segment can hold an overlapping abort.
    /// </summary>
    public bool CollectAbortedTxns(long fetchOffset, long upperBoundOffset, List<AbortedTxn> into) =>
        Collect(Entries, fetchOffset, upperBoundOffset, into);

    /// <summary><see cref="CollectAbortedTxns"/> over the bytes of a <c>.txnindex</c> file (a tiered copy).</summary>
    public static bool Collect(ReadOnlySpan<byte> file, long fetchOffset, long upperBoundOffset, List<AbortedTxn> into)
    {
        for (var position = 0; position + AbortedTxn.EntrySize <= file.Length; position += AbortedTxn.EntrySize)
        {
            if (Collect(AbortedTxn.Read(file[position..]), fetchOffset, upperBoundOffset, into))
                return true;
        }
        return false;
    }

    private static bool Collect(List<AbortedTxn> entries, long fetchOffset, long upperBoundOffset, List<AbortedTxn> into)
    {
        foreach (var txn in entries)
        {
            if (Collect(txn, fetchOffset, upperBoundOffset, into))
                return true;
        }
        return false;
    }

    private static bool Collect(in AbortedTxn txn, long fetchOffset, long upperBoundOffset, List<AbortedTxn> into)
    {
        if (txn.LastOffset >= fetchOffset && txn.FirstOffset < upperBoundOffset)
            into.Add(txn);
        return txn.LastStableOffset >= upperBoundOffset;
    }

    /// <summary>fsync when anything changed since the last flush.</summary>
    public void Flush()
    {
        if (!_unsynced || _file is null)
            return;
        RandomAccess.FlushToDisk(_file);
        _unsynced = false;
    }

    /// <summary>The file's bytes (empty when no transaction aborted in the segment), for tiering.</summary>
    public byte[] ToArray()
    {
        var entries = Entries;
        var bytes = new byte[entries.Count * AbortedTxn.EntrySize];
        for (var i = 0; i < entries.Count; i++)
            entries[i].Write(bytes.AsSpan(i * AbortedTxn.EntrySize));
        return bytes;
    }

    public void Delete()
    {
        Dispose();
        File.Delete(Path);
        _entries = [];
    }

    public void Dispose()
    {
        _file?.Dispose();
        _file = null;
    }

    private SafeFileHandle OpenFile() =>
        _file ??= File.OpenHandle(Path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete);

    /// <summary>Reads the file; a torn last entry (a crash mid-append) is cut off.</summary>
    private List<AbortedTxn> Load(string path)
    {
        if (!File.Exists(path))
            return [];
        var bytes = File.ReadAllBytes(path);
        var whole = bytes.Length - bytes.Length % AbortedTxn.EntrySize;
        var entries = new List<AbortedTxn>(whole / AbortedTxn.EntrySize);
        for (var position = 0; position < whole; position += AbortedTxn.EntrySize)
            entries.Add(AbortedTxn.Read(bytes.AsSpan(position)));
        if (whole != bytes.Length)
            RandomAccess.SetLength(OpenFile(), whole);
        return entries;
    }
}
