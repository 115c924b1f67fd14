using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using OrleansStream.Records;
using OrleansStream.Storage.Producers;

namespace OrleansStream.Storage.Tiering;

/// <summary>What one tiering pass did.</summary>
public readonly record struct TieringPassResult(
    int SegmentsCopied, long BytesCopied, int LocalSegmentsDeleted, int RemoteSegmentsDeleted, bool Fenced, Exception? Error,
    int RemoteSegmentsCompacted = 0)
{
    public bool Failed => Error is not null;
}

public sealed class RemoteLogManagerOptions
{
    /// <summary>First delay after a failed pass; doubles per failure up to <see cref="MaxRetryBackoff"/>.</summary>
    public TimeSpan RetryBackoff { get; set; } = TimeSpan.FromSeconds(1);

    public TimeSpan MaxRetryBackoff { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Segments copied per pass, so one pass never holds the partition's tiering for long.</summary>
    public int MaxSegmentsPerPass { get; set; } = 16;

    /// <summary>
    /// How often a compacted topic's tiered segments are compacted again (each run reads the partition's remote-only
    /// segments once). Tombstones in the tier go at most this long after <c>delete.retention.ms</c>.
    /// </summary>
    public TimeSpan RemoteCompactionInterval { get; set; } = TimeSpan.FromMinutes(10);
}

/// <summary>
/// Kafka's RemoteLogManager (KIP-405) for one partition, without Orleans: copies closed segments below the high
/// watermark to an <see cref="ITierStore"/> as <c>{topic}/{partition}/{baseOffset:D20}-{id}.{log|index|timeindex|txnindex|epoch|snapshot}</c>,
/// records them in the partition's <see cref="RemoteLogManifest"/>, deletes local copies once copied and allowed by
/// <c>local.retention.ms/bytes</c>, applies <c>retention.ms/bytes</c> to local plus remote data, and serves reads
/// below the local log start from the tier.
/// <para>
/// The <see cref="PartitionLog"/> is touched only between awaits, on the caller's context: call this from the owner's
/// single-threaded turns (a grain) so appends interleave with the tier I/O but never run beside a log mutation.
/// </para>
/// </summary>
public sealed class RemoteLogManager : IDisposable
{
    internal static readonly string[] SegmentSuffixes = [".log", ".index", ".timeindex", ".epoch", ProducerStateSnapshot.Suffix, TransactionIndex.Suffix];
    private readonly PartitionLog _log;
    private readonly ITierStore _store;
    private readonly TimeProvider _time;
    private readonly RemoteReadCache _cache;
    private readonly RemoteLogManagerOptions _options;
    private readonly IRemoteLogMetrics _metrics;
    private readonly SemaphoreSlim _passGate = new(1, 1);
    private readonly RemoteLogMetadataManager _metadata;
    private readonly RemoteLogReader _reader;
    private readonly RemoteLogCleaner _cleaner;
    private int _failures;
    private DateTimeOffset _nextAttempt;
    private bool _fenced;

    public RemoteLogManager(
        string topic, int partition, PartitionLog log, ITierStore store,
        TimeProvider? time = null, RemoteReadCache? cache = null, RemoteLogManagerOptions? options = null, IRemoteLogMetrics? metrics = null)
    {
        Topic = topic;
        Partition = partition;
        _log = log;
        _store = store;
        _time = time ?? TimeProvider.System;
        _cache = cache ?? new RemoteReadCache();
        _options = options ?? new RemoteLogManagerOptions();
        _metrics = metrics ?? NoRemoteLogMetrics.Instance;
        _metadata = new RemoteLogMetadataManager(store, _cache, topic, partition);
        _reader = new RemoteLogReader(topic, partition, log, store, _cache, _metadata, _metrics);
        _cleaner = new RemoteLogCleaner(topic, partition, log, store, _metadata, _time, _options.RemoteCompactionInterval);
    }

    public string Topic { get; }

    public int Partition { get; }

    /// <summary>The manifest as last read or written (null before the first pass or read).</summary>
    public RemoteLogManifest? Manifest => _metadata.Manifest;

    /// <summary>
    /// The partition's first readable offset, the log's own (below the local log start when history is tiered). A remote
    /// segment still listed below it (DeleteRecords or retention moved it, deletion pending) is not readable.
    /// </summary>
    public long LogStartOffset => _log.LogStartOffset;

