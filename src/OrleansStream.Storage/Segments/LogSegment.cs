using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using Microsoft.Win32.SafeHandles;
using OrleansStream.Records;

namespace OrleansStream.Storage;

/// <summary>
/// One segment of a partition's log (Kafka's LogSegment): <c>{baseOffset:D20}.log</c> holding whole record batches,
/// with its sparse <see cref="OffsetIndex"/> and <see cref="TimeIndex"/>, and the aborted transactions whose markers it
/// holds (<see cref="TxnIndex"/>). Positional I/O only; the size lives in
/// memory, so a reader never sees a half-written append.
/// </summary>
internal sealed class LogSegment : IDisposable
{
    public const string LogSuffix = ".log";
    public const string IndexSuffix = ".index";
    public const string TimeIndexSuffix = ".timeindex";
    public const string CleanedSuffix = ".cleaned";

    /// <summary>Bytes of a batch header needed to know its offsets: baseOffset .. lastOffsetDelta.</summary>
    private const int OffsetsPrefix = RecordBatchHeader.LastOffsetDeltaOffset + 4;
    private const int ScanChunkBytes = 1 << 20;
    private const int FlushIndexEveryEntries = 1024;

    private readonly SafeFileHandle _log;
    private readonly int _indexIntervalBytes;
    private int _bytesSinceLastIndexEntry;
    private long _maxTimestamp = -1;
    private long _offsetOfMaxTimestamp;
    private long _rollingBasedTimestamp = -1;
    private readonly long _createdMs;
    private bool _unsynced;
    private long _writebackFrom;

    private LogSegment(string directory, long baseOffset, LogConfig config, long nowMs, bool isNew, string fileSuffix = "")
    {
        BaseOffset = baseOffset;
        LogPath = Path.Combine(directory, FileName(baseOffset, LogSuffix) + fileSuffix);
        OffsetIndexPath = Path.Combine(directory, FileName(baseOffset, IndexSuffix) + fileSuffix);
        TimeIndexPath = Path.Combine(directory, FileName(baseOffset, TimeIndexSuffix) + fileSuffix);
        TxnIndex = new TransactionIndex(Path.Combine(directory, FileName(baseOffset, TransactionIndex.Suffix) + fileSuffix));
        _indexIntervalBytes = config.IndexIntervalBytes;
        _createdMs = nowMs;
        _log = File.OpenHandle(LogPath, isNew ? FileMode.CreateNew : FileMode.Open, FileAccess.ReadWrite,
            FileShare.ReadWrite | FileShare.Delete);
        Size = isNew ? 0 : RandomAccess.GetLength(_log);
        NextOffset = baseOffset;
        OffsetIndex = new OffsetIndex(OffsetIndexPath, baseOffset, config.SegmentIndexBytes, isNew);
        TimeIndex = new TimeIndex(TimeIndexPath, baseOffset, config.SegmentIndexBytes, isNew);
        if (isNew)
        {
            OffsetIndex.Flush();
            TimeIndex.Flush();
        }
        else
        {
            _maxTimestamp = TimeIndex.LooksSane() ? -2 : -1; // -2: not loaded yet, read lazily from the time index
        }
    }

    public long BaseOffset { get; }
    public string LogPath { get; }
    public string OffsetIndexPath { get; }
    public string TimeIndexPath { get; }
    public OffsetIndex OffsetIndex { get; }
    public TimeIndex TimeIndex { get; }
    public TransactionIndex TxnIndex { get; }
    public string TxnIndexPath => TxnIndex.Path;

    /// <summary>Bytes of whole batches in the file.</summary>
    public long Size { get; private set; }

    /// <summary>Offset after the last batch; exact for the active segment and for every segment that was scanned.</summary>
    public long NextOffset { get; private set; }

    /// <summary>Largest batch timestamp so far, or -1.</summary>
    public long MaxTimestamp
    {
        get
        {
            if (_maxTimestamp == -2)
                _maxTimestamp = TimeIndex.LastTimestamp;
            return _maxTimestamp;
        }
    }

