using OrleansStream.Records;
using OrleansStream.Storage.Producers;

namespace OrleansStream.Storage.Tiering;

/// <summary>
/// Compaction of a compacted topic's tiered segments, which Kafka cannot do (it refuses tiering on compacted topics):
/// the remote counterpart of <see cref="LogCleaner"/>, run by the tiering pass at most once per interval.
/// </summary>
internal sealed class RemoteLogCleaner(
    string topic, int partition, PartitionLog log, ITierStore store, RemoteLogMetadataManager metadata, TimeProvider time, TimeSpan interval)
{
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
        var config = log.Config;
        var now = time.GetUtcNow();
        if ((config.CleanupPolicy & CleanupPolicy.Compact) == 0 || now < _nextRemoteCompaction) return 0;
        var localStart = log.LocalLogStartOffset;
        var nowMs = now.ToUnixTimeMilliseconds();
        var remoteOnly = new List<RemoteLogSegmentMetadata>();
        foreach (var s in metadata.Current.Segments)
        {
            if (s.State != RemoteLogSegmentState.CopySegmentFinished || s.NextOffset <= log.LogStartOffset) continue;
            if (s.NextOffset > localStart || (config.MinCompactionLagMs > 0 && nowMs - s.MaxTimestampMs < config.MinCompactionLagMs)) break;
            if (remoteOnly.Count > 0 && s.BaseOffset < remoteOnly[^1].NextOffset) return 0; // overlapping copies: wait until replaced
            remoteOnly.Add(s);
        }
        if (remoteOnly.Count == 0) return 0;

        var contents = new List<byte[]>(remoteOnly.Count);
        var map = LogCleaner.NewOffsetMap();
        var abortedTxns = new List<AbortedTxn>();
        foreach (var s in remoteOnly)
        {
            if (!s.TxnIndexEmpty && await store.GetAsync(s.KeyPrefix(topic, partition) + TransactionIndex.Suffix, cancellationToken) is { } txnIndex)
                AbortedBatches.ReadAll(txnIndex.Content.Span, abortedTxns);
        }
        // A transaction aborted by a marker in the local log may have data in the tier.
        log.CollectAbortedTransactions(localStart, long.MaxValue, abortedTxns);
        var aborted = abortedTxns.Count == 0 ? AbortedBatches.None : new AbortedBatches(abortedTxns);
        foreach (var s in remoteOnly)
        {
            var obj = await store.GetAsync(s.KeyPrefix(topic, partition) + ".log", cancellationToken)
                ?? throw new OrleansStreamException(ErrorCode.KafkaStorageError, $"Tiered segment {s.KeyPrefix(topic, partition)}.log is missing.");
            var content = obj.Content.ToArray();
            LogCleaner.AddToOffsetMap(map, content, aborted);
            contents.Add(content);
        }
        log.AddCommittedKeysTo(map);

        var stats = new LogCleaner.CleanStats();
        var horizon = nowMs - config.DeleteRetentionMs;
        var rewritten = 0;
        for (var i = 0; i < remoteOnly.Count; i++)
        {
            if (LogCleaner.Clean(contents[i], map, horizon, aborted, ref stats) is not { } cleaned) continue;
            var old = remoteOnly[i];
            var copy = old with
            {
                SegmentId = RemoteLogManager.NewSegmentId(),
                SegmentSizeInBytes = cleaned.Length,
                State = RemoteLogSegmentState.CopySegmentStarted,
                EventTimestampMs = nowMs,
                LeaderEpoch = leaderEpoch,
                Compacted = true,
            };
            await metadata.SaveAsync(metadata.Current.With(copy), leaderEpoch, cancellationToken);
            var prefix = copy.KeyPrefix(topic, partition);
            var (index, timeIndex) = BuildIndexes(cleaned, copy.BaseOffset, config.IndexIntervalBytes);
            await store.UploadAsync(prefix + ".log", new MemoryStream(cleaned), cancellationToken);
            await store.UploadAsync(prefix + ".index", new MemoryStream(index), cancellationToken);
            await store.UploadAsync(prefix + ".timeindex", new MemoryStream(timeIndex), cancellationToken);
            await store.UploadAsync(prefix + ".epoch", new MemoryStream(RemoteLogManager.EpochCheckpoint(copy.SegmentLeaderEpochs)), cancellationToken);
            // Compaction leaves the producer state at the segment's end and the aborted transactions (offsets do not
            // change, markers are kept) as they were: the copy carries the same snapshot and .txnindex.
            foreach (var suffix in (string[])[ProducerStateSnapshot.Suffix, TransactionIndex.Suffix])
            {
                if (await store.GetAsync(old.KeyPrefix(topic, partition) + suffix, cancellationToken) is { } carried)
                    await store.UploadAsync(prefix + suffix, new MemoryStream(carried.Content.ToArray()), cancellationToken);
            }
            var next = metadata.Current.With(copy with { State = RemoteLogSegmentState.CopySegmentFinished })
                .With(old with { State = RemoteLogSegmentState.DeleteSegmentStarted });
            await metadata.SaveAsync(next, leaderEpoch, cancellationToken);
            await metadata.DeleteSegmentsAsync([old with { State = RemoteLogSegmentState.DeleteSegmentStarted }], leaderEpoch, cancellationToken);
            rewritten++;
        }
        _nextRemoteCompaction = now + interval;
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
