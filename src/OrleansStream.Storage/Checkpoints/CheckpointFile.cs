using System.Globalization;
using System.Text;

namespace OrleansStream.Storage;

/// <summary>
/// Kafka's CheckpointFile text format: a version line, a count line, then one entry per line. Written to a
/// <c>.tmp</c> sibling, fsynced and renamed over the old file, so a reader sees the old or the new, never a mix.
/// </summary>
internal static class CheckpointFile
{
    public const int CurrentVersion = 0;

    public static void Write(string path, IReadOnlyList<string> entries)
    {
        var text = new StringBuilder();
        text.Append(CurrentVersion.ToString(CultureInfo.InvariantCulture)).Append('\n');
        text.Append(entries.Count.ToString(CultureInfo.InvariantCulture)).Append('\n');
        foreach (var entry in entries)
            text.Append(entry).Append('\n');
        var tmp = path + ".tmp";
        using (var stream = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            stream.Write(Encoding.UTF8.GetBytes(text.ToString()));
            stream.Flush(flushToDisk: true);
        }
        File.Move(tmp, path, overwrite: true);
    }

    /// <summary>The entry lines, or null when the file does not exist. A malformed file is a storage error.</summary>
    public static string[]? Read(string path)
    {
        if (!File.Exists(path))
            return null;
        var lines = File.ReadAllLines(path);
        if (lines.Length < 2
            || !int.TryParse(lines[0], NumberStyles.None, CultureInfo.InvariantCulture, out var version)
            || version != CurrentVersion
            || !int.TryParse(lines[1], NumberStyles.None, CultureInfo.InvariantCulture, out var count)
            || count != lines.Length - 2)
        {
            throw Malformed(path);
        }
        return lines[2..];
    }

    public static OrleansStreamException Malformed(string path) =>
        new(ErrorCode.KafkaStorageError, $"Malformed checkpoint file {path}.");
}

/// <summary>
/// The partition's own offsets, checkpointed on flush, roll and close: log start offset, high watermark and the
/// recovery point (everything below it was fsynced). Kafka keeps these in per-directory files
/// (<c>log-start-offset-checkpoint</c>, <c>replication-offset-checkpoint</c>, <c>recovery-point-offset-checkpoint</c>);
/// a partition directory here is self-contained, so the three share one file with named lines.
/// </summary>
internal readonly record struct PartitionCheckpoint(long LogStartOffset, long HighWatermark, long RecoveryPoint)
{
    public const string FileName = "partition-offsets-checkpoint";

    public static PartitionCheckpoint? Read(string directory)
    {
        var path = Path.Combine(directory, FileName);
        var lines = CheckpointFile.Read(path);
        if (lines is null)
            return null;
        long? logStart = null, highWatermark = null, recoveryPoint = null;
        foreach (var line in lines)
        {
            var space = line.IndexOf(' ');
            if (space <= 0 || !long.TryParse(line.AsSpan(space + 1), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value))
                throw CheckpointFile.Malformed(path);
            switch (line[..space])
            {
                case "log-start-offset": logStart = value; break;
                case "high-watermark": highWatermark = value; break;
                case "recovery-point": recoveryPoint = value; break;
                default: throw CheckpointFile.Malformed(path);
            }
        }
        if (logStart is null || highWatermark is null || recoveryPoint is null)
            throw CheckpointFile.Malformed(path);
        return new PartitionCheckpoint(logStart.Value, highWatermark.Value, recoveryPoint.Value);
    }

    public void Write(string directory) => CheckpointFile.Write(Path.Combine(directory, FileName),
    [
        "log-start-offset " + LogStartOffset.ToString(CultureInfo.InvariantCulture),
        "high-watermark " + HighWatermark.ToString(CultureInfo.InvariantCulture),
        "recovery-point " + RecoveryPoint.ToString(CultureInfo.InvariantCulture),
    ]);
}
