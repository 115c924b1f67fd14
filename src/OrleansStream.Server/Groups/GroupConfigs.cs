using System.Globalization;
using OrleansStream.Protocol.Messages;
using OrleansStream.Server.Controller;

namespace OrleansStream.Server.Groups;

/// <summary>The session timeout and heartbeat interval a consumer group (KIP-848) runs with: its own configs over the broker's.</summary>
internal readonly record struct ConsumerGroupSettings(int SessionTimeoutMs, int HeartbeatIntervalMs)
{
    public static ConsumerGroupSettings Of(ConsumerGroupOptions options) => new(options.ConsumerSessionTimeoutMs, options.ConsumerHeartbeatIntervalMs);
}

/// <summary>
/// Kafka's <c>GroupConfig</c> (KIP-848, the GROUP config resource): the configs one consumer group may set, their checks
/// against the broker's <c>group.consumer.*</c> bounds with Kafka's messages, and their description. Kafka's share group
/// configs (<c>share.*</c>, KIP-932) are not here: share groups are not served.
/// </summary>
internal static class GroupConfigs
{
    public const string ConsumerSessionTimeoutMs = "consumer.session.timeout.ms";
    public const string ConsumerHeartbeatIntervalMs = "consumer.heartbeat.interval.ms";

    /// <summary>Every group config, in the order DescribeConfigs lists them.</summary>
    private static readonly string[] Names = [ConsumerHeartbeatIntervalMs, ConsumerSessionTimeoutMs];

    /// <summary>The overrides after <paramref name="changes"/>, or Kafka's error; none of the group configs is a list.</summary>
    public static (Dictionary<string, string>? Configs, ErrorCode Error, string? Message) Alter(string groupId, IReadOnlyDictionary<string, string> overrides,
        IReadOnlyList<AlterableConfig> changes, bool incremental, ConsumerGroupOptions options)
    {
        if (ConfigChangeRules.Refusal(ConfigResourceKind.Group, groupId) is { } refused) return (null, ErrorCode.InvalidRequest, refused);
        var (configs, error, message) = ConfigAlteration.Apply(overrides, changes, incremental, $"group '{groupId}'", static _ => null);
        if (configs is null) return (null, error, message);
        return Validate(configs, options) is { } invalid ? (null, ErrorCode.InvalidConfig, invalid) : (configs, ErrorCode.None, null);
    }

    /// <summary>
    /// Null when <paramref name="overrides"/> are valid, else <c>GroupConfig.validate</c>'s message: an unknown name, a
    /// value that is not an INT of at least 1, one outside the broker's bounds, or a session not longer than the
    /// heartbeat interval (the two as the group would run with them).
    /// </summary>
    public static string? Validate(IReadOnlyDictionary<string, string> overrides, ConsumerGroupOptions options)
    {
        ArgumentNullException.ThrowIfNull(overrides);
        foreach (var (name, value) in overrides)
        {
            if (Array.IndexOf(Names, name) < 0) return $"Unknown group config name: {name}";
            if (!int.TryParse(value.Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var number))
                return $"Invalid value {value} for configuration {name}: Not a number of type INT";
            if (number < 1) return $"Invalid value {number} for configuration {name}: Value must be at least 1";
        }
        var (session, heartbeat) = Effective(overrides, options);
        if (heartbeat < options.ConsumerMinHeartbeatIntervalMs)
            return $"{ConsumerHeartbeatIntervalMs} must be greater than or equal to group.consumer.min.heartbeat.interval.ms";
        if (heartbeat > options.ConsumerMaxHeartbeatIntervalMs)
            return $"{ConsumerHeartbeatIntervalMs} must be less than or equal to group.consumer.max.heartbeat.interval.ms";
        if (session < options.ConsumerMinSessionTimeoutMs)
            return $"{ConsumerSessionTimeoutMs} must be greater than or equal to group.consumer.min.session.timeout.ms";
        if (session > options.ConsumerMaxSessionTimeoutMs)
            return $"{ConsumerSessionTimeoutMs} must be less than or equal to group.consumer.max.session.timeout.ms";
        if (session <= heartbeat) return $"{ConsumerSessionTimeoutMs} must be greater than {ConsumerHeartbeatIntervalMs}";
        return null;
    }

    /// <summary>What the group runs with: each config it set (already validated), else the broker's.</summary>
    public static ConsumerGroupSettings Effective(IReadOnlyDictionary<string, string> overrides, ConsumerGroupOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return new ConsumerGroupSettings(Value(overrides, ConsumerSessionTimeoutMs, options.ConsumerSessionTimeoutMs),
            Value(overrides, ConsumerHeartbeatIntervalMs, options.ConsumerHeartbeatIntervalMs));
    }

    private static int Value(IReadOnlyDictionary<string, string> overrides, string name, int fallback) =>
        overrides.TryGetValue(name, out var value) && int.TryParse(value.Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var number)
            ? number : fallback;

    /// <summary>
    /// Every group config as Kafka's <c>ConfigHelper</c> describes a group: the group's own value (GROUP_CONFIG), else
    /// the broker's <c>group.consumer.*</c> setting as DEFAULT_CONFIG, Kafka's source for it; one synonym, that value.
    /// Nothing is read-only or sensitive.
    /// </summary>
    public static List<DescribedConfig> Describe(IReadOnlyDictionary<string, string> overrides, ConsumerGroupOptions options, IReadOnlyList<string>? names,
        bool includeSynonyms)
    {
        ArgumentNullException.ThrowIfNull(overrides);
        var described = new List<DescribedConfig>(Names.Length);
        var broker = ConsumerGroupSettings.Of(options);
        foreach (var name in Names)
        {
            if (names is not null && !names.Contains(name)) continue;
            var (value, source) = overrides.TryGetValue(name, out var own)
                ? (own, ConfigSource.GroupConfig)
                : ((name == ConsumerSessionTimeoutMs ? broker.SessionTimeoutMs : broker.HeartbeatIntervalMs).ToString(CultureInfo.InvariantCulture), ConfigSource.DefaultConfig);
            described.Add(new DescribedConfig(name, value, ReadOnly: false, source, Sensitive: false, includeSynonyms ? [new ConfigSynonym(name, value, source)] : []));
        }
        return described;
    }
}
