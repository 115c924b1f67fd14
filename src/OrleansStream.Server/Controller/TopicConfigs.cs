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
    /// A topic's overrides after <paramref name="change"/>, or Kafka's error: InvalidRequest for a repeated key, a
    /// null value or an unknown op, InvalidConfig for APPEND or SUBTRACT on a config that is not a list.
    /// </summary>
    public static (Dictionary<string, string>? Configs, ErrorCode Error, string? Message) Alter(
        IReadOnlyDictionary<string, string> overrides, TopicConfigsChange change)
    {
        ArgumentNullException.ThrowIfNull(overrides);
        ArgumentNullException.ThrowIfNull(change);
        var configs = change.Incremental ? new Dictionary<string, string>(overrides, StringComparer.Ordinal) : new(StringComparer.Ordinal);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var c in change.Configs)
        {
            if (c.Name is null || !seen.Add(c.Name)) return (null, ErrorCode.InvalidRequest, $"Config '{c.Name}' appears more than once for topic '{change.Topic}'.");
            if (c.Op != AlterConfigOp.Delete && c.Value is null) return (null, ErrorCode.InvalidRequest, $"Null value not supported for: {c.Name}");
            switch (c.Op)
            {
                case AlterConfigOp.Set:
                    configs[c.Name] = c.Value!;
                    break;
                case AlterConfigOp.Delete:
                    configs.Remove(c.Name);
                    break;
                case AlterConfigOp.Append or AlterConfigOp.Subtract:
                    if (c.Name != LogConfig.CleanupPolicyKey)
                        return (null, ErrorCode.InvalidConfig, $"Config value {(c.Op == AlterConfigOp.Append ? "append" : "subtract")} is not allowed for config key: {c.Name}");
                    var current = configs.TryGetValue(c.Name, out var v) ? v : BuiltInDefaults.GetValueOrDefault(c.Name, "");
                    configs[c.Name] = AlterList(current, c.Value!, c.Op == AlterConfigOp.Append);
                    break;
                default:
                    return (null, ErrorCode.InvalidRequest, $"Unknown config op {(int)c.Op} for: {c.Name}");
            }
        }
        return (configs, ErrorCode.None, null);
    }

    private static string AlterList(string current, string values, bool append)
    {
        var list = new List<string>(current.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        foreach (var value in values.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (append && !list.Contains(value)) list.Add(value);
            else if (!append) list.Remove(value);
        }
        return string.Join(',', list);
    }

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
