using System.Globalization;

namespace OrleansStream.Storage;

/// <summary>
/// Kafka's LeaderEpochFileCache: the first offset written under each leader epoch, checkpointed on every change as
/// <c>leader-epoch-checkpoint</c> (version line, count line, "epoch startOffset" lines). Followers use
/// <see cref="EndOffsetFor"/> (OffsetsForLeaderEpoch) to find where their log diverges from the leader's.
/// </summary>
public sealed class LeaderEpochFileCache
{
    public const string FileName = "leader-epoch-checkpoint";
    public const int UndefinedEpoch = -1;
    public const long UndefinedEpochOffset = -1;

    private readonly List<EpochEntry> _entries = [];
    private readonly Func<long> _logEndOffset;

    internal LeaderEpochFileCache(string directory, Func<long> logEndOffset)
    {
        Path = System.IO.Path.Combine(directory, FileName);
        _logEndOffset = logEndOffset;
        var lines = CheckpointFile.Read(Path);
        if (lines is null)
            return;
        foreach (var line in lines)
        {
            var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length != 2
                || !int.TryParse(parts[0], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var epoch)
                || !long.TryParse(parts[1], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var offset))
            {
                throw CheckpointFile.Malformed(Path);
            }
            Assign(new EpochEntry(epoch, offset));
        }
    }

    public string Path { get; }

    public IReadOnlyList<EpochEntry> Entries => _entries;

    /// <summary>The newest epoch, or -1 when none was recorded.</summary>
    public int LatestEpoch => _entries.Count == 0 ? UndefinedEpoch : _entries[^1].Epoch;

    /// <summary>
    /// Records that <paramref name="epoch"/> starts at <paramref name="startOffset"/>. A newer epoch at a lower offset
    /// supersedes entries that contradict it (Kafka drops non-monotonic entries the same way).
    /// </summary>
    public void Assign(int epoch, long startOffset)
    {
        if (Assign(new EpochEntry(epoch, startOffset)))
            Flush();
    }

    /// <summary>
    /// Kafka's OffsetsForLeaderEpoch answer: for the latest epoch, the log end offset; for an older one, the start offset
    /// of the first later epoch, with the largest known epoch not above the requested one; (-1, -1) if unknown.
    /// </summary>
    public (int Epoch, long EndOffset) EndOffsetFor(int requestedEpoch)
    {
        if (requestedEpoch == UndefinedEpoch || _entries.Count == 0)
            return (UndefinedEpoch, UndefinedEpochOffset);
        if (requestedEpoch == LatestEpoch)
            return (requestedEpoch, _logEndOffset());
        EpochEntry? floor = null, higher = null;
        foreach (var entry in _entries)
        {
            if (entry.Epoch <= requestedEpoch)
            {
                floor = entry;
            }
            else
            {
                higher = entry;
                break;
            }
        }
        if (higher is null)
            return (UndefinedEpoch, UndefinedEpochOffset);
        return floor is null ? (requestedEpoch, higher.Value.StartOffset) : (floor.Value.Epoch, higher.Value.StartOffset);
    }

    /// <summary>Drops entries starting at or after <paramref name="endOffset"/> (the log was truncated there).</summary>
    public void TruncateFromEnd(long endOffset)
    {
        var removed = _entries.RemoveAll(e => e.StartOffset >= endOffset);
        if (removed > 0)
            Flush();
    }

    /// <summary>
    /// The log now starts at <paramref name="startOffset"/>: older entries go, and the newest of them is moved up to
    /// start there so the epoch that covers the new start is still known.
    /// </summary>
    public void TruncateFromStart(long startOffset)
    {
        var lastBelow = -1;
        for (var i = 0; i < _entries.Count && _entries[i].StartOffset <= startOffset; i++)
            lastBelow = i;
        if (lastBelow < 0 || (lastBelow == 0 && _entries[0].StartOffset == startOffset))
            return;
        var kept = _entries[lastBelow] with { StartOffset = startOffset };
        _entries.RemoveRange(0, lastBelow + 1);
        _entries.Insert(0, kept);
        Flush();
    }

    /// <summary>Forgets every epoch (the log was emptied and restarted elsewhere).</summary>
    public void Clear()
    {
        if (_entries.Count == 0 && !File.Exists(Path))
            return;
        _entries.Clear();
        Flush();
    }

    private bool Assign(EpochEntry entry)
    {
        if (entry.Epoch < 0 || entry.StartOffset < 0)
            return false;
        if (_entries.Count > 0)
        {
            var latest = _entries[^1];
            if (entry.Epoch == latest.Epoch && entry.StartOffset >= latest.StartOffset)
                return false;
        }
        // A loop rather than RemoveAll's predicate: the lambda would capture the parameter, a closure on every call,
        // and the leader calls this on every append.
        var keep = _entries.Count;
        while (keep > 0 && (_entries[keep - 1].Epoch >= entry.Epoch || _entries[keep - 1].StartOffset >= entry.StartOffset)) keep--;
        _entries.RemoveRange(keep, _entries.Count - keep);
        _entries.Add(entry);
        return true;
    }

    private void Flush()
    {
        var lines = new string[_entries.Count];
        for (var i = 0; i < lines.Length; i++)
            lines[i] = _entries[i].Epoch.ToString(CultureInfo.InvariantCulture) + " " + _entries[i].StartOffset.ToString(CultureInfo.InvariantCulture);
        CheckpointFile.Write(Path, lines);
    }
}
