namespace OrleansStream.Client.Groups;

/// <summary>The rebalance handlers set on a <see cref="ConsumerBuilder{TKey,TValue}"/>.</summary>
internal sealed class GroupHandlers<TKey, TValue>
{
    public Func<IConsumer<TKey, TValue>, List<TopicPartition>, IEnumerable<TopicPartitionOffset>?>? Assigned { get; set; }

    public Action<IConsumer<TKey, TValue>, List<TopicPartitionOffset>>? Revoked { get; set; }

    public Action<IConsumer<TKey, TValue>, List<TopicPartitionOffset>>? Lost { get; set; }

    public GroupHandlers<TKey, TValue> Copy() => new() { Assigned = Assigned, Revoked = Revoked, Lost = Lost };
}

/// <summary>Everything a consumer needs to make its coordinator once it exists.</summary>
internal sealed class ConsumerCoordinatorFactory(IClusterClient client, GroupSettings settings, TimeProvider time)
{
    public ConsumerCoordinator Create(IGroupConsumerHost host) => new(client, settings, host, time);
}
