namespace OrleansStream.Server.Groups;

/// <summary>
/// The last high watermark seen per partition (the leader's ListOffsets latest), so a commit at or below it needs no
/// grain call: high watermarks only grow (truncation below a committed offset is caught by the consumer's
/// OffsetOutOfRange reset, as in Kafka).
/// </summary>
internal sealed class HighWatermarkCache(IGrainFactory grains)
{
    private readonly Dictionary<TopicPartition, long> _highWatermarks = [];

    /// <summary><see cref="ErrorCode.None"/> when the partition exists and <paramref name="offset"/> is at or below its high watermark.</summary>
    public async Task<(ErrorCode Error, long HighWatermark)> CheckAsync(TopicPartition tp, long offset)
    {
        if (_highWatermarks.TryGetValue(tp, out var hw) && offset <= hw) return (ErrorCode.None, hw);
        try
        {
            var metadata = await grains.GetGrain<IClusterControllerGrain>(GrainKeys.Controller)
                .GetMetadata(new MetadataRequest([tp.Topic]));
            PartitionMetadata? partition = null;
            foreach (var t in metadata.Topics)
            {
                if (t.Name != tp.Topic || t.Error != ErrorCode.None) continue;
                foreach (var p in t.Partitions)
                    if (p.Partition == tp.Partition) partition = p;
            }
            if (partition is null) return (ErrorCode.UnknownTopicOrPartition, -1);
            if (offset == 0) return (ErrorCode.None, 0); // every high watermark is at or after 0: only existence mattered
            if (partition.Leader < 0) return (ErrorCode.LeaderNotAvailable, -1);
            var latest = await grains.GetGrain<IPartitionReplicaGrain>(GrainKeys.Replica(tp.Topic, tp.Partition, partition.Leader))
                .ListOffsets(new ListOffsetsRequest(OffsetSpec.Latest));
            if (latest.Error != ErrorCode.None) return (latest.Error, -1);
            _highWatermarks[tp] = latest.Offset;
            return (offset <= latest.Offset ? ErrorCode.None : ErrorCode.OffsetOutOfRange, latest.Offset);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            return (ErrorCode.LeaderNotAvailable, -1);
        }
    }
}
