using System.Globalization;
using System.Net;

namespace OrleansStream.Server.Kafka;

/// <summary>One of Kafka's listeners or advertised listeners: <c>NAME://host:port</c>.</summary>
[GenerateSerializer, Immutable]
public sealed record KafkaListenerEndpoint(string Name, string Host, int Port)
{
    public override string ToString() => Host.Contains(':', StringComparison.Ordinal) ? $"{Name}://[{Host}]:{Port}" : $"{Name}://{Host}:{Port}";
}

/// <summary>Kafka's <c>SecurityProtocol</c>: whether a listener speaks TLS and whether it asks for SASL.</summary>
public enum KafkaSecurityProtocol
{
    Plaintext,
    Ssl,
    SaslPlaintext,
    SaslSsl,
}

/// <summary>A listener this broker binds: its name and the security protocol the name maps to.</summary>
public sealed record KafkaListener(KafkaListenerEndpoint Endpoint, KafkaSecurityProtocol SecurityProtocol)
{
    public string Name => Endpoint.Name;

    public bool UsesTls => SecurityProtocol is KafkaSecurityProtocol.Ssl or KafkaSecurityProtocol.SaslSsl;

    public bool RequiresSasl => SecurityProtocol is KafkaSecurityProtocol.SaslPlaintext or KafkaSecurityProtocol.SaslSsl;
}

/// <summary>
/// Kafka's <c>listeners</c>, <c>advertised.listeners</c> and <c>listener.security.protocol.map</c> settings, parsed
/// and checked.
/// </summary>
public static class KafkaListeners
{
    public const string Plaintext = "PLAINTEXT";

    private static readonly string[] ProtocolNames = [Plaintext, "SSL", "SASL_PLAINTEXT", "SASL_SSL"];

    public static string Name(KafkaSecurityProtocol protocol) => ProtocolNames[(int)protocol];

    public static bool TryParseSecurityProtocol(string name, out KafkaSecurityProtocol protocol)
    {
        var index = Array.IndexOf(ProtocolNames, name.ToUpperInvariant());
        protocol = (KafkaSecurityProtocol)Math.Max(index, 0);
        return index >= 0;
    }

    /// <summary>The listeners to bind, each with its security protocol; throws <see cref="FormatException"/> for a bad setting.</summary>
    public static IReadOnlyList<KafkaListener> Bound(BrokerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var map = SecurityProtocolMap(options.ListenerSecurityProtocolMap);
        var result = new List<KafkaListener>();
        foreach (var endpoint in Parse(options.Listeners))
            result.Add(map.TryGetValue(endpoint.Name, out var protocol)
                ? new KafkaListener(endpoint, protocol)
                : throw new FormatException($"listener {endpoint} has no security protocol: name it PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL, or map its name in OrleansStream:ListenerSecurityProtocolMap."));
        return result;
    }

    /// <summary>Kafka's rule: the map given, or else each security protocol's name mapped to itself.</summary>
    public static IReadOnlyDictionary<string, KafkaSecurityProtocol> SecurityProtocolMap(string? value)
    {
        var map = new Dictionary<string, KafkaSecurityProtocol>(StringComparer.Ordinal);
        if (string.IsNullOrWhiteSpace(value))
        {
            foreach (var protocol in Enum.GetValues<KafkaSecurityProtocol>()) map[Name(protocol)] = protocol;
            return map;
        }
        foreach (var raw in value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var colon = raw.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0 || !TryParseSecurityProtocol(raw[(colon + 1)..].Trim(), out var protocol))
                throw new FormatException($"'{raw}' is not NAME:PROTOCOL with PROTOCOL one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL.");
            if (!map.TryAdd(raw[..colon].Trim().ToUpperInvariant(), protocol))
                throw new FormatException($"'{raw}' maps a listener name mapped before.");
        }
        return map;
    }

    /// <summary>Parses a comma-separated list; throws <see cref="FormatException"/> naming the bad entry.</summary>
    public static IReadOnlyList<KafkaListenerEndpoint> Parse(string? value)
    {
        var result = new List<KafkaListenerEndpoint>();
        if (string.IsNullOrWhiteSpace(value)) return result;
        foreach (var raw in value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var scheme = raw.IndexOf("://", StringComparison.Ordinal);
            var colon = raw.LastIndexOf(':');
            if (scheme <= 0 || colon <= scheme + 2)
                throw new FormatException($"'{raw}' is not a listener NAME://host:port.");
            var host = raw[(scheme + 3)..colon];
            if (host.StartsWith('[') && host.EndsWith(']')) host = host[1..^1];
            if (!int.TryParse(raw.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port > 65535)
                throw new FormatException($"'{raw}' has no valid port.");
            result.Add(new KafkaListenerEndpoint(raw[..scheme].ToUpperInvariant(), host, port));
        }
        return result;
    }

    /// <summary>Kafka's rule: the advertised listeners, or else the listeners with a wildcard host made the machine's name.</summary>
    public static IReadOnlyList<KafkaListenerEndpoint> Advertised(BrokerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (!string.IsNullOrWhiteSpace(options.AdvertisedListeners)) return Parse(options.AdvertisedListeners);
        var listeners = Parse(options.Listeners);
        var advertised = new List<KafkaListenerEndpoint>(listeners.Count);
        foreach (var l in listeners)
            advertised.Add(IsWildcard(l.Host) ? l with { Host = Dns.GetHostName() } : l);
        return advertised;
    }

    /// <summary>The address a listener binds: every interface for an empty or wildcard host, else the host's first address.</summary>
    public static IPAddress BindAddress(KafkaListenerEndpoint listener)
    {
        ArgumentNullException.ThrowIfNull(listener);
        if (IsWildcard(listener.Host)) return listener.Host == "::" ? IPAddress.IPv6Any : IPAddress.Any;
        if (listener.Host == "localhost") return IPAddress.Loopback;
        return IPAddress.TryParse(listener.Host, out var address) ? address : Dns.GetHostAddresses(listener.Host)[0];
    }

    private static bool IsWildcard(string host) => host is "" or "0.0.0.0" or "::";

    internal static IEnumerable<string> Validate(BrokerOptions options)
    {
        IReadOnlyList<KafkaListener> listeners;
        IReadOnlyList<KafkaListenerEndpoint> advertised;
        try
        {
            listeners = Bound(options);
            advertised = Parse(options.AdvertisedListeners);
        }
        catch (FormatException e)
        {
            return [$"OrleansStream:Listeners / AdvertisedListeners / ListenerSecurityProtocolMap: {e.Message}"];
        }
        var failures = new List<string>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        var ports = new HashSet<int>();
        foreach (var l in listeners)
        {
            if (!names.Add(l.Name))
                failures.Add($"OrleansStream:Listeners names {l.Name} twice.");
            if (!ports.Add(l.Endpoint.Port))
                failures.Add($"OrleansStream:Listeners binds port {l.Endpoint.Port} twice.");
        }
        if (!Enum.IsDefined(options.SslClientAuth))
            failures.Add($"OrleansStream:SslClientAuth must be None, Requested or Required, not '{options.SslClientAuth}'.");
        foreach (var a in advertised)
            if (!names.Contains(a.Name))
                failures.Add($"OrleansStream:AdvertisedListeners: {a} names no listener of OrleansStream:Listeners.");
        return failures;
    }
}
