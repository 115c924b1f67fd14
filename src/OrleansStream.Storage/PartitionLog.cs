using System.Buffers;
using System.Buffers.Binary;
using OrleansStream.Records;
using OrleansStream.Storage.Producers;

namespace OrleansStream.Storage;

/// <summary>
/// A partition's log on local disk (Kafka's UnifiedLog/LocalLog): an ordered list of <see cref="LogSegment"/>s in one
/// directory, the offsets that frame them, the leader-epoch cache, the partition checkpoint and the producer state
/// (Kafka's ProducerStateManager: idempotent producers' sequences, open transactions), which every append, roll,
/// truncation and retention pass keeps in step with the log.
/// Used by one grain at a time: appends and maintenance are never concurrent; a read may run between appends. One open
/// log per directory: it holds the directory's <see cref="LogDirectoryLock"/> until closed.
/// Background work runs on the scheduler given at open (Kafka's KafkaScheduler): the fsync of a segment a roll closed,
/// and the cleaner's rewrite of closed segments.
/// </summary>
public sealed class PartitionLog : IDisposable
{
    /// <summary>Kafka's clean shutdown marker: present only while the log is closed cleanly.</summary>
    public const string CleanShutdownFileName = ".kafka_cleanshutdown";

    private readonly List<LogSegment> _segments;
    private readonly TimeProvider _time;
    private readonly TaskScheduler _scheduler;
    private readonly ProducerStateManager _producerState;
    // Guards the recovery point and checkpoint writes, which a roll's background flush also makes.
    private readonly Lock _checkpointLock = new();
    private long _recoveryPoint;
    private int _truncations;
    private Task _pendingFlush = Task.CompletedTask;
    private Task _pendingWriteback = Task.CompletedTask;
    private long _writebackStartedBytes;
    private Exception? _flushError;
    private LogToClean? _cleaning;
    private Task? _cleaner;
    private long _unflushedMessages;
    private long _lastFlushMs;
    private bool _disposed;
    private PartitionCheckpoint? _lastCheckpoint;
    private readonly LogDirectoryLock _directoryLock;

    // Bytes read per step when the producer state replays the log.
    private const int ProducerStateReplayBytes = 1024 * 1024;

    private PartitionLog(string directory, LogConfig config, TimeProvider time, TaskScheduler scheduler, LoadedLog loaded,
        ProducerStateManagerConfig? producerStateConfig, LogDirectoryLock directoryLock)
    {
        Directory = directory;
        _directoryLock = directoryLock;
        Config = config;
        _time = time;
        _scheduler = scheduler;
        _segments = loaded.Segments;
        LogStartOffset = loaded.LogStartOffset;
        LogEndOffset = loaded.LogEndOffset;
        HighWatermark = loaded.HighWatermark;
        _recoveryPoint = loaded.RecoveryPoint;
        _lastCheckpoint = loaded.Checkpoint;
        LeaderEpochCache = new LeaderEpochFileCache(directory, () => LogEndOffset);
        LeaderEpochCache.TruncateFromEnd(LogEndOffset);
        LeaderEpochCache.TruncateFromStart(LogStartOffset);
        _producerState = new ProducerStateManager(directory, producerStateConfig, time);
        LoadProducerState(loaded.CleanShutdown);
    }

    public string Directory { get; }
    public LogConfig Config { get; private set; }
    public LeaderEpochFileCache LeaderEpochCache { get; }

    /// <summary>
    /// Appended bytes of the active segment between two starts of their write-out to the device (Linux
    /// <c>sync_file_range</c>, run on the background scheduler, one after another; see <see cref="SegmentWriteback"/>);
    /// 0, the default, leaves the writing to the kernel's own writeback. Makes nothing durable.
    /// </summary>
    public long WritebackBytes
    {
        get;
        set => field = value >= 0 ? value : throw new ArgumentOutOfRangeException(nameof(value), value, "must not be negative");
    }

    /// <summary>Bytes whose write-out to the device this log started (<see cref="WritebackBytes"/>).</summary>
    public long WritebackStartedBytes => Interlocked.Read(ref _writebackStartedBytes);

    /// <summary>The producer state for this log's end offset (Kafka's UnifiedLog.producerStateManager).</summary>
    public ProducerStateManager ProducerStateManager => _producerState;

    /// <summary>The first offset a consumer may read (Kafka's logStartOffset).</summary>
    public long LogStartOffset { get; private set; }

    /// <summary>The next offset to assign.</summary>
    public long LogEndOffset { get; private set; }

    /// <summary>The offset every in-sync replica has; consumers read below it.</summary>
    public long HighWatermark { get; private set; }

    /// <summary>
    /// Kafka's lastStableOffset: the high watermark, or the first offset of an undecided (or not yet replicated)
    /// transaction below it. read_committed consumers read below it.
    /// </summary>
    public long LastStableOffset => _producerState.FirstUnstableOffset is { } unstable ? Math.Min(unstable, HighWatermark) : HighWatermark;

    /// <summary>The first offset held on local disk; below it the data lives only in the tier.</summary>
    public long LocalLogStartOffset => Math.Max(_segments[0].BaseOffset, LogStartOffset);

    public int SegmentCount => _segments.Count;

    /// <summary>Kafka's recoveryPoint: everything below it is fsynced; an unclean open scans the segments from it on.</summary>
    public long RecoveryPoint
    {
        get
        {
            lock (_checkpointLock)
                return _recoveryPoint;
        }
    }

    public long SizeInBytes
    {
        get
        {
            long size = 0;
            foreach (var segment in _segments)
                size += segment.Size;
            return size;
        }
    }

    /// <summary>
    /// The bytes of the segment files in a partition directory, read from the directory without opening its log (what
    /// <see cref="SizeInBytes"/> says of an open one); null when the directory is gone. A segment deleted meanwhile
    /// (retention) no longer counts, and a cleaner's <c>.log.cleaned</c> is not a segment yet.
    /// </summary>
    public static long? SegmentBytesIn(string directory)
    {
        long size = 0;
        try
        {
            foreach (var file in new DirectoryInfo(directory).EnumerateFiles("*" + LogSegment.LogSuffix))
            {
                if (!file.Name.EndsWith(LogSegment.LogSuffix, StringComparison.Ordinal)) continue;
                try
                {
                    size += file.Length;
                }
                catch (FileNotFoundException)
                {
                    // Deleted by retention meanwhile: no longer part of the log.
                }
            }
        }
        catch (DirectoryNotFoundException)
        {
            return null;
        }
        return size;
    }

