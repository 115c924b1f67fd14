using System.CommandLine;
using System.Globalization;
using System.Text;
using OrleansStream.Client;
using OrleansStream.Client.Admin;

namespace OrleansStream.Cli.Commands;

/// <summary>
/// <c>topics create|list|describe|delete</c>, the kafka-topics.sh of OrleansStream, with <c>offsets</c>
/// (kafka-get-offsets.sh) and <c>delete-records</c> (kafka-delete-records.sh).
/// </summary>
internal static class TopicsCommands
{
    public static Command Build()
    {
        var topics = new Command("topics", "Create, list, describe and delete topics");
        topics.Subcommands.Add(Create());
        topics.Subcommands.Add(List());
        topics.Subcommands.Add(Describe());
        topics.Subcommands.Add(Delete());
        topics.Subcommands.Add(Offsets());
        topics.Subcommands.Add(DeleteRecords());
        return topics;
    }

    private static Command Create()
    {
        var topic = new Option<string>("--topic") { Description = "Topic name", Required = true };
        var partitions = new Option<int>("--partitions") { Description = "Number of partitions (default: the broker's num.partitions)", DefaultValueFactory = _ => -1 };
        var replication = new Option<short>("--replication-factor") { Description = "Replicas per partition (default: the broker's default)", DefaultValueFactory = _ => -1 };
        var config = new Option<string[]>("--config") { Description = "Topic config key=value, repeatable (retention.ms=..., cleanup.policy=compact)", Arity = ArgumentArity.OneOrMore };
        var command = new Command("create", "Create a topic") { topic, partitions, replication, config };
        command.SetAction(async (parse, ct) =>
        {
            var spec = new TopicSpecification
            {
                Name = parse.GetRequiredValue(topic),
                NumPartitions = parse.GetValue(partitions),
                ReplicationFactor = parse.GetValue(replication),
                Configs = CliApp.ParseKeyValues(parse.GetValue(config), "--config"),
            };
            if (spec.NumPartitions is 0 or < -1)
                throw new CliException("--partitions must be positive", ExitCodes.Usage);
            if (spec.ReplicationFactor is 0 or < -1)
                throw new CliException("--replication-factor must be positive", ExitCodes.Usage);
            await using var connection = await CliApp.ConnectAsync(parse, ct);
            using var admin = new AdminClientBuilder(connection.Client).Build();
            try
            {
                await admin.CreateTopicsAsync([spec]);
            }
            catch (CreateTopicsException e) when (e.Results.Count == 1)
            {
                throw new CliException($"{e.Results[0].Error.Code}: {e.Results[0].Error.Reason}");
            }
            Console.Out.WriteLine($"Created topic {spec.Name}.");
            return ExitCodes.Success;
        });
        return command;
    }

    private static Command List()
    {
        var command = new Command("list", "List topic names, one per line");
        command.SetAction(async (parse, ct) =>
        {
            await using var connection = await CliApp.ConnectAsync(parse, ct);
            using var admin = new AdminClientBuilder(connection.Client).Build();
            var metadata = await admin.GetMetadataAsync();
            var names = new List<string>(metadata.Topics.Count);
            foreach (var t in metadata.Topics)
                if (t.Error == ErrorCode.None)
                    names.Add(t.Name);
            names.Sort(StringComparer.Ordinal);
            var output = new StringBuilder();
            foreach (var name in names)
                output.Append(name).Append('\n');
            Console.Out.Write(output.ToString());
            return ExitCodes.Success;
        });
        return command;
    }

