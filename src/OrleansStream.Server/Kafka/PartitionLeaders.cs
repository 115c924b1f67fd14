using System.Collections.Concurrent;
using OrleansStream.Server.Controller;

namespace OrleansStream.Server.Kafka;

/// <summary>A partition's replica on this broker as the listener resolved it (its leader, for most requests), or Kafka's error.</summary>
public readonly record struct LocalLeader(ErrorCode Error, IPartitionReplicaGrain? Replica);

/// <summary>
/// Which partitions this broker leads, from the controller's metadata, cached per topic. Kafka's rule: a broker
/// serves produce, fetch and list-offsets only for the partitions it leads and answers
/// <see cref="ErrorCode.NotLeaderOrFollower"/> for the others, so the client refreshes its metadata. Any answer that
/// says the cached leader is wrong drops the topic, so the next request asks the controller again.
/// </summary>
public sealed class PartitionLeaders(IGrainFactory grains, BrokerIdentity identity, MetadataCache metadata)
{
    private readonly ConcurrentDictionary<string, CachedTopic> _topics = new(StringComparer.Ordinal);

    /// <summary>
    /// Loads the topics of a request (named by <paramref name="name"/>) not cached yet with one controller call, or from
    /// the broker's <see cref="MetadataCache"/> while the controller cannot answer: a leadership found stale there is
    /// fenced by the replica's leader epoch, and a topic it never described is <see cref="ErrorCode.UnknownTopicOrPartition"/>.
    /// </summary>
    public async ValueTask EnsureAsync<T>(T[] topics, Func<T, string> name)
    {
        ArgumentNullException.ThrowIfNull(topics);
        ArgumentNullException.ThrowIfNull(name);
        List<string>? missing = null;
        foreach (var topic in topics)
        {
            var t = name(topic);
            // An empty name is no topic (and a fetch's topic whose id is unknown has none): Find answers it without asking.
            if (t.Length > 0 && !_topics.ContainsKey(t) && (missing is null || !missing.Contains(t))) (missing ??= []).Add(t);
        }
        if (missing is null) return;
        Update((await metadata.TopicsAsync(missing, allowAutoTopicCreation: false)).Topics);
    }

    public void Update(IReadOnlyList<TopicMetadata> topics)
    {
        ArgumentNullException.ThrowIfNull(topics);
        foreach (var t in topics)
            if (t.Error == ErrorCode.None) _topics[t.Name] = new CachedTopic(t);
            else _topics.TryRemove(t.Name, out _);
    }

    public void Invalidate(string topic) => _topics.TryRemove(topic, out _);

    /// <summary>
    /// The local leader replica of a partition of a topic loaded by <see cref="EnsureAsync"/>. Named by id as well
    /// (<paramref name="topicId"/> not zero), a topic that now has another id is UnknownTopicId: the client's topic was
    /// deleted, or this broker has not heard of its new incarnation yet (retriable).
    /// </summary>
    public LocalLeader Find(string topic, int partition, Guid topicId = default)
    {
        if (!_topics.TryGetValue(topic, out var cached)) return new LocalLeader(topicId == Guid.Empty ? ErrorCode.UnknownTopicOrPartition : ErrorCode.UnknownTopicId, null);
        if (topicId != Guid.Empty && cached.Metadata.TopicId != topicId)
        {
            Invalidate(topic);
            return new LocalLeader(ErrorCode.UnknownTopicId, null);
        }
        if ((uint)partition >= (uint)cached.Metadata.Partitions.Count)
            return new LocalLeader(ErrorCode.UnknownTopicOrPartition, null);
        var p = cached.Metadata.Partitions[partition];
        if (p.Leader < 0) return new LocalLeader(ErrorCode.LeaderNotAvailable, null);
        if (p.LeaderBroker != identity.BrokerId)
        {
            Invalidate(topic);
            return new LocalLeader(ErrorCode.NotLeaderOrFollower, null);
        }
        return new LocalLeader(ErrorCode.None, cached.Leaders[partition] ??= grains.GetGrain<IPartitionReplicaGrain>(GrainKeys.Replica(topic, partition, p.Leader)));
    }

    /// <summary>The replica of a partition on this broker, leader or follower (Kafka's rule for DescribeProducers).</summary>
    public LocalLeader FindReplica(string topic, int partition)
    {
        if (!_topics.TryGetValue(topic, out var cached) || (uint)partition >= (uint)cached.Metadata.Partitions.Count)
            return new LocalLeader(ErrorCode.UnknownTopicOrPartition, null);
        foreach (var r in cached.Metadata.Partitions[partition].Replicas)
            if (r.BrokerId == identity.BrokerId)
                return new LocalLeader(ErrorCode.None, grains.GetGrain<IPartitionReplicaGrain>(GrainKeys.Replica(topic, partition, r.ReplicaId)));
        Invalidate(topic);
        return new LocalLeader(ErrorCode.NotLeaderOrFollower, null);
    }

    /// <summary>
    /// A topic's metadata and the references to the leaders this broker resolved from it, made once per metadata: a
    /// grain reference and its key are objects that every request would otherwise make again for each partition.
    /// </summary>
    private sealed class CachedTopic(TopicMetadata metadata)
    {
        public TopicMetadata Metadata { get; } = metadata;

        public IPartitionReplicaGrain?[] Leaders { get; } = new IPartitionReplicaGrain?[metadata.Partitions.Count];
    }
}
