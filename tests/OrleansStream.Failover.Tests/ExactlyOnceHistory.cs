namespace OrleansStream.Failover.Tests;

/// <summary>One record a reader got: where it was and what it held.</summary>
public readonly record struct ReadRecord(int Partition, long Offset, string Value);

/// <summary>
/// The history of an exactly-once copy run and its checker: the values written to the input, the output as a final
/// read_committed reader sees it once every transaction is complete, and what a read_committed and a read_uncommitted
/// reader saw while the run went on.
/// </summary>
public sealed class ExactlyOnceHistory(IReadOnlyCollection<string> input, IReadOnlyList<ReadRecord> finalCommitted,
    IReadOnlyList<ReadRecord> committedReads, IReadOnlyList<ReadRecord> uncommittedReads)
{
    /// <summary>Records the read_uncommitted reader saw that no committed transaction holds: what the aborts left in the log.</summary>
    public int AbortedRecordsSeen
    {
        get
        {
            var committed = new HashSet<(int, long)>();
            foreach (var r in finalCommitted) committed.Add((r.Partition, r.Offset));
            var aborted = 0;
            foreach (var r in uncommittedReads)
                if (!committed.Contains((r.Partition, r.Offset))) aborted++;
            return aborted;
        }
    }

    /// <summary>Every anomaly, one line each: lost writes, duplicates, values nobody wrote, aborted reads, offsets out of order.</summary>
    public List<string> Anomalies()
    {
        var anomalies = new List<string>();
        var inputSet = new HashSet<string>(input);
        var final = new Dictionary<(int, long), string>();
        var counts = new Dictionary<string, int>();
        foreach (var r in finalCommitted)
        {
            final[(r.Partition, r.Offset)] = r.Value;
            counts[r.Value] = counts.GetValueOrDefault(r.Value) + 1;
        }
        foreach (var value in input)
            if (!counts.ContainsKey(value)) anomalies.Add($"lost: {value} is not in the committed output");
        foreach (var (value, count) in counts)
        {
            if (count > 1) anomalies.Add($"duplicate: {value} is committed {count} times");
            if (!inputSet.Contains(value)) anomalies.Add($"unexpected: {value} was never written to the input");
        }
        CheckMonotonic(finalCommitted, "final read_committed", anomalies);
        CheckMonotonic(committedReads, "concurrent read_committed", anomalies);
        CheckMonotonic(uncommittedReads, "concurrent read_uncommitted", anomalies);
        var seen = new HashSet<string>();
        foreach (var r in committedReads)
        {
            if (!final.TryGetValue((r.Partition, r.Offset), out var committedValue) || committedValue != r.Value)
                anomalies.Add($"aborted read: the read_committed reader got {r.Value} at {r.Partition}@{r.Offset}, which no committed transaction holds");
            if (!seen.Add(r.Value)) anomalies.Add($"duplicate read: the read_committed reader got {r.Value} twice");
        }
        return anomalies;
    }

    private static void CheckMonotonic(IReadOnlyList<ReadRecord> reads, string reader, List<string> anomalies)
    {
        var last = new Dictionary<int, long>();
        foreach (var r in reads)
        {
            if (last.TryGetValue(r.Partition, out var previous) && r.Offset <= previous)
                anomalies.Add($"non-monotonic: the {reader} reader got partition {r.Partition} offset {r.Offset} after {previous}");
            last[r.Partition] = r.Offset;
        }
    }
}
