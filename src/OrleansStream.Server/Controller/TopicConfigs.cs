using OrleansStream.Storage;

namespace OrleansStream.Server.Controller;

/// <summary>A topic's config overrides: server keys judged here, every other key by the log engine's parser.</summary>
internal static class TopicConfigs
{
    /// <summary>Null when every key is known and every value valid, else Kafka-style text naming the key.</summary>
    public static string? Validate(IReadOnlyDictionary<string, string> configs)
    {
        foreach (var (key, value) in configs)
            if (TopicRules.ValidateServerConfig(key, value) is { } error) return error;
        try
        {
            ToLogConfig(configs);
            return null;
        }
        catch (OrleansStreamException e) when (e.Code == ErrorCode.InvalidConfig)
        {
            return e.Message;
        }
    }

    /// <summary>
    /// Checks a new topic's overrides as Kafka does: on top of the broker defaults (so cross-key rules such as
    /// local.retention.ms ≤ retention.ms see the effective values), and refuses tiering when the cluster's is off.
    /// </summary>
    public static string? Validate(IReadOnlyDictionary<string, string> overrides, BrokerOptions broker)
    {
        var effective = TopicDefaults.Apply(broker.TopicConfigDefaults, overrides);
        return Validate(effective) ?? TopicDefaults.CheckRemoteStorage(effective, broker.RemoteLogStorageSystemEnable);
    }

    public static LogConfig ToLogConfig(IReadOnlyDictionary<string, string> configs)
    {
        Dictionary<string, string>? logKeys = null;
        foreach (var (key, value) in configs)
            if (!TopicRules.IsServerKey(key)) (logKeys ??= new(StringComparer.Ordinal))[key] = value;
        return LogConfig.FromTopicConfig(logKeys);
    }
}
