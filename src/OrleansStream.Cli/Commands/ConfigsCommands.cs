using System.CommandLine;
using System.Text;
using OrleansStream.Client;
using OrleansStream.Client.Admin;

namespace OrleansStream.Cli.Commands;

/// <summary><c>configs describe|alter</c>, the kafka-configs.sh of OrleansStream, with its flags.</summary>
internal static class ConfigsCommands
{
    public static Command Build()
    {
        var configs = new Command("configs", "Describe topic, group and broker configs, alter topic and group configs");
        configs.Subcommands.Add(Describe());
        configs.Subcommands.Add(Alter());
        return configs;
    }

    private static Command Describe()
    {
        // kafka-configs.sh --describe --all --entity-type topics --entity-name NAME
        var type = new Option<string>("--entity-type") { Description = "topics, groups or brokers", Required = true };
        type.AcceptOnlyFromAmong("topics", "groups", "brokers");
        var name = new Option<string?>("--entity-name") { Description = "The topic, the group, or the broker's node id (brokers: omitted, the broker the controller runs on)" };
        var command = new Command("describe", "Every config of a topic, group or broker with its value, source and synonyms, as kafka-configs.sh --describe --all") { type, name };
        command.Validators.Add(result =>
        {
            if (result.GetValue(type) is "topics" or "groups" && string.IsNullOrEmpty(result.GetValue(name)))
                result.AddError($"--entity-name is required for {result.GetValue(type)}");
        });
        command.SetAction(async (parse, ct) =>
        {
            var resource = new ConfigResource { Type = TypeOf(parse.GetRequiredValue(type)), Name = parse.GetValue(name) ?? "" };
            await using var connection = await CliApp.ConnectAsync(parse, ct);
            using var admin = new AdminClientBuilder(connection.Client).Build();
            DescribeConfigsResult result;
            try
            {
                result = (await admin.DescribeConfigsAsync([resource]))[0];
            }
            catch (DescribeConfigsException e)
            {
                throw new CliException($"{e.Results[0].Error.Code}: {e.Results[0].Error.Reason}");
            }
            var entries = new List<ConfigEntryResult>(result.Entries.Values);
            entries.Sort(static (a, b) => string.CompareOrdinal(a.Name, b.Name));
            var output = new StringBuilder();
            var what = resource.Type switch
            {
                ResourceType.Topic => $"topic {resource.Name}",
                ResourceType.Group => $"group {resource.Name}",
                _ => resource.Name.Length > 0 ? $"broker {resource.Name}" : "the controller's broker",
            };
            output.Append("All configs for ").Append(what).Append(" are:\n");
            foreach (var e in entries)
            {
                output.Append("  ").Append(e.Name).Append('=').Append(e.IsSensitive ? "null" : e.Value)
                    .Append(" source=").Append(SourceName(e.Source))
                    .Append(" sensitive=").Append(e.IsSensitive ? "true" : "false")
                    .Append(" read-only=").Append(e.IsReadOnly ? "true" : "false")
                    .Append(" synonyms={").AppendJoin(", ", e.Synonyms.Select(static s => $"{SourceName(s.Source)}:{s.Name}={s.Value}")).Append("}\n");
            }
            Console.Out.Write(output.ToString());
            return ExitCodes.Success;
        });
        return command;
    }

    private static Command Alter()
    {
        // kafka-configs.sh --alter --entity-type topics --entity-name NAME --add-config k=v,k2=[a,b] --delete-config k3
        var type = new Option<string>("--entity-type") { Description = "topics or groups (broker configs come from the OrleansStream section)", Required = true };
        type.AcceptOnlyFromAmong("topics", "groups");
        var name = new Option<string>("--entity-name") { Description = "The topic or group", Required = true };
        var add = new Option<string?>("--add-config") { Description = "Configs to set, k=v,k2=v2 (a value with commas in brackets: cleanup.policy=[compact,delete])" };
        var delete = new Option<string?>("--delete-config") { Description = "Configs to remove (back to their defaults), k,k2" };
        var command = new Command("alter", "Set and remove a topic's or group's configs (IncrementalAlterConfigs SET and DELETE)") { type, name, add, delete };
        command.Validators.Add(result =>
        {
            if (result.GetValue(add) is null && result.GetValue(delete) is null) result.AddError("--add-config or --delete-config is required");
        });
        command.SetAction(async (parse, ct) =>
        {
            var resource = new ConfigResource { Type = TypeOf(parse.GetRequiredValue(type)), Name = parse.GetRequiredValue(name) };
            var entries = new List<ConfigEntry>();
            foreach (var (key, value) in CliApp.ParseKeyValues(SplitConfigs(parse.GetValue(add)), "--add-config"))
                entries.Add(new ConfigEntry { Name = key, Value = Unbracket(value), IncrementalOperation = AlterConfigOpType.Set });
            foreach (var key in SplitConfigs(parse.GetValue(delete)))
            {
                if (entries.Exists(e => e.Name == key.Trim()))
                    throw new CliException($"'{key.Trim()}' is both added and deleted", ExitCodes.Usage);
                entries.Add(new ConfigEntry { Name = key.Trim(), IncrementalOperation = AlterConfigOpType.Delete });
            }
            await using var connection = await CliApp.ConnectAsync(parse, ct);
            using var admin = new AdminClientBuilder(connection.Client).Build();
            try
            {
                await admin.IncrementalAlterConfigsAsync(new() { [resource] = entries });
            }
            catch (IncrementalAlterConfigsException e)
            {
                throw new CliException($"{e.Results[0].Error.Code}: {e.Results[0].Error.Reason}");
            }
            Console.Out.WriteLine($"Completed updating config for {(resource.Type == ResourceType.Group ? "group" : "topic")} {resource.Name}.");
            return ExitCodes.Success;
        });
        return command;
    }

    private static ResourceType TypeOf(string entityType) => entityType switch
    {
        "topics" => ResourceType.Topic,
        "groups" => ResourceType.Group,
        _ => ResourceType.Broker,
    };

    /// <summary>kafka-configs.sh's list: comma-separated, commas inside [brackets] kept with their value.</summary>
    private static List<string> SplitConfigs(string? value)
    {
        var items = new List<string>();
        if (string.IsNullOrWhiteSpace(value)) return items;
        var depth = 0;
        var start = 0;
        for (var i = 0; i < value.Length; i++)
        {
            if (value[i] == '[') depth++;
            else if (value[i] == ']') depth = Math.Max(0, depth - 1);
            else if (value[i] == ',' && depth == 0)
            {
                if (i > start) items.Add(value[start..i]);
                start = i + 1;
            }
        }
        if (start < value.Length) items.Add(value[start..]);
        return items;
    }

    private static string Unbracket(string value) => value.Length >= 2 && value[0] == '[' && value[^1] == ']' ? value[1..^1] : value;

    /// <summary>Kafka's names for config sources, as kafka-configs.sh prints them.</summary>
    private static string SourceName(ConfigSource source) => source switch
    {
        ConfigSource.DynamicTopicConfig => "DYNAMIC_TOPIC_CONFIG",
        ConfigSource.DynamicBrokerConfig => "DYNAMIC_BROKER_CONFIG",
        ConfigSource.DynamicDefaultBrokerConfig => "DYNAMIC_DEFAULT_BROKER_CONFIG",
        ConfigSource.StaticBrokerConfig => "STATIC_BROKER_CONFIG",
        ConfigSource.DefaultConfig => "DEFAULT_CONFIG",
        ConfigSource.GroupConfig => "GROUP_CONFIG",
        _ => "UNKNOWN",
    };
}
