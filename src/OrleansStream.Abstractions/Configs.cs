namespace OrleansStream;

/// <summary>
/// Kafka's ConfigResource.Type, same numbers: what a config request names. Its own type (not the wire codec's) because
/// the SDK talks to grains and never references the Kafka protocol.
/// </summary>
public enum ConfigResourceKind : sbyte
{
    Unknown = 0,
    Topic = 2,
    Broker = 4,
    BrokerLogger = 8,
    /// <summary>A consumer group's configs (KIP-848): <c>consumer.session.timeout.ms</c> and <c>consumer.heartbeat.interval.ms</c>.</summary>
    Group = 32,
}

/// <summary>Kafka's DescribeConfigsResponse ConfigSource, same numbers: where a described value comes from.</summary>
public enum ConfigValueSource : sbyte
{
    Unknown = 0,
    DynamicTopicConfig = 1,
    DynamicBrokerConfig = 2,
    DynamicDefaultBrokerConfig = 3,
    StaticBrokerConfig = 4,
    DefaultConfig = 5,
    DynamicBrokerLoggerConfig = 6,
    ClientMetricsConfig = 7,
    /// <summary>Set for the group (KIP-848).</summary>
    GroupConfig = 8,
}

/// <summary>One resource of Kafka's DescribeConfigs; <paramref name="ConfigNames"/> null asks for every config.</summary>
[GenerateSerializer, Immutable]
public sealed record DescribeConfigsQuery(ConfigResourceKind Kind, string Name, IReadOnlyList<string>? ConfigNames = null);

/// <summary>One resource's configs, or Kafka's error for it (then <paramref name="Configs"/> is empty).</summary>
[GenerateSerializer, Immutable]
public sealed record ResourceConfigs(ConfigResourceKind Kind, string Name, ErrorCode Error, string? ErrorMessage, IReadOnlyList<ResourceConfig> Configs);

/// <summary>A described config: its effective value and source, and (when asked for) every level that has a value, the winning one first.</summary>
[GenerateSerializer, Immutable]
public sealed record ResourceConfig(string Name, string? Value, bool ReadOnly, ConfigValueSource Source, bool Sensitive, IReadOnlyList<ResourceConfigSynonym> Synonyms);

[GenerateSerializer, Immutable]
public sealed record ResourceConfigSynonym(string Name, string? Value, ConfigValueSource Source);

/// <summary>Kafka's refusals of a config change by resource, in one place for the Kafka listener and the SDK.</summary>
public static class ConfigChangeRules
{
    /// <summary>
    /// Null for a topic or a named group, the resources whose configs change at run time; else InvalidRequest's
    /// message: broker configs come from the <c>OrleansStream</c> section, a group without a name is Kafka's default
    /// group resource, which it does not take, and other resource types have no configs here.
    /// </summary>
    public static string? Refusal(ConfigResourceKind kind, string? name = null) => kind switch
    {
        ConfigResourceKind.Topic => null,
        ConfigResourceKind.Group => string.IsNullOrEmpty(name) ? "Default group resources are not allowed." : null,
        ConfigResourceKind.Broker => "Broker configs are set in the OrleansStream configuration section and cannot be changed at run time.",
        _ => $"Resource type {kind} is not supported.",
    };
}
