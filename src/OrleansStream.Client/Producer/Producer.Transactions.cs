namespace OrleansStream.Client;

internal sealed partial class Producer<TKey, TValue>
{
    public void InitTransactions(TimeSpan timeout) => Blocking.Wait(() => Transactions().InitTransactionsAsync(timeout));

    public void BeginTransaction() => Transactions().BeginTransaction();

    public void SendOffsetsToTransaction(IEnumerable<TopicPartitionOffset> offsets, IConsumerGroupMetadata groupMetadata, TimeSpan timeout)
    {
        ArgumentNullException.ThrowIfNull(offsets);
        if (groupMetadata is not ConsumerGroupMetadata group)
            throw new ArgumentException("Pass the consumer's ConsumerGroupMetadata.", nameof(groupMetadata));
        var list = new List<OffsetToCommit>();
        foreach (var o in offsets) list.Add(new OffsetToCommit(o.TopicPartition, o.Offset));
        Blocking.Wait(() => Transactions().SendOffsetsAsync(list, group, timeout));
    }

    public void CommitTransaction(TimeSpan timeout) => Blocking.Wait(() => Transactions().CommitAsync(sender.FlushAsync, timeout));

    public void CommitTransaction() => CommitTransaction(Timeout.InfiniteTimeSpan);

    public void AbortTransaction(TimeSpan timeout) => Blocking.Wait(() => Transactions().AbortAsync(sender.FlushAsync, timeout));

    public void AbortTransaction() => AbortTransaction(Timeout.InfiniteTimeSpan);

    private TransactionalState Transactions()
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        return sender.Transactional ?? throw new KafkaException(new Error(ErrorCode.InvalidConfig,
            "The producer has no transactional.id: set ProducerConfig.TransactionalId to use transactions."));
    }
}
