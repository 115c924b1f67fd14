namespace OrleansStream.Server.Kafka.Security;

/// <summary>
/// The checks of <see cref="BrokerOptions.ListenerConnectionsMaxReauthMs"/>: each key names a listener of
/// <c>OrleansStream:Listeners</c>, optionally followed by a dot and a SASL mechanism this broker serves, and each
/// limit is not negative, as Kafka's LONG config with its default of 0.
/// </summary>
internal static class SaslReauthentication
{
    public static IEnumerable<string> Validate(BrokerOptions options)
    {
        if (options.ListenerConnectionsMaxReauthMs.Count == 0) yield break;
        IReadOnlyList<KafkaListener> listeners;
        try
        {
            listeners = KafkaListeners.Bound(options);
        }
        catch (FormatException)
        {
            yield break; // KafkaListeners.Validate reports the listeners themselves.
        }
        foreach (var (key, limit) in options.ListenerConnectionsMaxReauthMs)
        {
            var setting = $"OrleansStream:ListenerConnectionsMaxReauthMs:{key}";
            var dot = key.IndexOf('.', StringComparison.Ordinal);
            var listener = dot < 0 ? key : key[..dot];
            var mechanism = dot < 0 ? null : key[(dot + 1)..];
            if (!HasListener(listeners, listener))
                yield return $"{setting} names no listener of OrleansStream:Listeners.";
            // Kafka's prefixes spell the mechanism in lower case (listener.name.sasl_ssl.scram-sha-256.).
            else if (mechanism is not null && !SaslOptions.IsServed(mechanism.ToUpperInvariant()))
                yield return $"{setting}: {SaslOptions.NotServed(mechanism)}";
            if (limit < 0)
                yield return $"{setting} must not be negative, not {limit}.";
        }
    }

    private static bool HasListener(IReadOnlyList<KafkaListener> listeners, string name)
    {
        foreach (var l in listeners)
            if (string.Equals(l.Name, name, StringComparison.OrdinalIgnoreCase)) return true;
        return false;
    }
}
