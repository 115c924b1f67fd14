namespace OrleansStream.Client;

/// <summary>Builds an <see cref="IProducer{TKey,TValue}"/> over an Orleans cluster client.</summary>
public sealed class ProducerBuilder<TKey, TValue>
{
    private readonly IClusterClient _clusterClient;
    private readonly ProducerConfig _config;
    private ISerializer<TKey>? _keySerializer;
    private ISerializer<TValue>? _valueSerializer;
    private PartitionerDelegate? _defaultPartitioner;
    private readonly Dictionary<string, PartitionerDelegate> _partitioners = new(StringComparer.Ordinal);
    private TimeProvider _time = TimeProvider.System;

    public ProducerBuilder(IClusterClient clusterClient, ProducerConfig config)
    {
        ArgumentNullException.ThrowIfNull(clusterClient);
        ArgumentNullException.ThrowIfNull(config);
        _clusterClient = clusterClient;
        _config = config;
    }

    public ProducerBuilder(IClusterClient clusterClient, IEnumerable<KeyValuePair<string, string>> config)
        : this(clusterClient, new ProducerConfig(config)) { }

    public ProducerBuilder<TKey, TValue> SetKeySerializer(ISerializer<TKey> serializer)
    {
        _keySerializer = serializer ?? throw new ArgumentNullException(nameof(serializer));
        return this;
    }

    public ProducerBuilder<TKey, TValue> SetValueSerializer(ISerializer<TValue> serializer)
    {
        _valueSerializer = serializer ?? throw new ArgumentNullException(nameof(serializer));
        return this;
    }

    /// <summary>A custom partitioner for one topic; it is called for null keys too.</summary>
    public ProducerBuilder<TKey, TValue> SetPartitioner(string topic, PartitionerDelegate partitioner)
    {
        _partitioners[topic] = partitioner ?? throw new ArgumentNullException(nameof(partitioner));
        return this;
    }

    /// <summary>A custom partitioner for every topic without its own.</summary>
    public ProducerBuilder<TKey, TValue> SetDefaultPartitioner(PartitionerDelegate partitioner)
    {
        _defaultPartitioner = partitioner ?? throw new ArgumentNullException(nameof(partitioner));
        return this;
    }

    /// <summary>For tests: the clock for linger, timeouts and timestamps.</summary>
    internal ProducerBuilder<TKey, TValue> SetTimeProvider(TimeProvider time)
    {
        _time = time;
        return this;
    }

    public IProducer<TKey, TValue> Build()
    {
        var keySerializer = _keySerializer ?? Serializers.Default<TKey>() ?? throw new InvalidOperationException(
            $"Key serializer not specified and there is no default serializer defined for type {typeof(TKey).Name}.");
        var valueSerializer = _valueSerializer ?? Serializers.Default<TValue>() ?? throw new InvalidOperationException(
            $"Value serializer not specified and there is no default serializer defined for type {typeof(TValue).Name}.");
        var settings = _config.Resolve();
        var cache = _time == TimeProvider.System ? MetadataCache.For(_clusterClient) : new MetadataCache(_clusterClient, _time);
        return new Producer<TKey, TValue>(
            _config.ClientId ?? $"producer-{Guid.NewGuid():N}"[..17],
            new Sender(settings, cache, _time),
            keySerializer, valueSerializer, _defaultPartitioner, new Dictionary<string, PartitionerDelegate>(_partitioners));
    }
}
