using OrleansStream.Server.Diagnostics;

namespace OrleansStream.Server.Groups;

/// <summary>
/// Keeps a group's <c>orleansstream.consumer.lag</c> series: committed offsets come from the group's own state, high
/// watermarks from the partition leaders (ListOffsets latest). It asks the leaders every <see cref="RefreshInterval"/>
/// and after a commit names a partition it has no high watermark for, and only while something observes the gauge,
/// so an unobserved broker makes no extra calls. Runs on the group's turns; the gauge reads the cached values.
/// </summary>
internal sealed class ConsumerLagProbe : IDisposable
{
    public static readonly TimeSpan RefreshInterval = TimeSpan.FromSeconds(15);

    private readonly IGrainFactory _grains;
    private readonly ConsumerGroupMetrics _metrics;
    private readonly IReadOnlyDictionary<TopicPartition, StoredOffset> _offsets;
    private readonly IGrainTimer _timer;
    private bool _refreshing;

    public ConsumerLagProbe(Grain group, IGrainFactory grains, OrleansStreamMetrics metrics, IReadOnlyDictionary<TopicPartition, StoredOffset> offsets)
    {
        _grains = grains;
        _offsets = offsets;
        _metrics = metrics.ForGroup(group.GetPrimaryKeyString());
        _timer = group.RegisterGrainTimer(static (probe, _) => probe.RefreshAsync(), this,
            new GrainTimerCreationOptions(RefreshInterval, RefreshInterval) { Interleave = true });
        if (_metrics.Enabled && Publish()) _ = RefreshAsync();
    }

    /// <summary>The group stored <paramref name="offsets"/> (commit or reset): lag moves now, from the known high watermarks.</summary>
    public void Committed(IReadOnlyList<OffsetToCommit> offsets)
    {
        if (!_metrics.Enabled) return;
        var unknown = false;
        foreach (var o in offsets)
        {
            _metrics.Committed(o.TopicPartition, o.Offset);
            unknown |= _metrics.KnownHighWatermark(o.TopicPartition) < 0;
        }
        if (unknown) _ = RefreshAsync();
    }

    public void Dispose()
    {
        _timer.Dispose();
        _metrics.Dispose();
    }

    /// <summary>Copies the committed offsets into the series, ends those of partitions no longer committed; true when a high watermark is unknown.</summary>
    private bool Publish()
    {
        var unknown = false;
        foreach (var (tp, o) in _offsets)
        {
            _metrics.Committed(tp, o.Offset);
            unknown |= _metrics.KnownHighWatermark(tp) < 0;
        }
        List<TopicPartition>? gone = null;
        foreach (var tp in _metrics.Partitions)
            if (!_offsets.ContainsKey(tp)) (gone ??= []).Add(tp);
        if (gone is not null)
            foreach (var tp in gone) _metrics.Forget(tp);
        return unknown;
    }

    private async Task RefreshAsync()
    {
        if (_refreshing || !_metrics.Enabled) return;
        Publish();
        if (_offsets.Count == 0) return;
        _refreshing = true;
        try
        {
            var partitions = new List<TopicPartition>(_offsets.Keys);
            var topics = new HashSet<string>();
            foreach (var tp in partitions) topics.Add(tp.Topic);
            var metadata = await _grains.GetGrain<IClusterControllerGrain>(GrainKeys.Controller).GetMetadata(new MetadataRequest([.. topics]));
            var leaders = new Dictionary<TopicPartition, int>();
            foreach (var t in metadata.Topics)
                if (t.Error == ErrorCode.None)
                    foreach (var p in t.Partitions) leaders[new TopicPartition(t.Name, p.Partition)] = p.Leader;
            var reads = new List<(TopicPartition Partition, Task<ListOffsetsResponse> Latest)>();
            foreach (var tp in partitions)
                if (leaders.TryGetValue(tp, out var leader) && leader >= 0)
                    reads.Add((tp, _grains.GetGrain<IPartitionReplicaGrain>(GrainKeys.Replica(tp.Topic, tp.Partition, leader))
                        .ListOffsets(new ListOffsetsRequest(ListOffsetsTimestamp.Latest))));
            foreach (var (tp, latest) in reads)
            {
                await ((Task)latest).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing | ConfigureAwaitOptions.ContinueOnCapturedContext);
                if (latest.IsCompletedSuccessfully && latest.Result.Error == ErrorCode.None) _metrics.HighWatermark(tp, latest.Result.Offset);
            }
            Publish();
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // The next tick asks again; lag is a gauge, a missed refresh only leaves the last value.
        }
        finally
        {
            _refreshing = false;
        }
    }
}