    /// <summary>Closed local segments below the high watermark that the tier does not hold yet.</summary>
    public int UploadLagSegments => UploadLag().Segments;

    /// <summary>Upload lag in segments and bytes (Kafka's RemoteCopyLagSegments / RemoteCopyLagBytes).</summary>
    public (int Segments, long Bytes) UploadLag()
    {
        var manifest = _metadata.Manifest;
        var segments = 0;
        long bytes = 0;
        foreach (var segment in _log.Segments)
        {
            if (!segment.IsActive && segment.NextOffset <= _log.HighWatermark && (manifest is null || !IsCovered(manifest, segment)))
            {
                segments++;
                bytes += segment.SizeInBytes;
            }
        }
        return (segments, bytes);
    }

    /// <summary>True when this manager stopped because a leader with a newer epoch owns the manifest.</summary>
    public bool IsFenced => _fenced;

    /// <summary>True when <paramref name="offset"/> is below the local log and must be read with <see cref="ReadAsync"/>.</summary>
    public bool IsRemote(long offset) => offset < _log.LocalLogStartOffset;

    /// <summary>A pass unless the previous one failed less than its back-off ago.</summary>
    public Task<TieringPassResult> MaybeRunAsync(int leaderEpoch, CancellationToken cancellationToken = default)
        => _time.GetUtcNow() < _nextAttempt
            ? Task.FromResult(default(TieringPassResult))
            : RunOnceAsync(leaderEpoch, cancellationToken);

    /// <summary>
    /// One tiering pass as leader of <paramref name="leaderEpoch"/>: copy, then local retention, then total retention.
    /// Failures are returned (and retried by the next pass after a back-off), never thrown.
    /// </summary>
    public async Task<TieringPassResult> RunOnceAsync(int leaderEpoch, CancellationToken cancellationToken = default)
    {
        if (_fenced || !_log.Config.RemoteStorageEnable)
            return new TieringPassResult(0, 0, 0, 0, _fenced, null);
        await _passGate.WaitAsync(cancellationToken);
        int copied = 0, localDeleted = 0, remoteDeleted = 0, compacted = 0;
        long bytes = 0;
        try
        {
            await _metadata.GetAsync(cancellationToken);
            if (_metadata.Current.WriterLeaderEpoch > leaderEpoch)
            {
                _fenced = true;
                return new TieringPassResult(0, 0, 0, 0, true, null);
            }
            (copied, bytes) = await CopySegmentsAsync(leaderEpoch, cancellationToken);
            localDeleted = DeleteLocalSegments();
            compacted = await _cleaner.CleanAsync(leaderEpoch, cancellationToken);
            remoteDeleted = await ApplyRetentionAsync(leaderEpoch, cancellationToken);
            _failures = 0;
            _nextAttempt = default;
            return new TieringPassResult(copied, bytes, localDeleted, remoteDeleted, false, null, compacted);
        }
        catch (TierConditionFailedException e)
        {
            // Someone else wrote the manifest: re-read it next pass (and learn whether we are fenced).
            _metadata.Forget();
            return Failure(copied, bytes, localDeleted, remoteDeleted, e);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            return Failure(copied, bytes, localDeleted, remoteDeleted, e);
        }
        finally
        {
            _passGate.Release();
        }
    }

    /// <summary>
    /// A follower's pass (Kafka's followers do the same from the remote log metadata): re-reads the manifest the leader
    /// writes and deletes local segments it covers once <c>local.retention.ms/bytes</c> allow, so a follower's disk
    /// stays as small as its leader's. Never writes to the tier; honours the failure back-off like <see cref="MaybeRunAsync"/>.
    /// </summary>
    public async Task<TieringPassResult> MaybeRunAsFollowerAsync(CancellationToken cancellationToken = default)
    {
        if (_fenced || !_log.Config.RemoteStorageEnable || _time.GetUtcNow() < _nextAttempt) return default;
        await _passGate.WaitAsync(cancellationToken);
        try
        {
            await _metadata.ReloadAsync(cancellationToken);
            var deleted = _fenced ? 0 : DeleteLocalSegments();
            _failures = 0;
            _nextAttempt = default;
            return new TieringPassResult(0, 0, deleted, 0, false, null);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            return Failure(0, 0, 0, 0, e);
        }
        finally
        {
            _passGate.Release();
        }
    }

