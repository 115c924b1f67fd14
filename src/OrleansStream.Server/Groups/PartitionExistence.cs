using OrleansStream.Server.Cluster;

namespace OrleansStream.Server.Groups;

/// <summary>
/// Which partitions exist, for the group coordinator's commits. Kafka's <c>handleOffsetCommitRequest</c> answers
/// UnknownTopicOrPartition from its metadata cache for a partition that does not exist and checks nothing of the log:
/// an offset beyond the log end is stored as given (a consumer starting there meets OffsetOutOfRange on fetch and
/// applies <c>auto.offset.reset</c>). Each topic's partition count comes from the controller's metadata and is kept:
/// partitions are only ever added, so a partition below it needs no call. The call is given up when a silo leaves,
/// the commit answered with a retriable error, rather than waiting for a controller that died with its silo.
/// </summary>
internal sealed class PartitionExistence(IGrainFactory grains, SiloDepartures departures)
{
    private readonly Dictionary<string, int> _partitionCounts = new(StringComparer.Ordinal);

    /// <summary>The partitions of <paramref name="offsets"/> that do not exist (null: none), with at most one controller call.</summary>
    public async ValueTask<HashSet<TopicPartition>?> FindUnknownAsync(IReadOnlyList<OffsetToCommit> offsets)
    {
        List<string>? missing = null;
        foreach (var o in offsets)
            if (!Known(o.TopicPartition) && (missing is null || !missing.Contains(o.TopicPartition.Topic)))
                (missing ??= []).Add(o.TopicPartition.Topic);
        if (missing is null) return null;
        var metadata = await departures.Call(grains.GetGrain<IClusterControllerGrain>(GrainKeys.Controller).GetMetadata(new MetadataRequest(missing)));
        foreach (var t in metadata.Topics)
            if (t.Error == ErrorCode.None) _partitionCounts[t.Name] = t.Partitions.Count;
        HashSet<TopicPartition>? unknown = null;
        foreach (var o in offsets)
            if (!Known(o.TopicPartition)) (unknown ??= []).Add(o.TopicPartition);
        return unknown;
    }

    private bool Known(TopicPartition tp) => _partitionCounts.TryGetValue(tp.Topic, out var count) && tp.Partition < count;
}
