using System.Runtime.InteropServices;
using OrleansStream.Records;

namespace OrleansStream.Storage.Producers;

/// <summary>
/// Kafka's ProducerStateManager for one partition log: producer id → <see cref="ProducerStateEntry"/>, the open
/// transactions (for the last stable offset) and the <c>{offset:D20}.snapshot</c> files in the log directory.
/// <para>
/// An append runs in two steps around the segment write, as Kafka's UnifiedLog does: <see cref="Analyze"/> each batch
/// (with its final offsets) in order, then <see cref="CompleteAppend"/> once the bytes are in the log, or
/// <see cref="AbandonAppend"/> if the write failed. A leader analyzes with <see cref="AppendOrigin.Client"/>; followers
/// and recovery use <see cref="AppendOrigin.Replication"/> (or <see cref="LoadProducersFromRecords"/>), which applies the
/// leader's decisions without judging them, so a new leader already knows every producer.
/// </para>
/// Not thread-safe: one caller at a time, the partition's own turn.
/// </summary>
public sealed class ProducerStateManager
{
    private readonly string _logDirectory;
    private readonly ProducerStateManagerConfig _config;
    private readonly TimeProvider _time;
    private readonly Dictionary<long, ProducerStateEntry> _producers = [];
    // Open transactions by first offset; a completed one stays "unreplicated" until the high watermark passes its marker.
    private readonly SortedList<long, TxnMetadata> _ongoingTxns = [];
    private readonly SortedList<long, TxnMetadata> _unreplicatedTxns = [];
    private SortedList<long, string> _snapshots;
    private long _lastMapOffset;
    private long _lastSnapOffset;

    // The append in progress: _appendInfos[0.._pendingCount) are this append's producers; the rest wait for reuse.
    private readonly List<ProducerAppendInfo> _appendInfos = [];
    private int _pendingCount;
    private readonly List<CompletedTxn> _pendingCompletedTxns = [];
    private readonly List<TxnCompletion> _completions = [];
    private readonly List<long> _expired = [];

    /// <summary>Lists the directory's snapshots; the state stays empty until <see cref="TruncateAndReload"/> loads it.</summary>
    public ProducerStateManager(string logDirectory, ProducerStateManagerConfig? config = null, TimeProvider? time = null)
    {
        _logDirectory = logDirectory;
        _config = config ?? new ProducerStateManagerConfig();
        _time = time ?? TimeProvider.System;
        _snapshots = ProducerStateSnapshot.List(logDirectory);
    }

    public int ProducerIdCount => _producers.Count;

    public IReadOnlyDictionary<long, ProducerStateEntry> ActiveProducers => _producers;

    public bool IsEmpty => _producers.Count == 0 && _unreplicatedTxns.Count == 0;

    /// <summary>Kafka's mapEndOffset: the offset after the last batch applied to the state.</summary>
    public long MapEndOffset => _lastMapOffset;

    public IReadOnlyList<long> SnapshotOffsets => _snapshots.Keys.AsReadOnly();

    public long? LatestSnapshotOffset => _snapshots.Count == 0 ? null : _snapshots.Keys[^1];

    public long? OldestSnapshotOffset => _snapshots.Count == 0 ? null : _snapshots.Keys[0];

    public bool TryGetLastEntry(long producerId, out ProducerStateEntry entry) =>
        _producers.TryGetValue(producerId, out entry!);

    /// <summary>
    /// The first offset of the earliest transaction that is open, or whose marker is still above the high watermark; the
    /// last stable offset is the smaller of this and the high watermark. Null when there is none.
    /// </summary>
    public long? FirstUnstableOffset
    {
        get
        {
            var undecided = FirstUndecidedOffset;
            if (_unreplicatedTxns.Count == 0)
                return undecided;
            var unreplicated = _unreplicatedTxns.Keys[0];
            return undecided is { } u && u < unreplicated ? u : unreplicated;
        }
    }

    /// <summary>The first offset of the earliest open transaction, regardless of replication.</summary>
    public long? FirstUndecidedOffset => _ongoingTxns.Count == 0 ? null : _ongoingTxns.Keys[0];

