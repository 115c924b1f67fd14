using OrleansStream.Records;

namespace OrleansStream.Client;

internal sealed partial class Producer<TKey, TValue>(
    string name,
    Sender sender,
    ISerializer<TKey> keySerializer,
    ISerializer<TValue> valueSerializer,
    PartitionerDelegate? defaultPartitioner,
    Dictionary<string, PartitionerDelegate> partitioners) : IProducer<TKey, TValue>
{
    private readonly ProducerSettings _settings = sender.Settings;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, TopicGate> _gates = new(StringComparer.Ordinal);
    private int _disposed;
    private TopicGate? _lastGate;

    public string Name { get; } = name;

    public Task<DeliveryResult<TKey, TValue>> ProduceAsync(string topic, Message<TKey, TValue> message, CancellationToken cancellationToken = default) =>
        ProduceAsync(topic, -1, message, cancellationToken);

    public Task<DeliveryResult<TKey, TValue>> ProduceAsync(TopicPartition topicPartition, Message<TKey, TValue> message, CancellationToken cancellationToken = default) =>
        ProduceAsync(topicPartition.Topic, PartitionOf(topicPartition), message, cancellationToken);

    public void Produce(string topic, Message<TKey, TValue> message, Action<DeliveryReport<TKey, TValue>>? deliveryHandler = null) =>
        Produce(topic, -1, message, HandlerDelivery<TKey, TValue>.Instance, deliveryHandler);

    public void Produce(TopicPartition topicPartition, Message<TKey, TValue> message, Action<DeliveryReport<TKey, TValue>>? deliveryHandler = null) =>
        Produce(topicPartition.Topic, PartitionOf(topicPartition), message, HandlerDelivery<TKey, TValue>.Instance, deliveryHandler);

    public void Produce(string topic, Message<TKey, TValue> message, IDeliveryHandler<TKey, TValue> deliveryHandler) =>
        Produce(topic, -1, message, InterfaceDelivery<TKey, TValue>.Instance, deliveryHandler);

    public void Produce(TopicPartition topicPartition, Message<TKey, TValue> message, IDeliveryHandler<TKey, TValue> deliveryHandler) =>
        Produce(topicPartition.Topic, PartitionOf(topicPartition), message, InterfaceDelivery<TKey, TValue>.Instance, deliveryHandler);

    private static int PartitionOf(TopicPartition topicPartition) => topicPartition.Partition >= 0
        ? topicPartition.Partition
        : throw new ArgumentOutOfRangeException(nameof(topicPartition), "A partition is >= 0; produce to the topic to let the partitioner choose.");

    private Task<DeliveryResult<TKey, TValue>> ProduceAsync(string topic, int partition, Message<TKey, TValue> message, CancellationToken cancellationToken)
    {
        var timestampMs = TimestampOf(message);
        var completion = new TaskCompletionSource<DeliveryResult<TKey, TValue>>(TaskCreationOptions.RunContinuationsAsynchronously);
        ValueTask pending;
        try
        {
            pending = Enqueue(topic, partition, message, timestampMs, AsyncDelivery<TKey, TValue>.For(message, timestampMs, completion));
        }
        catch (ProduceException<TKey, TValue> ex)
        {
            return Task.FromException<DeliveryResult<TKey, TValue>>(ex);
        }
        var task = pending.IsCompletedSuccessfully ? completion.Task : AwaitThen(pending, completion.Task);
        return cancellationToken.CanBeCanceled ? task.WaitAsync(cancellationToken) : task;
    }

    private static async Task<DeliveryResult<TKey, TValue>> AwaitThen(ValueTask pending, Task<DeliveryResult<TKey, TValue>> delivered)
    {
        await pending.ConfigureAwait(false);
        return await delivered.ConfigureAwait(false);
    }

    /// <summary>Produce with a handler: <paramref name="handler"/> travels as the record's state, heard through <paramref name="callback"/>.</summary>
    private void Produce(string topic, int partition, Message<TKey, TValue> message, IDeliveryCallback callback, object? handler)
    {
        var timestampMs = TimestampOf(message);
        var delivery = handler is not null && _settings.EnableDeliveryReports
            ? new Delivery(callback, message, handler, timestampMs)
            : NoDeliveryCallback.Delivery;
        // Like Java's send(), this blocks while metadata for a new topic loads or the buffer is full.
        var pending = Enqueue(topic, partition, message, timestampMs, delivery);
        if (!pending.IsCompletedSuccessfully) pending.AsTask().GetAwaiter().GetResult();
    }

    /// <summary>Serializes, checks, partitions and appends. Failures before the accumulator throw a ProduceException.</summary>
    private ValueTask Enqueue(string topic, int partition, Message<TKey, TValue> message, long timestampMs, in Delivery delivery)
    {
        ArgumentNullException.ThrowIfNull(message);
        ArgumentException.ThrowIfNullOrEmpty(topic);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (sender.Transactional?.SendError() is { } notInTransaction)
            throw Fail(topic, partition, message, notInTransaction.Code, notInTransaction.Reason);
        sender.Begin();
        try
        {
            var pending = Serialize(topic, partition, message, timestampMs, delivery);
            if (pending.IsCompletedSuccessfully) return pending;
            return new ValueTask(AbandonOnFailure(pending.AsTask()));
        }
        catch
        {
            sender.Abandon();
            throw;
        }
    }

    private async Task AbandonOnFailure(Task pending)
    {
        try
        {
            await pending.ConfigureAwait(false);
        }
        catch
        {
            sender.Abandon();
            throw;
        }
    }

    private ValueTask Serialize(string topic, int partition, Message<TKey, TValue> message, long timestampMs, in Delivery delivery)
    {
        byte[]? key, value;
        try
        {
            key = keySerializer.Serialize(message.Key, new SerializationContext(MessageComponentType.Key, topic, message.Headers));
        }
        catch (Exception ex)
        {
            throw Fail(topic, partition, message, ErrorCode.InvalidRecord, $"The key serializer failed: {ex.Message}", ex);
        }
        try
        {
            value = valueSerializer.Serialize(message.Value, new SerializationContext(MessageComponentType.Value, topic, message.Headers));
        }
        catch (Exception ex)
        {
            throw Fail(topic, partition, message, ErrorCode.InvalidRecord, $"The value serializer failed: {ex.Message}", ex);
        }

        var size = RecordBatchBuilder.EstimateSizeInBytes(key?.Length ?? 0, value?.Length ?? 0, message.Headers);
        if (size + RecordBatchHeader.Size > _settings.MessageMaxBytes)
            throw Fail(topic, partition, message, ErrorCode.RecordTooLarge,
                $"The message is {size + RecordBatchHeader.Size} bytes serialized, larger than message.max.bytes ({_settings.MessageMaxBytes}).");

        var gate = GateOf(topic);
        if (!Volatile.Read(ref gate.Active) && EntryOf(gate) is { } entry && sender.Buffers.TryReserve(size))
        {
            Append(gate, entry, partition, message, timestampMs, key, value, size, delivery);
            return ValueTask.CompletedTask;
        }

        // Metadata is loading or the buffer is full: queue behind the topic's gate, so that records keep the order
        // in which Produce was called even though they wait.
        var waiting = new WaitingRecord(partition, message, timestampMs, key, value, size, delivery);
        bool start;
        lock (gate.Queue)
        {
            gate.Queue.Enqueue(waiting);
            start = !gate.Active;
            Volatile.Write(ref gate.Active, true);
        }
        if (start) _ = DrainAsync(topic, gate);
        return new ValueTask(waiting.Appended.Task);
    }

    private async Task DrainAsync(string topic, TopicGate gate)
    {
        while (true)
        {
            WaitingRecord w;
            lock (gate.Queue)
            {
                if (!gate.Queue.TryPeek(out w!))
                {
                    Volatile.Write(ref gate.Active, false);
                    return;
                }
            }
            try
            {
                TopicEntry entry;
                try
                {
                    entry = await sender.TopicAsync(topic).ConfigureAwait(false);
                    await sender.Buffers.ReserveAsync(w.Size, CancellationToken.None).ConfigureAwait(false);
                }
                catch (KafkaException ex)
                {
                    throw Fail(topic, w.Partition, w.Message, ex.Error.Code, ex.Error.Reason, ex);
                }
                Append(gate, entry, w.Partition, w.Message, w.TimestampMs, w.Key, w.Value, w.Size, w.Delivery);
                w.Appended.TrySetResult();
            }
            catch (Exception ex)
            {
                w.Appended.TrySetException(ex);
            }
            lock (gate.Queue) gate.Queue.Dequeue();
        }
    }

    /// <summary>The topic's gate, from the last one used when the topic is the same (a producer usually writes to one topic).</summary>
    private TopicGate GateOf(string topic)
    {
        var gate = _lastGate;
        if (gate is null || !string.Equals(gate.Topic, topic, StringComparison.Ordinal))
            _lastGate = gate = _gates.GetOrAdd(topic, static (t, s) => new TopicGate(t, s.Partitioner.For(t)), sender);
        return gate;
    }

    /// <summary>
    /// The topic's metadata for a record, or null while it loads. As in Kafka's send, the entry in hand serves until
    /// the cluster's metadata changes, not only until metadata.max.age.ms: the sender refreshes stale metadata, and a
    /// record needs only the partition count. A change anywhere raises the cache's version and the entry is looked up again.
    /// </summary>
    private TopicEntry? EntryOf(TopicGate gate)
    {
        var entry = gate.Entry;
        if (entry is not null && entry.Version >= sender.Metadata.Version) return entry;
        var topicTask = sender.TopicAsync(gate.Topic);
        if (!topicTask.IsCompletedSuccessfully) return null;
        return gate.Entry = topicTask.Result;
    }

    /// <summary>What the producer keeps per topic: the gate records wait behind, its metadata, the sticky partitioner's state, the partitions' queues.</summary>
    private sealed class TopicGate(string topic, StickyPartitioner.Stick stick)
    {
        public readonly Queue<WaitingRecord> Queue = new();
        /// <summary>Records are waiting; new ones queue behind them.</summary>
        public bool Active;
        private PartitionQueue?[] _queues = [];
        public TopicEntry? Entry;

        public string Topic { get; } = topic;

        public StickyPartitioner.Stick Stick { get; } = stick;

        public PartitionQueue QueueOf(int partition, Sender sender)
        {
            var queues = Volatile.Read(ref _queues);
            if ((uint)partition < (uint)queues.Length && queues[partition] is { } q) return q;
            lock (Stick)
            {
                queues = _queues;
                if (partition >= queues.Length) Array.Resize(ref queues, partition + 1);
                else queues = (PartitionQueue?[])queues.Clone();
                q = queues[partition] ??= sender.Queue(new TopicPartition(Topic, partition));
                Volatile.Write(ref _queues, queues);
                return q;
            }
        }
    }

    private sealed class WaitingRecord(int partition, Message<TKey, TValue> message, long timestampMs, byte[]? key, byte[]? value, int size, Delivery delivery)
    {
        public int Partition { get; } = partition;
        public Message<TKey, TValue> Message { get; } = message;
        public long TimestampMs { get; } = timestampMs;
        public byte[]? Key { get; } = key;
        public byte[]? Value { get; } = value;
        public int Size { get; } = size;
        public Delivery Delivery { get; } = delivery;
        public TaskCompletionSource Appended { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private void Append(TopicGate gate, TopicEntry entry, int partition, Message<TKey, TValue> message, long timestampMs, byte[]? key, byte[]? value, int size,
        in Delivery delivery)
    {
        var count = entry.PartitionCount;
        PartitionQueue? queue = null;
        if (partition >= count)
        {
            sender.Buffers.Release(size, 1);
            throw Fail(entry.Name, partition, message, ErrorCode.UnknownTopicOrPartition,
                $"Partition {partition} does not exist; topic '{entry.Name}' has {count}.");
        }
        if (partition < 0)
        {
            partition = ChoosePartition(entry.Name, count, key);
            if (partition < 0)
            {
                partition = sender.Partitioner.Partition(gate.Stick, count, size, out queue);
            }
            else if (partition >= count)
            {
                sender.Buffers.Release(size, 1);
                throw Fail(entry.Name, partition, message, ErrorCode.UnknownTopicOrPartition,
                    $"The partitioner chose partition {partition}; topic '{entry.Name}' has {count}.");
            }
        }
        try
        {
            var sticky = queue is not null;
            sender.Append(queue ?? gate.QueueOf(partition, sender), timestampMs, key, key is null, value, value is null,
                message.Headers, size, delivery, sticky ? gate.Stick : null);
        }
        catch
        {
            sender.Buffers.Release(size, 1);
            throw;
        }
    }

    private int ChoosePartition(string topic, int count, byte[]? key)
    {
        if (partitioners.TryGetValue(topic, out var custom) || (custom = defaultPartitioner) is not null)
            return custom(topic, count, key, key is null);
        return Partitioners.ForKey(_settings.Partitioner, key, key is null, count);
    }

    private long TimestampOf(Message<TKey, TValue> message) =>
        message.Timestamp.Type == TimestampType.NotAvailable
            ? sender.Time.GetUtcNow().ToUnixTimeMilliseconds()
            : message.Timestamp.UnixTimestampMs;

    private static ProduceException<TKey, TValue> Fail(string topic, int partition, Message<TKey, TValue> message, ErrorCode code, string reason, Exception? inner = null) =>
        new(new Error(code, reason), new DeliveryResult<TKey, TValue>
        {
            Topic = topic,
            Partition = partition,
            Offset = -1,
            Status = PersistenceStatus.NotPersisted,
            Message = message,
        }, inner);

    public int Flush(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            sender.FlushAsync(cts.Token).GetAwaiter().GetResult();
        }
        catch (OperationCanceledException) when (cts.IsCancellationRequested)
        {
        }
        return sender.Outstanding;
    }

    public void Flush(CancellationToken cancellationToken = default) => sender.FlushAsync(cancellationToken).GetAwaiter().GetResult();

    public Task FlushAsync(CancellationToken cancellationToken = default) => sender.FlushAsync(cancellationToken);

    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        // Deliver what is buffered; each message still fails at its own message.timeout.ms, so this ends.
        using (var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(_settings.MessageTimeoutMs + _settings.RequestTimeoutMs)))
        {
            try
            {
                await sender.FlushAsync(cts.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }
        }
        await sender.DisposeAsync().ConfigureAwait(false);
    }
}