    /// <summary>Every local segment in offset order, the active one last with <see cref="LogSegmentInfo.IsActive"/>.</summary>
    public IReadOnlyList<LogSegmentInfo> Segments
    {
        get
        {
            var infos = new LogSegmentInfo[_segments.Count];
            for (var i = 0; i < infos.Length; i++)
            {
                var isActive = i == infos.Length - 1;
                infos[i] = _segments[i].ToInfo(isActive ? LogEndOffset : _segments[i + 1].BaseOffset, isActive);
            }
            return infos;
        }
    }

    private LogSegment Active => _segments[^1];
    private long NowMs => _time.GetUtcNow().ToUnixTimeMilliseconds();

    /// <summary>
    /// Opens the log in <paramref name="directory"/>, creating it when absent. Recovery: the active segment is always
    /// scanned (and after an unclean shutdown every segment from the recovery point on); a torn or corrupt tail is cut
    /// and missing or damaged indexes are rebuilt. Background work runs on <paramref name="scheduler"/>, the thread pool
    /// by default (never the caller's, which may be a grain's). The producer state is loaded from the latest snapshot
    /// and the log after it replayed.
    /// <para>
    /// The log owns the directory's <see cref="LogDirectoryLock"/> until it is closed or deleted: the one given in
    /// <paramref name="directoryLock"/> (released here if the open fails), or one taken here, which throws
    /// <see cref="LogDirectoryInUseException"/> while another log has the directory open.
    /// </para>
    /// </summary>
    public static PartitionLog Open(string directory, LogConfig config, TimeProvider? time = null, TaskScheduler? scheduler = null,
        ProducerStateManagerConfig? producerStateConfig = null, LogDirectoryLock? directoryLock = null)
    {
        var path = LogDirectoryLock.FullPath(directory);
        var held = directoryLock ?? LogDirectoryLock.Acquire(path);
        try
        {
            if (held.Directory != path)
                throw new ArgumentException($"The lock of {held.Directory} does not cover {path}.", nameof(directoryLock));
            ArgumentNullException.ThrowIfNull(config);
            config.Validate();
            time ??= TimeProvider.System;
            var nowMs = time.GetUtcNow().ToUnixTimeMilliseconds();
            var loaded = LogLoader.Load(path, config, nowMs);
            try
            {
                var log = new PartitionLog(path, config, time, scheduler ?? TaskScheduler.Default, loaded, producerStateConfig, held);
                // Removed only now: a crash during recovery must recover again.
                File.Delete(Path.Combine(path, CleanShutdownFileName));
                log._lastFlushMs = nowMs;
                return log;
            }
            catch
            {
                foreach (var segment in loaded.Segments)
                    segment.Dispose();
                throw;
            }
        }
        catch
        {
            held.Dispose();
            throw;
        }
    }

    public void UpdateConfig(LogConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        Config = config;
    }

    /// <summary>Sets the high watermark, clamped to [LogStartOffset, LogEndOffset]; checkpointed on flush and close.</summary>
    public void UpdateHighWatermark(long hw)
    {
        HighWatermark = Math.Clamp(hw, LogStartOffset, LogEndOffset);
        _producerState.OnHighWatermarkUpdated(HighWatermark);
    }

    /// <summary>
    /// Kafka's rebuildProducerState at open: snapshots that match no segment go, the latest one left is loaded, the log
    /// after it is replayed (rebuilding the <c>.txnindex</c> of what it replays) and a snapshot taken at the log end.
    /// </summary>
    private void LoadProducerState(bool cleanShutdown)
    {
        var baseOffsets = new long[_segments.Count];
        for (var i = 0; i < baseOffsets.Length; i++)
            baseOffsets[i] = _segments[i].BaseOffset;
        _producerState.RemoveStraySnapshots(baseOffsets);
        if (!cleanShutdown)
            RebuildTxnIndexesAfterRecoveryPoint();
        ReloadProducerState();
        _producerState.TakeSnapshot();
        _producerState.OnHighWatermarkUpdated(HighWatermark);
    }

    /// <summary>
    /// After an unclean shutdown the <c>.txnindex</c> of a segment above the recovery point may not have reached the
    /// disk although a later snapshot did. As Kafka's recovery of those segments, a replay from the snapshot at or below
    /// the recovery point's segment rebuilds them; the state is then loaded again from the latest snapshot.
    /// </summary>
    private void RebuildTxnIndexesAfterRecoveryPoint()
    {
        var from = _segments[Math.Max(0, FloorSegment(RecoveryPoint))].BaseOffset;
        if ((_producerState.LatestSnapshotOffset ?? long.MinValue) <= from)
            return; // the replay from the latest snapshot covers them
        _producerState.ReloadFromSnapshotAtOrBelow(from, LogStartOffset);
        ReplayProducerState();
        _producerState.ReloadFromSnapshotAtOrBelow(LogEndOffset, LogStartOffset);
    }

    /// <summary>
    /// Kafka's truncateAndReload then loadProducersFromRecords up to the log end offset. The aborted transactions whose
    /// markers the replay passes are indexed again (Kafka's LogSegment.recover rebuilds the <c>.txnindex</c> the same way).
    /// </summary>
    private void ReloadProducerState()
    {
        _producerState.TruncateAndReload(LogStartOffset, LogEndOffset);
        ReplayProducerState();
    }

    private void ReplayProducerState()
    {
        // Below the local log start the batches live only in the tier: the state starts from what is local.
        if (_producerState.MapEndOffset < LocalLogStartOffset)
            _producerState.UpdateMapEndOffset(LocalLogStartOffset);
        var replayStart = _producerState.MapEndOffset;
        if (replayStart < LogEndOffset)
        {
            for (var i = Math.Max(0, FloorSegment(replayStart)); i < _segments.Count; i++)
                _segments[i].TxnIndex.TruncateTo(replayStart);
        }
        while (_producerState.MapEndOffset < LogEndOffset)
        {
            var chunk = Read(_producerState.MapEndOffset, ProducerStateReplayBytes);
            if (chunk.IsEmpty)
                break;
            UpdateTxnIndex(_producerState.LoadProducersFromRecords(chunk.Span));
        }
        _producerState.UpdateMapEndOffset(LogEndOffset);
    }