    private static Command Describe()
    {
        var topic = new Option<string?>("--topic") { Description = "Topic to describe (default: every topic)" };
        var command = new Command("describe", "Partitions with leader, replicas, ISR and log start/end offsets") { topic };
        command.SetAction(async (parse, ct) =>
        {
            await using var connection = await CliApp.ConnectAsync(parse, ct);
            using var admin = new AdminClientBuilder(connection.Client).Build();
            var name = parse.GetValue(topic);
            DescribeTopicsResult result;
            try
            {
                result = name is null ? await admin.DescribeTopicsAsync() : await admin.DescribeTopicsAsync([name]);
            }
            catch (DescribeTopicsException e)
            {
                foreach (var d in e.Result.TopicDescriptions)
                    if (d.Error.IsError)
                        throw new CliException($"{d.Error.Code}: topic '{d.Name}': {d.Error.Reason}");
                throw;
            }
            var descriptions = new List<TopicDescription>(result.TopicDescriptions);
            descriptions.Sort((a, b) => string.CompareOrdinal(a.Name, b.Name));
            Console.Out.Write(FormatDescriptions(descriptions));
            return ExitCodes.Success;
        });
        return command;
    }

    private static Command Delete()
    {
        var topic = new Option<string>("--topic") { Description = "Topic to delete", Required = true };
        var command = new Command("delete", "Delete a topic and its data") { topic };
        command.SetAction(async (parse, ct) =>
        {
            var name = parse.GetRequiredValue(topic);
            await using var connection = await CliApp.ConnectAsync(parse, ct);
            using var admin = new AdminClientBuilder(connection.Client).Build();
            try
            {
                await admin.DeleteTopicsAsync([name]);
            }
            catch (DeleteTopicsException e) when (e.Results.Count == 1)
            {
                throw new CliException($"{e.Results[0].Error.Code}: {e.Results[0].Error.Reason}");
            }
            Console.Out.WriteLine($"Deleted topic {name}.");
            return ExitCodes.Success;
        });
        return command;
    }

    private static Command Offsets()
    {
        var topic = new Option<string>("--topic") { Description = "Topic", Required = true };
        var partition = new Option<int?>("--partition") { Description = "One partition (default: every partition)" };
        var time = new Option<string>("--time")
        {
            Description = "latest (-1), earliest (-2), max-timestamp (-3), or a timestamp in ms: the first offset at or after it",
            DefaultValueFactory = _ => "latest",
        };
        var command = new Command("offsets", "Each partition's offset for a time, as topic:partition:offset lines (kafka-get-offsets.sh)") { topic, partition, time };
        command.SetAction(async (parse, ct) =>
        {
            var name = parse.GetRequiredValue(topic);
            var spec = ParseOffsetSpec(parse.GetValue(time)!);
            await using var connection = await CliApp.ConnectAsync(parse, ct);
            using var admin = new AdminClientBuilder(connection.Client).Build();
            var partitions = new List<int>();
            if (parse.GetValue(partition) is { } one)
            {
                partitions.Add(one);
            }
            else
            {
                var metadata = await admin.GetMetadataAsync([name]);
                foreach (var t in metadata.Topics)
                {
                    if (t.Error != ErrorCode.None) throw new CliException($"{t.Error}: topic '{name}': {t.ErrorMessage ?? t.Error.ToString()}");
                    foreach (var p in t.Partitions) partitions.Add(p.Partition);
                }
                partitions.Sort();
            }
            var specs = new List<TopicPartitionOffsetSpec>(partitions.Count);
            foreach (var p in partitions) specs.Add(new TopicPartitionOffsetSpec { TopicPartition = new TopicPartition(name, p), OffsetSpec = spec });
            ListOffsetsResult result;
            try
            {
                result = await admin.ListOffsetsAsync(specs);
            }
            catch (ListOffsetsException e)
            {
                throw new CliException($"{e.Error.Code}: {e.Error.Reason}");
            }
            var output = new StringBuilder();
            foreach (var info in result.ResultInfos)
            {
                var r = info.TopicPartitionOffsetError;
                output.Append(CultureInfo.InvariantCulture, $"{r.Topic}:{r.Partition}:{r.Offset}\n");
            }
            Console.Out.Write(output.ToString());
            return ExitCodes.Success;
        });
        return command;
    }

