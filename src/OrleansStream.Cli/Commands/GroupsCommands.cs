using System.CommandLine;
using OrleansStream.Client;
using OrleansStream.Client.Admin;

namespace OrleansStream.Cli.Commands;

/// <summary><c>groups list|describe|reset-offsets|delete-offsets</c>, the kafka-consumer-groups.sh of OrleansStream.</summary>
internal static class GroupsCommands
{
    public static Command Build()
    {
        var groups = new Command("groups", "List and describe consumer groups, reset and delete their offsets");
        groups.Subcommands.Add(List());
        groups.Subcommands.Add(Describe());
        groups.Subcommands.Add(ResetOffsets());
        groups.Subcommands.Add(DeleteOffsets());
        return groups;
    }

    private static Command List()
    {
        // kafka-consumer-groups.sh --list --state Stable,Empty --type classic,consumer
        var state = new Option<string?>("--state") { Description = "Only groups in these states, comma-separated: Empty, PreparingRebalance, CompletingRebalance, Stable, Dead" };
        var type = new Option<string?>("--type") { Description = "Only groups of these types, comma-separated: classic, consumer" };
        var command = new Command("list", "List consumer groups with their state, one per line") { state, type };
        command.Validators.Add(result =>
        {
            if (Parse<ConsumerGroupState>(result.GetValue(state), out var bad) is null) result.AddError($"--state: '{bad}' is not a group state");
            if (Parse<ConsumerGroupType>(result.GetValue(type), out bad) is null) result.AddError($"--type: '{bad}' is not a group type (classic, consumer)");
        });
        command.SetAction(async (parse, ct) =>
        {
            var options = new ListConsumerGroupsOptions
            {
                MatchStates = Parse<ConsumerGroupState>(parse.GetValue(state), out _),
                MatchTypes = Parse<ConsumerGroupType>(parse.GetValue(type), out _),
            };
            await using var connection = await CliApp.ConnectAsync(parse, ct);
            using var admin = new AdminClientBuilder(connection.Client).Build();
            var result = await GroupCall(() => admin.ListConsumerGroupsAsync(options));
            foreach (var g in result.Valid)
                Console.Out.WriteLine(g.Type == ConsumerGroupType.Consumer ? $"{g.GroupId}\t{g.StateName}\tconsumer" : $"{g.GroupId}\t{g.State}");
            return ExitCodes.Success;
        });
        return command;
    }