    private TieringPassResult Failure(int copied, long bytes, int localDeleted, int remoteDeleted, Exception e)
    {
        _failures++;
        var backoff = TimeSpan.FromTicks(Math.Min(
            _options.MaxRetryBackoff.Ticks, _options.RetryBackoff.Ticks * (1L << Math.Min(_failures - 1, 20))));
        _nextAttempt = _time.GetUtcNow() + backoff;
        _metrics.UploadFailed();
        return new TieringPassResult(copied, bytes, localDeleted, remoteDeleted, false, e);
    }

    private async Task<(int Copied, long Bytes)> CopySegmentsAsync(int leaderEpoch, CancellationToken cancellationToken)
    {
        int copied = 0;
        long bytes = 0;
        // Copies interrupted earlier whose local segment is gone (deleted or rewritten) are orphans: remove them.
        foreach (var orphan in OrphanedCopies())
            await _metadata.DeleteSegmentsAsync([orphan], leaderEpoch, cancellationToken);

        var compacted = (_log.Config.CleanupPolicy & CleanupPolicy.Compact) != 0;
        foreach (var segment in _log.Segments)
        {
            if (copied >= _options.MaxSegmentsPerPass) break;
            // A closed segment compaction emptied is copied too (an empty object), so the tier's coverage has no hole
            // that would stop local retention behind it.
            if (segment.IsActive || segment.NextOffset > _log.HighWatermark) break;
            var manifest = _metadata.Current;
            if (IsCopiedExactly(manifest, segment)) continue;
            // A plain log never re-tiers what the tier covers. A compacted log re-tiers a segment that compaction
            // rewrote, and the new copy replaces every older copy it overlaps.
            if (IsCovered(manifest, segment) && !compacted) continue;
            // Opened before the first await and checked against the listing: a compaction or truncation that replaces
            // the segment meanwhile renames new files over these paths, and the copy must be what the metadata describes.
            var log = OpenForUpload(segment.LogPath);
            if (log is null || log.Length < segment.SizeInBytes)
            {
                log?.Dispose();
                continue; // replaced or deleted since it was listed: the next pass sees it as it is now
            }
            await using var logFile = log;
            await using var indexFile = OpenForUpload(segment.OffsetIndexPath);
            await using var timeIndexFile = OpenForUpload(segment.TimeIndexPath);
            // Kafka's producerStateSnapshotFile: the state at the segment's end, taken when it rolled (absent for older logs).
            await using var snapshotFile = OpenForUpload(Path.Combine(_log.Directory, ProducerStateSnapshot.FileName(segment.NextOffset)));
            // Kafka's transactionIndex, copied rather than linked: a truncation or recovery may rewrite it in place.
            var txnIndex = _log.ReadTxnIndex(segment.BaseOffset);

            var started = FindStartedCopy(manifest, segment);
            var id = started?.SegmentId ?? NewSegmentId();
            var metadata = new RemoteLogSegmentMetadata
            {
                SegmentId = id,
                BaseOffset = segment.BaseOffset,
                EndOffset = segment.NextOffset - 1,
                MaxTimestampMs = segment.MaxTimestamp >= 0 ? segment.MaxTimestamp : segment.LargestTimestamp,
                SegmentSizeInBytes = checked((int)segment.SizeInBytes),
                State = RemoteLogSegmentState.CopySegmentStarted,
                EventTimestampMs = _time.GetUtcNow().ToUnixTimeMilliseconds(),
                LeaderEpoch = leaderEpoch,
                SegmentLeaderEpochs = EpochsOf(segment),
                Compacted = compacted,
                TxnIndexEmpty = txnIndex.Length == 0,
            };
            if (started is null)
                await _metadata.SaveAsync(manifest.With(metadata), leaderEpoch, cancellationToken);

            var prefix = metadata.KeyPrefix(Topic, Partition);
            var logBytes = await UploadFileAsync(prefix + ".log", logFile, metadata.SegmentSizeInBytes, cancellationToken);
            var indexBytes = await UploadFileAsync(prefix + ".index", indexFile, -1, cancellationToken);
            var timeIndexBytes = await UploadFileAsync(prefix + ".timeindex", timeIndexFile, -1, cancellationToken);
            var epochBytes = EpochCheckpoint(metadata.SegmentLeaderEpochs);
            await _store.UploadAsync(prefix + ".epoch", new MemoryStream(epochBytes), cancellationToken);
            var snapshotBytes = snapshotFile is null ? 0 : await UploadFileAsync(prefix + ProducerStateSnapshot.Suffix, snapshotFile, -1, cancellationToken);
            // Like Kafka's optional transactionIndex, only a segment where a transaction aborted has one.
            if (txnIndex.Length > 0)
                await _store.UploadAsync(prefix + TransactionIndex.Suffix, new MemoryStream(txnIndex), cancellationToken);

            var replaced = new List<RemoteLogSegmentMetadata>();
            if (compacted)
            {
                foreach (var old in _metadata.Current.Segments)
                    if (old.SegmentId != id && old.State == RemoteLogSegmentState.CopySegmentFinished
                        && old.BaseOffset <= metadata.EndOffset && old.EndOffset >= metadata.BaseOffset)
                        replaced.Add(old);
            }
            var next = _metadata.Current.With(metadata with { State = RemoteLogSegmentState.CopySegmentFinished });
            foreach (var old in replaced)
                next = next.With(old with { State = RemoteLogSegmentState.DeleteSegmentStarted });
            await _metadata.SaveAsync(next, leaderEpoch, cancellationToken);
            if (replaced.Count > 0)
                await _metadata.DeleteSegmentsAsync(replaced, leaderEpoch, cancellationToken);

            var total = logBytes + indexBytes + timeIndexBytes + epochBytes.Length + snapshotBytes + txnIndex.Length;
            copied++;
            bytes += total;
        }
        return (copied, bytes);
    }