    /// <summary>
    /// Kafka's analyzeAndValidateProducerState for one batch whose offsets are assigned. A batch without a producer id
    /// is appendable and changes nothing. A duplicate (client origin) or an error abandons the whole append: do not
    /// write it, answer the duplicate with <see cref="ProducerAppendCheck.Duplicate"/>'s offsets, the error with its code.
    /// </summary>
    public ProducerAppendCheck Analyze(ReadOnlySpan<byte> batch, AppendOrigin origin)
    {
        var header = RecordBatchHeader.Read(batch);
        if (!ProducerSequence.HasProducerId(header))
            return ProducerAppendCheck.Appendable;
        var producerId = header.ProducerId;
        var lastSeq = ProducerSequence.LastSequence(header);
        if (origin == AppendOrigin.Client
            && _producers.TryGetValue(producerId, out var last)
            && last.TryFindDuplicateBatch(header.ProducerEpoch, header.BaseSequence, lastSeq, out var duplicate))
        {
            AbandonAppend();
            return new ProducerAppendCheck(ErrorCode.None, null, duplicate);
        }

        ProducerAppendCheck check;
        if (header.IsControl)
        {
            // An empty control batch is a transaction the cleaner removed whole; there is nothing to apply.
            if (header.RecordCount == 0)
                return ProducerAppendCheck.Appendable;
            if (!TryReadMarker(batch, header, out var marker, out var timestamp))
            {
                AbandonAppend();
                return ProducerAppendCheck.Fail(ErrorCode.InvalidRecord,
                    $"Control batch of producer {producerId} at offset {header.BaseOffset} is not a COMMIT or ABORT marker.");
            }
            check = PrepareUpdate(producerId, origin).AppendEndTxnMarker(marker, header.ProducerEpoch, header.BaseOffset, timestamp, out var completed);
            if (completed is { } txn)
                _pendingCompletedTxns.Add(txn);
        }
        else
        {
            check = PrepareUpdate(producerId, origin).AppendDataBatch(header.ProducerEpoch, header.BaseSequence, lastSeq,
                header.MaxTimestamp, header.BaseOffset, header.LastOffset, header.IsTransactional);
        }
        if (check.Error != ErrorCode.None)
            AbandonAppend();
        return check;
    }

    /// <summary>
    /// Applies what <see cref="Analyze"/> gathered, completes the transactions whose markers were appended and moves
    /// <see cref="MapEndOffset"/> to <paramref name="nextOffset"/>. Call after every append, also one without producer
    /// batches. Returns each completed transaction with the last stable offset for its <c>.txnindex</c> entry; the span
    /// is valid until the next append.
    /// </summary>
    public ReadOnlySpan<TxnCompletion> CompleteAppend(long nextOffset)
    {
        for (var i = 0; i < _pendingCount; i++)
            Update(_appendInfos[i]);
        _completions.Clear();
        foreach (var txn in _pendingCompletedTxns)
        {
            _completions.Add(new TxnCompletion(txn, LastStableOffset(txn)));
            CompleteTxn(txn);
        }
        _pendingCompletedTxns.Clear();
        _pendingCount = 0;
        _lastMapOffset = nextOffset;
        return CollectionsMarshal.AsSpan(_completions);
    }

    /// <summary>Forgets the analyzed batches of an append that was not written.</summary>
    public void AbandonAppend()
    {
        _pendingCount = 0;
        _pendingCompletedTxns.Clear();
    }

    /// <summary>
    /// Kafka's loadProducersFromRecords: applies whole batches read back from the log (recovery, replay after a snapshot)
    /// without validation. Returns the transactions they completed.
    /// </summary>
    public ReadOnlySpan<TxnCompletion> LoadProducersFromRecords(ReadOnlySpan<byte> records)
    {
        var nextOffset = _lastMapOffset;
        foreach (var batch in RecordBatchReader.Batches(records))
        {
            var check = Analyze(batch.Span, AppendOrigin.Replication);
            if (check.Error != ErrorCode.None)
                throw new OrleansStreamException(check.Error, check.Message!);
            nextOffset = batch.NextOffset;
        }
        return CompleteAppend(nextOffset);
    }

