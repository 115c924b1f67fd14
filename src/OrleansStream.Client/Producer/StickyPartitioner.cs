using System.Collections.Concurrent;

namespace OrleansStream.Client;

/// <summary>
/// Kafka's sticky partitioner (<c>BuiltInPartitioner</c>) for records without a key: stay on one partition while its
/// batch is open, then move round-robin to the next, so batches fill up and partitions still get even shares.
/// </summary>
internal sealed class StickyPartitioner(RecordAccumulator accumulator)
{
    private readonly ConcurrentDictionary<string, Stick> _sticks = new(StringComparer.Ordinal);

    public int Partition(string topic, int partitionCount)
    {
        var s = _sticks.GetOrAdd(topic, static _ => new Stick());
        lock (s)
        {
            if (s.Partition >= 0 && s.Partition < partitionCount &&
                (s.Sequence < 0 || accumulator.OpenSequence(new TopicPartition(topic, s.Partition)) == s.Sequence))
                return s.Partition;
            s.Partition = s.Partition < 0 ? Random.Shared.Next(partitionCount) : (s.Partition + 1) % partitionCount;
            s.Sequence = -1;
            return s.Partition;
        }
    }

    /// <summary>
    /// Remembers the batch the first record of a stick went into. Only the first: a later record that opened a new
    /// batch on the same partition (the old one filled up) must not extend the stick, or it never moves on.
    /// </summary>
    public void StickTo(string topic, int partition, long sequence)
    {
        if (_sticks.TryGetValue(topic, out var s))
            lock (s)
                if (s.Partition == partition && s.Sequence < 0) s.Sequence = sequence;
    }

    private sealed class Stick
    {
        public int Partition = -1;
        public long Sequence = -1;
    }
}