    /// <summary>Indexes each aborted transaction in the segment that holds its marker.</summary>
    private void UpdateTxnIndex(ReadOnlySpan<TxnCompletion> completions)
    {
        foreach (var completion in completions)
            _segments[FloorSegment(completion.Txn.LastOffset)].UpdateTxnIndex(completion);
    }

    /// <summary>
    /// Appends producer batches as the leader: validates every batch (length, magic, CRC, <c>max.message.bytes</c>,
    /// offsets), assigns offsets from <see cref="LogEndOffset"/>, stamps base offset and leader epoch (and the
    /// append time for LogAppendTime topics), and checks idempotent batches against the producer state
    /// (<c>OutOfOrderSequenceNumber</c>, <c>InvalidProducerEpoch</c>, ...). A retry of one of a producer's last batches
    /// is not written again: the answer carries the original offsets and <see cref="LogAppendInfo.IsDuplicate"/>.
    /// All or nothing: on error the log is unchanged.
    /// </summary>
    public LogAppendInfo AppendAsLeader(ReadOnlySpan<byte> batches, int leaderEpoch, AppendOrigin origin = AppendOrigin.Client)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(batches.Length);
        try
        {
            var stamped = buffer.AsSpan(0, batches.Length);
            batches.CopyTo(stamped);
            return AppendAsLeaderInPlace(stamped, leaderEpoch, origin);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// <see cref="AppendAsLeader"/> stamping the caller's <paramref name="batches"/> themselves, for a caller that owns
    /// them and is done with them after the append (a produce request's records): no copy of the batches, and no rent
    /// of a buffer their size. Bad input is refused before anything is written into them; after a refusal for the
    /// producer state they may hold offsets, as the log does not.
    /// </summary>
    public LogAppendInfo AppendAsLeaderInPlace(Span<byte> batches, int leaderEpoch, AppendOrigin origin = AppendOrigin.Client)
    {
        ThrowIfDisposed();
        if (leaderEpoch < 0)
            throw new OrleansStreamException(ErrorCode.InvalidRequest, $"Leader epoch {leaderEpoch} is negative.");
        var summary = LogValidator.Validate(batches, Config, asLeader: true, origin);
        var logAppendTime = Config.MessageTimestampType == TimestampType.LogAppendTime ? NowMs : -1;
        var next = LogValidator.AssignOffsets(batches, LogEndOffset, leaderEpoch, logAppendTime, out var maxTimestamp);
        var firstOffset = LogEndOffset;
        if (summary.ProducerBatches > 0 && AnalyzeProducerState(batches, origin, out var duplicate))
        {
            return new LogAppendInfo(duplicate.FirstOffset, duplicate.LastOffset, duplicate.Timestamp,
                logAppendTime >= 0 ? duplicate.Timestamp : -1, 0, 0, 0, IsDuplicate: true);
        }
        WriteAndCompleteProducerState(batches, firstOffset, next - 1, maxTimestamp, summary.Records);
        LeaderEpochCache.Assign(leaderEpoch, firstOffset);
        return new LogAppendInfo(firstOffset, next - 1, maxTimestamp, logAppendTime, summary.Records, summary.Batches, batches.Length);
    }

    /// <summary>
    /// Appends batches fetched from the leader as they are: offsets and epochs kept, the first batch must start at or
    /// after <see cref="LogEndOffset"/> (after compaction the leader may have gaps) and offsets must increase.
    /// </summary>
    public LogAppendInfo AppendAsFollower(ReadOnlySpan<byte> batches)
    {
        ThrowIfDisposed();
        var summary = LogValidator.Validate(batches, Config, asLeader: false);
        if (summary.FirstOffset < LogEndOffset)
        {
            throw new OrleansStreamException(ErrorCode.OffsetOutOfRange,
                $"Follower append starts at offset {summary.FirstOffset}, below the log end offset {LogEndOffset}.");
        }
        // A follower applies the leader's decisions, so a new leader already knows every producer; it never sees duplicates.
        if (summary.ProducerBatches > 0)
            AnalyzeProducerState(batches, AppendOrigin.Replication, out _);
        WriteAndCompleteProducerState(batches, summary.FirstOffset, summary.LastOffset, summary.MaxTimestamp, summary.Records);
        for (var position = 0; position < batches.Length;)
        {
            var batch = batches[position..];
            var epoch = BinaryPrimitives.ReadInt32BigEndian(batch[RecordBatchHeader.PartitionLeaderEpochOffset..]);
            if (epoch > LeaderEpochCache.LatestEpoch)
                LeaderEpochCache.Assign(epoch, BinaryPrimitives.ReadInt64BigEndian(batch));
            position += RecordBatchHeader.PeekTotalSize(batch);
        }
        return new LogAppendInfo(summary.FirstOffset, summary.LastOffset, summary.MaxTimestamp, -1, summary.Records, summary.Batches, batches.Length);
    }

    /// <summary>
    /// Kafka's analyzeAndValidateProducerState over batches whose offsets are assigned. True when the append repeats
    /// one of a producer's last batches (<paramref name="duplicate"/>: write nothing); a producer-state error throws.
    /// Either way the manager has already abandoned the append.
    /// </summary>
    private bool AnalyzeProducerState(ReadOnlySpan<byte> batches, AppendOrigin origin, out BatchMetadata duplicate)
    {
        for (var position = 0; position < batches.Length;)
        {
            var size = RecordBatchHeader.PeekTotalSize(batches[position..]);
            var check = _producerState.Analyze(batches.Slice(position, size), origin);
            if (check.Error != ErrorCode.None)
                throw new OrleansStreamException(check.Error, check.Message!);
            if (check.Duplicate is { } found)
            {
                duplicate = found;
                return true;
            }
            position += size;
        }
        duplicate = default;
        return false;
    }

    /// <summary>Writes an analyzed append and applies it to the producer state (Kafka: producerStateManager.update after the segment append).</summary>
    private void WriteAndCompleteProducerState(ReadOnlySpan<byte> batches, long firstOffset, long lastOffset, long maxTimestamp, int records)
    {
        try
        {
            WriteToActive(batches, firstOffset, lastOffset, maxTimestamp, records);
        }
        catch
        {
            _producerState.AbandonAppend();
            throw;
        }
        UpdateTxnIndex(_producerState.CompleteAppend(lastOffset + 1));
    }

    private void WriteToActive(ReadOnlySpan<byte> batches, long firstOffset, long lastOffset, long maxTimestamp, int records)
    {
        if (Volatile.Read(ref _flushError) is { } flushError)
            throw new OrleansStreamException(ErrorCode.KafkaStorageError, $"Flushing a closed segment of {Directory} failed: {flushError.Message}", flushError);
        var nowMs = NowMs;
        MaybeRoll(batches.Length, firstOffset, lastOffset, maxTimestamp, nowMs);
        var segment = Active;
        var sizeBefore = segment.Size;
        try
        {
            segment.Append(batches);
        }
        catch (IOException e)
        {
            TryCutBack(segment, sizeBefore);
            throw new OrleansStreamException(ErrorCode.KafkaStorageError, $"Appending to {segment.LogPath} failed: {e.Message}", e);
        }
        LogEndOffset = lastOffset + 1;
        if (segment.TakeWriteback(WritebackBytes) is { } writeback) ScheduleWriteback(writeback);
        _unflushedMessages += records;
        if (_unflushedMessages >= Config.FlushMessages || nowMs - _lastFlushMs >= Config.FlushMs)
            Flush();
    }

    private static void TryCutBack(LogSegment segment, long size)
    {
        try
        {
            using var handle = File.OpenHandle(segment.LogPath, FileMode.Open, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete);
            RandomAccess.SetLength(handle, size);
        }
        catch (IOException)
        {
            // The next open's recovery cuts whatever is left past the valid end.
        }
    }

    /// <summary>Kafka's maybeRoll: by <c>segment.bytes</c>, <c>segment.ms</c>, a full index or relative-offset overflow.</summary>
    private void MaybeRoll(int bytes, long firstOffset, long lastOffset, long maxTimestamp, long nowMs)
    {
        var segment = Active;
        var overflow = lastOffset - segment.BaseOffset > int.MaxValue || firstOffset < segment.BaseOffset;
        var roll = overflow
            || (segment.Size > 0 && (segment.Size > Config.SegmentBytes - (long)bytes
                || segment.TimeWaitedForRoll(nowMs, maxTimestamp) > Config.SegmentMs
                || segment.IndexIsFull));
        if (roll)
            RollAt(Math.Max(firstOffset, LogEndOffset));
    }

    /// <summary>Closes the active segment (fsynced in the background) and starts a new one at the log end offset. No-op when it is empty.</summary>
    public void Roll()
    {
        ThrowIfDisposed();
        if (Active.Size > 0)
            RollAt(LogEndOffset);
    }

    private void RollAt(long baseOffset)
    {
        var previous = Active;
        if (previous.Size == 0)
        {
            if (previous.BaseOffset == baseOffset)
                return;
            previous.Delete();
            _segments.RemoveAt(_segments.Count - 1);
        }
        else
        {
            previous.OnBecomeInactive();
        }
        _segments.Add(LogSegment.Create(Directory, baseOffset, Config, NowMs));
        // Kafka's roll: a producer snapshot at the new segment's base, so an open replays at most the active segment.
        _producerState.UpdateMapEndOffset(baseOffset);
        var snapshot = _producerState.TakeSnapshot(sync: false);
        if (previous.Size > 0)
            ScheduleFlush(previous, baseOffset, snapshot);
    }

    /// <summary>
    /// Kafka's roll → <c>scheduler.scheduleOnce("flush-log")</c>: the closed segment is fsynced off the appender's turn,
    /// and only then does the recovery point pass it. Flushes run one after another, so the recovery point only grows
    /// over fsynced segments; a truncation meanwhile voids the advance (the offsets it covered may be rewritten).
    /// The roll's producer snapshot is fsynced with it.
    /// </summary>
    private void ScheduleFlush(LogSegment closed, long upTo, string? snapshot)
    {
        var truncations = _truncations;
        _pendingFlush = _pendingFlush.ContinueWith(
            static (_, state) =>
            {
                var (log, segment, offset, generation, snapshotPath) = ((PartitionLog, LogSegment, long, int, string?))state!;
                log.FlushRolledSegment(segment, offset, generation, snapshotPath);
            },
            (this, closed, upTo, truncations, snapshot), CancellationToken.None, TaskContinuationOptions.None, _scheduler);
    }

    private void FlushRolledSegment(LogSegment closed, long upTo, int truncations, string? snapshot)
    {
        try
        {
            closed.FlushClosed();
            FlushSnapshot(snapshot);
            lock (_checkpointLock)
            {
                if (truncations != _truncations || _disposed)
                    return;
                _recoveryPoint = Math.Max(_recoveryPoint, upTo);
                WriteCheckpointLocked();
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Kafka takes the log directory offline; here every later append fails with a storage error.
            Volatile.Write(ref _flushError, e);
        }
    }

    private static void FlushSnapshot(string? path)
    {
        if (path is null)
            return;
        try
        {
            ProducerStateSnapshot.Flush(path);
        }
        catch (FileNotFoundException)
        {
            // A truncation or retention deleted it meanwhile: nothing left to make durable.
        }
    }

    // Not waited for at close: each request holds its file open until it has run, and it only starts a write.
    private void ScheduleWriteback(SegmentWriteback writeback) =>
        _pendingWriteback = _pendingWriteback.ContinueWith(
            static (_, state) =>
            {
                var (log, request) = ((PartitionLog, SegmentWriteback))state!;
                if (request.Run()) Interlocked.Add(ref log._writebackStartedBytes, request.Count);
            },
            (this, writeback), CancellationToken.None, TaskContinuationOptions.None, _scheduler);

    /// <summary>Waits for the flushes rolls left in the background (close and delete must not race them).</summary>
    private void WaitForPendingFlushes() => _pendingFlush.Wait();

    /// <summary>
    /// Whole batches from the one holding <paramref name="offset"/>, up to <paramref name="maxBytes"/> but always at
    /// least one batch if one lies below <paramref name="maxOffsetExclusive"/> (Kafka's minOneMessage). Empty at the
    /// log end. Stays within one segment, as Kafka's reads do.
    /// </summary>
    public ReadOnlyMemory<byte> Read(long offset, int maxBytes, long maxOffsetExclusive = long.MaxValue)
    {
        if (!TryLocateRead(offset, maxBytes, maxOffsetExclusive, out var segment, out var first, out var length))
            return ReadOnlyMemory<byte>.Empty;
        var buffer = GC.AllocateUninitializedArray<byte>(length); // filled by the read; the tail past whole batches is not exposed
        var read = segment.Read(first, buffer, maxOffsetExclusive);
        return buffer.AsMemory(0, read);
    }

    /// <summary>
    /// <see cref="Read(long, int, long)"/> into an array rented from the pool, for reads that leave through a grain call
    /// (a fetch answer): the caller owns the result and disposes it, so a steady fetch load allocates no array per read.
    /// </summary>
    public PooledRecords ReadPooled(long offset, int maxBytes, long maxOffsetExclusive = long.MaxValue)
    {
        if (!TryLocateRead(offset, maxBytes, maxOffsetExclusive, out var segment, out var first, out var length))
            return PooledRecords.Empty;
        var records = PooledRecords.Rent(length);
        int read;
        try
        {
            read = segment.Read(first, records.WritableSpan, maxOffsetExclusive);
        }
        catch
        {
            records.Dispose();
            throw;
        }
        if (read > 0)
        {
            records.Truncate(read);
            return records;
        }
        records.Dispose();
        return PooledRecords.Empty;
    }

    private bool TryLocateRead(long offset, int maxBytes, long maxOffsetExclusive, out LogSegment segment, out BatchLocation first, out int length)
    {
        ThrowIfDisposed();
        ArgumentOutOfRangeException.ThrowIfNegative(maxBytes);
        length = 0;
        if (!TryLocate(offset, out segment, out first) || first.LastOffset >= maxOffsetExclusive)
            return false;
        length = (int)Math.Min(segment.Size - first.Position, Math.Max(maxBytes, first.Size));
        return true;
    }

    /// <summary>
    /// Kafka's UnifiedLog.read for a consumer: whole batches from the one holding <paramref name="offset"/>, up to
    /// <paramref name="maxBytes"/> (at least one batch), below the high watermark, or for
    /// <see cref="FetchIsolation.TxnCommitted"/> below the last stable offset with the aborted transactions that overlap
    /// what was read.
    /// </summary>
    public FetchDataInfo Read(long offset, int maxBytes, FetchIsolation isolation)
    {
        var records = ReadPooled(offset, maxBytes, FetchUpperBound(isolation));
        if (isolation != FetchIsolation.TxnCommitted || records.IsEmpty)
            return new FetchDataInfo(records);
        var aborted = new List<AbortedTxn>();
        CollectAbortedTransactions(offset, NextOffsetAfter(records.Span), aborted);
        return new FetchDataInfo(records, aborted.Count == 0 ? null : aborted);
    }

    /// <summary>The offset a read with <paramref name="isolation"/> stops before (Kafka's fetch upper bound).</summary>
    public long FetchUpperBound(FetchIsolation isolation) => isolation switch
    {
        FetchIsolation.LogEnd => LogEndOffset,
        FetchIsolation.HighWatermark => HighWatermark,
        _ => LastStableOffset,
    };

    /// <summary>
    /// Kafka's collectAbortedTransactions over the local segments: adds the aborted transactions that overlap
    /// [<paramref name="startOffset"/>, <paramref name="upperBoundOffset"/>) to <paramref name="into"/>, searching the
    /// segment that holds <paramref name="startOffset"/> and those after it until an entry's last stable offset reaches
    /// the bound. True when the search completed.
    /// </summary>
    public bool CollectAbortedTransactions(long startOffset, long upperBoundOffset, List<AbortedTxn> into)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(into);
        for (var i = Math.Max(0, FloorSegment(startOffset)); i < _segments.Count; i++)
        {
            if (_segments[i].TxnIndex.CollectAbortedTxns(startOffset, upperBoundOffset, into))
                return true;
        }
        return false;
    }

    /// <summary>The offset after the last of whole <paramref name="batches"/>.</summary>
    public static long NextOffsetAfter(ReadOnlySpan<byte> batches)
    {
        long next = -1;
        for (var position = 0; position + RecordBatchHeader.Size <= batches.Length;)
        {
            var batch = batches[position..];
            next = BinaryPrimitives.ReadInt64BigEndian(batch) + BinaryPrimitives.ReadInt32BigEndian(batch[RecordBatchHeader.LastOffsetDeltaOffset..]) + 1;
            position += RecordBatchHeader.PeekTotalSize(batch);
        }
        return next;
    }

    /// <summary>The aborted transactions indexed in the local segment based at <paramref name="baseOffset"/>, as the <c>.txnindex</c> file holds them.</summary>
    public byte[] ReadTxnIndex(long baseOffset)
    {
        ThrowIfDisposed();
        var index = FloorSegment(baseOffset);
        return index >= 0 && _segments[index].BaseOffset == baseOffset ? _segments[index].TxnIndex.ToArray() : [];
    }

    /// <summary>
    /// Zero-copy read into <paramref name="destination"/>: returns the bytes of whole batches written, 0 when there is
    /// nothing to read, or the negated size of the first batch when it alone does not fit (retry with a larger buffer).
    /// </summary>
    public int Read(long offset, Span<byte> destination, long maxOffsetExclusive = long.MaxValue)
    {
        ThrowIfDisposed();
        if (!TryLocate(offset, out var segment, out var first))
            return 0;
        return segment.Read(first, destination, maxOffsetExclusive);
    }

    private bool TryLocate(long offset, out LogSegment segment, out BatchLocation first)
    {
        if (offset < LogStartOffset || offset > LogEndOffset)
        {
            throw new OrleansStreamException(ErrorCode.OffsetOutOfRange,
                $"Offset {offset} is outside the log [{LogStartOffset}, {LogEndOffset}].");
        }
        if (offset < LocalLogStartOffset)
        {
            throw new OrleansStreamException(ErrorCode.OffsetOutOfRange,
                $"Offset {offset} is below the local log start {LocalLogStartOffset}; it is held in tiered storage.");
        }
        if (offset < LogEndOffset)
        {
            for (var i = Math.Max(0, FloorSegment(offset)); i < _segments.Count; i++)
            {
                segment = _segments[i];
                if (segment.TryFindBatch(offset, out first))
                    return true;
            }
        }
        segment = Active;
        first = default;
        return false;
    }

    /// <summary>
    /// Kafka's fetchOffsetByTimestamp: the first record (at or after the log start) whose timestamp is &gt;=
    /// <paramref name="timestampMs"/>, as (its timestamp, its offset); null if none.
    /// </summary>
    public TimestampOffset? FindOffsetByTimestamp(long timestampMs)
    {
        ThrowIfDisposed();
        foreach (var segment in _segments)
        {
            if (segment.Size == 0 || segment.MaxTimestamp < timestampMs)
                continue;
            var found = segment.FindOffsetByTimestamp(timestampMs, LogStartOffset);
            if (found is not null)
                return found;
        }
        return null;
    }

    /// <summary>
    /// The largest batch timestamp of the local log (-1 if none), from each segment's max timestamp (its time index's
    /// last entry for a closed one): KIP-734's MAX_TIMESTAMP is the first record at or after it.
    /// </summary>
    public long MaxTimestamp
    {
        get
        {
            ThrowIfDisposed();
            var max = -1L;
            foreach (var segment in _segments)
                if (segment.Size > 0) max = Math.Max(max, segment.MaxTimestamp);
            return max;
        }
    }

    /// <summary>
    /// Drops everything at and after <paramref name="offset"/> (a follower's divergence, Kafka's truncateTo). A batch
    /// that holds the offset goes whole, so the new log end offset may be below it.
    /// </summary>
    public void TruncateTo(long offset)
    {
        ThrowIfDisposed();
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        if (offset >= LogEndOffset)
        {
            // Kafka's truncateTo: an epoch this replica led without appending starts at the log end and must go, or the
            // leader answers every fetch naming it with a divergence at the log end.
            LeaderEpochCache.TruncateFromEnd(LogEndOffset);
            return;
        }
        if (offset < LogStartOffset)
        {
            TruncateFullyAndStartAt(offset);
            return;
        }
        var wasActive = Active;
        while (_segments.Count > 1 && Active.BaseOffset > offset)
        {
            Active.Delete();
            _segments.RemoveAt(_segments.Count - 1);
        }
        var active = ReferenceEquals(Active, wasActive) ? Active : DetachSegment(_segments.Count - 1);
        active.TruncateTo(offset);
        LogEndOffset = active.Size == 0 ? active.BaseOffset : active.NextOffset;
        HighWatermark = Math.Min(HighWatermark, LogEndOffset);
        lock (_checkpointLock)
        {
            _truncations++;
            _recoveryPoint = Math.Min(_recoveryPoint, LogEndOffset);
        }
        LeaderEpochCache.TruncateFromEnd(LogEndOffset);
        WriteCheckpoint();
        ReloadProducerState();
    }

    /// <summary>Deletes every segment and restarts the empty log at <paramref name="offset"/> (Kafka's truncateFullyAndStartAt).</summary>
    public void TruncateFullyAndStartAt(long offset)
    {
        ThrowIfDisposed();
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        foreach (var segment in _segments)
            segment.Delete();
        _segments.Clear();
        _segments.Add(LogSegment.Create(Directory, offset, Config, NowMs));
        LogStartOffset = LogEndOffset = HighWatermark = offset;
        lock (_checkpointLock)
        {
            _truncations++;
            _recoveryPoint = offset;
        }
        LeaderEpochCache.Clear();
        WriteCheckpoint();
        _producerState.TruncateFullyAndStartAt(offset);
    }

    /// <summary>
    /// Tiering's variant (Kafka's buildRemoteLogAuxState): the empty log continues at <paramref name="localStartOffset"/>
    /// while the partition's history from <paramref name="logStartOffset"/> stays in the tier. Needs remote.storage.enable.
    /// </summary>
    public void TruncateFullyAndStartAt(long localStartOffset, long logStartOffset)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(logStartOffset);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(logStartOffset, localStartOffset);
        if (!Config.RemoteStorageEnable && logStartOffset != localStartOffset)
            throw new OrleansStreamException(ErrorCode.InvalidRequest, "Only a log with remote.storage.enable keeps history below its first segment.");
        TruncateFullyAndStartAt(localStartOffset);
        LogStartOffset = logStartOffset;
        WriteCheckpoint();
    }

