using System.Globalization;
using System.Net;

namespace OrleansStream.Server.Kafka;

/// <summary>One of Kafka's listeners or advertised listeners: <c>NAME://host:port</c>.</summary>
[GenerateSerializer, Immutable]
public sealed record KafkaListenerEndpoint(string Name, string Host, int Port)
{
    public override string ToString() => Host.Contains(':', StringComparison.Ordinal) ? $"{Name}://[{Host}]:{Port}" : $"{Name}://{Host}:{Port}";
}

/// <summary>Kafka's <c>listeners</c> and <c>advertised.listeners</c> settings, parsed and checked.</summary>
public static class KafkaListeners
{
    /// <summary>The security protocol this broker serves; a listener named otherwise is refused at start.</summary>
    public const string Plaintext = "PLAINTEXT";

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
        IReadOnlyList<KafkaListenerEndpoint> listeners, advertised;
        try
        {
            listeners = Parse(options.Listeners);
            advertised = Parse(options.AdvertisedListeners);
        }
        catch (FormatException e)
        {
            return [$"OrleansStream:Listeners / AdvertisedListeners: {e.Message}"];
        }
        var failures = new List<string>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var l in listeners)
        {
            if (l.Name != Plaintext)
                failures.Add($"OrleansStream:Listeners: listener {l} is not served; only {Plaintext} listeners are.");
            if (!names.Add(l.Name))
                failures.Add($"OrleansStream:Listeners names {l.Name} twice.");
        }
        foreach (var a in advertised)
            if (!names.Contains(a.Name))
                failures.Add($"OrleansStream:AdvertisedListeners: {a} names no listener of OrleansStream:Listeners.");
        return failures;
    }
}
