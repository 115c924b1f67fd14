using OrleansStream.Client.Groups;

namespace OrleansStream.Client;

public sealed partial class ConsumerBuilder<TKey, TValue>
{
    private readonly GroupHandlers<TKey, TValue> _groupHandlers = new();

    /// <summary>
    /// Called inside Consume when the group gives this consumer partitions (with cooperative-sticky: only the new
    /// ones). Return the offsets to start from, or the partitions with <see cref="Offset.Unset"/> for the committed offsets.
    /// </summary>
    public ConsumerBuilder<TKey, TValue> SetPartitionsAssignedHandler(
        Func<IConsumer<TKey, TValue>, List<TopicPartition>, IEnumerable<TopicPartitionOffset>> partitionsAssignedHandler)
    {
        ArgumentNullException.ThrowIfNull(partitionsAssignedHandler);
        _groupHandlers.Assigned = partitionsAssignedHandler;
        return this;
    }

    public ConsumerBuilder<TKey, TValue> SetPartitionsAssignedHandler(Action<IConsumer<TKey, TValue>, List<TopicPartition>> partitionsAssignedHandler)
    {
        ArgumentNullException.ThrowIfNull(partitionsAssignedHandler);
        _groupHandlers.Assigned = (c, partitions) =>
        {
            partitionsAssignedHandler(c, partitions);
            return null;
        };
        return this;
    }

    /// <summary>
    /// Called inside Consume before partitions are taken away in a rebalance (eager: all of them before rejoining;
    /// cooperative: only those that move), with their stored offsets. Commit here for at-least-once without auto commit.
    /// </summary>
    public ConsumerBuilder<TKey, TValue> SetPartitionsRevokedHandler(
        Func<IConsumer<TKey, TValue>, List<TopicPartitionOffset>, IEnumerable<TopicPartitionOffset>> partitionsRevokedHandler)
    {
        ArgumentNullException.ThrowIfNull(partitionsRevokedHandler);
        _groupHandlers.Revoked = (c, partitions) => partitionsRevokedHandler(c, partitions);
        return this;
    }

    public ConsumerBuilder<TKey, TValue> SetPartitionsRevokedHandler(Action<IConsumer<TKey, TValue>, List<TopicPartitionOffset>> partitionsRevokedHandler)
    {
        ArgumentNullException.ThrowIfNull(partitionsRevokedHandler);
        _groupHandlers.Revoked = (c, partitions) => partitionsRevokedHandler(c, partitions);
        return this;
    }

    /// <summary>
    /// Called when the consumer lost its partitions without a clean revocation (its session expired or it stopped
    /// polling): another member may own them already, so committing is pointless. Defaults to the revoked handler.
    /// </summary>
    public ConsumerBuilder<TKey, TValue> SetPartitionsLostHandler(
        Func<IConsumer<TKey, TValue>, List<TopicPartitionOffset>, IEnumerable<TopicPartitionOffset>> partitionsLostHandler)
    {
        ArgumentNullException.ThrowIfNull(partitionsLostHandler);
        _groupHandlers.Lost = (c, partitions) => partitionsLostHandler(c, partitions);
        return this;
    }

    public ConsumerBuilder<TKey, TValue> SetPartitionsLostHandler(Action<IConsumer<TKey, TValue>, List<TopicPartitionOffset>> partitionsLostHandler)
    {
        ArgumentNullException.ThrowIfNull(partitionsLostHandler);
        _groupHandlers.Lost = (c, partitions) => partitionsLostHandler(c, partitions);
        return this;
    }

    private void AttachGroup(Consumer<TKey, TValue> consumer)
    {
        if (string.IsNullOrEmpty(_config.GroupId)) return;
        consumer.AttachGroup(new ConsumerCoordinatorFactory(_clusterClient, GroupSettings.From(_config, consumer.Name), _time), _groupHandlers.Copy());
    }
}