    /// <summary>
    /// Kafka's lastStableOffset(completedTxn): where the last stable offset stands once this transaction is complete, the
    /// first offset of another producer's open transaction or the offset after the marker.
    /// </summary>
    public long LastStableOffset(CompletedTxn completedTxn)
    {
        var values = _ongoingTxns.Values;
        for (var i = 0; i < values.Count; i++)
        {
            if (values[i].ProducerId != completedTxn.ProducerId)
                return values[i].FirstOffset;
        }
        return completedTxn.LastOffset + 1;
    }

    /// <summary>
    /// Kafka's updateMapEndOffset: the state stands for the log up to <paramref name="offset"/>. A roll moves it to the
    /// new segment's base before <see cref="TakeSnapshot"/>, so each snapshot lines up with a segment.
    /// </summary>
    public void UpdateMapEndOffset(long offset) => _lastMapOffset = offset;

    /// <summary>Kafka's onHighWatermarkUpdated: transactions whose markers are below the high watermark are stable.</summary>
    public void OnHighWatermarkUpdated(long highWatermark) => RemoveUnreplicatedTransactions(highWatermark);

    /// <summary>Kafka's onLogStartOffsetIncremented: drops what retention removed and moves the map end forward.</summary>
    public void OnLogStartOffsetIncremented(long logStartOffset)
    {
        RemoveUnreplicatedTransactions(logStartOffset);
        if (_lastMapOffset < logStartOffset)
            _lastMapOffset = logStartOffset;
        _lastSnapOffset = LatestSnapshotOffset ?? logStartOffset;
    }

    /// <summary>Kafka's removeExpiredProducers: forgets producers idle past <c>producer.id.expiration.ms</c> without an open transaction.</summary>
    public void RemoveExpiredProducers()
    {
        var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        _expired.Clear();
        foreach (var (producerId, entry) in _producers)
        {
            if (IsProducerExpired(now, entry))
                _expired.Add(producerId);
        }
        foreach (var producerId in _expired)
            _producers.Remove(producerId);
    }

    /// <summary>
    /// Kafka's truncateAndReload: deletes snapshots above <paramref name="logEndOffset"/> or at or below
    /// <paramref name="logStartOffset"/>; unless the state already ends at <paramref name="logEndOffset"/>, reloads it
    /// from the latest valid snapshot (a corrupt one is deleted and the next older one tried). The caller then replays
    /// the log from <see cref="MapEndOffset"/> to <paramref name="logEndOffset"/> with <see cref="LoadProducersFromRecords"/>.
    /// </summary>
    public void TruncateAndReload(long logStartOffset, long logEndOffset)
    {
        for (var i = _snapshots.Count - 1; i >= 0; i--)
        {
            var offset = _snapshots.Keys[i];
            if (offset > logEndOffset || offset <= logStartOffset)
                RemoveAndDeleteSnapshot(offset);
        }
        if (logEndOffset != _lastMapOffset)
        {
            AbandonAppend();
            _producers.Clear();
            _ongoingTxns.Clear();
            // The log end is at or below the high watermark here, so every completed transaction is replicated.
            _unreplicatedTxns.Clear();
            LoadFromSnapshot(logStartOffset, long.MaxValue);
        }
        else
        {
            OnLogStartOffsetIncremented(logStartOffset);
        }
    }

    /// <summary>Kafka's truncateFullyAndStartAt: empties the state and deletes every snapshot.</summary>
    public void TruncateFullyAndStartAt(long offset)
    {
        AbandonAppend();
        _producers.Clear();
        _ongoingTxns.Clear();
        _unreplicatedTxns.Clear();
        for (var i = _snapshots.Count - 1; i >= 0; i--)
            RemoveAndDeleteSnapshot(_snapshots.Keys[i]);
        _lastSnapOffset = 0;
        _lastMapOffset = offset;
    }