    /// <summary>Kafka's largestTimestamp: the largest batch timestamp, else the file's modification time.</summary>
    public long LargestTimestamp => MaxTimestamp >= 0 ? MaxTimestamp : new DateTimeOffset(File.GetLastWriteTimeUtc(LogPath)).ToUnixTimeMilliseconds();

    public bool IndexIsFull => OffsetIndex.IsFull || TimeIndex.IsFull;

    public static string FileName(long baseOffset, string suffix) =>
        baseOffset.ToString("D20", CultureInfo.InvariantCulture) + suffix;

    public static bool TryParseBaseOffset(string fileName, string suffix, out long baseOffset)
    {
        baseOffset = 0;
        return fileName.Length == 20 + suffix.Length
            && fileName.EndsWith(suffix, StringComparison.Ordinal)
            && long.TryParse(fileName.AsSpan(0, 20), NumberStyles.None, CultureInfo.InvariantCulture, out baseOffset);
    }

    public static LogSegment Create(string directory, long baseOffset, LogConfig config, long nowMs)
    {
        foreach (var suffix in (ReadOnlySpan<string>)[LogSuffix, IndexSuffix, TimeIndexSuffix, TransactionIndex.Suffix])
            File.Delete(Path.Combine(directory, FileName(baseOffset, suffix)));
        return new LogSegment(directory, baseOffset, config, nowMs, isNew: true);
    }

    public static LogSegment Open(string directory, long baseOffset, LogConfig config, long nowMs) =>
        new(directory, baseOffset, config, nowMs, isNew: false);

    /// <summary>
    /// A new segment whose three files carry the <c>.cleaned</c> suffix (Kafka's cleaned segment): the cleaner writes the
    /// compacted copy there, and the log renames the files over the original's when it swaps them in. Files left by a
    /// crash are deleted on open.
    /// </summary>
    public static LogSegment CreateCleaned(string directory, long baseOffset, LogConfig config, long nowMs)
    {
        foreach (var suffix in (ReadOnlySpan<string>)[LogSuffix, IndexSuffix, TimeIndexSuffix])
            File.Delete(Path.Combine(directory, FileName(baseOffset, suffix) + CleanedSuffix));
        return new LogSegment(directory, baseOffset, config, nowMs, isNew: true, CleanedSuffix);
    }

    /// <summary>Kafka's updateTxnIndex: records a transaction that an ABORT marker in this segment ended.</summary>
    public void UpdateTxnIndex(in Producers.TxnCompletion completion)
    {
        if (completion.Txn.IsAborted)
            TxnIndex.Append(new AbortedTxn(completion.Txn.ProducerId, completion.Txn.FirstOffset, completion.Txn.LastOffset, completion.LastStableOffset));
    }

    /// <summary>Kafka's timeWaitedForRoll: measured on batch timestamps once the segment has one, else on the clock.</summary>
    public long TimeWaitedForRoll(long nowMs, long incomingMaxTimestamp) =>
        _rollingBasedTimestamp >= 0 ? incomingMaxTimestamp - _rollingBasedTimestamp : nowMs - _createdMs;

    /// <summary>Writes already validated and stamped batches at the end and indexes them.</summary>
    public void Append(ReadOnlySpan<byte> batches)
    {
        var position = Size;
        _unsynced = true;
        RandomAccess.Write(_log, batches, position);
        var offset = 0;
        while (offset < batches.Length)
        {
            var batch = batches[offset..];
            var size = RecordBatchHeader.PeekTotalSize(batch);
            var baseOffset = BinaryPrimitives.ReadInt64BigEndian(batch);
            var lastOffset = baseOffset + BinaryPrimitives.ReadInt32BigEndian(batch[RecordBatchHeader.LastOffsetDeltaOffset..]);
            var maxTimestamp = BinaryPrimitives.ReadInt64BigEndian(batch[RecordBatchHeader.MaxTimestampOffset..]);
            OnBatch(lastOffset, maxTimestamp, (int)(position + offset), size);
            offset += size;
        }
        Size = position + batches.Length;
        if (OffsetIndex.PendingEntries >= FlushIndexEveryEntries || TimeIndex.PendingEntries >= FlushIndexEveryEntries)
            FlushIndexes(fsync: false);
    }

