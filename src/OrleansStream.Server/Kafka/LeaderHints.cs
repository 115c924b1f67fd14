using OrleansStream.Protocol.Messages;

namespace OrleansStream.Server.Kafka;

/// <summary>
/// KIP-951's leader discovery: a Produce (v10+) or Fetch (v16+) partition answered NotLeaderOrFollower or
/// FencedLeaderEpoch carries the partition's current leader and leader epoch, and the answer those leaders' endpoints
/// on the client's listener, so the client moves to the new leader without a Metadata request. The leaders come from
/// the controller (or, while it cannot answer, this broker's <see cref="MetadataCache"/>), asked once per answer that
/// needs any, never on the path of an answer that does not.
/// </summary>
public sealed class LeaderHints(PartitionLeaders leaders, MetadataCache metadataCache, KafkaBrokers brokers)
{
    /// <summary>The errors Kafka answers with a current leader.</summary>
    public static bool Needed(ErrorCode error) => error is ErrorCode.NotLeaderOrFollower or ErrorCode.FencedLeaderEpoch;

    /// <summary>The current leaders of <paramref name="topics"/>, to look partitions up in.</summary>
    public async Task<LeaderHintSet> LookUpAsync(IReadOnlyList<string> topics, string listenerName)
    {
        var view = brokers.DescribeAsync(listenerName);
        var metadata = await metadataCache.TopicsAsync(topics, allowAutoTopicCreation: false);
        if (!metadata.FromCache) leaders.Update(metadata.Topics);
        return new LeaderHintSet(metadata.Topics, await view);
    }
}

/// <summary>The current leaders of some topics and the endpoints of those looked up (<see cref="Nodes"/>).</summary>
public sealed class LeaderHintSet(IReadOnlyList<TopicMetadata> topics, KafkaBrokerView cluster)
{
    /// <summary>The endpoints of the leaders <see cref="TryGet"/> gave, each once.</summary>
    public List<MetadataBroker> Nodes { get; } = [];

    /// <summary>The partition's current leader's node and epoch, when it has a live leader on the client's listener.</summary>
    public bool TryGet(string topic, int partition, out int leaderId, out int leaderEpoch)
    {
        (leaderId, leaderEpoch) = (-1, -1);
        foreach (var t in topics)
        {
            if (t.Name != topic || t.Error != ErrorCode.None || (uint)partition >= (uint)t.Partitions.Count) continue;
            var current = t.Partitions[partition];
            if (current.LeaderBroker is not { } broker || !cluster.Listed.Contains(broker)) return false;
            (leaderId, leaderEpoch) = (cluster.NodeId(broker), current.LeaderEpoch);
            foreach (var b in cluster.Brokers)
                if (b.NodeId == leaderId && !Nodes.Contains(b)) Nodes.Add(b);
            return leaderId >= 0;
        }
        return false;
    }
}
