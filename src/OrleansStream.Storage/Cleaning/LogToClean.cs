using Microsoft.Win32.SafeHandles;

namespace OrleansStream.Storage;

/// <summary>
/// One compaction of a log's closed segments (Kafka's LogToClean with the work of its Cleaner). Made on the log's turn,
/// <see cref="Clean"/> runs on a worker: it reads the segments through handles of its own, so retention or truncation
/// may delete them meanwhile, and writes each cleaned copy beside its original as <c>.cleaned</c> files, fsynced and
/// indexed. The log then swaps the copies in on its turn; whatever it does not take is deleted by <see cref="Dispose"/>.
/// </summary>
internal sealed class LogToClean : IDisposable
{
    private readonly string _directory;
    private readonly LogConfig _config;
    private readonly long _nowMs;
    private readonly long _tombstoneHorizonMs;
    private readonly Dictionary<long, long> _lastBatchOfProducers;
    private readonly AbortedBatches _aborted;
    private readonly SafeFileHandle[] _files;
    private readonly long[] _sizes;
    private readonly CancellationTokenSource _cancellation = new();
    private bool _disposed;

    /// <summary>
    /// Opens a handle on each of the first <paramref name="count"/> segments (all closed). <paramref name="lastBatchOfProducers"/>
    /// (producer id → last offset of its last batch, Kafka's lastRecordsOfActiveProducers) is the cleaner's own copy, and so
    /// are the <paramref name="aborted"/> transactions of the range.
    /// </summary>
    public LogToClean(string directory, LogConfig config, List<LogSegment> segments, int count, long nowMs, long tombstoneHorizonMs,
        Dictionary<long, long> lastBatchOfProducers, AbortedBatches aborted)
    {
        _lastBatchOfProducers = lastBatchOfProducers;
        _aborted = aborted;
        _directory = directory;
        _config = config;
        _nowMs = nowMs;
        _tombstoneHorizonMs = tombstoneHorizonMs;
        Segments = segments.GetRange(0, count).ToArray();
        Cleaned = new CleanedSegment?[count];
        _files = new SafeFileHandle[count];
        _sizes = new long[count];
        try
        {
            for (var i = 0; i < count; i++)
            {
                _files[i] = Segments[i].OpenLogForRead();
                _sizes[i] = Segments[i].Size;
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>The segments being cleaned, oldest first; the log swaps a copy in only while its original is still listed.</summary>
    public LogSegment[] Segments { get; }

    /// <summary>Each segment's cleaned copy, or null when compaction would remove nothing from it.</summary>
    public CleanedSegment?[] Cleaned { get; }

    /// <summary>The size of each segment when the compaction began.</summary>
    public long SizeBefore(int index) => _sizes[index];

    public CancellationToken CancellationToken => _cancellation.Token;

    /// <summary>Set once the log stopped this compaction (it is closing): its result must not be applied.</summary>
    public bool IsCancelled { get; private set; }

    /// <summary>Stops a clean in progress; it throws <see cref="OperationCanceledException"/>.</summary>
    public void Cancel()
    {
        IsCancelled = true;
        _cancellation.Cancel();
    }

    /// <summary>
    /// Kafka's cleaner pass, on a worker: the newest offset of every key over all the segments, then a cleaned copy of
    /// each segment that loses a record (a superseded value, or a tombstone older than the horizon).
    /// </summary>
    public void Clean()
    {
        var map = LogCleaner.NewOffsetMap();
        for (var i = 0; i < _files.Length; i++)
        {
            using var reader = new SegmentBatchReader(_files[i], _sizes[i]);
            LogCleaner.AddToOffsetMap(map, reader, _aborted, CancellationToken);
        }
        for (var i = 0; i < _files.Length; i++)
        {
            using (var probe = new SegmentBatchReader(_files[i], _sizes[i]))
            {
                if (!LogCleaner.HasAnythingToRemove(probe, map, _tombstoneHorizonMs, _aborted))
                    continue;
            }
            var stats = new LogCleaner.CleanStats();
            using var cleaned = LogSegment.CreateCleaned(_directory, Segments[i].BaseOffset, _config, _nowMs);
            Cleaned[i] = new CleanedSegment(cleaned.LogPath, cleaned.OffsetIndexPath, cleaned.TimeIndexPath, 0, stats); // deleted if this fails
            using (var reader = new SegmentBatchReader(_files[i], _sizes[i]))
                LogCleaner.CleanInto(reader, cleaned, map, _tombstoneHorizonMs, _lastBatchOfProducers, _aborted, ref stats, CancellationToken);
            cleaned.OnBecomeInactive();
            cleaned.FlushClosed();
            Cleaned[i] = new CleanedSegment(cleaned.LogPath, cleaned.OffsetIndexPath, cleaned.TimeIndexPath, cleaned.Size, stats);
        }
    }

    /// <summary>Marks a copy as swapped in: its files now belong to the log.</summary>
    public void Taken(int index) => Cleaned[index] = null;

    /// <summary>Closes the handles and deletes every cleaned copy not swapped in. Call only once no worker runs.</summary>
    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        foreach (var file in _files)
            file?.Dispose();
        foreach (var cleaned in Cleaned)
        {
            if (cleaned is not { } copy)
                continue;
            File.Delete(copy.LogPath);
            File.Delete(copy.OffsetIndexPath);
            File.Delete(copy.TimeIndexPath);
        }
        _cancellation.Dispose();
    }
}

/// <summary>The files of a cleaned copy of a segment and what cleaning removed from it.</summary>
internal readonly record struct CleanedSegment(string LogPath, string OffsetIndexPath, string TimeIndexPath, long Size, LogCleaner.CleanStats Stats);