    /// <summary>
    /// Kafka's takeSnapshot: writes <c>{MapEndOffset:D20}.snapshot</c> unless one exists there already. Returns its path,
    /// or null when nothing was written. Without <paramref name="sync"/> flush it later with <see cref="ProducerStateSnapshot.Flush"/>.
    /// </summary>
    public string? TakeSnapshot(bool sync = true)
    {
        if (_lastMapOffset <= _lastSnapOffset)
            return null;
        var path = Path.Combine(_logDirectory, ProducerStateSnapshot.FileName(_lastMapOffset));
        ProducerStateSnapshot.Write(path, _producers.Values, sync);
        _snapshots[_lastMapOffset] = path;
        _lastSnapOffset = _lastMapOffset;
        return path;
    }

    /// <summary>
    /// Kafka's truncateFullyAndReloadSnapshots: forgets the state and lists the directory's snapshots again (one restored
    /// from tiered storage); <see cref="TruncateAndReload"/> then loads the latest.
    /// </summary>
    public void TruncateFullyAndReloadSnapshots()
    {
        TruncateFullyAndStartAt(0);
        _snapshots = ProducerStateSnapshot.List(_logDirectory);
    }

    /// <summary>
    /// Forgets the state and loads the latest snapshot at or below <paramref name="offset"/> (none: empty at
    /// <paramref name="logStartOffset"/>), keeping the newer ones: Kafka's recovery rebuilds a segment's state from the
    /// snapshot at its base to replay it, then goes on from the latest.
    /// </summary>
    public void ReloadFromSnapshotAtOrBelow(long offset, long logStartOffset)
    {
        AbandonAppend();
        _producers.Clear();
        _ongoingTxns.Clear();
        _unreplicatedTxns.Clear();
        LoadFromSnapshot(logStartOffset, offset);
    }

    /// <summary>Kafka's deleteSnapshotsBefore: deletes the snapshots below <paramref name="offset"/>.</summary>
    public void DeleteSnapshotsBefore(long offset)
    {
        while (_snapshots.Count > 0 && _snapshots.Keys[0] < offset)
            RemoveAndDeleteSnapshot(_snapshots.Keys[0]);
    }

    /// <summary>
    /// Kafka's removeStraySnapshots: deletes snapshots that match no segment's base offset, except the newest stray one
    /// when it lies above every segment (the snapshot of a clean shutdown).
    /// </summary>
    public void RemoveStraySnapshots(IReadOnlyCollection<long> segmentBaseOffsets)
    {
        long? maxSegmentBaseOffset = null;
        foreach (var baseOffset in segmentBaseOffsets)
            maxSegmentBaseOffset = Math.Max(maxSegmentBaseOffset ?? baseOffset, baseOffset);
        var baseOffsets = new HashSet<long>(segmentBaseOffsets);
        var snapshots = ProducerStateSnapshot.List(_logDirectory);
        long? latestStray = null;
        foreach (var offset in new List<long>(snapshots.Keys))
        {
            if (baseOffsets.Contains(offset))
                continue;
            if (latestStray is { } previous)
            {
                File.Delete(snapshots[previous]);
                snapshots.Remove(previous);
            }
            latestStray = offset;
        }
        if (latestStray is { } stray && maxSegmentBaseOffset is { } max && stray < max)
        {
            File.Delete(snapshots[stray]);
            snapshots.Remove(stray);
        }
        _snapshots = snapshots;
    }

    /// <summary>Kafka's loadProducerEntry: adds a producer as read from a snapshot, with its open transaction.</summary>
    public void LoadProducerEntry(ProducerStateEntry entry)
    {
        _producers[entry.ProducerId] = entry;
        if (entry.CurrentTxnFirstOffset is { } firstOffset)
            _ongoingTxns[firstOffset] = new TxnMetadata(entry.ProducerId, firstOffset, null);
    }