    /// <summary>
    /// Tiering's producer side of buildRemoteLogAuxState: the producer snapshot the tier holds for the local log start
    /// becomes this (empty) log's state, so a replica rebuilt without the tiered history still knows every producer.
    /// </summary>
    public void RestoreProducerSnapshot(ReadOnlySpan<byte> snapshot)
    {
        ThrowIfDisposed();
        if (LocalLogStartOffset != LogEndOffset)
            throw new InvalidOperationException($"A producer snapshot is restored into an empty log; {Directory} holds [{LocalLogStartOffset}, {LogEndOffset}).");
        _producerState.TruncateFullyAndStartAt(LogEndOffset);
        ProducerStateSnapshot.WriteFile(Path.Combine(Directory, ProducerStateSnapshot.FileName(LogEndOffset)), snapshot);
        _producerState.TruncateFullyAndReloadSnapshots();
        ReloadProducerState();
    }

    /// <summary>
    /// fsync every segment from the recovery point on (closed ones whose background flush has not run yet included) and
    /// checkpoint the log start, high watermark and recovery point.
    /// </summary>
    public void Flush()
    {
        ThrowIfDisposed();
        for (var i = Math.Max(0, FloorSegment(RecoveryPoint)); i < _segments.Count - 1; i++)
            _segments[i].FlushClosed();
        Active.Flush();
        lock (_checkpointLock)
        {
            _recoveryPoint = LogEndOffset;
            WriteCheckpointLocked();
        }
        _unflushedMessages = 0;
        _lastFlushMs = NowMs;
    }