    /// <summary>
    /// Once <paramref name="bytes"/> were appended since the last request (0: never), a request to start their
    /// write-out to the device, for the caller to run off its turn; null before, and where the platform has no such call.
    /// </summary>
    public SegmentWriteback? TakeWriteback(long bytes)
    {
        if (_writebackFrom > Size) _writebackFrom = Size; // truncated since
        if (bytes <= 0 || Size - _writebackFrom < bytes || !SegmentWriteback.IsSupported) return null;
        var request = new SegmentWriteback(_log, _writebackFrom, Size - _writebackFrom);
        _writebackFrom = Size;
        return request;
    }

    private void OnBatch(long lastOffset, long maxTimestamp, int position, int size)
    {
        if (position == 0)
            _rollingBasedTimestamp = maxTimestamp;
        if (maxTimestamp > MaxTimestamp)
        {
            _maxTimestamp = maxTimestamp;
            _offsetOfMaxTimestamp = lastOffset;
        }
        if (_bytesSinceLastIndexEntry > _indexIntervalBytes)
        {
            OffsetIndex.Append(lastOffset, position);
            TimeIndex.MaybeAppend(_maxTimestamp, _offsetOfMaxTimestamp);
            _bytesSinceLastIndexEntry = 0;
        }
        _bytesSinceLastIndexEntry += size;
        NextOffset = lastOffset + 1;
    }

    /// <summary>
    /// Scans the whole file (Kafka's LogSegment.recover): validates each batch's length, magic, CRC and offsets,
    /// rebuilds both indexes and cuts the file after the last valid batch. Returns the bytes cut.
    /// </summary>
    public long Recover()
    {
        OffsetIndex.Reset();
        TimeIndex.Reset();
        _maxTimestamp = -1;
        _offsetOfMaxTimestamp = BaseOffset;
        _bytesSinceLastIndexEntry = 0;
        _rollingBasedTimestamp = -1;
        NextOffset = BaseOffset;
        var fileLength = RandomAccess.GetLength(_log);
        var valid = ScanBatches(0, fileLength, validate: true, onBatch: true);
        Size = valid;
        if (valid < fileLength)
        {
            RandomAccess.SetLength(_log, valid);
            _unsynced = true;
        }
        FlushIndexes(fsync: false);
        // Markers cut with a torn tail take their entries along; the producer state replay re-adds what it replays.
        TxnIndex.TruncateTo(NextOffset);
        return fileLength - valid;
    }

    /// <summary>Rebuilds a missing or damaged index of a closed segment (same scan as <see cref="Recover"/>).</summary>
    public void EnsureIndexesUsable()
    {
        if (OffsetIndex.Count >= 0 && !OffsetIndex.IsCorrupt && !TimeIndex.IsCorrupt && TimeIndex.Count >= 0)
            return;
        Recover();
    }

