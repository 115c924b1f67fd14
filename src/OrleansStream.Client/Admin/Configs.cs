namespace OrleansStream.Client.Admin;

/// <summary>
/// Confluent.Kafka's ResourceType (same names and numbers, Kafka's codes); configs exist for <see cref="Topic"/> and
/// <see cref="Broker"/>. In an ACL, <see cref="Broker"/> is Kafka's CLUSTER (code 4, the one resource <c>kafka-cluster</c>),
/// as librdkafka sends it; <see cref="TransactionalId"/> is ours (Confluent.Kafka 2.16 has none), Kafka's TRANSACTIONAL_ID.
/// </summary>
public enum ResourceType
{
    Unknown = 0,
    Any = 1,
    Topic = 2,
    Group = 3,
    Broker = 4,
    TransactionalId = 5,
}

/// <summary>A resource that has configs: a topic by name, or a broker by its node id. Equal by type and name, so it keys the alter dictionaries.</summary>
public sealed record ConfigResource
{
    public ResourceType Type { get; init; }

    public string Name { get; init; } = "";

    public override string ToString() => $"[{Type}] {Name}";
}

/// <summary>Kafka's AlterConfigOp.OpType: <see cref="Append"/> and <see cref="Subtract"/> only for list configs (cleanup.policy).</summary>
public enum AlterConfigOpType
{
    Set = 0,
    Delete = 1,
    Append = 2,
    Subtract = 3,
}

/// <summary>A config to set; <see cref="IncrementalOperation"/> is read by IncrementalAlterConfigsAsync only.</summary>
public sealed class ConfigEntry
{
    public string Name { get; set; } = "";

    public string? Value { get; set; }

    public AlterConfigOpType IncrementalOperation { get; set; }
}

/// <summary>Kafka's ConfigSource (Confluent.Kafka's names, the same numbers): where a described value comes from.</summary>
public enum ConfigSource
{
    UnknownConfig = 0,
    DynamicTopicConfig = 1,
    DynamicBrokerConfig = 2,
    DynamicDefaultBrokerConfig = 3,
    StaticBrokerConfig = 4,
    DefaultConfig = 5,
    GroupConfig = 8,
}

/// <summary>A level that has a value for a config, as Kafka lists them: the topic's override, the broker default, Kafka's default.</summary>
public sealed class ConfigSynonym
{
    public string Name { get; set; } = "";

    public string? Value { get; set; }

    public ConfigSource Source { get; set; }
}

/// <summary>A described config with its effective value and where it comes from.</summary>
public sealed class ConfigEntryResult
{
    public string Name { get; set; } = "";

    public string? Value { get; set; }

    /// <summary>No topic override or broker setting gives the value: Kafka's default (<see cref="ConfigSource.DefaultConfig"/>).</summary>
    public bool IsDefault { get; set; }

    /// <summary>Broker configs are: they come from the <c>OrleansStream</c> section, not from AlterConfigs.</summary>
    public bool IsReadOnly { get; set; }

    public bool IsSensitive { get; set; }

    public ConfigSource Source { get; set; }

    /// <summary>Every level that has a value, the winning one first.</summary>
    public List<ConfigSynonym> Synonyms { get; set; } = [];
}

public sealed class DescribeConfigsOptions : AdminOptions;

public sealed class AlterConfigsOptions : AdminOptions
{
    /// <summary>Check the changes as the controller would apply them without applying any.</summary>
    public bool ValidateOnly { get; set; }
}

public sealed class IncrementalAlterConfigsOptions : AdminOptions
{
    /// <summary>Check the changes as the controller would apply them without applying any.</summary>
    public bool ValidateOnly { get; set; }
}

/// <summary>One resource's configs, keyed by name.</summary>
public sealed class DescribeConfigsResult
{
    public ConfigResource ConfigResource { get; set; } = new();

    public Dictionary<string, ConfigEntryResult> Entries { get; set; } = [];
}

/// <summary>One resource's configs or its error, as <see cref="DescribeConfigsException"/> reports every resource asked.</summary>
public sealed class DescribeConfigsReport
{
    public ConfigResource ConfigResource { get; set; } = new();

    public Dictionary<string, ConfigEntryResult> Entries { get; set; } = [];

    public Error Error { get; set; } = Error.NoError;
}

public sealed class IncrementalAlterConfigsResult
{
    public ConfigResource ConfigResource { get; set; } = new();
}

public sealed class IncrementalAlterConfigsReport
{
    public ConfigResource ConfigResource { get; set; } = new();

    public Error Error { get; set; } = Error.NoError;
}

public sealed class AlterConfigsReport
{
    public ConfigResource ConfigResource { get; set; } = new();

    public Error Error { get; set; } = Error.NoError;
}

/// <summary>Some resources could not be described; <see cref="Results"/> has every resource asked, failures with their error.</summary>
public sealed class DescribeConfigsException(List<DescribeConfigsReport> results)
    : KafkaException(ConfigReports.FirstError(results, static r => (r.ConfigResource, r.Error), "describe configs of"))
{
    public List<DescribeConfigsReport> Results { get; } = results;
}

/// <summary>Some resources' changes were refused (the others were applied); <see cref="Results"/> has every resource.</summary>
public sealed class IncrementalAlterConfigsException(List<IncrementalAlterConfigsReport> results)
    : KafkaException(ConfigReports.FirstError(results, static r => (r.ConfigResource, r.Error), "alter configs of"))
{
    public List<IncrementalAlterConfigsReport> Results { get; } = results;
}

/// <summary>Some resources' configs were not replaced (the others were); <see cref="Results"/> has every resource.</summary>
public sealed class AlterConfigsException(List<AlterConfigsReport> results)
    : KafkaException(ConfigReports.FirstError(results, static r => (r.ConfigResource, r.Error), "alter configs of"))
{
    public List<AlterConfigsReport> Results { get; } = results;
}

internal static class ConfigReports
{
    /// <summary>The exception's own error: the first failure's code, with every failed resource and its reason.</summary>
    public static Error FirstError<T>(List<T> reports, Func<T, (ConfigResource Resource, Error Error)> of, string verb)
    {
        var failed = new List<string>();
        var code = ErrorCode.None;
        foreach (var report in reports)
        {
            var (resource, error) = of(report);
            if (!error.IsError) continue;
            if (code == ErrorCode.None) code = error.Code;
            failed.Add($"{resource}: {error.Reason}");
        }
        return new Error(code, $"Failed to {verb} {failed.Count} resource(s): {string.Join("; ", failed)}");
    }
}
