using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using OrleansStream.Records;

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
/// watermark to an <see cref="ITierStore"/> as <c>{topic}/{partition}/{baseOffset:D20}-{id}.{log|index|timeindex|epoch}</c>,
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
    private static readonly string[] s_suffixes = [".log", ".index", ".timeindex", ".epoch"];
    private readonly PartitionLog _log;
    private readonly ITierStore _store;
    private readonly TimeProvider _time;
    private readonly RemoteReadCache _cache;
    private readonly RemoteLogManagerOptions _options;
    private readonly IRemoteLogMetrics _metrics;
    private readonly SemaphoreSlim _passGate = new(1, 1);
    private VersionedManifest? _manifest;
    private int _failures;
    private DateTimeOffset _nextAttempt;
    private DateTimeOffset _nextRemoteCompaction;
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
    }

    public string Topic { get; }

    public int Partition { get; }

    /// <summary>The manifest as last read or written (null before the first pass or read).</summary>
    public RemoteLogManifest? Manifest => _manifest?.Manifest;

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
        var manifest = _manifest?.Manifest;
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
            _manifest ??= await VersionedManifest.LoadAsync(_store, Topic, Partition, cancellationToken);
            if (_manifest.Manifest.WriterLeaderEpoch > leaderEpoch)
            {
                _fenced = true;
                return new TieringPassResult(0, 0, 0, 0, true, null);
            }
            (copied, bytes) = await CopySegmentsAsync(leaderEpoch, cancellationToken);
            localDeleted = DeleteLocalSegments();
            compacted = await CompactRemoteAsync(leaderEpoch, cancellationToken);
            remoteDeleted = await ApplyRetentionAsync(leaderEpoch, cancellationToken);
            _failures = 0;
            _nextAttempt = default;
            return new TieringPassResult(copied, bytes, localDeleted, remoteDeleted, false, null, compacted);
        }
        catch (TierConditionFailedException e)
        {
            // Someone else wrote the manifest: re-read it next pass (and learn whether we are fenced).
            _manifest = null;
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
            _manifest = await VersionedManifest.LoadAsync(_store, Topic, Partition, cancellationToken);
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
            await DeleteRemoteSegmentsAsync([orphan], leaderEpoch, cancellationToken);

        var compacted = (_log.Config.CleanupPolicy & CleanupPolicy.Compact) != 0;
        foreach (var segment in _log.Segments)
        {
            if (copied >= _options.MaxSegmentsPerPass) break;
            // A closed segment compaction emptied is copied too (an empty object), so the tier's coverage has no hole
            // that would stop local retention behind it.
            if (segment.IsActive || segment.NextOffset > _log.HighWatermark) break;
            var manifest = _manifest!.Manifest;
            if (IsCopiedExactly(manifest, segment)) continue;
            // A plain log never re-tiers what the tier covers. A compacted log re-tiers a segment that compaction
            // rewrote, and the new copy replaces every older copy it overlaps.
            if (IsCovered(manifest, segment) && !compacted) continue;

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
            };
            if (started is null)
                await SaveAsync(manifest.With(metadata), leaderEpoch, cancellationToken);

            var prefix = metadata.KeyPrefix(Topic, Partition);
            var logBytes = await UploadFileAsync(prefix + ".log", segment.LogPath, metadata.SegmentSizeInBytes, cancellationToken);
            var indexBytes = await UploadFileAsync(prefix + ".index", segment.OffsetIndexPath, -1, cancellationToken);
            var timeIndexBytes = await UploadFileAsync(prefix + ".timeindex", segment.TimeIndexPath, -1, cancellationToken);
            var epochBytes = EpochCheckpoint(metadata.SegmentLeaderEpochs);
            await _store.UploadAsync(prefix + ".epoch", new MemoryStream(epochBytes), cancellationToken);

            var replaced = new List<RemoteLogSegmentMetadata>();
            if (compacted)
            {
                foreach (var old in _manifest!.Manifest.Segments)
                    if (old.SegmentId != id && old.State == RemoteLogSegmentState.CopySegmentFinished
                        && old.BaseOffset <= metadata.EndOffset && old.EndOffset >= metadata.BaseOffset)
                        replaced.Add(old);
            }
            var next = _manifest!.Manifest.With(metadata with { State = RemoteLogSegmentState.CopySegmentFinished });
            foreach (var old in replaced)
                next = next.With(old with { State = RemoteLogSegmentState.DeleteSegmentStarted });
            await SaveAsync(next, leaderEpoch, cancellationToken);
            if (replaced.Count > 0)
                await DeleteRemoteSegmentsAsync(replaced, leaderEpoch, cancellationToken);

            var total = logBytes + indexBytes + timeIndexBytes + epochBytes.Length;
            copied++;
            bytes += total;
        }
        return (copied, bytes);
    }

    /// <summary>
    /// Compaction of a compacted log's tiered part, which Kafka cannot do (it refuses tiering on compacted topics): the
    /// newest offset of every key over the remote-only segments and the committed local log, then every remote-only
    /// segment that loses records (superseded values, tombstones past <c>delete.retention.ms</c>) is rewritten, uploaded
    /// under a new id with rebuilt indexes, and replaces its old copy in one manifest write. Oldest first, so an older
    /// value always goes before the tombstone that deleted it, even when a pass stops half-way.
    /// </summary>
    private async Task<int> CompactRemoteAsync(int leaderEpoch, CancellationToken cancellationToken)
    {
        var config = _log.Config;
        var now = _time.GetUtcNow();
        if ((config.CleanupPolicy & CleanupPolicy.Compact) == 0 || now < _nextRemoteCompaction) return 0;
        var localStart = _log.LocalLogStartOffset;
        var nowMs = now.ToUnixTimeMilliseconds();
        var remoteOnly = new List<RemoteLogSegmentMetadata>();
        foreach (var s in _manifest!.Manifest.Segments)
        {
            if (s.State != RemoteLogSegmentState.CopySegmentFinished || s.NextOffset <= _log.LogStartOffset) continue;
            if (s.NextOffset > localStart || (config.MinCompactionLagMs > 0 && nowMs - s.MaxTimestampMs < config.MinCompactionLagMs)) break;
            if (remoteOnly.Count > 0 && s.BaseOffset < remoteOnly[^1].NextOffset) return 0; // overlapping copies: wait until replaced
            remoteOnly.Add(s);
        }
        if (remoteOnly.Count == 0) return 0;

        var contents = new List<byte[]>(remoteOnly.Count);
        var map = LogCleaner.NewOffsetMap();
        foreach (var s in remoteOnly)
        {
            var obj = await _store.GetAsync(s.KeyPrefix(Topic, Partition) + ".log", cancellationToken)
                ?? throw new OrleansStreamException(ErrorCode.KafkaStorageError, $"Tiered segment {s.KeyPrefix(Topic, Partition)}.log is missing.");
            var content = obj.Content.ToArray();
            LogCleaner.AddToOffsetMap(map, content);
            contents.Add(content);
        }
        _log.AddCommittedKeysTo(map);

        var stats = new LogCleaner.CleanStats();
        var horizon = nowMs - config.DeleteRetentionMs;
        var rewritten = 0;
        for (var i = 0; i < remoteOnly.Count; i++)
        {
            if (LogCleaner.Clean(contents[i], map, horizon, ref stats) is not { } cleaned) continue;
            var old = remoteOnly[i];
            var metadata = old with
            {
                SegmentId = NewSegmentId(),
                SegmentSizeInBytes = cleaned.Length,
                State = RemoteLogSegmentState.CopySegmentStarted,
                EventTimestampMs = nowMs,
                LeaderEpoch = leaderEpoch,
                Compacted = true,
            };
            await SaveAsync(_manifest!.Manifest.With(metadata), leaderEpoch, cancellationToken);
            var prefix = metadata.KeyPrefix(Topic, Partition);
            var (index, timeIndex) = BuildIndexes(cleaned, metadata.BaseOffset, config.IndexIntervalBytes);
            await _store.UploadAsync(prefix + ".log", new MemoryStream(cleaned), cancellationToken);
            await _store.UploadAsync(prefix + ".index", new MemoryStream(index), cancellationToken);
            await _store.UploadAsync(prefix + ".timeindex", new MemoryStream(timeIndex), cancellationToken);
            await _store.UploadAsync(prefix + ".epoch", new MemoryStream(EpochCheckpoint(metadata.SegmentLeaderEpochs)), cancellationToken);
            var next = _manifest!.Manifest.With(metadata with { State = RemoteLogSegmentState.CopySegmentFinished })
                .With(old with { State = RemoteLogSegmentState.DeleteSegmentStarted });
            await SaveAsync(next, leaderEpoch, cancellationToken);
            await DeleteRemoteSegmentsAsync([old with { State = RemoteLogSegmentState.DeleteSegmentStarted }], leaderEpoch, cancellationToken);
            rewritten++;
        }
        _nextRemoteCompaction = now + _options.RemoteCompactionInterval;
        return rewritten;
    }

    /// <summary>Kafka's offset and time indexes for a segment held in memory, one entry per <paramref name="intervalBytes"/>, as LogSegment writes them.</summary>
    internal static (byte[] Index, byte[] TimeIndex) BuildIndexes(ReadOnlySpan<byte> log, long baseOffset, int intervalBytes)
    {
        using var index = new MemoryStream();
        using var timeIndex = new MemoryStream();
        Span<byte> entry = stackalloc byte[12];
        long maxTimestamp = -1, offsetOfMax = baseOffset, lastIndexed = -1;
        long bytesSinceEntry = 0;
        for (var position = 0; position + RecordBatchHeader.LogOverhead <= log.Length;)
        {
            var header = RecordBatchHeader.Read(log[position..]);
            if (header.MaxTimestamp > maxTimestamp)
            {
                maxTimestamp = header.MaxTimestamp;
                offsetOfMax = header.LastOffset;
            }
            if (bytesSinceEntry > intervalBytes)
            {
                OffsetIndex.WriteEntry(entry, (int)(header.LastOffset - baseOffset), position);
                index.Write(entry[..8]);
                if (maxTimestamp > lastIndexed)
                {
                    TimeIndex.WriteEntry(entry, maxTimestamp, (int)(offsetOfMax - baseOffset));
                    timeIndex.Write(entry);
                    lastIndexed = maxTimestamp;
                }
                bytesSinceEntry = 0;
            }
            bytesSinceEntry += header.TotalSize;
            position += header.TotalSize;
        }
        if (maxTimestamp > lastIndexed)
        {
            // Kafka's onBecomeInactiveSegment: the last entry records the segment's max timestamp.
            TimeIndex.WriteEntry(entry, maxTimestamp, (int)(offsetOfMax - baseOffset));
            timeIndex.Write(entry);
        }
        return (index.ToArray(), timeIndex.ToArray());
    }

    private List<RemoteLogSegmentMetadata> OrphanedCopies()
    {
        var orphans = new List<RemoteLogSegmentMetadata>();
        var segments = _log.Segments;
        foreach (var entry in _manifest!.Manifest.Segments)
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
        var manifest = _manifest!.Manifest;
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
        var manifest = _manifest!.Manifest;
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
        await SaveAsync(marked, leaderEpoch, cancellationToken);
        if (newStart > _log.LogStartOffset)
            _log.DeleteRecordsBefore(Math.Min(newStart, _log.LogEndOffset));
        await DeleteRemoteSegmentsAsync(expired, leaderEpoch, cancellationToken);
        return expired.Count;
    }

    private async Task DeleteRemoteSegmentsAsync(IReadOnlyList<RemoteLogSegmentMetadata> segments, int leaderEpoch, CancellationToken cancellationToken)
    {
        var marked = _manifest!.Manifest;
        var changed = false;
        foreach (var s in segments)
        {
            if (s.State != RemoteLogSegmentState.DeleteSegmentStarted)
            {
                marked = marked.With(s with { State = RemoteLogSegmentState.DeleteSegmentStarted });
                changed = true;
            }
        }
        if (changed) await SaveAsync(marked, leaderEpoch, cancellationToken);
        foreach (var s in segments)
        {
            var prefix = s.KeyPrefix(Topic, Partition);
            foreach (var suffix in s_suffixes)
                await _store.DeleteAsync(prefix + suffix, cancellationToken);
            _cache.Invalidate(prefix);
        }
        var done = _manifest!.Manifest;
        foreach (var s in segments)
            done = done.With(s with { State = RemoteLogSegmentState.DeleteSegmentFinished });
        await SaveAsync(done, leaderEpoch, cancellationToken);
    }

    private async Task SaveAsync(RemoteLogManifest next, int leaderEpoch, CancellationToken cancellationToken)
    {
        _manifest = await _manifest!.SaveAsync(_store, Topic, Partition, next with { WriterLeaderEpoch = leaderEpoch }, cancellationToken);
    }

    private async Task<long> UploadFileAsync(string key, string path, int length, CancellationToken cancellationToken)
    {
        FileStream file;
        try
        {
            file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1 << 16, FileOptions.Asynchronous | FileOptions.SequentialScan);
        }
        catch (FileNotFoundException) when (!key.EndsWith(".log", StringComparison.Ordinal))
        {
            // An index that was never written (a segment with no index entries) tiers as an empty object.
            await _store.UploadAsync(key, new MemoryStream([]), cancellationToken);
            return 0;
        }
        await using (file)
        {
            // Segment files are never preallocated, so the bounded wrapper (not seekable) is the exception.
            Stream content = length >= 0 && file.Length != length ? new BoundedStream(file, length) : file;
            var size = length >= 0 ? length : file.Length;
            await _store.UploadAsync(key, content, cancellationToken);
            return size;
        }
    }

    /// <summary>
    /// Reads whole batches from the tier starting with the one that holds <paramref name="offset"/> (or the first one
    /// after it when compaction removed it), like <see cref="PartitionLog.Read(long, int, long)"/>: up to
    /// <paramref name="maxBytes"/>, at least one batch, only batches wholly below <paramref name="maxOffsetExclusive"/>.
    /// </summary>
    public async Task<ReadOnlyMemory<byte>> ReadAsync(long offset, int maxBytes, long maxOffsetExclusive = long.MaxValue, CancellationToken cancellationToken = default)
    {
        var started = Stopwatch.GetTimestamp();
        while (true)
        {
            _manifest ??= await VersionedManifest.LoadAsync(_store, Topic, Partition, cancellationToken);
            var segment = _manifest.Manifest.FindSegmentFor(offset);
            if (segment is null || offset < LogStartOffset)
            {
                // The manifest may be stale (another leader tiered since): look once more before giving up.
                _manifest = await VersionedManifest.LoadAsync(_store, Topic, Partition, cancellationToken);
                segment = _manifest.Manifest.FindSegmentFor(offset);
                if (segment is null || offset < LogStartOffset)
                    throw new OrleansStreamException(ErrorCode.OffsetOutOfRange,
                        $"Offset {offset} of {Topic}-{Partition} is neither in the tier nor in the local log (log start {LogStartOffset}).");
            }
            if (segment.BaseOffset >= maxOffsetExclusive) return ReadOnlyMemory<byte>.Empty;

            var prefix = segment.KeyPrefix(Topic, Partition);
            var position = await LookupPositionAsync(prefix, segment, offset, cancellationToken);
            var result = await ReadBatchesAsync(prefix, segment, position, offset, maxBytes, maxOffsetExclusive, cancellationToken);
            if (result.IsEmpty && position > 0)
                result = await ReadBatchesAsync(prefix, segment, 0, offset, maxBytes, maxOffsetExclusive, cancellationToken);
            if (result.IsEmpty && segment.NextOffset < maxOffsetExclusive)
            {
                // Compaction emptied the rest of this segment: go on with the next one, in the tier or on local disk.
                offset = Math.Max(offset, segment.NextOffset);
                if (IsRemote(offset)) continue;
                result = _log.Read(offset, maxBytes, maxOffsetExclusive);
            }
            _metrics.RemoteFetchCompleted(Stopwatch.GetElapsedTime(started));
            return result;
        }
    }

    private async Task<ReadOnlyMemory<byte>> ReadBatchesAsync(
        string prefix, RemoteLogSegmentMetadata segment, int position, long offset, int maxBytes, long maxOffsetExclusive, CancellationToken cancellationToken)
    {
        var size = segment.SegmentSizeInBytes;
        var output = new ArrayBufferWriterLite();
        var startPosition = position;
        var headerBuffer = new byte[RecordBatchHeader.Size];
        while (position + RecordBatchHeader.LogOverhead <= size)
        {
            var headerLength = Math.Min(RecordBatchHeader.Size, size - position);
            await ReadRangeAsync(prefix, size, position, headerBuffer.AsMemory(0, headerLength), cancellationToken);
            if (headerLength < RecordBatchHeader.Size) break;
            var baseOffset = BinaryPrimitives.ReadInt64BigEndian(headerBuffer.AsSpan(RecordBatchHeader.BaseOffsetOffset));
            var batchSize = BinaryPrimitives.ReadInt32BigEndian(headerBuffer.AsSpan(RecordBatchHeader.BatchLengthOffset)) + RecordBatchHeader.LogOverhead;
            var lastOffset = baseOffset + BinaryPrimitives.ReadInt32BigEndian(headerBuffer.AsSpan(RecordBatchHeader.LastOffsetDeltaOffset));
            if (batchSize < RecordBatchHeader.Size || position + batchSize > size)
                throw new OrleansStreamException(ErrorCode.CorruptMessage, $"Tiered segment {prefix}.log has a torn batch at position {position}.");
            if (position == startPosition && position > 0 && baseOffset > offset)
                return ReadOnlyMemory<byte>.Empty; // the index pointed past the offset: the caller retries from the start
            if (lastOffset >= maxOffsetExclusive) break;
            if (lastOffset >= offset)
            {
                if (output.Length > 0 && output.Length + batchSize > maxBytes) break;
                var target = output.GetMemory(batchSize);
                await ReadRangeAsync(prefix, size, position, target, cancellationToken);
                output.Advance(batchSize);
                if (output.Length >= maxBytes) break;
            }
            position += batchSize;
        }
        return output.WrittenMemory;
    }

    /// <summary>Copies [position, position + destination.Length) of a remote log through the chunk cache.</summary>
    private async Task ReadRangeAsync(string prefix, int size, long position, Memory<byte> destination, CancellationToken cancellationToken)
    {
        var chunkBytes = _cache.ChunkBytes;
        while (!destination.IsEmpty)
        {
            var chunkIndex = position / chunkBytes;
            var chunkKey = prefix + ".log#" + chunkIndex.ToString(CultureInfo.InvariantCulture);
            if (!_cache.TryGet(chunkKey, out var chunk))
            {
                var chunkStart = chunkIndex * chunkBytes;
                chunk = new byte[(int)Math.Min(chunkBytes, size - chunkStart)];
                var read = await _store.ReadAsync(prefix + ".log", chunkStart, chunk, cancellationToken);
                if (read != chunk.Length)
                    throw new OrleansStreamException(ErrorCode.KafkaStorageError, $"Tiered segment {prefix}.log is shorter than its manifest entry.");
                _cache.Put(chunkKey, chunk);
            }
            var within = (int)(position - chunkIndex * chunkBytes);
            var n = Math.Min(destination.Length, chunk.Length - within);
            chunk.AsMemory(within, n).CopyTo(destination);
            destination = destination[n..];
            position += n;
        }
    }

    /// <summary>Kafka's OffsetIndex lookup on the remote index: the position of the last entry at or below the offset.</summary>
    private async Task<int> LookupPositionAsync(string prefix, RemoteLogSegmentMetadata segment, long offset, CancellationToken cancellationToken)
    {
        var index = await GetRemoteIndexAsync(prefix + ".index", cancellationToken);
        var position = OffsetIndex.LookupPosition(index, offset - segment.BaseOffset);
        return position >= 0 && position < segment.SegmentSizeInBytes ? position : 0;
    }

    /// <summary>A whole remote index file (offset or time index) through the read cache; empty when it was never written.</summary>
    private async Task<byte[]> GetRemoteIndexAsync(string key, CancellationToken cancellationToken)
    {
        if (!_cache.TryGet(key, out var index))
        {
            var obj = await _store.GetAsync(key, cancellationToken);
            index = obj is null ? [] : obj.Content.ToArray();
            _cache.Put(key, index);
        }
        return index;
    }

    /// <summary>
    /// Kafka's fetchOffsetByTimestamp for the tiered part of the log (ListOffsets below the local log start), at batch
    /// granularity like <see cref="PartitionLog.FindOffsetByTimestamp"/>: the first remote-only batch at or after the log
    /// start whose max timestamp is at least <paramref name="timestampMs"/>. The manifest's max timestamps pick the
    /// segment, its remote time index (Kafka's lookup: the last entry with a smaller timestamp) and offset index give
    /// where to start, and ranged reads of batch headers, through the read cache, find the batch. Null when no tiered
    /// batch below the local log start qualifies: the local log answers then.
    /// </summary>
    public async Task<TimestampOffset?> FindOffsetByTimestampAsync(long timestampMs, CancellationToken cancellationToken = default)
    {
        _manifest ??= await VersionedManifest.LoadAsync(_store, Topic, Partition, cancellationToken);
        var localStart = _log.LocalLogStartOffset;
        var logStart = _log.LogStartOffset;
        var header = new byte[RecordBatchHeader.Size];
        foreach (var segment in _manifest.Manifest.Segments)
        {
            if (segment.State != RemoteLogSegmentState.CopySegmentFinished || segment.NextOffset <= logStart) continue;
            if (segment.BaseOffset >= localStart) break;
            if (segment.MaxTimestampMs < timestampMs) continue;
            var prefix = segment.KeyPrefix(Topic, Partition);
            var timeIndex = await GetRemoteIndexAsync(prefix + ".timeindex", cancellationToken);
            var startOffset = Math.Max(segment.BaseOffset + TimeIndex.LookupStartRelativeOffset(timeIndex, timestampMs), logStart);
            var size = segment.SegmentSizeInBytes;
            for (long position = await LookupPositionAsync(prefix, segment, startOffset, cancellationToken); position + RecordBatchHeader.Size <= size;)
            {
                await ReadRangeAsync(prefix, size, position, header, cancellationToken);
                var batch = RecordBatchHeader.Read(header);
                if (batch.TotalSize < RecordBatchHeader.Size || position + batch.TotalSize > size)
                    throw new OrleansStreamException(ErrorCode.CorruptMessage, $"Tiered segment {prefix}.log has a torn batch at position {position}.");
                if (batch.LastOffset >= logStart && batch.BaseOffset < localStart && batch.MaxTimestamp >= timestampMs)
                    return new TimestampOffset(batch.MaxTimestamp, Math.Max(batch.BaseOffset, logStart));
                position += batch.TotalSize;
            }
        }
        return null;
    }

    /// <summary>
    /// Prepares an empty (new or rebuilt) replica to follow without downloading tiered history (Kafka's
    /// buildRemoteLogAuxState): it restarts at the leader's local log start and learns the leader epoch there from the
    /// manifest. Returns the offset to fetch from.
    /// </summary>
    public static async Task<long> PrepareFollowerAsync(
        PartitionLog follower, string topic, int partition, ITierStore store, long leaderLocalLogStartOffset, CancellationToken cancellationToken = default)
    {
        if (follower.LogEndOffset >= leaderLocalLogStartOffset && follower.LocalLogStartOffset <= leaderLocalLogStartOffset)
            return follower.LogEndOffset;
        var manifest = (await VersionedManifest.LoadAsync(store, topic, partition, cancellationToken)).Manifest;
        var remoteStart = manifest.RemoteLogStartOffset();
        var logStart = remoteStart >= 0 && remoteStart < leaderLocalLogStartOffset ? remoteStart : leaderLocalLogStartOffset;
        follower.TruncateFullyAndStartAt(leaderLocalLogStartOffset, logStart);
        var epoch = -1;
        foreach (var s in manifest.Segments)
        {
            if (s.State != RemoteLogSegmentState.CopySegmentFinished) continue;
            foreach (var e in s.SegmentLeaderEpochs)
                if (e.StartOffset < leaderLocalLogStartOffset && e.Epoch > epoch) epoch = e.Epoch;
        }
        if (epoch >= 0) follower.LeaderEpochCache.Assign(epoch, leaderLocalLogStartOffset);
        return leaderLocalLogStartOffset;
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
    private static byte[] EpochCheckpoint(IReadOnlyList<EpochStart> epochs)
    {
        var text = new StringBuilder().Append("0\n").Append(epochs.Count.ToString(CultureInfo.InvariantCulture)).Append('\n');
        foreach (var e in epochs)
            text.Append(e.Epoch.ToString(CultureInfo.InvariantCulture)).Append(' ').Append(e.StartOffset.ToString(CultureInfo.InvariantCulture)).Append('\n');
        return Encoding.ASCII.GetBytes(text.ToString());
    }

    private static string NewSegmentId() => Guid.NewGuid().ToString("N");

    /// <summary>Stops tiering for good; a pass already running finishes its current step and returns.</summary>
    public void Dispose() => _fenced = true;

    /// <summary>A growable byte buffer handing out its written prefix without a copy.</summary>
    private sealed class ArrayBufferWriterLite
    {
        private byte[] _buffer = [];

        public int Length { get; private set; }

        public ReadOnlyMemory<byte> WrittenMemory => _buffer.AsMemory(0, Length);

        public Memory<byte> GetMemory(int size)
        {
            if (_buffer.Length - Length < size)
                Array.Resize(ref _buffer, Math.Max(_buffer.Length * 2, Length + size));
            return _buffer.AsMemory(Length, size);
        }

        public void Advance(int count) => Length += count;
    }

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