    private void WriteCheckpoint()
    {
        lock (_checkpointLock)
            WriteCheckpointLocked();
    }

    private void WriteCheckpointLocked()
    {
        var checkpoint = new PartitionCheckpoint(LogStartOffset, HighWatermark, _recoveryPoint);
        if (checkpoint == _lastCheckpoint)
            return;
        checkpoint.Write(Directory);
        _lastCheckpoint = checkpoint;
    }

    /// <summary>
    /// Kafka's deleteOldSegments: closed segments past <c>retention.ms</c> (by their newest timestamp) or beyond
    /// <c>retention.bytes</c> (oldest first) when the policy includes delete, and in every case segments wholly below
    /// the log start offset. Never the active segment. Advances <see cref="LogStartOffset"/>.
    /// </summary>
    public RetentionResult DeleteOldSegments()
    {
        ThrowIfDisposed();
        int deleted = 0;
        long bytes = 0;
        if ((Config.CleanupPolicy & CleanupPolicy.Delete) != 0)
        {
            if (Config.RetentionMs >= 0)
            {
                var nowMs = NowMs;
                // A closed segment compaction emptied holds nothing to keep, whatever its file time says.
                while (_segments.Count > 1 && (_segments[0].Size == 0 || nowMs - _segments[0].LargestTimestamp > Config.RetentionMs))
                    bytes += DeleteFirstSegment(ref deleted);
            }
            if (Config.RetentionBytes >= 0)
            {
                var excess = SizeInBytes - Config.RetentionBytes;
                while (_segments.Count > 1 && excess - _segments[0].Size >= 0)
                {
                    var size = DeleteFirstSegment(ref deleted);
                    bytes += size;
                    excess -= size;
                }
            }
        }
        while (_segments.Count > 1 && _segments[1].BaseOffset <= LogStartOffset)
            bytes += DeleteFirstSegment(ref deleted);
        if (deleted > 0)
        {
            LogStartOffset = Math.Max(LogStartOffset, _segments[0].BaseOffset);
            HighWatermark = Math.Max(HighWatermark, LogStartOffset);
            LeaderEpochCache.TruncateFromStart(LogStartOffset);
            WriteCheckpoint();
            OnLogStartOffsetIncremented();
        }
        return new RetentionResult(deleted, bytes, LogStartOffset);
    }

