namespace OrleansStream.Client;

/// <summary>
/// Consumes messages, shaped like Confluent.Kafka's IConsumer. This is the low-level API (manual assignment);
/// consumer groups add subscription and commits on top. Not safe for concurrent Consume calls.
/// </summary>
public interface IConsumer<TKey, TValue> : IDisposable
{
    string Name { get; }

    /// <summary>The partitions currently assigned.</summary>
    List<TopicPartition> Assignment { get; }

    /// <summary>Replaces the assignment; each partition starts at the committed offset, else <c>auto.offset.reset</c>.</summary>
    void Assign(TopicPartition partition);

    void Assign(TopicPartitionOffset partition);

    void Assign(IEnumerable<TopicPartition> partitions);

    /// <summary>Replaces the assignment; an offset may be a real one or <see cref="Offset.Beginning"/>, <see cref="Offset.End"/>, <see cref="Offset.Unset"/>.</summary>
    void Assign(IEnumerable<TopicPartitionOffset> partitions);

    void IncrementalAssign(IEnumerable<TopicPartition> partitions);

    void IncrementalAssign(IEnumerable<TopicPartitionOffset> partitions);

    void IncrementalUnassign(IEnumerable<TopicPartition> partitions);

    void Unassign();

    /// <summary>Moves an assigned partition's position; prefetched data for it is dropped.</summary>
    void Seek(TopicPartitionOffset tpo);

    /// <summary>The offset of the next message Consume returns for the partition, or <see cref="Offset.Unset"/>.</summary>
    long Position(TopicPartition partition);

    void Pause(IEnumerable<TopicPartition> partitions);

    void Resume(IEnumerable<TopicPartition> partitions);

    /// <summary>The next message or event, or null if none came within the timeout. Throws <see cref="ConsumeException"/>.</summary>
    ConsumeResult<TKey, TValue>? Consume(int millisecondsTimeout);

    ConsumeResult<TKey, TValue>? Consume(TimeSpan timeout);

    /// <summary>Waits until a message or event arrives; throws <see cref="OperationCanceledException"/> when cancelled.</summary>
    ConsumeResult<TKey, TValue> Consume(CancellationToken cancellationToken = default);

    ValueTask<ConsumeResult<TKey, TValue>> ConsumeAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Kafka's poll, allocation-free: the records of the next fetch answer that is ready (one partition's), or an empty
    /// <see cref="ConsumerRecords"/> if none came within the timeout. The records are read in place, undeserialized, and
    /// valid until the next Poll, Consume, Seek or assignment change; enumerating them hands them out with Consume's
    /// position and offset-store semantics, so commits, auto commit, rebalances and seeks work as with Consume.
    /// Partition EOF events are Consume's only. Throws <see cref="ConsumeException"/>.
    /// </summary>
    ConsumerRecords Poll(TimeSpan timeout);

    ConsumerRecords Poll(int millisecondsTimeout);

    /// <summary>Asks the leader for the partition's log start offset and high watermark.</summary>
    WatermarkOffsets QueryWatermarkOffsets(TopicPartition topicPartition, TimeSpan timeout);

    /// <summary>The watermarks the last fetch saw, without a call; <see cref="Offset.Unset"/> for unknown.</summary>
    WatermarkOffsets GetWatermarkOffsets(TopicPartition topicPartition);

    /// <summary>Per partition, the first offset whose timestamp is at or after the one given; <see cref="Offset.End"/> when none.</summary>
    List<TopicPartitionOffset> OffsetsForTimes(IEnumerable<TopicPartitionTimestamp> timestampsToSearch, TimeSpan timeout);

    /// <summary>Stops fetching and leaves the assignment; Dispose calls it.</summary>
    void Close();

    // The consumer group half (Kafka's subscribe / commit API), available with group.id.

    /// <summary>This consumer's member id in its group; empty until it has joined.</summary>
    string MemberId { get; }

    /// <summary>The group, generation and member now, for <see cref="IProducer{TKey,TValue}.SendOffsetsToTransaction"/>; null without group.id.</summary>
    IConsumerGroupMetadata? ConsumerGroupMetadata { get; }

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
