using System.Collections.Concurrent;

namespace OrleansStream.Client;

/// <summary>
/// Kafka's sticky partitioner (<c>BuiltInPartitioner</c>) for records without a key: stay on one partition while its
/// batch is open and until <c>batch.size</c> bytes went to it (KIP-794), then move round-robin to the next, so batches
/// fill up and partitions still get even shares. The byte count matters for the idempotent producer, whose batch on a
/// busy partition stays open and grows.
/// </summary>
internal sealed class StickyPartitioner(RecordAccumulator accumulator, int batchSize)
{
    private readonly ConcurrentDictionary<string, Stick> _sticks = new(StringComparer.Ordinal);

    /// <summary>The topic's stick, to hand back to <see cref="Partition"/> and <see cref="StickTo"/> (a producer keeps it per topic).</summary>
    public Stick For(string topic) => _sticks.GetOrAdd(topic, static t => new Stick(t));

    /// <summary>The partition for the next record without a key, of <paramref name="bytes"/>, and its queue in <paramref name="queue"/>.</summary>
    public int Partition(Stick s, int partitionCount, int bytes, out PartitionQueue queue)
    {
        lock (s)
        {
            if (s.Queue is { } q && s.Partition < partitionCount && s.Bytes < batchSize
                && (s.Sequence < 0 || RecordAccumulator.OpenSequence(q) == s.Sequence))
            {
                s.Bytes += bytes;
                queue = q;
                return s.Partition;
            }
            s.Partition = s.Partition < 0 ? Random.Shared.Next(partitionCount) : (s.Partition + 1) % partitionCount;
            s.Sequence = -1;
            s.Bytes = bytes;
            queue = s.Queue = accumulator.Queue(new TopicPartition(s.Topic, s.Partition));
            return s.Partition;
        }
    }

    /// <summary>
    /// Remembers the batch the first record of a stick went into. Only the first: a later record that opened a new
    /// batch on the same partition (the old one filled up) must not extend the stick, or it never moves on.
    /// </summary>
    public static void StickTo(Stick s, int partition, long sequence)
    {
        if (Volatile.Read(ref s.Sequence) >= 0) return; // the stick already has its batch: the common case, without the lock
        lock (s)
            if (s.Partition == partition && s.Sequence < 0) s.Sequence = sequence;
    }

    internal sealed class Stick(string topic)
    {
        public string Topic { get; } = topic;
        public int Partition = -1;
        public long Sequence = -1;
        public long Bytes;
        public PartitionQueue? Queue;
    }
}