    private long DeleteFirstSegment(ref int deleted)
    {
        var segment = _segments[0];
        var size = segment.Size;
        _segments.RemoveAt(0);
        segment.Delete();
        deleted++;
        return size;
    }

    /// <summary>
    /// Kafka's DeleteRecords: moves the log start offset up to <paramref name="offset"/> (at most the log end) and
    /// deletes the segments wholly below it.
    /// </summary>
    public void DeleteRecordsBefore(long offset)
    {
        ThrowIfDisposed();
        if (offset > LogEndOffset)
        {
            throw new OrleansStreamException(ErrorCode.OffsetOutOfRange,
                $"Cannot move the log start offset to {offset}, past the log end offset {LogEndOffset}.");
        }
        if (offset <= LogStartOffset)
            return;
        LogStartOffset = offset;
        HighWatermark = Math.Max(HighWatermark, offset);
        LeaderEpochCache.TruncateFromStart(offset);
        while (_segments.Count > 1 && _segments[1].BaseOffset <= offset)
        {
            var ignored = 0;
            DeleteFirstSegment(ref ignored);
        }
        WriteCheckpoint();
        OnLogStartOffsetIncremented();
    }

    /// <summary>Kafka's producer-state side of a log start move: state below it goes, and the snapshots of deleted segments.</summary>
    private void OnLogStartOffsetIncremented()
    {
        _producerState.OnLogStartOffsetIncremented(LogStartOffset);
        _producerState.DeleteSnapshotsBefore(_segments[0].BaseOffset);
    }

