using OrleansStream.Client.Groups;
using OrleansStream.Records;

namespace OrleansStream.Client;

internal sealed partial class Consumer<TKey, TValue> : IGroupConsumerHost
{
    private static readonly FetchItem s_wakeup = new(null!, FetchItemKind.Wakeup, PooledRecords.Empty, Offset.Unset);

    private ConsumerCoordinator? _group;
    private GroupHandlers<TKey, TValue> _handlers = new();

    public string MemberId => _group?.MemberId ?? "";

    public IConsumerGroupMetadata? ConsumerGroupMetadata =>
        _group is { } g ? new ConsumerGroupMetadata(g.GroupId, g.GenerationId, g.MemberId, g.GroupInstanceId) : null;

    public List<string> Subscription => _group?.Subscription ?? [];

    internal ConsumerCoordinator? Group => _group;

    internal void AttachGroup(ConsumerCoordinatorFactory factory, GroupHandlers<TKey, TValue> handlers)
    {
        _handlers = handlers;
        _group = factory.Create(this);
        var group = _group;
        CommittedOffsets = (tp, ct) => group.CommittedOffsetAsync(tp, ct);
    }

    private ConsumerCoordinator RequireGroup() => _group ?? throw new KafkaException(new Error(ErrorCode.InvalidGroupId,
        "group.id is not set: subscribing and committing need a consumer group"));

    public void Subscribe(string topic) => Subscribe([topic]);

    public void Subscribe(IEnumerable<string> topics)
    {
        ArgumentNullException.ThrowIfNull(topics);
        RequireGroup().Subscribe(topics);
    }

    public void Unsubscribe() => _group?.Unsubscribe();

    public List<TopicPartitionOffset> Commit() => RequireGroup().Commit();

    public void Commit(IEnumerable<TopicPartitionOffset> offsets)
    {
        ArgumentNullException.ThrowIfNull(offsets);
        RequireGroup().Commit(offsets);
    }

    public void Commit(ConsumeResult<TKey, TValue> result)
    {
        ArgumentNullException.ThrowIfNull(result);
        RequireGroup().Commit([new TopicPartitionOffset(result.TopicPartition, result.Offset + 1)]);
    }

    public void StoreOffset(ConsumeResult<TKey, TValue> result)
    {
        ArgumentNullException.ThrowIfNull(result);
        RequireGroup().StoreOffset(result.TopicPartition, result.Offset + 1);
    }

    public void StoreOffset(TopicPartitionOffset offset) => RequireGroup().StoreOffset(offset.TopicPartition, offset.Offset);

    public List<TopicPartitionOffset> Committed(TimeSpan timeout) => Committed(Assignment, timeout);

    public List<TopicPartitionOffset> Committed(IEnumerable<TopicPartition> partitions, TimeSpan timeout)
    {
        ArgumentNullException.ThrowIfNull(partitions);
        return RequireGroup().Committed(partitions, timeout);
    }

    /// <summary>Runs at the start of every Consume step: rebalances, handlers and auto commits happen here.</summary>
    private void PollGroup() => _group?.Poll();

    /// <summary>A record was handed out: with enable.auto.offset.store its offset + 1 is the next to commit.</summary>
    private void StoreConsumed(TopicPartition tp, long offset) => _group?.OnConsumed(tp, offset);

    private void CloseGroup() => _group?.Close();

    void IGroupConsumerHost.StartFetching(IReadOnlyList<TopicPartitionOffset> partitions) => ApplyAssignment([.. partitions], []);

    void IGroupConsumerHost.StopFetching(IReadOnlyList<TopicPartition> partitions) => ApplyAssignment([], [.. partitions]);

    IEnumerable<TopicPartitionOffset>? IGroupConsumerHost.OnPartitionsAssigned(List<TopicPartition> partitions) =>
        _handlers.Assigned?.Invoke(this, partitions);

    void IGroupConsumerHost.OnPartitionsRevoked(List<TopicPartitionOffset> partitions) => _handlers.Revoked?.Invoke(this, partitions);

    void IGroupConsumerHost.OnPartitionsLost(List<TopicPartitionOffset> partitions) =>
        (_handlers.Lost ?? _handlers.Revoked)?.Invoke(this, partitions);

    void IGroupConsumerHost.Wakeup() => _queue.Writer.TryWrite(s_wakeup);
}
