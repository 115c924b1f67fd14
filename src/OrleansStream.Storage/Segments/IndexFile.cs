using System.Buffers;
using System.Buffers.Binary;
using Microsoft.Win32.SafeHandles;

namespace OrleansStream.Storage;

/// <summary>
/// A sparse, append-only index file of fixed-size big-endian entries (Kafka's AbstractIndex): a key that only grows
/// and an int value. Entries live in memory for binary search and reach the file in batches on <see cref="Flush"/>;
/// the file is grown rather than preallocated, so its length is always a whole number of entries.
/// Closed segments load their index lazily, on the first lookup.
/// </summary>
internal abstract class IndexFile
{
    private long[] _keys = [];
    private int[] _values = [];
    private int _count;
    private int _persisted;
    private bool _rewrite;
    private bool _loaded;
    private bool _synced;

    protected IndexFile(string path, long baseOffset, int maxIndexBytes, bool isNew)
    {
        Path = path;
        BaseOffset = baseOffset;
        MaxEntries = Math.Max(1, maxIndexBytes / EntrySize);
        _loaded = isNew;
        if (isNew)
            _rewrite = true;
    }

    public string Path { get; }
    public long BaseOffset { get; }
    public int MaxEntries { get; }
    public abstract int EntrySize { get; }
    public bool IsFull => Count >= MaxEntries;

    public int Count
    {
        get
        {
            EnsureLoaded();
            return _count;
        }
    }

    /// <summary>Set when a lazily loaded file fails its sanity check; the owner rebuilds the index from the log.</summary>
    public bool IsCorrupt { get; private set; }

    protected long KeyAt(int i) => _keys[i];
    protected int ValueAt(int i) => _values[i];

    protected void AppendEntry(long key, int value)
    {
        EnsureLoaded();
        if (_count == _keys.Length)
        {
            var capacity = Math.Max(64, _count * 2);
            Array.Resize(ref _keys, capacity);
            Array.Resize(ref _values, capacity);
        }
        _keys[_count] = key;
        _values[_count] = value;
        _count++;
    }

    protected bool TryLastKey(out long key)
    {
        EnsureLoaded();
        key = _count == 0 ? 0 : _keys[_count - 1];
        return _count > 0;
    }

    /// <summary>Index of the last entry whose key is &lt;= <paramref name="key"/> (&lt; when strict), or -1.</summary>
    protected int Floor(long key, bool strict)
    {
        EnsureLoaded();
        return FloorSearch(new LoadedKeys(_keys, _count), key, strict);
    }

    /// <summary>
    /// <see cref="Floor"/> over an index file's bytes as written (a tiered segment's index read back from the tier).
    /// Keys are the first 4 bytes of an 8-byte entry or the first 8 bytes of a 12-byte one.
    /// </summary>
    protected static int FloorIn(ReadOnlySpan<byte> file, int entrySize, long key, bool strict) =>
        FloorSearch(new FileKeys(file, entrySize), key, strict);

    private static int FloorSearch<TKeys>(TKeys keys, long key, bool strict) where TKeys : IKeys, allows ref struct
    {
        int lo = 0, hi = keys.Count - 1, found = -1;
        while (lo <= hi)
        {
            var mid = (lo + hi) >>> 1;
            var k = keys.KeyAt(mid);
            if (k < key || (!strict && k == key))
            {
                found = mid;
                lo = mid + 1;
            }
            else
            {
                hi = mid - 1;
            }
        }
        return found;
    }

    private interface IKeys
    {
        int Count { get; }

        long KeyAt(int i);
    }

    private readonly struct LoadedKeys(long[] keys, int count) : IKeys
    {
        public int Count => count;

        public long KeyAt(int i) => keys[i];
    }

    private readonly ref struct FileKeys(ReadOnlySpan<byte> file, int entrySize) : IKeys
    {
        private readonly ReadOnlySpan<byte> _file = file;

        public int Count => _file.Length / entrySize;

        public long KeyAt(int i)
        {
            var entry = _file[(i * entrySize)..];
            return entrySize == 8 ? BinaryPrimitives.ReadInt32BigEndian(entry) : BinaryPrimitives.ReadInt64BigEndian(entry);
        }
    }

    /// <summary>Drops the entries from <paramref name="firstRemoved"/> on.</summary>
    protected void TruncateEntries(int firstRemoved)
    {
        EnsureLoaded();
        if (firstRemoved >= _count)
            return;
        _count = Math.Max(0, firstRemoved);
        if (_persisted > _count)
        {
            _persisted = _count;
            _rewrite = true;
        }
    }

