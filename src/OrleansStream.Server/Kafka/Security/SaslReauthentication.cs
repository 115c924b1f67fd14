using OrleansStream.Protocol.Sasl;

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
            else if (mechanism is not null && !IsMechanism(mechanism))
                yield return $"{setting}: '{mechanism}' is not a SASL mechanism this broker serves (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER).";
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

    private static bool IsMechanism(string name) =>
        name.Equals(PlainSaslServer.MechanismName, StringComparison.OrdinalIgnoreCase)
        || name.Equals(OAuthBearerSaslServer.MechanismName, StringComparison.OrdinalIgnoreCase)
        || ScramMechanism.ForName(name.ToUpperInvariant()) is not null;
}
