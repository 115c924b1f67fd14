using Confluent.Kafka;

namespace OrleansStream.Kafka.Tests;

/// <summary>Reads of assigned partitions with Confluent's consumer (<c>enable.partition.eof</c> on).</summary>
internal static class Consuming
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    /// <summary>Polls every consumer (a rebalance happens inside Consume) until <paramref name="done"/> holds or <paramref name="wait"/> passes.</summary>
    public static Task PollUntilAsync(Func<bool> done, string what, TimeSpan wait, params IConsumer<string, string>[] consumers) =>
        Eventually.WaitUntilAsync(() =>
        {
            foreach (var c in consumers) c.Consume(TimeSpan.FromMilliseconds(100));
            return done();
        }, what, wait);

    /// <summary>
    /// At least the expected records, then every partition's end (the last stable offset under read_committed, which
    /// a late marker may still hold back): more records than expected are read, and fail the caller's comparison.
    /// </summary>
    public static List<ConsumeResult<TKey, string>> ToEnd<TKey>(IConsumer<TKey, string> consumer, int partitions, int expected)
    {
        var read = new List<ConsumeResult<TKey, string>>();
        var ended = new HashSet<int>();
        var deadline = DateTime.UtcNow + Wait;
        while ((read.Count < expected || ended.Count < partitions) && DateTime.UtcNow < deadline)
        {
            if (consumer.Consume(TimeSpan.FromSeconds(1)) is not { } r) continue;
            if (r.IsPartitionEOF) ended.Add(r.Partition.Value);
            else
            {
                ended.Remove(r.Partition.Value);
                read.Add(r);
            }
        }
        Assert.True(read.Count >= expected && ended.Count == partitions, $"read {read.Count} of {expected} records, {ended.Count} of {partitions} partitions at their end");
        return read;
    }
}