    private static Command Describe()
    {
        var group = new Option<string>("--group") { Description = "Consumer group id", Required = true };
        var command = new Command("describe", "A group's state and, per partition, committed offset, log end, lag and owner") { group };
        command.SetAction(async (parse, ct) =>
        {
            var id = parse.GetRequiredValue(group);
            await using var connection = await CliApp.ConnectAsync(parse, ct);
            using var admin = new AdminClientBuilder(connection.Client).Build();
            var description = (await GroupCall(() => admin.DescribeConsumerGroupsAsync([id]))).ConsumerGroupDescriptions[0];
            var offsets = await GroupCall(() => admin.ListConsumerGroupOffsetsAsync(id));
            var clients = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var m in description.Members) clients[m.ConsumerId] = m.ClientId;

            var o = Console.Out;
            // A consumer group (KIP-848) has a group epoch and the coordinator's assignor, not a generation and a leader's.
            var header = description.GroupType == ConsumerGroupType.Consumer
                ? $"Consumer group '{id}' is {description.StateName} (consumer protocol, group epoch {description.GenerationId}, " +
                  $"assignor {description.PartitionAssignor}, {description.Members.Count} members)."
                : $"Consumer group '{id}' is {description.State} (generation {description.GenerationId}, " +
                  $"assignor {(description.PartitionAssignor.Length > 0 ? description.PartitionAssignor : "-")}, {description.Members.Count} members).";
            o.WriteLine(header);
            o.WriteLine();
            var rows = new List<string[]> { new[] { "GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG", "CONSUMER-ID", "CLIENT-ID" } };
            foreach (var p in offsets.Partitions)
            {
                rows.Add([
                    id, p.TopicPartition.Topic, p.TopicPartition.Partition.ToString(),
                    p.CommittedOffset >= 0 ? p.CommittedOffset.ToString() : "-",
                    p.LogEndOffset >= 0 ? p.LogEndOffset.ToString() : "-",
                    p.Lag >= 0 ? p.Lag.ToString() : "-",
                    p.ConsumerId ?? "-",
                    p.ConsumerId is not null && clients.TryGetValue(p.ConsumerId, out var client) ? client : "-",
                ]);
            }
            WriteTable(rows);
            return ExitCodes.Success;
        });
        return command;
    }

    private static Command ResetOffsets()
    {
        var group = new Option<string>("--group") { Description = "Consumer group id (must have no active members)", Required = true };
        var topic = new Option<string>("--topic") { Description = "Topic whose partitions are reset", Required = true };
        var toEarliest = new Option<bool>("--to-earliest") { Description = "Reset to each partition's log start" };
        var toLatest = new Option<bool>("--to-latest") { Description = "Reset to each partition's log end" };
        var toOffset = new Option<long?>("--to-offset") { Description = "Reset to this offset (clamped to each partition's log)" };
        var command = new Command("reset-offsets", "Set a group's committed offsets for a topic") { group, topic, toEarliest, toLatest, toOffset };
        command.Validators.Add(result =>
        {
            var chosen = (result.GetValue(toEarliest) ? 1 : 0) + (result.GetValue(toLatest) ? 1 : 0) + (result.GetValue(toOffset) is null ? 0 : 1);
            if (chosen != 1) result.AddError("give exactly one of --to-earliest, --to-latest, --to-offset N");
            if (result.GetValue(toOffset) is < 0) result.AddError("--to-offset must be >= 0");
        });
        command.SetAction(async (parse, ct) =>
        {
            var id = parse.GetRequiredValue(group);
            long to = parse.GetValue(toEarliest) ? Offset.Beginning : parse.GetValue(toLatest) ? Offset.End : parse.GetValue(toOffset)!.Value;
            await using var connection = await CliApp.ConnectAsync(parse, ct);
            using var admin = new AdminClientBuilder(connection.Client).Build();
            var offsets = await GroupCall(() => admin.ResetConsumerGroupOffsetsAsync(id, parse.GetRequiredValue(topic), to));
            var rows = new List<string[]> { new[] { "GROUP", "TOPIC", "PARTITION", "NEW-OFFSET" } };
            foreach (var tpo in offsets)
                rows.Add([id, tpo.TopicPartition.Topic, tpo.TopicPartition.Partition.ToString(), tpo.Offset.ToString()]);
            WriteTable(rows);
            return ExitCodes.Success;
        });
        return command;
    }

    private static Command DeleteOffsets()
    {
        var group = new Option<string>("--group") { Description = "Consumer group id", Required = true };
        var topic = new Option<string>("--topic") { Description = "Topic whose committed offsets are deleted (no member may subscribe to it)", Required = true };
        var partition = new Option<int?>("--partition") { Description = "Only this partition (default: every partition of the topic)" };
        var command = new Command("delete-offsets", "Delete a group's committed offsets for a topic (kafka-consumer-groups.sh --delete-offsets)") { group, topic, partition };
        command.SetAction(async (parse, ct) =>
        {
            var id = parse.GetRequiredValue(group);
            await using var connection = await CliApp.ConnectAsync(parse, ct);
            var partitions = await TopicPartitions.ResolveAsync(connection.Client, parse.GetRequiredValue(topic), parse.GetValue(partition));
            using var admin = new AdminClientBuilder(connection.Client).Build();
            await GroupCall(() => admin.DeleteConsumerGroupOffsetsAsync(id, partitions));
            var rows = new List<string[]> { new[] { "TOPIC", "PARTITION", "STATUS" } };
            foreach (var tp in partitions)
                rows.Add([tp.Topic, tp.Partition.ToString(), "Successful"]);
            WriteTable(rows);
            return ExitCodes.Success;
        });
        return command;
    }

    /// <summary>A comma-separated list of names (any case); null with the first name that is not one.</summary>
    private static List<T>? Parse<T>(string? names, out string? bad) where T : struct, Enum
    {
        bad = null;
        var values = new List<T>();
        foreach (var name in (names ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!Enum.TryParse<T>(name, ignoreCase: true, out var value) || !Enum.IsDefined(value) || name.Length == 0 || char.IsDigit(name[0]) || value.ToString() == "Unknown")
            {
                bad = name;
                return null;
            }
            values.Add(value);
        }
        return values;
    }

    /// <summary>Kafka's group errors as the CLI's one line.</summary>
    private static async Task<T> GroupCall<T>(Func<Task<T>> call)
    {
        try
        {
            return await call();
        }
        catch (KafkaException e)
        {
            var hint = e.Error.Code is ErrorCode.NonEmptyGroup or ErrorCode.GroupSubscribedToTopic ? " (stop its consumers first)" : "";
            throw new CliException($"{e.Error.Code}: {e.Error.Reason}{hint}");
        }
    }

    /// <summary>A table, its first row the header: each column padded to its widest value but the last, then <paramref name="separator"/>.</summary>
    internal static void WriteTable(List<string[]> rows, string separator = "  ")
    {
        var widths = new int[rows[0].Length];
        foreach (var row in rows)
            for (var i = 0; i < row.Length; i++) widths[i] = Math.Max(widths[i], row[i].Length);
        foreach (var row in rows)
        {
            var parts = new string[row.Length];
            for (var i = 0; i < row.Length; i++) parts[i] = i == row.Length - 1 ? row[i] : row[i].PadRight(widths[i]);
            Console.Out.WriteLine(string.Join(separator, parts));
        }
    }
}
