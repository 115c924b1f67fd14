namespace OrleansStream.Server.Controller;

/// <summary>Kafka's AlterConfigs and IncrementalAlterConfigs on one resource's overrides, for topics and groups alike.</summary>
internal static class ConfigAlteration
{
    /// <summary>
    /// The overrides after <paramref name="changes"/>: legacy AlterConfigs (<paramref name="incremental"/> false)
    /// replaces them all, IncrementalAlterConfigs applies each op. Kafka's errors: InvalidRequest for a repeated key, a
    /// null value or an unknown op, InvalidConfig for APPEND or SUBTRACT on a config that is not a list.
    /// </summary>
    /// <param name="resource">The resource as the messages name it, e.g. <c>topic 'orders'</c>.</param>
    /// <param name="listDefault">A LIST config's value without an override; null for a config that is not a list.</param>
    public static (Dictionary<string, string>? Configs, ErrorCode Error, string? Message) Apply(IReadOnlyDictionary<string, string> overrides,
        IReadOnlyList<AlterableConfig> changes, bool incremental, string resource, Func<string, string?> listDefault)
    {
        ArgumentNullException.ThrowIfNull(overrides);
        ArgumentNullException.ThrowIfNull(changes);
        var configs = incremental ? new Dictionary<string, string>(overrides, StringComparer.Ordinal) : new(StringComparer.Ordinal);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var c in changes)
        {
            if (c.Name is null || !seen.Add(c.Name)) return (null, ErrorCode.InvalidRequest, $"Config '{c.Name}' appears more than once for {resource}.");
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
                    var append = c.Op == AlterConfigOp.Append;
                    if (listDefault(c.Name) is not { } unset)
                        return (null, ErrorCode.InvalidConfig, $"Config value {(append ? "append" : "subtract")} is not allowed for config key: {c.Name}");
                    configs[c.Name] = AlterList(configs.TryGetValue(c.Name, out var v) ? v : unset, c.Value!, append);
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
}
