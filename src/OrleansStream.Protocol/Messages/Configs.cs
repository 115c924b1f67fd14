namespace OrleansStream.Protocol.Messages;

/// <summary>Kafka's ConfigResource.Type, same numbers.</summary>
public enum ConfigResourceType : sbyte
{
    Unknown = 0,
    Topic = 2,
    Broker = 4,
    BrokerLogger = 8,
    /// <summary>A client metrics subscription (KIP-714, <c>kafka-client-metrics.sh</c>): <c>metrics</c>, <c>interval.ms</c>, <c>match</c>.</summary>
    ClientMetrics = 16,
    /// <summary>A group's configs (KIP-848, Kafka 3.8+): its consumer session timeout and heartbeat interval.</summary>
    Group = 32,
}

/// <summary>Kafka's DescribeConfigsResponse.ConfigSource, same numbers.</summary>
public enum ConfigSource : sbyte
{
    Unknown = 0,
    DynamicTopicConfig = 1,
    DynamicBrokerConfig = 2,
    DynamicDefaultBrokerConfig = 3,
    StaticBrokerConfig = 4,
    DefaultConfig = 5,
    DynamicBrokerLoggerConfig = 6,
    ClientMetricsConfig = 7,
    /// <summary>A group's own config (KIP-848).</summary>
    GroupConfig = 8,
}

/// <summary>A resource of DescribeConfigs; <paramref name="ConfigNames"/> null asks for every config.</summary>
public sealed record DescribeConfigsResource(ConfigResourceType Type, string Name, IReadOnlyList<string>? ConfigNames);

/// <summary>Kafka's DescribeConfigsResponse.ConfigType (v3+), same numbers: the type of a config's value.</summary>
public enum ConfigType : sbyte
{
    Unknown = 0,
    Boolean = 1,
    String = 2,
    Int = 3,
    Short = 4,
    Long = 5,
    Double = 6,
    List = 7,
    Class = 8,
    Password = 9,
}

/// <summary>DescribeConfigs v0-4 (v1: include_synonyms; v3: include_documentation; v4 is flexible).</summary>
public sealed record DescribeConfigsRequest(IReadOnlyList<DescribeConfigsResource> Resources, bool IncludeSynonyms, bool IncludeDocumentation = false)
{
    public static DescribeConfigsRequest Read(ref KafkaReader r, short version)
    {
        var flexible = version >= 4;
        var count = Math.Max(r.ReadArrayLength(flexible), 0);
        var resources = new List<DescribeConfigsResource>(count);
        for (var i = 0; i < count; i++)
        {
            var type = (ConfigResourceType)r.ReadInt8();
            var name = r.ReadString(flexible);
            var nameCount = r.ReadArrayLength(flexible);
            List<string>? names = null;
            if (nameCount >= 0)
            {
                names = new List<string>(nameCount);
                for (var n = 0; n < nameCount; n++) names.Add(r.ReadString(flexible));
            }
            if (flexible) r.SkipTaggedFields();
            resources.Add(new DescribeConfigsResource(type, name, names));
        }
        var synonyms = version >= 1 && r.ReadBoolean();
        var documentation = version >= 3 && r.ReadBoolean();
        if (flexible) r.SkipTaggedFields();
        return new DescribeConfigsRequest(resources, synonyms, documentation);
    }

    public void Write(KafkaWriter w, short version)
    {
        var flexible = version >= 4;
        w.WriteArrayLength(Resources.Count, flexible);
        foreach (var resource in Resources)
        {
            w.WriteInt8((sbyte)resource.Type);
            w.WriteString(resource.Name, flexible);
            if (resource.ConfigNames is null) w.WriteArrayLength(-1, flexible);
            else
            {
                w.WriteArrayLength(resource.ConfigNames.Count, flexible);
                foreach (var n in resource.ConfigNames) w.WriteString(n, flexible);
            }
            if (flexible) w.WriteEmptyTaggedFields();
        }
        if (version >= 1) w.WriteBoolean(IncludeSynonyms);
        if (version >= 3) w.WriteBoolean(IncludeDocumentation);
        if (flexible) w.WriteEmptyTaggedFields();
    }
}

public readonly record struct ConfigSynonym(string Name, string? Value, ConfigSource Source);

/// <summary>
/// A described config. <paramref name="Type"/> is answered from v3; <paramref name="Documentation"/> too, when the
/// request asked for it (else null, as Kafka answers).
/// </summary>
public sealed record DescribedConfig(string Name, string? Value, bool ReadOnly, ConfigSource Source, bool Sensitive, IReadOnlyList<ConfigSynonym> Synonyms,
    ConfigType Type = ConfigType.Unknown, string? Documentation = null);

public sealed record DescribeConfigsResult(ErrorCode Error, string? ErrorMessage, ConfigResourceType Type, string Name, IReadOnlyList<DescribedConfig> Configs);

