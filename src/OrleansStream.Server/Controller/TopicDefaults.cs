using System.Collections.Frozen;
using OrleansStream.Storage;

namespace OrleansStream.Server.Controller;

/// <summary>
/// Broker-wide topic defaults (<c>OrleansStream:TopicDefaults</c>) under Kafka's broker keys, and Kafka's precedence:
/// a topic's own config wins over the broker default, which wins over the built-in default. Topics store only their
/// overrides; the controller merges the defaults into the state it sends to replicas, so a topic without an override
/// follows the default when it changes (as in Kafka) and every replica of a partition uses the same values.
/// </summary>
internal static class TopicDefaults
{
    public const string SectionName = OrleansStreamDefaults.ConfigurationSection + ":TopicDefaults";

    /// <summary>
    /// Kafka's broker key → the topic key it is the default of. <c>remote.storage.enable</c> has no broker synonym in
    /// Kafka (which enables tiering per topic only); it is accepted under its topic name so a small-disk deployment can
    /// tier every topic unless the topic opts out.
    /// </summary>
    public static readonly FrozenDictionary<string, string> BrokerKeys = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["log.segment.bytes"] = LogConfig.SegmentBytesKey,
        ["log.roll.ms"] = LogConfig.SegmentMsKey,
        ["log.retention.ms"] = LogConfig.RetentionMsKey,
        ["log.retention.bytes"] = LogConfig.RetentionBytesKey,
        ["log.local.retention.ms"] = LogConfig.LocalRetentionMsKey,
        ["log.local.retention.bytes"] = LogConfig.LocalRetentionBytesKey,
        ["log.cleanup.policy"] = LogConfig.CleanupPolicyKey,
        ["min.insync.replicas"] = OrleansStreamDefaults.MinInsyncReplicasConfig,
        ["message.max.bytes"] = LogConfig.MaxMessageBytesKey,
        [LogConfig.CompressionTypeKey] = LogConfig.CompressionTypeKey,
        [LogConfig.RemoteStorageEnableKey] = LogConfig.RemoteStorageEnableKey,
    }.ToFrozenDictionary(StringComparer.Ordinal);

    /// <summary>
    /// The defaults as topic keys. Configuration keys may spell dots as underscores (<c>log_segment_bytes</c>), because a
    /// shell cannot export a variable whose name has a dot, as Kafka's container images spell them too.
    /// </summary>
    public static Dictionary<string, string> ToTopicConfigs(IReadOnlyDictionary<string, string>? brokerDefaults)
    {
        var configs = new Dictionary<string, string>(StringComparer.Ordinal);
        if (brokerDefaults is null) return configs;
        foreach (var (key, value) in brokerDefaults)
            if (BrokerKeys.TryGetValue(Normalize(key), out var topicKey)) configs[topicKey] = value;
        return configs;
    }

    /// <summary>The effective configs of a topic, a new dictionary: the defaults with the topic's overrides on top.</summary>
    public static Dictionary<string, string> Apply(IReadOnlyDictionary<string, string> defaults, IReadOnlyDictionary<string, string> overrides)
    {
        var merged = new Dictionary<string, string>(defaults, StringComparer.Ordinal);
        foreach (var (key, value) in overrides) merged[key] = value;
        return merged;
    }

    /// <summary>Kafka's refusal of a tiered topic on a broker whose tiering is off; null when allowed.</summary>
    public static string? CheckRemoteStorage(IReadOnlyDictionary<string, string> effective, bool remoteLogStorageSystemEnable) =>
        !remoteLogStorageSystemEnable && effective.TryGetValue(LogConfig.RemoteStorageEnableKey, out var v) && bool.TryParse(v, out var on) && on
            ? "Tiered Storage functionality is disabled in the broker (remote.log.storage.system.enable=false). Topic cannot be configured with remote log storage."
            : null;

    /// <summary>Start-up checks: every key is a known broker key, every value valid, the values consistent.</summary>
    public static IEnumerable<string> Validate(IReadOnlyDictionary<string, string>? brokerDefaults, bool remoteLogStorageSystemEnable)
    {
        if (brokerDefaults is null || brokerDefaults.Count == 0) yield break;
        var failed = false;
        foreach (var (key, value) in brokerDefaults)
        {
            if (!BrokerKeys.TryGetValue(Normalize(key), out var topicKey))
            {
                failed = true;
                yield return $"{SectionName}:{key} is not a broker topic default; use one of {string.Join(", ", BrokerKeys.Keys.Order(StringComparer.Ordinal))}.";
            }
            else if (TopicConfigs.Validate(new Dictionary<string, string> { [topicKey] = value }) is { } error)
            {
                failed = true;
                yield return $"{SectionName}:{key} '{value}' is invalid: {error}";
            }
        }
        if (failed) yield break;
        var all = ToTopicConfigs(brokerDefaults);
        if (TopicConfigs.Validate(all) is { } combined)
            yield return $"{SectionName} is inconsistent: {combined}";
        if (CheckRemoteStorage(all, remoteLogStorageSystemEnable) is { } remote)
            yield return $"{SectionName}:{LogConfig.RemoteStorageEnableKey} is true, but {remote}";
    }

    private static string Normalize(string key) => key.Replace('_', '.');
}