    private List<RemoteLogSegmentMetadata> OrphanedCopies()
    {
        var orphans = new List<RemoteLogSegmentMetadata>();
        var segments = _log.Segments;
        foreach (var entry in _metadata.Current.Segments)
        {
            if (entry.State == RemoteLogSegmentState.DeleteSegmentStarted)
            {
                orphans.Add(entry);
                continue;
            }
            if (entry.State != RemoteLogSegmentState.CopySegmentStarted) continue;
            var alive = false;
            foreach (var s in segments)
                if (!s.IsActive && s.BaseOffset == entry.BaseOffset && s.NextOffset == entry.NextOffset && s.SizeInBytes == entry.SegmentSizeInBytes)
                    alive = true;
            if (!alive) orphans.Add(entry);
        }
        return orphans;
    }

    /// <summary>Deletes local segments the tier holds, oldest first, while local.retention.ms/bytes allow.</summary>
    private int DeleteLocalSegments()
    {
        var manifest = _metadata.Current;
        var retentionMs = _log.Config.EffectiveLocalRetentionMs;
        var retentionBytes = _log.Config.EffectiveLocalRetentionBytes;
        if (retentionMs < 0 && retentionBytes < 0) return 0;
        var nowMs = _time.GetUtcNow().ToUnixTimeMilliseconds();
        var localSize = _log.SizeInBytes;
        long cut = -1;
        var count = 0;
        foreach (var segment in _log.Segments)
        {
            if (segment.IsActive || segment.NextOffset > _log.HighWatermark || !IsCovered(manifest, segment)) break;
            var expired = retentionMs >= 0 && nowMs - segment.LargestTimestamp > retentionMs;
            var oversize = retentionBytes >= 0 && localSize - segment.SizeInBytes >= retentionBytes;
            if (!expired && !oversize) break;
            cut = segment.NextOffset;
            localSize -= segment.SizeInBytes;
            count++;
        }
        if (cut >= 0) _log.DeleteLocalSegmentsBefore(cut);
        return count;
    }

