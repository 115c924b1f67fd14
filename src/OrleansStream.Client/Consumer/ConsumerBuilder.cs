namespace OrleansStream.Client;

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
