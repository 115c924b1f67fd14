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
    /// Null for a topic, the only resource whose configs change at run time; else InvalidRequest's message: broker
    /// configs come from the <c>OrleansStream</c> section, and other resource types have no configs here.
    /// </summary>
    public static string? Refusal(ConfigResourceKind kind) => kind switch
    {
        ConfigResourceKind.Topic => null,
        ConfigResourceKind.Broker => "Broker configs are set in the OrleansStream configuration section and cannot be changed at run time.",
        _ => $"Resource type {kind} is not supported.",
    };
}
