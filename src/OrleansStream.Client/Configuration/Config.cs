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

    /// <summary>Plaintext (default) or SSL to the gateways (<c>security.protocol</c>); read by <c>UseSecurityProtocol</c>.</summary>
    public SecurityProtocol? SecurityProtocol
    {
        get => GetEnum<SecurityProtocol>("security.protocol", static s => s.ToUpperInvariant() switch
        {
            "PLAINTEXT" => Client.SecurityProtocol.Plaintext,
            "SSL" => Client.SecurityProtocol.Ssl,
            _ => null,
        });
        set => Set("security.protocol", value switch
        {
            null => null,
            Client.SecurityProtocol.Ssl => "ssl",
            _ => "plaintext",
        });
    }

    /// <summary>PEM bundle of the authorities the gateway's certificate must be issued by (<c>ssl.ca.location</c>; default the system's roots).</summary>
    public string? SslCaLocation { get => Get("ssl.ca.location"); set => Set("ssl.ca.location", value); }

    /// <summary>The client's PEM certificate for gateways that require one (<c>ssl.certificate.location</c>).</summary>
    public string? SslCertificateLocation { get => Get("ssl.certificate.location"); set => Set("ssl.certificate.location", value); }

    /// <summary>The PEM private key of <see cref="SslCertificateLocation"/> when it is not in the same file (<c>ssl.key.location</c>).</summary>
    public string? SslKeyLocation { get => Get("ssl.key.location"); set => Set("ssl.key.location", value); }

    /// <summary>Password of an encrypted PEM key (<c>ssl.key.password</c>).</summary>
    public string? SslKeyPassword { get => Get("ssl.key.password"); set => Set("ssl.key.password", value); }

    /// <summary>The client's certificate and key as one PKCS#12 file, in place of the PEM pair (<c>ssl.keystore.location</c>).</summary>
    public string? SslKeystoreLocation { get => Get("ssl.keystore.location"); set => Set("ssl.keystore.location", value); }

    /// <summary>Password of <see cref="SslKeystoreLocation"/> (<c>ssl.keystore.password</c>).</summary>
    public string? SslKeystorePassword { get => Get("ssl.keystore.password"); set => Set("ssl.keystore.password", value); }

    /// <summary>
    /// <c>https</c> (default) checks that the gateway's certificate names the address dialled; <c>none</c> trusts any
    /// certificate issued by <see cref="SslCaLocation"/> (<c>ssl.endpoint.identification.algorithm</c>).
    /// </summary>
    public SslEndpointIdentificationAlgorithm? SslEndpointIdentificationAlgorithm
    {
        get => GetEnum<SslEndpointIdentificationAlgorithm>("ssl.endpoint.identification.algorithm", static s => s.ToLowerInvariant() switch
        {
            "https" => Client.SslEndpointIdentificationAlgorithm.Https,
            "none" or "" => Client.SslEndpointIdentificationAlgorithm.None,
            _ => null,
        });
        set => Set("ssl.endpoint.identification.algorithm", value switch
        {
            null => null,
            Client.SslEndpointIdentificationAlgorithm.None => "none",
            _ => "https",
        });
    }

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