    /// <summary>
    /// Removes local closed segments wholly below <paramref name="offset"/> whose data lives in the tier; the log start
    /// offset does not move, <see cref="LocalLogStartOffset"/> does.
    /// </summary>
    public void DeleteLocalSegmentsBefore(long offset)
    {
        ThrowIfDisposed();
        var deleted = 0;
        while (_segments.Count > 1 && _segments[1].BaseOffset <= offset)
            DeleteFirstSegment(ref deleted);
        if (deleted > 0)
        {
            WriteCheckpoint();
            _producerState.DeleteSnapshotsBefore(_segments[0].BaseOffset);
        }
    }

    /// <summary>
    /// Kafka's log compaction for <c>cleanup.policy</c> containing compact: over the closed segments whose newest
    /// timestamp is at least <c>min.compaction.lag.ms</c> old, keeps only the newest record of each key (offsets and
    /// order unchanged) and drops tombstones older than <c>delete.retention.ms</c>.
    /// <para>
    /// Kafka's cleaner threads: the segments are rewritten on the background scheduler, never on the caller's turn, and
    /// the cleaned copies are swapped in (Kafka's replaceSegments) when this resumes on the caller's context. Appends,
    /// reads, retention and truncation may run meanwhile: a copy whose original they removed or replaced is dropped,
    /// and so is every older one (a truncation may have removed the newer values they were cleaned against). Each copy
    /// replaces its original through renames, so a crash leaves the old or the new segment. One compaction at a time:
    /// a call while one runs returns an empty result.
    /// </para>
    /// </summary>
    public async Task<CompactionResult> CompactAsync()
    {
        ThrowIfDisposed();
        if ((Config.CleanupPolicy & CleanupPolicy.Compact) == 0 || _cleaning is not null)
            return default;
        var nowMs = NowMs;
        var cleanable = 0;
        // As in Kafka, the lag only holds segments back when it is set (producer clocks may run ahead of ours); an undecided
        // transaction holds back its segment and those after it (Kafka's firstUncleanableOffset), since whether its data
        // counts is not known yet.
        var firstUnstable = _producerState.FirstUnstableOffset ?? long.MaxValue;
        while (cleanable < _segments.Count - 1 && _segments[cleanable + 1].BaseOffset <= firstUnstable
            && (Config.MinCompactionLagMs == 0 || nowMs - _segments[cleanable].LargestTimestamp >= Config.MinCompactionLagMs))
        {
            cleanable++;
        }
        if (cleanable == 0)
            return default;

        // With history in the tier, older values of a key may live only there: a tombstone must outlive them, so it is
        // dropped only by the tier's compaction (RemoteLogManager), which sees the whole log.
        var tombstoneHorizonMs = LocalLogStartOffset > LogStartOffset ? long.MinValue : nowMs - Config.DeleteRetentionMs;
        using var cleaning = new LogToClean(Directory, Config, _segments, cleanable, nowMs, tombstoneHorizonMs, LastBatchOfProducers(),
            AbortedIn(_segments[0].BaseOffset, _segments[cleanable].BaseOffset));
        _cleaning = cleaning;
        try
        {
            _cleaner = Task.Factory.StartNew(static state => ((LogToClean)state!).Clean(), cleaning,
                cleaning.CancellationToken, TaskCreationOptions.DenyChildAttach, _scheduler);
            await _cleaner;
        }
        catch (OperationCanceledException) when (cleaning.IsCancelled)
        {
            return default;
        }
        finally
        {
            _cleaning = null;
            _cleaner = null;
        }
        return cleaning.IsCancelled || _disposed ? default : ReplaceSegments(cleaning);
    }