    /// <summary>
    /// Walks batches from <paramref name="start"/> to <paramref name="end"/> and returns the position after the last
    /// good one. With <paramref name="validate"/> every batch's CRC and offsets are checked; with
    /// <paramref name="onBatch"/> each batch updates the indexes and the segment's offsets.
    /// </summary>
    private long ScanBatches(long start, long end, bool validate, bool onBatch)
    {
        var buffer = ArrayPool<byte>.Shared.Rent((int)Math.Min(ScanChunkBytes, Math.Max(end - start, RecordBatchHeader.Size)));
        try
        {
            var position = start;
            var expectedNext = onBatch ? NextOffset : BaseOffset;
            while (position < end)
            {
                var chunkLength = (int)Math.Min(buffer.Length, end - position);
                var read = IndexFile.ReadFully(_log, buffer.AsSpan(0, chunkLength), position);
                var chunk = buffer.AsSpan(0, read);
                var consumed = 0;
                while (true)
                {
                    var rest = chunk[consumed..];
                    if (rest.Length < RecordBatchHeader.LogOverhead)
                    {
                        if (position + consumed + rest.Length >= end)
                            return position + consumed; // the end, or a torn length field
                        break;
                    }
                    var size = RecordBatchHeader.PeekTotalSize(rest);
                    if (size < RecordBatchHeader.Size)
                        return position + consumed;
                    if (size > rest.Length)
                    {
                        if (position + consumed + size > end)
                            return position + consumed; // a torn batch at the end
                        break;
                    }
                    var batch = rest[..size];
                    var header = RecordBatchHeader.Read(batch);
                    if (validate && (RecordBatchHeader.Validate(batch, out _) != ErrorCode.None
                        || header.BaseOffset < expectedNext
                        || header.LastOffset - BaseOffset > int.MaxValue))
                    {
                        return position + consumed;
                    }
                    if (onBatch)
                        OnBatch(header.LastOffset, header.MaxTimestamp, (int)(position + consumed), size);
                    expectedNext = header.NextOffset;
                    consumed += size;
                }
                if (consumed == 0)
                {
                    // One batch larger than the buffer: grow to it unless its length runs past the end (torn).
                    var size = RecordBatchHeader.PeekTotalSize(chunk);
                    if (size < RecordBatchHeader.Size || position + size > end)
                        return position;
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = ArrayPool<byte>.Shared.Rent(size);
                    continue;
                }
                position += consumed;
            }
            return position;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// Kafka's translateOffset: the first batch whose last offset is &gt;= <paramref name="offset"/>, found from the
    /// sparse index and a short header walk. Returns false when no batch in the segment reaches that offset.
    /// </summary>
    public bool TryFindBatch(long offset, out BatchLocation location)
    {
        EnsureIndexesUsable();
        return TryFindBatchFrom(OffsetIndex.LookupPosition(offset), offset, out location);
    }

    private bool TryFindBatchFrom(long position, long offset, out BatchLocation location)
    {
        Span<byte> chunk = stackalloc byte[8192];
        var size = Size;
        while (position < size)
        {
            var read = IndexFile.ReadFully(_log, chunk[..(int)Math.Min(chunk.Length, size - position)], position);
            var consumed = 0;
            while (read - consumed >= OffsetsPrefix)
            {
                var header = chunk[consumed..];
                var batchSize = RecordBatchHeader.PeekTotalSize(header);
                var baseOffset = BinaryPrimitives.ReadInt64BigEndian(header);
                var lastOffset = baseOffset + BinaryPrimitives.ReadInt32BigEndian(header[RecordBatchHeader.LastOffsetDeltaOffset..]);
                if (batchSize < RecordBatchHeader.Size)
                    throw Corrupt(position + consumed);
                if (lastOffset >= offset)
                {
                    location = new BatchLocation(position + consumed, batchSize, baseOffset, lastOffset);
                    return true;
                }
                consumed += batchSize;
            }
            if (consumed == 0 && read < OffsetsPrefix)
                break;
            position += consumed;
        }
        location = default;
        return false;
    }

    /// <summary>
    /// Copies whole batches starting with the one that holds <paramref name="offset"/> into <paramref name="destination"/>,
    /// stopping before a batch that ends at or after <paramref name="maxOffsetExclusive"/>. Returns the bytes copied,
    /// or the negated size of the first batch when it alone does not fit.
    /// </summary>
    public int Read(in BatchLocation first, Span<byte> destination, long maxOffsetExclusive)
    {
        if (first.LastOffset >= maxOffsetExclusive)
            return 0;
        if (first.Size > destination.Length)
            return -first.Size;
        var length = (int)Math.Min(destination.Length, Size - first.Position);
        var read = IndexFile.ReadFully(_log, destination[..length], first.Position);
        return WholeBatches(destination[..read], maxOffsetExclusive);
    }

    /// <summary>A reader over every batch of the segment, in order.</summary>
    public SegmentBatchReader OpenReader() => new(_log, Size);

    /// <summary>
    /// A read handle of the log's own: reads through it stay valid after the segment is deleted or replaced (the
    /// cleaner reads closed segments on a worker while the owner's retention may delete them).
    /// </summary>
    public SafeFileHandle OpenLogForRead() =>
        File.OpenHandle(LogPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);

    /// <summary>Reads exactly the byte range [position, position + destination.Length).</summary>
    public void ReadExactly(long position, Span<byte> destination)
    {
        if (IndexFile.ReadFully(_log, destination, position) != destination.Length)
            throw Corrupt(position);
    }

    /// <summary>Length of the prefix of <paramref name="buffer"/> made of whole batches below the bound.</summary>
    public static int WholeBatches(ReadOnlySpan<byte> buffer, long maxOffsetExclusive)
    {
        var length = 0;
        while (buffer.Length - length >= OffsetsPrefix)
        {
            var header = buffer[length..];
            var size = RecordBatchHeader.PeekTotalSize(header);
            if (size < RecordBatchHeader.Size || size > header.Length)
                break;
            var lastOffset = BinaryPrimitives.ReadInt64BigEndian(header)
                + BinaryPrimitives.ReadInt32BigEndian(header[RecordBatchHeader.LastOffsetDeltaOffset..]);
            if (lastOffset >= maxOffsetExclusive)
                break;
            length += size;
        }
        return length;
    }

    /// <summary>
    /// The first batch at or after <paramref name="minOffset"/> whose max timestamp is &gt;= <paramref name="timestamp"/>,
    /// via the time index, and in it the first record at or after <paramref name="minOffset"/> stamped at or after
    /// <paramref name="timestamp"/> (Kafka's LogSegment.findOffsetByTimestamp).
    /// </summary>
    public TimestampOffset? FindOffsetByTimestamp(long timestamp, long minOffset)
    {
        EnsureIndexesUsable();
        var startOffset = Math.Max(TimeIndex.LookupStartOffset(timestamp), minOffset);
        var position = (long)OffsetIndex.LookupPosition(startOffset);
        Span<byte> header = stackalloc byte[RecordBatchHeader.Size];
        while (position < Size)
        {
            ReadExactly(position, header);
            var batch = RecordBatchHeader.Read(header);
            if (batch.TotalSize < RecordBatchHeader.Size)
                throw Corrupt(position);
            if (batch.LastOffset >= minOffset && batch.MaxTimestamp >= timestamp)
            {
                var bytes = ArrayPool<byte>.Shared.Rent(batch.TotalSize);
                try
                {
                    var whole = bytes.AsSpan(0, batch.TotalSize);
                    ReadExactly(position, whole);
                    if (TimestampSearch.FirstRecord(whole, timestamp, minOffset) is { } found)
                        return found;
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(bytes);
                }
            }
            position += batch.TotalSize;
        }
        return null;
    }

    /// <summary>
    /// Drops the batch holding <paramref name="offset"/> and everything after it; returns the bytes removed.
    /// Afterwards <see cref="NextOffset"/> is the end of the last kept batch.
    /// </summary>
    public long TruncateTo(long offset)
    {
        EnsureIndexesUsable();
        if (!TryFindBatch(offset, out var first))
            return 0;
        var removed = Size - first.Position;
        OffsetIndex.TruncateTo(offset);
        TimeIndex.TruncateTo(offset);
        TxnIndex.TruncateTo(first.BaseOffset);
        RandomAccess.SetLength(_log, first.Position);
        _unsynced = true;
        Size = first.Position;
        // Recompute the tail state from the last time index entry on (Kafka's loadLargestTimestamp).
        _maxTimestamp = TimeIndex.LastTimestamp;
        _offsetOfMaxTimestamp = BaseOffset;
        _bytesSinceLastIndexEntry = 0;
        _rollingBasedTimestamp = -1;
        NextOffset = BaseOffset;
        if (Size > 0)
        {
            var (lastIndexed, fromPosition) = OffsetIndex.LastEntry;
            NextOffset = lastIndexed; // refined by the walk below
            ScanTail(fromPosition);
            Span<byte> firstHeader = stackalloc byte[RecordBatchHeader.Size];
            ReadExactly(0, firstHeader);
            _rollingBasedTimestamp = RecordBatchHeader.Read(firstHeader).MaxTimestamp;
        }
        FlushIndexes(fsync: false);
        return removed;
    }

    private void ScanTail(long fromPosition)
    {
        Span<byte> header = stackalloc byte[RecordBatchHeader.Size];
        var position = fromPosition;
        while (position < Size)
        {
            ReadExactly(position, header);
            var batch = RecordBatchHeader.Read(header);
            if (batch.MaxTimestamp > _maxTimestamp)
            {
                _maxTimestamp = batch.MaxTimestamp;
                _offsetOfMaxTimestamp = batch.LastOffset;
            }
            NextOffset = batch.NextOffset;
            _bytesSinceLastIndexEntry += batch.TotalSize;
            position += batch.TotalSize;
        }
    }

    /// <summary>
    /// Kafka's onBecomeInactiveSegment: the final time index entry and both indexes written out, not fsynced; the fsync
    /// is <see cref="FlushClosed"/>, which a roll leaves to the background.
    /// </summary>
    public void OnBecomeInactive()
    {
        if (MaxTimestamp >= 0)
            TimeIndex.MaybeAppend(_maxTimestamp, _offsetOfMaxTimestamp);
        FlushIndexes(fsync: false);
    }

    /// <summary>
    /// fsyncs a closed segment's log and index files. It touches the files only, never the in-memory state, so it may
    /// run on another thread while the owner appends to the next segment; a segment deleted or replaced meanwhile
    /// has nothing left to flush.
    /// </summary>
    public void FlushClosed()
    {
        try
        {
            RandomAccess.FlushToDisk(_log);
        }
        catch (ObjectDisposedException)
        {
            return;
        }
        IndexFile.FlushFileToDisk(OffsetIndexPath);
        IndexFile.FlushFileToDisk(TimeIndexPath);
        IndexFile.FlushFileToDisk(TxnIndexPath);
    }

    public void FlushIndexes(bool fsync)
    {
        OffsetIndex.Flush(fsync);
        TimeIndex.Flush(fsync);
    }

    /// <summary>
    /// fsync the log if anything changed since the last time. The indexes are written but not fsynced: the active
    /// segment's are rebuilt by the scan on every open, and a closed segment's are fsynced when it closes.
    /// </summary>
    public void Flush()
    {
        FlushIndexes(fsync: false);
        TxnIndex.Flush();
        if (!_unsynced)
            return;
        RandomAccess.FlushToDisk(_log);
        _unsynced = false;
    }

    public LogSegmentInfo ToInfo(long nextOffset, bool isActive) =>
        new(BaseOffset, nextOffset, Size, MaxTimestamp, LargestTimestamp, isActive, LogPath, OffsetIndexPath, TimeIndexPath);

    /// <summary>Closes and deletes the log and its indexes (log first: an orphan index is cleaned up on open).</summary>
    public void Delete()
    {
        _log.Dispose();
        File.Delete(LogPath);
        File.Delete(OffsetIndexPath);
        File.Delete(TimeIndexPath);
        TxnIndex.Delete();
    }

    public void Dispose()
    {
        _log.Dispose();
        TxnIndex.Dispose();
    }

    private OrleansStreamException Corrupt(long position) =>
        new(ErrorCode.KafkaStorageError, $"Segment {LogPath} is damaged at position {position}.");
}

/// <summary>Where a batch sits in a segment file and which offsets it covers.</summary>
internal readonly record struct BatchLocation(long Position, int Size, long BaseOffset, long LastOffset);