    private static bool TryReadMarker(ReadOnlySpan<byte> batch, in RecordBatchHeader header, out EndTransactionMarker marker, out long timestamp)
    {
        marker = default;
        timestamp = ProducerSequence.NoTimestamp;
        if (header.Compression != CompressionType.None)
            return false;
        try
        {
            var records = RecordBatchReader.Batch(batch).Records();
            if (!records.MoveNext())
                return false;
            var record = records.Current;
            timestamp = record.TimestampMs;
            return !record.KeyIsNull && !record.ValueIsNull && EndTransactionMarker.TryRead(record.Key, record.Value, out marker);
        }
        catch (OrleansStreamException)
        {
            return false;
        }
    }

    private ProducerAppendInfo PrepareUpdate(long producerId, AppendOrigin origin)
    {
        for (var i = 0; i < _pendingCount; i++)
        {
            if (_appendInfos[i].ProducerId == producerId)
                return _appendInfos[i];
        }
        if (_pendingCount == _appendInfos.Count)
            _appendInfos.Add(new ProducerAppendInfo());
        var info = _appendInfos[_pendingCount++];
        info.Reset(producerId, _producers.GetValueOrDefault(producerId), origin);
        return info;
    }

    private void Update(ProducerAppendInfo info)
    {
        if (!_producers.TryGetValue(info.ProducerId, out var entry))
        {
            entry = new ProducerStateEntry(info.ProducerId);
            _producers.Add(info.ProducerId, entry);
        }
        entry.CopyFrom(info.UpdatedEntry);
        foreach (var firstOffset in info.StartedTransactions)
            _ongoingTxns[firstOffset] = new TxnMetadata(info.ProducerId, firstOffset, null);
    }

    private void CompleteTxn(CompletedTxn completedTxn)
    {
        var index = _ongoingTxns.IndexOfKey(completedTxn.FirstOffset);
        if (index < 0)
            throw new InvalidOperationException($"Attempted to complete transaction {completedTxn}, which was not started.");
        var txn = _ongoingTxns.GetValueAtIndex(index);
        _ongoingTxns.RemoveAt(index);
        _unreplicatedTxns[completedTxn.FirstOffset] = txn with { LastOffset = completedTxn.LastOffset };
    }

    private void RemoveUnreplicatedTransactions(long offset)
    {
        for (var i = _unreplicatedTxns.Count - 1; i >= 0; i--)
        {
            if (_unreplicatedTxns.GetValueAtIndex(i).LastOffset < offset)
                _unreplicatedTxns.RemoveAt(i);
        }
    }

    private bool IsProducerExpired(long nowMs, ProducerStateEntry entry) =>
        entry.CurrentTxnFirstOffset is null && nowMs - entry.LastTimestamp >= _config.ProducerIdExpirationMs;

    private void LoadFromSnapshot(long logStartOffset, long maxOffset)
    {
        var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        var last = _snapshots.Count - 1;
        while (last >= 0 && _snapshots.Keys[last] > maxOffset)
            last--;
        for (; last >= 0; last--)
        {
            var offset = _snapshots.Keys[last];
            List<ProducerStateEntry> entries;
            try
            {
                entries = ProducerStateSnapshot.Read(_snapshots.Values[last]);
            }
            catch (Exception e) when (e is CorruptSnapshotException or FileNotFoundException)
            {
                RemoveAndDeleteSnapshot(offset);
                continue;
            }
            foreach (var entry in entries)
            {
                if (!IsProducerExpired(now, entry))
                    LoadProducerEntry(entry);
            }
            _lastSnapOffset = offset;
            _lastMapOffset = offset;
            return;
        }
        _lastSnapOffset = logStartOffset;
        _lastMapOffset = logStartOffset;
    }

    private void RemoveAndDeleteSnapshot(long offset)
    {
        var index = _snapshots.IndexOfKey(offset);
        if (index < 0)
            return;
        File.Delete(_snapshots.GetValueAtIndex(index));
        _snapshots.RemoveAt(index);
    }

    private readonly record struct TxnMetadata(long ProducerId, long FirstOffset, long? LastOffset);

}