    public void Reset()
    {
        _loaded = true;
        IsCorrupt = false;
        _count = 0;
        _persisted = 0;
        _rewrite = true;
    }

    /// <summary>Writes entries not yet in the file (and trims the file after a truncation).</summary>
    public void Flush(bool fsync = false)
    {
        if (!_loaded || (_persisted == _count && !_rewrite && (!fsync || _synced)))
            return;
        using var handle = File.OpenHandle(Path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete);
        if (_rewrite)
            RandomAccess.SetLength(handle, (long)_persisted * EntrySize);
        var pending = _count - _persisted;
        if (pending > 0)
        {
            var bytes = pending * EntrySize;
            var buffer = ArrayPool<byte>.Shared.Rent(bytes);
            try
            {
                for (var i = 0; i < pending; i++)
                    Encode(buffer.AsSpan(i * EntrySize, EntrySize), _keys[_persisted + i], _values[_persisted + i]);
                RandomAccess.Write(handle, buffer.AsSpan(0, bytes), (long)_persisted * EntrySize);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
        _persisted = _count;
        _rewrite = false;
        _synced = fsync;
        if (fsync)
            RandomAccess.FlushToDisk(handle);
    }

    /// <summary>fsyncs an index file as it is on disk; nothing to do when it was deleted meanwhile.</summary>
    public static void FlushFileToDisk(string path)
    {
        try
        {
            using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete);
            RandomAccess.FlushToDisk(handle);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
        }
    }

    public int PendingEntries => _loaded ? _count - _persisted : 0;

    /// <summary>A cheap check done on open without loading the file: present and a whole number of entries.</summary>
    public bool LooksSane()
    {
        var info = new FileInfo(Path);
        return info.Exists && info.Length % EntrySize == 0 && info.Length / EntrySize <= MaxEntries;
    }

    private void EnsureLoaded()
    {
        if (_loaded)
            return;
        _loaded = true;
        if (!File.Exists(Path))
        {
            IsCorrupt = true;
            return;
        }
        using var handle = File.OpenHandle(Path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        var length = RandomAccess.GetLength(handle);
        if (length % EntrySize != 0 || length / EntrySize > MaxEntries)
        {
            IsCorrupt = true;
            return;
        }
        var count = (int)(length / EntrySize);
        var buffer = new byte[length];
        var read = ReadFully(handle, buffer, 0);
        if (read != length)
        {
            IsCorrupt = true;
            return;
        }
        _keys = new long[Math.Max(count, 16)];
        _values = new int[_keys.Length];
        for (var i = 0; i < count; i++)
        {
            Decode(buffer.AsSpan(i * EntrySize, EntrySize), out var key, out var value);
            if (value < 0 || (i > 0 && key <= _keys[i - 1]))
            {
                IsCorrupt = true;
                _count = i;
                return;
            }
            _keys[i] = key;
            _values[i] = value;
        }
        _count = count;
        _persisted = count;
    }

    protected abstract void Encode(Span<byte> entry, long key, int value);
    protected abstract void Decode(ReadOnlySpan<byte> entry, out long key, out int value);

    internal static int ReadFully(SafeFileHandle handle, Span<byte> buffer, long position)
    {
        var total = 0;
        while (total < buffer.Length)
        {
            var n = RandomAccess.Read(handle, buffer[total..], position + total);
            if (n == 0)
                break;
            total += n;
        }
        return total;
    }
}

/// <summary>
/// Kafka's OffsetIndex (<c>.index</c>): 8-byte entries of relative offset (int32) and file position (int32), one
/// every <c>index.interval.bytes</c>. The offset is the last offset of the batch that starts at the position.
/// </summary>
internal sealed class OffsetIndex(string path, long baseOffset, int maxIndexBytes, bool isNew)
    : IndexFile(path, baseOffset, maxIndexBytes, isNew)
{
    public override int EntrySize => 8;

    public void Append(long offset, int position)
    {
        if (TryLastKey(out var last) && offset - BaseOffset <= last)
            return;
        AppendEntry(offset - BaseOffset, position);
    }

    /// <summary>The position of the last indexed batch ending at or before <paramref name="offset"/>; 0 if none.</summary>
    public int LookupPosition(long offset)
    {
        var i = Floor(offset - BaseOffset, strict: false);
        return i < 0 ? 0 : ValueAt(i);
    }

    /// <summary><see cref="LookupPosition(long)"/> over an index file's bytes: the position of the last entry at or below <paramref name="relativeOffset"/>; 0 if none.</summary>
    public static int LookupPosition(ReadOnlySpan<byte> file, long relativeOffset)
    {
        var i = FloorIn(file, 8, relativeOffset, strict: false);
        return i < 0 ? 0 : BinaryPrimitives.ReadInt32BigEndian(file[(i * 8 + 4)..]);
    }

    public (long Offset, int Position) LastEntry => Count == 0 ? (BaseOffset, 0) : (BaseOffset + KeyAt(Count - 1), ValueAt(Count - 1));

    /// <summary>Removes entries for offsets at or after <paramref name="offset"/>.</summary>
    public void TruncateTo(long offset) => TruncateEntries(Floor(offset - BaseOffset, strict: true) + 1);

    protected override void Encode(Span<byte> entry, long key, int value) => WriteEntry(entry, (int)key, value);

    /// <summary>One entry in the file format, also for indexes built in memory (a rewritten tiered segment).</summary>
    public static void WriteEntry(Span<byte> entry, int relativeOffset, int position)
    {
        BinaryPrimitives.WriteInt32BigEndian(entry, relativeOffset);
        BinaryPrimitives.WriteInt32BigEndian(entry[4..], position);
    }

    protected override void Decode(ReadOnlySpan<byte> entry, out long key, out int value)
    {
        key = BinaryPrimitives.ReadInt32BigEndian(entry);
        value = BinaryPrimitives.ReadInt32BigEndian(entry[4..]);
    }
}

/// <summary>
/// Kafka's TimeIndex (<c>.timeindex</c>): 12-byte entries of timestamp (int64) and relative offset (int32). An entry
/// says "up to this offset no batch has a timestamp above this one"; timestamps strictly increase.
/// </summary>
internal sealed class TimeIndex(string path, long baseOffset, int maxIndexBytes, bool isNew)
    : IndexFile(path, baseOffset, maxIndexBytes, isNew)
{
    public override int EntrySize => 12;

    public void MaybeAppend(long timestamp, long offset)
    {
        if (timestamp < 0 || (TryLastKey(out var last) && timestamp <= last))
            return;
        AppendEntry(timestamp, (int)(offset - BaseOffset));
    }

    public long LastTimestamp => TryLastKey(out var last) ? last : -1;

    /// <summary>
    /// The offset to start scanning from for the first batch with a timestamp &gt;= <paramref name="timestamp"/>:
    /// the offset of the last entry with a smaller timestamp, or the base offset.
    /// </summary>
    public long LookupStartOffset(long timestamp)
    {
        var i = Floor(timestamp, strict: true);
        return i < 0 ? BaseOffset : BaseOffset + ValueAt(i);
    }

    /// <summary><see cref="LookupStartOffset(long)"/> over a time index file's bytes, as an offset relative to the segment's base.</summary>
    public static int LookupStartRelativeOffset(ReadOnlySpan<byte> file, long timestamp)
    {
        var i = FloorIn(file, 12, timestamp, strict: true);
        return i < 0 ? 0 : BinaryPrimitives.ReadInt32BigEndian(file[(i * 12 + 8)..]);
    }

    /// <summary>Removes entries for offsets at or after <paramref name="offset"/>.</summary>
    public void TruncateTo(long offset)
    {
        var keep = Count;
        while (keep > 0 && BaseOffset + ValueAt(keep - 1) >= offset)
            keep--;
        TruncateEntries(keep);
    }

    protected override void Encode(Span<byte> entry, long key, int value) => WriteEntry(entry, key, value);

    /// <summary>One entry in the file format, also for indexes built in memory (a rewritten tiered segment).</summary>
    public static void WriteEntry(Span<byte> entry, long timestamp, int relativeOffset)
    {
        BinaryPrimitives.WriteInt64BigEndian(entry, timestamp);
        BinaryPrimitives.WriteInt32BigEndian(entry[8..], relativeOffset);
    }

    protected override void Decode(ReadOnlySpan<byte> entry, out long key, out int value)
    {
        key = BinaryPrimitives.ReadInt64BigEndian(entry);
        value = BinaryPrimitives.ReadInt32BigEndian(entry[8..]);
    }
}
