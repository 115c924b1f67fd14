using System.Collections;
using System.Globalization;

namespace OrleansStream.Client;

/// <summary>
/// Client configuration keyed by Kafka's property names (<c>linger.ms</c>, <c>batch.size</c>, ...), with typed
/// properties on the derived classes, as in Confluent.Kafka: a dictionary can be loaded from a file or a command
/// line and the typed view reads the same values.
/// </summary>
public class Config : IEnumerable<KeyValuePair<string, string>>
{
    private readonly Dictionary<string, string> _properties;

    public Config() => _properties = new(StringComparer.Ordinal);

    public Config(IEnumerable<KeyValuePair<string, string>> config) : this()
    {
        foreach (var (k, v) in config) Set(k, v);
    }

    public string? this[string key]
    {
        get => Get(key);
        set => Set(key, value);
    }

    public string? Get(string key) => _properties.TryGetValue(key, out var v) ? v : null;

    /// <summary>Sets a property; null removes it (the default applies again).</summary>
    public void Set(string key, string? value)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(key);
        if (value is null) _properties.Remove(key);
        else _properties[key] = value;
    }

    /// <summary>Client identifier shown in logs and broker-side diagnostics (<c>client.id</c>).</summary>
    public string? ClientId { get => Get("client.id"); set => Set("client.id", value); }

    /// <summary>How long cached topic metadata is trusted before a refresh (<c>metadata.max.age.ms</c>, default 5 min).</summary>
    public int MetadataMaxAgeMs { get => GetInt("metadata.max.age.ms") ?? 300000; set => SetInt("metadata.max.age.ms", value); }

    /// <summary>Pause before a retry after a retriable error (<c>retry.backoff.ms</c>, default 100).</summary>
    public int RetryBackoffMs { get => GetInt("retry.backoff.ms") ?? 100; set => SetInt("retry.backoff.ms", value); }

    /// <summary>Timeout of one request to the cluster (<c>request.timeout.ms</c>, default 30 s).</summary>
    public int RequestTimeoutMs { get => GetInt("request.timeout.ms") ?? 30000; set => SetInt("request.timeout.ms", value); }

    public IEnumerator<KeyValuePair<string, string>> GetEnumerator() => _properties.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    protected int? GetInt(string key)
    {
        var s = Get(key);
        if (s is null) return null;
        return int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v)
            ? v
            : throw new OrleansStreamException(ErrorCode.InvalidConfig, $"'{key}' must be an integer, got '{s}'.");
    }

    protected bool? GetBool(string key)
    {
        var s = Get(key);
        if (s is null) return null;
        return bool.TryParse(s, out var v)
            ? v
            : throw new OrleansStreamException(ErrorCode.InvalidConfig, $"'{key}' must be true or false, got '{s}'.");
    }

    protected TEnum? GetEnum<TEnum>(string key, Func<string, TEnum?> parse) where TEnum : struct, Enum
    {
        var s = Get(key);
        if (s is null) return null;
        return parse(s) ?? throw new OrleansStreamException(ErrorCode.InvalidConfig, $"'{key}' has an unknown value '{s}'.");
    }

    protected void SetInt(string key, int? value) => Set(key, value?.ToString(CultureInfo.InvariantCulture));

    protected void SetBool(string key, bool? value) => Set(key, value is null ? null : value.Value ? "true" : "false");

    internal static void Require(bool condition, string key, string rule)
    {
        if (!condition) throw new OrleansStreamException(ErrorCode.InvalidConfig, $"'{key}' {rule}.");
    }
}