/// <summary>
/// DescribeConfigsResponse v0-4: v0 says is_default where v1 says the config's source and lists its synonyms, v3 adds
/// each config's type and documentation, v4 is flexible.
/// </summary>
public sealed record DescribeConfigsResponse(IReadOnlyList<DescribeConfigsResult> Results)
{
    public void Write(KafkaWriter w, short version)
    {
        var flexible = version >= 4;
        w.WriteInt32(0);
        w.WriteArrayLength(Results.Count, flexible);
        foreach (var result in Results)
        {
            ConfigResults.WriteResource(w, result.Error, result.ErrorMessage, result.Type, result.Name, flexible);
            w.WriteArrayLength(result.Configs.Count, flexible);
            foreach (var c in result.Configs)
            {
                w.WriteString(c.Name, flexible);
                w.WriteNullableString(c.Value, flexible);
                w.WriteBoolean(c.ReadOnly);
                if (version == 0) w.WriteBoolean(c.Source == ConfigSource.DefaultConfig);
                else w.WriteInt8((sbyte)c.Source);
                w.WriteBoolean(c.Sensitive);
                if (version >= 1)
                {
                    w.WriteArrayLength(c.Synonyms.Count, flexible);
                    foreach (var s in c.Synonyms)
                    {
                        w.WriteString(s.Name, flexible);
                        w.WriteNullableString(s.Value, flexible);
                        w.WriteInt8((sbyte)s.Source);
                        if (flexible) w.WriteEmptyTaggedFields();
                    }
                }
                if (version >= 3)
                {
                    w.WriteInt8((sbyte)c.Type);
                    w.WriteNullableString(c.Documentation, flexible);
                }
                if (flexible) w.WriteEmptyTaggedFields();
            }
            if (flexible) w.WriteEmptyTaggedFields();
        }
        if (flexible) w.WriteEmptyTaggedFields();
    }
}

/// <summary>One config of AlterConfigs (op always SET) or IncrementalAlterConfigs.</summary>
public readonly record struct AlterConfigsEntry(string Name, sbyte Op, string? Value);

public sealed record AlterConfigsResource(ConfigResourceType Type, string Name, IReadOnlyList<AlterConfigsEntry> Configs);

/// <summary>
/// AlterConfigs v0-2 and IncrementalAlterConfigs v0-1: the same layout, except that each incremental config has an op;
/// AlterConfigs v2 and IncrementalAlterConfigs v1 are flexible.
/// </summary>
public sealed record AlterConfigsRequest(IReadOnlyList<AlterConfigsResource> Resources, bool ValidateOnly)
{
    public static AlterConfigsRequest ReadAlterConfigs(ref KafkaReader r, short version) => Read(ref r, incremental: false, flexible: version >= 2);

    public static AlterConfigsRequest ReadIncrementalAlterConfigs(ref KafkaReader r, short version) => Read(ref r, incremental: true, flexible: version >= 1);

    private static AlterConfigsRequest Read(ref KafkaReader r, bool incremental, bool flexible)
    {
        var count = Math.Max(r.ReadArrayLength(flexible), 0);
        var resources = new List<AlterConfigsResource>(count);
        for (var i = 0; i < count; i++)
        {
            var type = (ConfigResourceType)r.ReadInt8();
            var name = r.ReadString(flexible);
            var configCount = Math.Max(r.ReadArrayLength(flexible), 0);
            var configs = new List<AlterConfigsEntry>(configCount);
            for (var c = 0; c < configCount; c++)
            {
                var key = r.ReadString(flexible);
                var op = incremental ? r.ReadInt8() : (sbyte)0;
                configs.Add(new AlterConfigsEntry(key, op, r.ReadNullableString(flexible)));
                if (flexible) r.SkipTaggedFields();
            }
            if (flexible) r.SkipTaggedFields();
            resources.Add(new AlterConfigsResource(type, name, configs));
        }
        var validateOnly = r.ReadBoolean();
        if (flexible) r.SkipTaggedFields();
        return new AlterConfigsRequest(resources, validateOnly);
    }

    public void Write(KafkaWriter w, bool incremental, bool flexible = false)
    {
        w.WriteArrayLength(Resources.Count, flexible);
        foreach (var resource in Resources)
        {
            w.WriteInt8((sbyte)resource.Type);
            w.WriteString(resource.Name, flexible);
            w.WriteArrayLength(resource.Configs.Count, flexible);
            foreach (var c in resource.Configs)
            {
                w.WriteString(c.Name, flexible);
                if (incremental) w.WriteInt8(c.Op);
                w.WriteNullableString(c.Value, flexible);
                if (flexible) w.WriteEmptyTaggedFields();
            }
            if (flexible) w.WriteEmptyTaggedFields();
        }
        w.WriteBoolean(ValidateOnly);
        if (flexible) w.WriteEmptyTaggedFields();
    }
}

public readonly record struct AlterConfigsResult(ErrorCode Error, string? ErrorMessage, ConfigResourceType Type, string Name);

/// <summary>AlterConfigsResponse v0-2 and IncrementalAlterConfigsResponse v0-1; <c>flexible</c> for AlterConfigs v2 and IncrementalAlterConfigs v1.</summary>
public sealed record AlterConfigsResponse(IReadOnlyList<AlterConfigsResult> Results)
{
    public void Write(KafkaWriter w, bool flexible)
    {
        w.WriteInt32(0);
        w.WriteArrayLength(Results.Count, flexible);
        foreach (var r in Results)
        {
            ConfigResults.WriteResource(w, r.Error, r.ErrorMessage, r.Type, r.Name, flexible);
            if (flexible) w.WriteEmptyTaggedFields();
        }
        if (flexible) w.WriteEmptyTaggedFields();
    }
}

internal static class ConfigResults
{
    /// <summary>What every config response says of a resource before its own fields.</summary>
    public static void WriteResource(KafkaWriter w, ErrorCode error, string? message, ConfigResourceType type, string name, bool flexible = false)
    {
        w.WriteInt16((short)error);
        w.WriteErrorMessage(message, flexible);
        w.WriteInt8((sbyte)type);
        w.WriteString(name, flexible);
    }
}
