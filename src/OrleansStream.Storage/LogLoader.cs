namespace OrleansStream.Storage;

/// <summary>
/// Kafka's LogLoader: opens a partition directory's segments and recovers them. Stray files of interrupted work go;
/// the active segment is always scanned, and after an unclean shutdown every segment from the recovery point on; a
/// torn or corrupt tail is cut (with every segment after it) and missing or damaged indexes are rebuilt.
/// </summary>
internal static class LogLoader
{
    public static LoadedLog Load(string path, LogConfig config, long nowMs)
    {
        var cleanShutdown = File.Exists(Path.Combine(path, PartitionLog.CleanShutdownFileName));
        var checkpoint = PartitionCheckpoint.Read(path);
        var baseOffsets = ScanDirectory(path);
        var segments = new List<LogSegment>(Math.Max(1, baseOffsets.Count));
        try
        {
            foreach (var baseOffset in baseOffsets)
                segments.Add(LogSegment.Open(path, baseOffset, config, nowMs));
            if (segments.Count == 0)
                segments.Add(LogSegment.Create(path, checkpoint?.LogStartOffset ?? 0, config, nowMs));
            Recover(segments, cleanShutdown, checkpoint);
        }
        catch
        {
            foreach (var segment in segments)
                segment.Dispose();
            throw;
        }

        // An empty active segment after closed ones starts where they end.
        var active = segments[^1];
        var logEnd = active.Size == 0 ? active.BaseOffset : active.NextOffset;
        var logStart = checkpoint?.LogStartOffset ?? segments[0].BaseOffset;
        if (!config.RemoteStorageEnable)
            logStart = Math.Max(logStart, segments[0].BaseOffset);
        logStart = Math.Min(logStart, logEnd);
        var highWatermark = Math.Clamp(checkpoint?.HighWatermark ?? logStart, logStart, logEnd);
        var recoveryPoint = Math.Min(checkpoint?.RecoveryPoint ?? 0, logEnd);
        return new LoadedLog(segments, logStart, logEnd, highWatermark, recoveryPoint, checkpoint, cleanShutdown);
    }

    private static List<long> ScanDirectory(string path)
    {
        var logs = new List<long>();
        var indexes = new List<(string File, long BaseOffset)>();
        foreach (var file in Directory.EnumerateFiles(path))
        {
            var name = Path.GetFileName(file);
            if (name.EndsWith(LogSegment.CleanedSuffix, StringComparison.Ordinal) || name.EndsWith(".tmp", StringComparison.Ordinal))
            {
                File.Delete(file); // an interrupted compaction or checkpoint: the original is still in place
            }
            else if (LogSegment.TryParseBaseOffset(name, LogSegment.LogSuffix, out var baseOffset))
            {
                logs.Add(baseOffset);
            }
            else if (LogSegment.TryParseBaseOffset(name, LogSegment.IndexSuffix, out baseOffset)
                || LogSegment.TryParseBaseOffset(name, LogSegment.TimeIndexSuffix, out baseOffset)
                || LogSegment.TryParseBaseOffset(name, TransactionIndex.Suffix, out baseOffset))
            {
                indexes.Add((file, baseOffset));
            }
        }
        logs.Sort();
        foreach (var (file, baseOffset) in indexes)
        {
            if (logs.BinarySearch(baseOffset) < 0)
                File.Delete(file); // left behind by an interrupted segment deletion
        }
        return logs;
    }

    private static void Recover(List<LogSegment> segments, bool cleanShutdown, PartitionCheckpoint? checkpoint)
    {
        var recoveryPoint = cleanShutdown ? long.MaxValue : checkpoint?.RecoveryPoint ?? 0;
        var firstToScan = Math.Max(0, PartitionLog.FloorSegment(segments, recoveryPoint));
        for (var i = 0; i < segments.Count; i++)
        {
            var segment = segments[i];
            var isLast = i == segments.Count - 1;
            var scan = isLast || i >= firstToScan && !cleanShutdown;
            if (!scan && segment.OffsetIndex.LooksSane() && segment.TimeIndex.LooksSane())
                continue;
            var truncated = segment.Recover();
            if (!isLast)
            {
                segment.OnBecomeInactive(); // its final time index entry, so the next clean open knows its max timestamp
                segment.FlushClosed();
            }
            if (truncated > 0 && !isLast)
            {
                // Kafka's rule: nothing after a damaged segment can be trusted to follow on from it.
                for (var j = segments.Count - 1; j > i; j--)
                {
                    segments[j].Delete();
                    segments.RemoveAt(j);
                }
                break;
            }
        }
    }
}

/// <summary>A loaded log: its segments (the active one last) and the offsets recovery settled on.</summary>
internal sealed record LoadedLog(
    List<LogSegment> Segments, long LogStartOffset, long LogEndOffset, long HighWatermark, long RecoveryPoint, PartitionCheckpoint? Checkpoint,
    bool CleanShutdown);