    /// <summary>The aborted transactions of the local range [<paramref name="from"/>, <paramref name="to"/>), for the cleaner.</summary>
    private AbortedBatches AbortedIn(long from, long to)
    {
        var aborted = new List<AbortedTxn>();
        CollectAbortedTransactions(from, to, aborted);
        return aborted.Count == 0 ? AbortedBatches.None : new AbortedBatches(aborted);
    }

    /// <summary>Kafka's lastRecordsOfActiveProducers, copied on the owner's turn for the cleaner's worker.</summary>
    private Dictionary<long, long> LastBatchOfProducers()
    {
        var lastBatches = new Dictionary<long, long>(_producerState.ProducerIdCount);
        foreach (var (producerId, entry) in _producerState.ActiveProducers)
        {
            if (!entry.IsEmpty)
                lastBatches[producerId] = entry.LastDataOffset;
        }
        return lastBatches;
    }

    /// <summary>
    /// Kafka's replaceSegments, on the owner's turn: each cleaned copy takes its original's place, newest first, as long
    /// as the original is still a closed segment of this log.
    /// </summary>
    private CompactionResult ReplaceSegments(LogToClean cleaning)
    {
        int swapped = 0;
        long removed = 0, tombstones = 0, before = 0, after = 0;
        for (var i = cleaning.Segments.Length - 1; i >= 0; i--)
        {
            var original = cleaning.Segments[i];
            var index = FloorSegment(original.BaseOffset);
            if (index < 0 || index == _segments.Count - 1 || !ReferenceEquals(_segments[index], original))
                break;
            before += cleaning.SizeBefore(i);
            if (cleaning.Cleaned[i] is not { } copy)
            {
                after += cleaning.SizeBefore(i);
                continue;
            }
            original.Dispose();
            File.Delete(original.OffsetIndexPath);
            File.Delete(original.TimeIndexPath);
            File.Move(copy.LogPath, original.LogPath, overwrite: true);
            File.Move(copy.OffsetIndexPath, original.OffsetIndexPath, overwrite: true);
            File.Move(copy.TimeIndexPath, original.TimeIndexPath, overwrite: true);
            cleaning.Taken(i);
            _segments[index] = LogSegment.Open(Directory, original.BaseOffset, Config, NowMs);
            swapped++;
            removed += copy.Stats.RecordsRemoved;
            tombstones += copy.Stats.TombstonesRemoved;
            after += copy.Size;
        }
        return new CompactionResult(swapped, removed, tombstones, before, after);
    }

    /// <summary>Stops a compaction in progress and waits for its worker (close and delete must not race it).</summary>
    private void StopCleaning()
    {
        if (_cleaning is not { } cleaning || _cleaner is not { } worker)
            return;
        cleaning.Cancel();
        try
        {
            worker.Wait();
        }
        catch (AggregateException)
        {
            // Cancelled or failed: either way it no longer writes, and its copies are deleted with it.
        }
        cleaning.Dispose();
    }

    /// <summary>Adds the newest offset of every key in the closed segments below the high watermark (the tier's compaction
    /// needs the committed local log's keys too).</summary>
    internal void AddCommittedKeysTo(Dictionary<byte[], long> map)
    {
        ThrowIfDisposed();
        var end = 0;
        while (end < _segments.Count - 1 && _segments[end + 1].BaseOffset <= HighWatermark)
            end++;
        var aborted = AbortedIn(_segments[0].BaseOffset, _segments[end].BaseOffset);
        for (var i = 0; i < end; i++)
            LogCleaner.AddToOffsetMap(map, _segments[i], aborted);
    }

    /// <summary>
    /// Gives a closed segment files of its own before the log changes it in place: the folder tier may hold its files
    /// as hard links, and a closed segment is otherwise immutable. The log is copied and its indexes rebuilt.
    /// </summary>
    private LogSegment DetachSegment(int index)
    {
        var copy = _segments[index].LogPath + ".detach.tmp";   // removed at open if a crash leaves it
        File.Copy(_segments[index].LogPath, copy, overwrite: true);
        return SwapLogFile(index, copy);
    }

    /// <summary>Puts <paramref name="logPath"/> in place of a segment's log: indexes removed first, so a crash never
    /// pairs old indexes with the new log; they are rebuilt from it.</summary>
    private LogSegment SwapLogFile(int index, string logPath)
    {
        var old = _segments[index];
        old.Dispose();
        File.Delete(old.OffsetIndexPath);
        File.Delete(old.TimeIndexPath);
        File.Move(logPath, old.LogPath, overwrite: true);
        var segment = LogSegment.Open(Directory, old.BaseOffset, Config, NowMs);
        _segments[index] = segment;
        segment.Recover();
        return segment;
    }

    /// <summary>Closes the log and deletes its directory.</summary>
    public void Delete()
    {
        try
        {
            if (!_disposed)
            {
                StopCleaning();
                WaitForPendingFlushes();
                _disposed = true;
                foreach (var segment in _segments)
                    segment.Dispose();
            }
            if (System.IO.Directory.Exists(Directory))
                System.IO.Directory.Delete(Directory, recursive: true);
        }
        finally
        {
            _directoryLock.Dispose();
        }
    }

    /// <summary>
    /// Waits for the background flushes, flushes, checkpoints and closes, leaving the clean shutdown marker (not after
    /// a failed flush: the next open must scan).
    /// </summary>
    public void Dispose()
    {
        if (_disposed)
            return;
        try
        {
            StopCleaning();
            WaitForPendingFlushes();
            if (Volatile.Read(ref _flushError) is null)
            {
                Active.Flush();
                lock (_checkpointLock)
                {
                    _recoveryPoint = LogEndOffset;
                    WriteCheckpointLocked();
                }
                // Kafka's close: a snapshot at the log end, so the next open replays nothing.
                _producerState.TakeSnapshot();
                File.WriteAllBytes(Path.Combine(Directory, CleanShutdownFileName), []);
            }
        }
        finally
        {
            _disposed = true;
            foreach (var segment in _segments)
                segment.Dispose();
            _directoryLock.Dispose();
        }
    }

    private int FloorSegment(long offset) => FloorSegment(_segments, offset);

    /// <summary>Index of the last segment whose base offset is &lt;= <paramref name="offset"/>, or -1.</summary>
    internal static int FloorSegment(List<LogSegment> segments, long offset)
    {
        int lo = 0, hi = segments.Count - 1, found = -1;
        while (lo <= hi)
        {
            var mid = (lo + hi) >>> 1;
            if (segments[mid].BaseOffset <= offset)
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

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_disposed, this);
}
