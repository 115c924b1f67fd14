namespace OrleansStream.Client;

/// <summary>The consumer group half of the consumer (Kafka's subscribe / commit API), available with <c>group.id</c>.</summary>
public partial interface IConsumer<TKey, TValue>
{
    /// <summary>This consumer's member id in its group; empty until it has joined.</summary>
    string MemberId { get; }

    /// <summary>The subscribed topics.</summary>
    List<string> Subscription { get; }

    /// <summary>Joins the group for <paramref name="topic"/>; partitions arrive through rebalances inside Consume.</summary>
    void Subscribe(string topic);

    /// <summary>Replaces the subscription; a changed subscription rebalances the group.</summary>
    void Subscribe(IEnumerable<string> topics);

    /// <summary>Gives up every partition (revoked handler, auto commit) and leaves the group.</summary>
    void Unsubscribe();

    /// <summary>Commits the stored offsets of the assigned partitions and returns them.</summary>
    List<TopicPartitionOffset> Commit();

    /// <summary>Commits these offsets (each the next offset to consume). All or nothing.</summary>
    void Commit(IEnumerable<TopicPartitionOffset> offsets);

    /// <summary>Commits <paramref name="result"/>'s offset + 1.</summary>
    void Commit(ConsumeResult<TKey, TValue> result);

    /// <summary>Stores <paramref name="result"/>'s offset + 1 for the next commit (use with <c>enable.auto.offset.store=false</c>).</summary>
    void StoreOffset(ConsumeResult<TKey, TValue> result);

    /// <summary>Stores an offset (the next offset to consume) for the next commit.</summary>
    void StoreOffset(TopicPartitionOffset offset);

    /// <summary>The group's committed offsets for the current assignment (<see cref="Offset.Unset"/> when none).</summary>
    List<TopicPartitionOffset> Committed(TimeSpan timeout);

    /// <summary>The group's committed offsets for these partitions (<see cref="Offset.Unset"/> when none).</summary>
    List<TopicPartitionOffset> Committed(IEnumerable<TopicPartition> partitions, TimeSpan timeout);
}
