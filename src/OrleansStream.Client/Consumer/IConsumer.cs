namespace OrleansStream.Client;

/// <summary>
/// Consumes messages, shaped like Confluent.Kafka's IConsumer. This is the low-level API (manual assignment);
/// consumer groups add subscription and commits on top. Not safe for concurrent Consume calls.
/// </summary>
public partial interface IConsumer<TKey, TValue> : IDisposable
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

    /// <summary>Asks the leader for the partition's log start offset and high watermark.</summary>
    WatermarkOffsets QueryWatermarkOffsets(TopicPartition topicPartition, TimeSpan timeout);

    /// <summary>The watermarks the last fetch saw, without a call; <see cref="Offset.Unset"/> for unknown.</summary>
    WatermarkOffsets GetWatermarkOffsets(TopicPartition topicPartition);

    /// <summary>Per partition, the first offset whose timestamp is at or after the one given; <see cref="Offset.End"/> when none.</summary>
    List<TopicPartitionOffset> OffsetsForTimes(IEnumerable<TopicPartitionTimestamp> timestampsToSearch, TimeSpan timeout);

    /// <summary>Stops fetching and leaves the assignment; Dispose calls it.</summary>
    void Close();
}

/// <summary>Builds an <see cref="IConsumer{TKey,TValue}"/> over an Orleans cluster client.</summary>
public sealed partial class ConsumerBuilder<TKey, TValue>
{
    private readonly IClusterClient _clusterClient;
    private readonly ConsumerConfig _config;
    private IDeserializer<TKey>? _keyDeserializer;
    private IDeserializer<TValue>? _valueDeserializer;
    private TimeProvider _time = TimeProvider.System;

    public ConsumerBuilder(IClusterClient clusterClient, ConsumerConfig config)
    {
        ArgumentNullException.ThrowIfNull(clusterClient);
        ArgumentNullException.ThrowIfNull(config);
        _clusterClient = clusterClient;
        _config = config;
    }

    public ConsumerBuilder(IClusterClient clusterClient, IEnumerable<KeyValuePair<string, string>> config)
        : this(clusterClient, new ConsumerConfig(config)) { }

    public IClusterClient ClusterClient => _clusterClient;

    public ConsumerConfig Config => _config;

    public ConsumerBuilder<TKey, TValue> SetKeyDeserializer(IDeserializer<TKey> deserializer)
    {
        _keyDeserializer = deserializer ?? throw new ArgumentNullException(nameof(deserializer));
        return this;
    }

    public ConsumerBuilder<TKey, TValue> SetValueDeserializer(IDeserializer<TValue> deserializer)
    {
        _valueDeserializer = deserializer ?? throw new ArgumentNullException(nameof(deserializer));
        return this;
    }

    internal ConsumerBuilder<TKey, TValue> SetTimeProvider(TimeProvider time)
    {
        _time = time;
        return this;
    }

    public IConsumer<TKey, TValue> Build() => BuildConsumer();

    /// <summary>The concrete consumer, for the parts of the SDK (consumer groups) that extend it.</summary>
    internal Consumer<TKey, TValue> BuildConsumer()
    {
        var keyDeserializer = _keyDeserializer ?? Deserializers.Default<TKey>() ?? throw new InvalidOperationException(
            $"Key deserializer not specified and there is no default deserializer defined for type {typeof(TKey).Name}.");
        var valueDeserializer = _valueDeserializer ?? Deserializers.Default<TValue>() ?? throw new InvalidOperationException(
            $"Value deserializer not specified and there is no default deserializer defined for type {typeof(TValue).Name}.");
        var settings = _config.Resolve();
        var cache = _time == TimeProvider.System ? MetadataCache.For(_clusterClient) : new MetadataCache(_clusterClient, _time);
        var consumer = new Consumer<TKey, TValue>(
            _config.ClientId ?? $"consumer-{Guid.NewGuid():N}"[..17], settings, cache, keyDeserializer, valueDeserializer, _time);
        AttachGroup(consumer);
        return consumer;
    }
}
