using System.CommandLine;
using OrleansStream.Cli.Output;
using OrleansStream.Client;

namespace OrleansStream.Cli.Commands;

/// <summary><c>consume</c>: print records of a topic, like kafka-console-consumer.sh.</summary>
internal static class ConsumeCommand
{
    public static Command Build()
    {
        var topic = new Option<string>("--topic") { Description = "Topic to consume", Required = true };
        var fromBeginning = new Option<bool>("--from-beginning") { Description = "Start at the log start instead of the end" };
        var partition = new Option<int?>("--partition") { Description = "Consume only this partition" };
        var offset = new Option<long?>("--offset") { Description = "Start offset in --partition (default: end, or beginning with --from-beginning)" };
        var maxMessages = new Option<long>("--max-messages") { Description = "Exit after this many records (default: no limit)", DefaultValueFactory = _ => -1 };
        var timeout = new Option<int>("--timeout-ms") { Description = "Exit when nothing arrives for this long (default: wait forever)", DefaultValueFactory = _ => -1 };
        var format = new Option<string>("--format") { Description = "text (the value per line) or json (one object per line)", DefaultValueFactory = _ => "text" };
        format.AcceptOnlyFromAmong("text", "json");
        var printKey = new Option<bool>("--print-key") { Description = "With text: print key TAB value" };
        var properties = new Option<string[]>("--consumer-property") { Description = "Consumer config key=value, repeatable", Arity = ArgumentArity.OneOrMore };
        var group = new Option<string?>("--group") { Description = "Consume as a member of this consumer group (subscribe, committed offsets, rebalances)" };
        var isolation = new Option<string?>("--isolation-level")
        {
            Description = "read_committed (default: skip aborted transactions, stop at the last stable offset) or read_uncommitted",
        };
        isolation.AcceptOnlyFromAmong("read_committed", "read_uncommitted");
        var command = new Command("consume", "Print records of a topic")
        {
            topic, fromBeginning, partition, offset, maxMessages, timeout, format, printKey, properties, group, isolation,
        };
        command.Validators.Add(result =>
        {
            if (result.GetValue(offset) is not null && result.GetValue(partition) is null)
                result.AddError("--offset needs --partition");
            if (result.GetValue(group) is not null && (result.GetValue(partition) is not null || result.GetValue(offset) is not null))
                result.AddError("--group takes the group's partitions and offsets: drop --partition and --offset");
        });
        command.SetAction(async (parse, ct) =>
        {
            var topicName = parse.GetRequiredValue(topic);
            long limit = parse.GetValue(maxMessages);
            int timeoutMs = parse.GetValue(timeout);
            bool beginning = parse.GetValue(fromBeginning);
            var config = new ConsumerConfig(CliApp.ParseKeyValues(parse.GetValue(properties), "--consumer-property"))
            {
                AutoOffsetReset = beginning ? AutoOffsetReset.Earliest : AutoOffsetReset.Latest,
            };
            if (parse.GetValue(isolation) is { } level)
                config.Set("isolation.level", level);

            await using var connection = await CliApp.ConnectAsync(parse, ct);
            var partitions = await TopicPartitions.ResolveAsync(connection.Client, topicName, parse.GetValue(partition));
            long start = parse.GetValue(offset) ?? (beginning ? Offset.Beginning : Offset.End);
            var groupId = parse.GetValue(group);
            if (groupId is not null) config.GroupId = groupId;
            using var consumer = new ConsumerBuilder<byte[], byte[]>(connection.Client, config).Build();
            if (groupId is not null)
            {
                consumer.Subscribe(topicName);
            }
            else
            {
                var assignment = new List<TopicPartitionOffset>(partitions.Count);
                foreach (var p in partitions)
                    assignment.Add(new TopicPartitionOffset(p, start));
                consumer.Assign(assignment);
            }

            bool interactive = !Console.IsOutputRedirected;
            using var writer = new RecordWriter(new BufferedStream(Console.OpenStandardOutput(), 65536),
                parse.GetValue(format) == "json" ? RecordFormat.Json : RecordFormat.Text, parse.GetValue(printKey));
            long count = 0;
            try
            {
                while (limit < 0 || count < limit)
                {
                    ConsumeResult<byte[], byte[]>? result;
                    if (timeoutMs < 0)
                    {
                        result = await consumer.ConsumeAsync(ct);
                    }
                    else
                    {
                        result = consumer.Consume(TimeSpan.FromMilliseconds(timeoutMs));
                        ct.ThrowIfCancellationRequested();
                        if (result is null)
                            break;
                    }
                    if (result.IsPartitionEOF || result.Message is null)
                        continue;
                    writer.Write(result);
                    count++;
                    if (interactive)
                        writer.Flush();
                }
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                // Ctrl-C ends a console consumer normally.
            }
            writer.Flush();
            Console.Error.WriteLine($"Processed a total of {count} messages");
            return ExitCodes.Success;
        });
        return command;
    }
}

/// <summary>Checks that a topic exists and lists the partitions to read.</summary>
internal static class TopicPartitions
{
    public static async Task<List<TopicPartition>> ResolveAsync(IClusterClient client, string topic, int? onlyPartition)
    {
        using var admin = new AdminClientBuilder(client).Build();
        var metadata = await admin.GetMetadataAsync([topic]);
        TopicMetadata? found = null;
        foreach (var t in metadata.Topics)
            if (t.Name == topic)
                found = t;
        if (found is null || found.Error == ErrorCode.UnknownTopicOrPartition)
            throw new CliException($"{ErrorCode.UnknownTopicOrPartition}: topic '{topic}' does not exist");
        if (found.Error != ErrorCode.None)
            throw new CliException($"{found.Error}: topic '{topic}': {found.ErrorMessage ?? found.Error.ToString()}");
        var partitions = new List<TopicPartition>(found.Partitions.Count);
        foreach (var p in found.Partitions)
            if (onlyPartition is null || onlyPartition == p.Partition)
                partitions.Add(new TopicPartition(topic, p.Partition));
        if (partitions.Count == 0)
            throw new CliException($"{ErrorCode.UnknownTopicOrPartition}: topic '{topic}' has no partition {onlyPartition}");
        partitions.Sort((a, b) => a.Partition.CompareTo(b.Partition));
        return partitions;
    }
}
