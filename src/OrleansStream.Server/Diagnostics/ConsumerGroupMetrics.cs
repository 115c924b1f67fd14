using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace OrleansStream.Server.Diagnostics;

/// <summary>
/// One consumer group's lag series: per partition, the last known high watermark minus the committed offset (at
/// least 0). The group writes committed offsets and high watermarks from its turns; the gauge reads from any thread.
/// </summary>
public sealed class ConsumerGroupMetrics : IDisposable
{
    private readonly OrleansStreamMetrics _owner;
    private readonly ConcurrentDictionary<TopicPartition, Cell> _partitions = new();

    internal ConsumerGroupMetrics(OrleansStreamMetrics owner, string groupId)
    {
        _owner = owner;
        GroupId = groupId;
    }

    public string GroupId { get; }

    /// <summary>True while something observes consumer lag: refreshing high watermarks is worth its grain calls only then.</summary>
    public bool Enabled => _owner.ConsumerLagEnabled;

    /// <summary>The group committed <paramref name="offset"/> on <paramref name="partition"/>.</summary>
    public void Committed(TopicPartition partition, long offset) => Volatile.Write(ref CellOf(partition).Committed, offset);

    /// <summary>The partition's high watermark as last read from its leader.</summary>
    public void HighWatermark(TopicPartition partition, long highWatermark) => Volatile.Write(ref CellOf(partition).HighWatermark, highWatermark);

    /// <summary>The high watermark last reported for <paramref name="partition"/>, or -1.</summary>
    public long KnownHighWatermark(TopicPartition partition) =>
        _partitions.TryGetValue(partition, out var cell) ? Volatile.Read(ref cell.HighWatermark) : -1;

    /// <summary>The group no longer holds an offset for <paramref name="partition"/> (expired or deleted).</summary>
    public void Forget(TopicPartition partition) => _partitions.TryRemove(partition, out _);

    public IEnumerable<TopicPartition> Partitions => _partitions.Keys;

    /// <summary>The group deactivated or was deleted: its lag series end.</summary>
    public void Dispose() => _owner.Remove(this);

    internal void Observe(List<Measurement<long>> measurements)
    {
        foreach (var (_, cell) in _partitions)
        {
            var hw = Volatile.Read(ref cell.HighWatermark);
            var committed = Volatile.Read(ref cell.Committed);
            if (hw >= 0 && committed >= 0) measurements.Add(new Measurement<long>(Math.Max(0, hw - committed), cell.Tags));
        }
    }

    private Cell CellOf(TopicPartition partition) => _partitions.GetOrAdd(partition, static (tp, group) => new Cell(group, tp), GroupId);

    private sealed class Cell(string groupId, TopicPartition partition)
    {
        public readonly KeyValuePair<string, object?>[] Tags =
            [new("group", groupId), new("topic", partition.Topic), new("partition", partition.Partition)];

        public long Committed = -1;
        public long HighWatermark = -1;
    }
}
