using OrleansStream.Protocol.Messages;

namespace OrleansStream.Server.Kafka;

/// <summary>
/// What Metadata and DescribeTopicPartitions (KIP-966) both say of topics: the controller's metadata, or the broker's
/// <see cref="MetadataCache"/> while the controller cannot answer, and each partition in broker nodes on the client's
/// listener. One place, so that the two APIs never describe a partition differently.
/// </summary>
public sealed class TopicDescriptions(MetadataCache metadataCache, PartitionLeaders leaders)
{
    /// <summary>
    /// The topics of <paramref name="names"/> (null: every topic, sorted by name), created first with
    /// <paramref name="create"/> as Metadata's auto-creation; the leaders named are recorded when the controller gave them.
    /// </summary>
    public async Task<IReadOnlyList<TopicMetadata>> TopicsAsync(IReadOnlyList<string>? names, bool create)
    {
        var answer = await metadataCache.TopicsAsync(names, create);
        if (!answer.FromCache) leaders.Update(answer.Topics);
        return answer.Topics;
    }

    /// <summary>
    /// A partition as Kafka's metadata cache describes it to a client: the replicas and the ISR as node ids, the leader's
    /// node while its broker is listed on the client's listener (else -1 with LeaderNotAvailable), and as offline the
    /// replicas whose broker is not.
    /// </summary>
    public static MetadataPartition Describe(PartitionMetadata p, KafkaBrokerView cluster)
    {
        ArgumentNullException.ThrowIfNull(p);
        ArgumentNullException.ThrowIfNull(cluster);
        var replicas = new int[p.Replicas.Count];
        var offline = new List<int>();
        for (var r = 0; r < replicas.Length; r++)
        {
            replicas[r] = cluster.NodeId(p.Replicas[r].BrokerId);
            if (!cluster.Listed.Contains(p.Replicas[r].BrokerId)) offline.Add(replicas[r]);
        }
        var isr = new int[p.Isr.Count];
        for (var i = 0; i < isr.Length; i++)
        {
            // The ISR names replica ids, which after a reassignment are not positions in the replicas.
            isr[i] = -1;
            for (var r = 0; r < replicas.Length; r++)
                if (p.Replicas[r].ReplicaId == p.Isr[i]) isr[i] = replicas[r];
        }
        var leaderBroker = p.LeaderBroker;
        var leaderListed = leaderBroker is not null && cluster.Listed.Contains(leaderBroker);
        var error = p.Error != ErrorCode.None ? p.Error : leaderListed ? ErrorCode.None : ErrorCode.LeaderNotAvailable;
        return new MetadataPartition(error, p.Partition, leaderListed ? cluster.NodeId(leaderBroker) : -1, p.LeaderEpoch, replicas, isr, [.. offline]);
    }
}