    /// <summary>retention.ms/bytes over local plus remote data: remote segments past it are deleted and the log start moves.</summary>
    private async Task<int> ApplyRetentionAsync(int leaderEpoch, CancellationToken cancellationToken)
    {
        var manifest = _metadata.Current;
        var config = _log.Config;
        var deleteByPolicy = (config.CleanupPolicy & CleanupPolicy.Delete) != 0;
        var nowMs = _time.GetUtcNow().ToUnixTimeMilliseconds();
        var localStart = _log.LocalLogStartOffset;
        long remoteOnly = 0;
        foreach (var s in manifest.Segments)
            if (s.State == RemoteLogSegmentState.CopySegmentFinished && s.NextOffset <= localStart) remoteOnly += s.SegmentSizeInBytes;
        var total = remoteOnly + _log.SizeInBytes;

        var expired = new List<RemoteLogSegmentMetadata>();
        long newStart = -1;
        var stillExpiring = deleteByPolicy;
        foreach (var s in manifest.Segments)
        {
            if (s.State != RemoteLogSegmentState.CopySegmentFinished) continue;
            var belowStart = s.NextOffset <= _log.LogStartOffset;
            var isRemoteOnly = s.NextOffset <= localStart;
            var byTime = stillExpiring && config.RetentionMs >= 0 && nowMs - s.MaxTimestampMs > config.RetentionMs;
            var bySize = stillExpiring && config.RetentionBytes >= 0 && isRemoteOnly && total - s.SegmentSizeInBytes >= config.RetentionBytes;
            if (!belowStart && !byTime && !bySize)
            {
                stillExpiring = false; // retention removes a prefix of the log, never holes
                continue;
            }
            expired.Add(s);
            if (isRemoteOnly) total -= s.SegmentSizeInBytes;
            newStart = Math.Max(newStart, s.NextOffset);
        }
        if (expired.Count == 0) return 0;

        var marked = manifest;
        foreach (var s in expired)
            marked = marked.With(s with { State = RemoteLogSegmentState.DeleteSegmentStarted });
        await _metadata.SaveAsync(marked, leaderEpoch, cancellationToken);
        if (newStart > _log.LogStartOffset)
            _log.DeleteRecordsBefore(Math.Min(newStart, _log.LogEndOffset));
        await _metadata.DeleteSegmentsAsync(expired, leaderEpoch, cancellationToken);
        return expired.Count;
    }

    private static FileStream? OpenForUpload(string path)
    {
        try
        {
            return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1 << 16, FileOptions.Asynchronous | FileOptions.SequentialScan);
        }
        catch (FileNotFoundException)
        {
            return null;
        }
    }

    private async Task<long> UploadFileAsync(string key, FileStream? file, int length, CancellationToken cancellationToken)
    {
        if (file is null)
        {
            // An index that was never written (a segment with no index entries) tiers as an empty object.
            await _store.UploadAsync(key, new MemoryStream([]), cancellationToken);
            return 0;
        }
        // Segment files are never preallocated, so the bounded wrapper (not seekable) is the exception.
        Stream content = length >= 0 && file.Length != length ? new BoundedStream(file, length) : file;
        var size = length >= 0 ? length : file.Length;
        await _store.UploadAsync(key, content, cancellationToken);
        return size;
    }

    /// <summary>
    /// Reads whole batches from the tier starting with the one that holds <paramref name="offset"/> (or the first one
    /// after it when compaction removed it), like <see cref="PartitionLog.Read(long, int, long)"/>: up to
    /// <paramref name="maxBytes"/>, at least one batch, only batches wholly below <paramref name="maxOffsetExclusive"/>.
    /// </summary>
    public Task<ReadOnlyMemory<byte>> ReadAsync(long offset, int maxBytes, long maxOffsetExclusive = long.MaxValue, CancellationToken cancellationToken = default)
        => _reader.ReadAsync(offset, maxBytes, maxOffsetExclusive, cancellationToken);

    /// <summary>
    /// Kafka's RemoteLogManager.read for read_committed: the aborted transactions that overlap [<paramref name="startOffset"/>,
    /// <paramref name="upperBoundOffset"/>), from the tiered segments' <c>.txnindex</c> on, then the local segments', until
    /// the search completes.
    /// </summary>
    public Task<IReadOnlyList<AbortedTxn>?> CollectAbortedTransactionsAsync(long startOffset, long upperBoundOffset, CancellationToken cancellationToken = default)
        => _reader.CollectAbortedTransactionsAsync(startOffset, upperBoundOffset, cancellationToken);