    /// <summary>kafka-get-offsets.sh's <c>--time</c>: a name, Kafka's negative code, or a timestamp in ms.</summary>
    internal static OffsetSpec ParseOffsetSpec(string time) => time switch
    {
        "latest" or "-1" => OffsetSpec.Latest(),
        "earliest" or "-2" => OffsetSpec.Earliest(),
        "max-timestamp" or "-3" => OffsetSpec.MaxTimestamp(),
        _ when long.TryParse(time, NumberStyles.None, CultureInfo.InvariantCulture, out var ms) => OffsetSpec.ForTimestamp(ms),
        _ => throw new CliException($"--time must be latest, earliest, max-timestamp or a timestamp in ms, not '{time}'", ExitCodes.Usage),
    };

    private static Command DeleteRecords()
    {
        var topic = new Option<string>("--topic") { Description = "Topic", Required = true };
        var partition = new Option<int>("--partition") { Description = "Partition", Required = true };
        var offset = new Option<long>("--offset") { Description = "Delete the records below this offset; -1: every record below the high watermark", Required = true };
        var command = new Command("delete-records", "Move a partition's log start offset up, deleting the records below it") { topic, partition, offset };
        command.SetAction(async (parse, ct) =>
        {
            var tp = new TopicPartition(parse.GetRequiredValue(topic), parse.GetValue(partition));
            var below = parse.GetValue(offset);
            if (below < -1) throw new CliException("--offset must be -1 or an offset", ExitCodes.Usage);
            await using var connection = await CliApp.ConnectAsync(parse, ct);
            using var admin = new AdminClientBuilder(connection.Client).Build();
            List<DeleteRecordsResult> result;
            try
            {
                result = await admin.DeleteRecordsAsync([new TopicPartitionOffset(tp, below)]);
            }
            catch (DeleteRecordsException e)
            {
                throw new CliException($"{e.Error.Code}: {e.Error.Reason}");
            }
            Console.Out.WriteLine($"Partition: {tp}\tlow_watermark: {result[0].Offset}");
            return ExitCodes.Success;
        });
        return command;
    }

    /// <summary>kafka-topics.sh --describe's layout: a topic line, then one tab-indented line per partition.</summary>
    internal static string FormatDescriptions(IReadOnlyList<TopicDescription> descriptions)
    {
        var sb = new StringBuilder();
        foreach (var d in descriptions)
        {
            int replicationFactor = d.Partitions.Count > 0 ? d.Partitions[0].Replicas.Count : 0;
            var configs = new List<string>(d.Configs.Count);
            foreach (var (k, v) in d.Configs)
                configs.Add($"{k}={v}");
            configs.Sort(StringComparer.Ordinal);
            sb.Append(CultureInfo.InvariantCulture,
                $"Topic: {d.Name}\tTopicId: {d.TopicId}\tPartitionCount: {d.Partitions.Count}\tReplicationFactor: {replicationFactor}\tConfigs: {string.Join(',', configs)}\n");
            foreach (var p in d.Partitions)
            {
                var replicas = new List<string>(p.Replicas.Count);
                foreach (var r in p.Replicas)
                    replicas.Add($"{r.ReplicaId}@{r.BrokerId}");
                sb.Append(CultureInfo.InvariantCulture,
                    $"\tTopic: {d.Name}\tPartition: {p.Partition}\tLeader: {(p.Leader < 0 ? "none" : $"{p.Leader}@{p.LeaderBroker}")}\tLeaderEpoch: {p.LeaderEpoch}");
                sb.Append(CultureInfo.InvariantCulture,
                    $"\tReplicas: {string.Join(',', replicas)}\tIsr: {string.Join(',', p.Isr)}\tLogStartOffset: {p.LogStartOffset}\tLogEndOffset: {p.LogEndOffset}");
                if (p.Error.IsError)
                    sb.Append("\tError: ").Append(p.Error.Code);
                sb.Append('\n');
            }
        }
        return sb.ToString();
    }
}
