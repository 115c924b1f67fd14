using System.Collections.Frozen;
using OrleansStream.Protocol.Messages;
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

    /// <summary>Kafka's default of every topic config kept here: the log engine's and the server's keys.</summary>
    public static readonly FrozenDictionary<string, string> BuiltInDefaults = BuildDefaults();

    private static FrozenDictionary<string, string> BuildDefaults()
    {
        var defaults = new Dictionary<string, string>(LogConfig.Default.ToTopicConfig(), StringComparer.Ordinal)
        {
            [OrleansStreamDefaults.MinInsyncReplicasConfig] = "1",
            [OrleansStreamDefaults.UncleanLeaderElectionEnableConfig] = "false",
        };
        return defaults.ToFrozenDictionary(StringComparer.Ordinal);
    }

    /// <summary>
    /// A topic's overrides after <paramref name="change"/>, or Kafka's error (<see cref="ConfigAlteration.Apply"/>):
    /// cleanup.policy is the one list, which APPEND and SUBTRACT change.
    /// </summary>
    public static (Dictionary<string, string>? Configs, ErrorCode Error, string? Message) Alter(
        IReadOnlyDictionary<string, string> overrides, TopicConfigsChange change)
    {
        ArgumentNullException.ThrowIfNull(change);
        return ConfigAlteration.Apply(overrides, change.Configs, change.Incremental, $"topic '{change.Topic}'", ListDefault);
    }

    private static string? ListDefault(string key) => key == LogConfig.CleanupPolicyKey ? BuiltInDefaults.GetValueOrDefault(key, "") : null;

    /// <summary>
    /// Every config of a topic with Kafka's precedence and sources: the topic's override (DYNAMIC_TOPIC_CONFIG), else
    /// the broker default (STATIC_BROKER_CONFIG, under Kafka's broker key), else Kafka's default (DEFAULT_CONFIG).
    /// Synonyms list each level that has a value, the winning one first. Nothing here is sensitive.
    /// </summary>
    public static List<DescribedConfig> Describe(IReadOnlyDictionary<string, string> overrides, IReadOnlyDictionary<string, string> brokerDefaults,
        IReadOnlyList<string>? names, bool includeSynonyms)
    {
        ArgumentNullException.ThrowIfNull(overrides);
        ArgumentNullException.ThrowIfNull(brokerDefaults);
        var described = new List<DescribedConfig>(BuiltInDefaults.Count);
        foreach (var key in BuiltInDefaults.Keys.Order(StringComparer.Ordinal))
        {
            if (names is not null && !names.Contains(key)) continue;
            var synonyms = new List<ConfigSynonym>(3);
            if (overrides.TryGetValue(key, out var own)) synonyms.Add(new ConfigSynonym(key, own, ConfigSource.DynamicTopicConfig));
            var brokerKey = BrokerKeyOf(key);
            if (brokerKey is not null && brokerDefaults.TryGetValue(key, out var broker)) synonyms.Add(new ConfigSynonym(brokerKey, broker, ConfigSource.StaticBrokerConfig));
            synonyms.Add(new ConfigSynonym(brokerKey ?? key, BuiltInDefaults[key], ConfigSource.DefaultConfig));
            described.Add(new DescribedConfig(key, synonyms[0].Value, ReadOnly: false, synonyms[0].Source, Sensitive: false,
                includeSynonyms ? synonyms : []));
        }
        return described;
    }

    private static string? BrokerKeyOf(string topicKey)
    {
        foreach (var (brokerKey, key) in TopicDefaults.BrokerKeys)
            if (key == topicKey) return brokerKey;
        return null;
    }
}