    /// <summary>
    /// Kafka's <c>highestOffsetInRemoteStorage</c> for KIP-1005's LATEST_TIERED_TIMESTAMP: the last offset of the copied
    /// segments and the leader epoch it was written in, or (-1, -1) when nothing is tiered.
    /// </summary>
    public async Task<(long Offset, int LeaderEpoch)> HighestOffsetInRemoteStorageAsync(CancellationToken cancellationToken = default)
    {
        var manifest = await _metadata.GetAsync(cancellationToken);
        RemoteLogSegmentMetadata? highest = null;
        foreach (var s in manifest.Segments)
            if (s.State == RemoteLogSegmentState.CopySegmentFinished && (highest is null || s.EndOffset > highest.EndOffset)) highest = s;
        if (highest is null) return (-1, -1);
        var epoch = highest.LeaderEpoch;
        var from = long.MinValue;
        foreach (var e in highest.SegmentLeaderEpochs)
            if (e.StartOffset <= highest.EndOffset && e.StartOffset >= from) (epoch, from) = (e.Epoch, e.StartOffset);
        return (highest.EndOffset, epoch);
    }

    /// <summary>The tier's largest timestamp below the local log start (-1 if none), for KIP-734's MAX_TIMESTAMP.</summary>
    public Task<long> MaxTimestampAsync(CancellationToken cancellationToken = default) => _reader.MaxTimestampAsync(cancellationToken);

    /// <summary>Kafka's fetchOffsetByTimestamp for the tiered part of the log; null when the local log must answer.</summary>
    public Task<TimestampOffset?> FindOffsetByTimestampAsync(long timestampMs, CancellationToken cancellationToken = default)
        => _reader.FindOffsetByTimestampAsync(timestampMs, cancellationToken);

    /// <summary>
    /// Prepares an empty (new or rebuilt) replica to follow without downloading tiered history (Kafka's
    /// buildRemoteLogAuxState): it restarts at the leader's local log start and learns the leader epoch there from the
    /// manifest, and its producer state from the snapshot tiered with the segment that ends there. Returns the offset to
    /// fetch from.
    /// </summary>
    public static async Task<long> PrepareFollowerAsync(
        PartitionLog follower, string topic, int partition, ITierStore store, long leaderLocalLogStartOffset, CancellationToken cancellationToken = default)
    {
        if (follower.LogEndOffset >= leaderLocalLogStartOffset && follower.LocalLogStartOffset <= leaderLocalLogStartOffset)
            return follower.LogEndOffset;
        var manifest = (await VersionedManifest.LoadAsync(store, topic, partition, cancellationToken)).Manifest;
        var remoteStart = manifest.RemoteLogStartOffset();
        var logStart = remoteStart >= 0 && remoteStart < leaderLocalLogStartOffset ? remoteStart : leaderLocalLogStartOffset;
        var producerSnapshot = await FetchProducerSnapshotAsync(store, topic, partition, manifest, leaderLocalLogStartOffset, cancellationToken);
        follower.TruncateFullyAndStartAt(leaderLocalLogStartOffset, logStart);
        var epoch = -1;
        foreach (var s in manifest.Segments)
        {
            if (s.State != RemoteLogSegmentState.CopySegmentFinished) continue;
            foreach (var e in s.SegmentLeaderEpochs)
                if (e.StartOffset < leaderLocalLogStartOffset && e.Epoch > epoch) epoch = e.Epoch;
        }
        if (epoch >= 0) follower.LeaderEpochCache.Assign(epoch, leaderLocalLogStartOffset);
        if (producerSnapshot is { } snapshot)
            follower.RestoreProducerSnapshot(snapshot.Span);
        return leaderLocalLogStartOffset;
    }

    /// <summary>
    /// The producer snapshot tiered with the segment that ends at <paramref name="localLogStartOffset"/> (Kafka's
    /// buildRemoteLogAuxState reads it to restore the producer state there), or null when the tier has none.
    /// </summary>
    public static async Task<ReadOnlyMemory<byte>?> FetchProducerSnapshotAsync(
        ITierStore store, string topic, int partition, long localLogStartOffset, CancellationToken cancellationToken = default)
    {
        var manifest = (await VersionedManifest.LoadAsync(store, topic, partition, cancellationToken)).Manifest;
        return await FetchProducerSnapshotAsync(store, topic, partition, manifest, localLogStartOffset, cancellationToken);
    }

