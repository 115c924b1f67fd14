using System.CommandLine;
using System.Globalization;
using System.Text;
using OrleansStream.Client;
using OrleansStream.Client.Admin;

namespace OrleansStream.Cli.Commands;

/// <summary><c>topics create|list|describe|delete</c>, the kafka-topics.sh of OrleansStream.</summary>
internal static class TopicsCommands
{
    public static Command Build()
    {
        var topics = new Command("topics", "Create, list, describe and delete topics");
        topics.Subcommands.Add(Create());
        topics.Subcommands.Add(List());
        topics.Subcommands.Add(Describe());
        topics.Subcommands.Add(Delete());
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
