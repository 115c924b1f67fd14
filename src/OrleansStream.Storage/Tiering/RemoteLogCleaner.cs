using OrleansStream.Records;

namespace OrleansStream.Storage.Tiering;

/// <summary>
/// Compaction of a compacted topic's tiered segments, which Kafka cannot do (it refuses tiering on compacted topics):
/// the remote counterpart of <see cref="LogCleaner"/>, run by the tiering pass at most once per interval.
/// </summary>
internal sealed class RemoteLogCleaner(
    string topic, int partition, PartitionLog log, ITierStore store, RemoteLogMetadataManager metadata, TimeProvider time, TimeSpan interval)
{
    private readonly string _topic = topic;
    private readonly int _partition = partition;
    private readonly PartitionLog _log = log;
    private readonly ITierStore _store = store;
    private readonly RemoteLogMetadataManager _metadata = metadata;
    private readonly TimeProvider _time = time;
    private readonly TimeSpan _interval = interval;
    private DateTimeOffset _nextRemoteCompaction;

    /// <summary>
    /// Compaction of a compacted log's tiered part, which Kafka cannot do (it refuses tiering on compacted topics): the
    /// newest offset of every key over the remote-only segments and the committed local log, then every remote-only
    /// segment that loses records (superseded values, tombstones past <c>delete.retention.ms</c>) is rewritten, uploaded
    /// under a new id with rebuilt indexes, and replaces its old copy in one manifest write. Oldest first, so an older
    /// value always goes before the tombstone that deleted it, even when a pass stops half-way.
    /// </summary>
    public async Task<int> CleanAsync(int leaderEpoch, CancellationToken cancellationToken)
    {
        var config = _log.Config;
        var now = _time.GetUtcNow();
        if ((config.CleanupPolicy & CleanupPolicy.Compact) == 0 || now < _nextRemoteCompaction) return 0;
        var localStart = _log.LocalLogStartOffset;
        var nowMs = now.ToUnixTimeMilliseconds();
        var remoteOnly = new List<RemoteLogSegmentMetadata>();
        foreach (var s in _metadata.Current.Segments)
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
            var obj = await _store.GetAsync(s.KeyPrefix(_topic, _partition) + ".log", cancellationToken)
                ?? throw new OrleansStreamException(ErrorCode.KafkaStorageError, $"Tiered segment {s.KeyPrefix(_topic, _partition)}.log is missing.");
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
                SegmentId = RemoteLogManager.NewSegmentId(),
                SegmentSizeInBytes = cleaned.Length,
                State = RemoteLogSegmentState.CopySegmentStarted,
                EventTimestampMs = nowMs,
                LeaderEpoch = leaderEpoch,
                Compacted = true,
            };
            await _metadata.SaveAsync(_metadata.Current.With(metadata), leaderEpoch, cancellationToken);
            var prefix = metadata.KeyPrefix(_topic, _partition);
            var (index, timeIndex) = BuildIndexes(cleaned, metadata.BaseOffset, config.IndexIntervalBytes);
            await _store.UploadAsync(prefix + ".log", new MemoryStream(cleaned), cancellationToken);
            await _store.UploadAsync(prefix + ".index", new MemoryStream(index), cancellationToken);
            await _store.UploadAsync(prefix + ".timeindex", new MemoryStream(timeIndex), cancellationToken);
            await _store.UploadAsync(prefix + ".epoch", new MemoryStream(RemoteLogManager.EpochCheckpoint(metadata.SegmentLeaderEpochs)), cancellationToken);
            var next = _metadata.Current.With(metadata with { State = RemoteLogSegmentState.CopySegmentFinished })
                .With(old with { State = RemoteLogSegmentState.DeleteSegmentStarted });
            await _metadata.SaveAsync(next, leaderEpoch, cancellationToken);
            await _metadata.DeleteSegmentsAsync([old with { State = RemoteLogSegmentState.DeleteSegmentStarted }], leaderEpoch, cancellationToken);
            rewritten++;
        }
        _nextRemoteCompaction = now + _interval;
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
}