    private static async Task<ReadOnlyMemory<byte>?> FetchProducerSnapshotAsync(
        ITierStore store, string topic, int partition, RemoteLogManifest manifest, long localLogStartOffset, CancellationToken cancellationToken)
    {
        foreach (var s in manifest.Segments)
        {
            if (s.State == RemoteLogSegmentState.CopySegmentFinished && s.EndOffset + 1 == localLogStartOffset)
                return (await store.GetAsync(s.KeyPrefix(topic, partition) + ProducerStateSnapshot.Suffix, cancellationToken))?.Content;
        }
        return null;
    }

    private static bool IsCopiedExactly(RemoteLogManifest manifest, LogSegmentInfo segment)
    {
        foreach (var s in manifest.Segments)
            if (s.State == RemoteLogSegmentState.CopySegmentFinished && s.BaseOffset == segment.BaseOffset
                && s.NextOffset == segment.NextOffset && s.SegmentSizeInBytes == segment.SizeInBytes)
                return true;
        return false;
    }

    /// <summary>True when finished copies cover [BaseOffset, NextOffset) of the segment without a gap.</summary>
    private static bool IsCovered(RemoteLogManifest manifest, LogSegmentInfo segment)
    {
        var covered = segment.BaseOffset;
        var progressed = true;
        while (covered < segment.NextOffset && progressed)
        {
            progressed = false;
            foreach (var s in manifest.Segments)
            {
                if (s.State == RemoteLogSegmentState.CopySegmentFinished && s.BaseOffset <= covered && s.NextOffset > covered)
                {
                    covered = s.NextOffset;
                    progressed = true;
                }
            }
        }
        return covered >= segment.NextOffset;
    }

    private static RemoteLogSegmentMetadata? FindStartedCopy(RemoteLogManifest manifest, LogSegmentInfo segment)
    {
        foreach (var s in manifest.Segments)
            if (s.State == RemoteLogSegmentState.CopySegmentStarted && s.BaseOffset == segment.BaseOffset
                && s.NextOffset == segment.NextOffset && s.SegmentSizeInBytes == segment.SizeInBytes)
                return s;
        return null;
    }

    private List<EpochStart> EpochsOf(LogSegmentInfo segment)
    {
        var epochs = new List<EpochStart>();
        var entries = _log.LeaderEpochCache.Entries;
        for (var i = 0; i < entries.Count; i++)
        {
            var e = entries[i];
            var nextStart = i + 1 < entries.Count ? entries[i + 1].StartOffset : long.MaxValue;
            if (e.StartOffset < segment.NextOffset && nextStart > segment.BaseOffset)
                epochs.Add(new EpochStart(e.Epoch, Math.Max(e.StartOffset, segment.BaseOffset)));
        }
        return epochs;
    }

    /// <summary>The segment's slice of the leader-epoch checkpoint, in Kafka's text format (version, count, lines).</summary>
    internal static byte[] EpochCheckpoint(IReadOnlyList<EpochStart> epochs)
    {
        var text = new StringBuilder().Append("0\n").Append(epochs.Count.ToString(CultureInfo.InvariantCulture)).Append('\n');
        foreach (var e in epochs)
            text.Append(e.Epoch.ToString(CultureInfo.InvariantCulture)).Append(' ').Append(e.StartOffset.ToString(CultureInfo.InvariantCulture)).Append('\n');
        return Encoding.ASCII.GetBytes(text.ToString());
    }

    internal static string NewSegmentId() => Guid.NewGuid().ToString("N");

    /// <summary>Stops tiering for good; a pass already running finishes its current step and returns.</summary>
    public void Dispose() => _fenced = true;

    /// <summary>The first <c>length</c> bytes of a stream: a segment is uploaded as long as the log said it was.</summary>
    private sealed class BoundedStream(Stream inner, long length) : Stream
    {
        private readonly long _length = length;
        private long _remaining = length;

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => _length;
        public override long Position { get => _length - _remaining; set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            if (_remaining <= 0) return 0;
            var n = inner.Read(buffer[..(int)Math.Min(buffer.Length, _remaining)]);
            _remaining -= n;
            return n;
        }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (_remaining <= 0) return 0;
            var n = await inner.ReadAsync(buffer[..(int)Math.Min(buffer.Length, _remaining)], cancellationToken).ConfigureAwait(false);
            _remaining -= n;
            return n;
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
            => ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
