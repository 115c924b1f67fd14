using System.CommandLine;
using System.Globalization;
using OrleansStream.Client;
using OrleansStream.Client.Admin;

namespace OrleansStream.Cli.Commands;

/// <summary>
/// <c>transactions list|describe|describe-producers|abort|find-hanging</c>, the kafka-transactions.sh of OrleansStream,
/// <c>transactions stats</c> and <c>transactions copy</c>.
/// </summary>
internal static class TransactionsCommands
{
    public static Command Build()
    {
        var transactions = new Command("transactions", "List and describe transactional producers' transactions, find and abort hanging ones; copy a topic exactly once");
        transactions.Subcommands.Add(List());
        transactions.Subcommands.Add(Describe());
        transactions.Subcommands.Add(DescribeProducers());
        transactions.Subcommands.Add(Abort());
        transactions.Subcommands.Add(FindHanging());
        transactions.Subcommands.Add(Stats());
        transactions.Subcommands.Add(CopyCommand.Build());
        return transactions;
    }

    private static Command List()
    {
        var command = new Command("list", "Every transactional id the coordinators know, with its producer id and state");
        command.SetAction(async (parse, ct) =>
        {
            await using var connection = await CliApp.ConnectAsync(parse, ct);
            using var admin = new AdminClientBuilder(connection.Client).Build();
            var rows = new List<string[]> { new[] { "TRANSACTIONAL-ID", "PRODUCER-ID", "STATE" } };
            foreach (var t in await Call(admin.ListTransactionsAsync()))
                rows.Add([t.TransactionalId, t.ProducerId.ToString(CultureInfo.InvariantCulture), t.State]);
            GroupsCommands.WriteTable(rows);
            return ExitCodes.Success;
        });
        return command;
    }

    private static Command Describe()
    {
        var id = new Option<string>("--transactional-id") { Description = "The transactional.id to describe", Required = true };
        var command = new Command("describe", "A transactional id's state, producer id and epoch, timeout, start time and partitions") { id };
        command.SetAction(async (parse, ct) =>
        {
            var transactionalId = parse.GetRequiredValue(id);
            await using var connection = await CliApp.ConnectAsync(parse, ct);
            using var admin = new AdminClientBuilder(connection.Client).Build();
            var d = (await Call(admin.DescribeTransactionsAsync([transactionalId])))[0];
            if (d.Error != ErrorCode.None)
                throw new CliException($"{d.Error}: transactional id '{transactionalId}'");
            var partitions = new List<string>(d.Partitions.Count);
            foreach (var tp in d.Partitions) partitions.Add($"{tp.Topic}-{tp.Partition}");
            GroupsCommands.WriteTable([
                ["TRANSACTIONAL-ID", "PRODUCER-ID", "PRODUCER-EPOCH", "STATE", "TIMEOUT-MS", "START-TIME-MS", "TOPIC-PARTITIONS"],
                [d.TransactionalId, d.ProducerId.ToString(CultureInfo.InvariantCulture), d.ProducerEpoch.ToString(CultureInfo.InvariantCulture), d.State,
                    d.TransactionTimeoutMs.ToString(CultureInfo.InvariantCulture),
                    d.TransactionStartTimeMs >= 0 ? d.TransactionStartTimeMs.ToString(CultureInfo.InvariantCulture) : "-",
                    partitions.Count > 0 ? string.Join(',', partitions) : "-"],
            ]);
            return ExitCodes.Success;
        });
        return command;
    }

    private static Command DescribeProducers()
    {
        var topic = new Option<string>("--topic") { Description = "Topic", Required = true };
        var partition = new Option<int>("--partition") { Description = "Partition", Required = true };
        var command = new Command("describe-producers", "A partition's active producers as its leader holds them, with the start offset of each one's open transaction")
        {
            topic, partition,
        };
        command.Validators.Add(result =>
        {
            if (result.GetValue(partition) < 0) result.AddError("--partition must be >= 0");
        });
        command.SetAction(async (parse, ct) =>
        {
            var tp = new TopicPartition(parse.GetRequiredValue(topic), parse.GetValue(partition));
            await using var connection = await CliApp.ConnectAsync(parse, ct);
            using var admin = new AdminClientBuilder(connection.Client).Build();
            // kafka-transactions.sh's table: a tab between the padded columns.
            var rows = new List<string[]> { new[] { "ProducerId", "ProducerEpoch", "LatestCoordinatorEpoch", "LastSequence", "LastTimestamp", "CurrentTransactionStartOffset" } };
            foreach (var p in (await Call(admin.DescribeProducersAsync([tp])))[0].ActiveProducers)
            {
                rows.Add([
                    N(p.ProducerId), N(p.ProducerEpoch), N(p.CoordinatorEpoch ?? -1), N(p.LastSequence), N(p.LastTimestamp),
                    p.CurrentTransactionStartOffset is { } start ? N(start) : "None",
                ]);
            }
            GroupsCommands.WriteTable(rows, "\t");
            return ExitCodes.Success;
        });
        return command;
    }

    /// <summary>
    /// kafka-transactions.sh abort: the transaction named by its producer, epoch and coordinator epoch, or (Kafka 3.0's
    /// form) by the offset it starts at, whose producer describe-producers tells.
    /// </summary>
    private static Command Abort()
    {
        var topic = new Option<string>("--topic") { Description = "Topic", Required = true };
        var partition = new Option<int>("--partition") { Description = "Partition", Required = true };
        var startOffset = new Option<long?>("--start-offset") { Description = "Start offset of the transaction to abort (its producer is looked up)" };
        var producerId = new Option<long?>("--producer-id") { Description = "Producer id (with --producer-epoch and --coordinator-epoch, from describe-producers)" };
        var producerEpoch = new Option<short?>("--producer-epoch") { Description = "Producer epoch" };
        var coordinatorEpoch = new Option<int?>("--coordinator-epoch") { Description = "Coordinator epoch (-1, no marker yet, is sent as 0)" };
        var command = new Command("abort", "Abort a hanging transaction on a partition: its leader writes the ABORT marker the coordinator did not")
        {
            topic, partition, startOffset, producerId, producerEpoch, coordinatorEpoch,
        };
        command.Validators.Add(result =>
        {
            var byProducer = result.GetValue(producerId) is not null || result.GetValue(producerEpoch) is not null || result.GetValue(coordinatorEpoch) is not null;
            if ((result.GetValue(startOffset) is not null) == byProducer)
                result.AddError("identify the transaction with --start-offset, or with --producer-id, --producer-epoch and --coordinator-epoch");
            else if (byProducer && (result.GetValue(producerId) is null || result.GetValue(producerEpoch) is null || result.GetValue(coordinatorEpoch) is null))
                result.AddError("--producer-id, --producer-epoch and --coordinator-epoch go together");
            if (result.GetValue(partition) < 0) result.AddError("--partition must be >= 0");
            if (result.GetValue(startOffset) < 0) result.AddError("--start-offset must be >= 0");
        });
        command.SetAction(async (parse, ct) =>
        {
            var tp = new TopicPartition(parse.GetRequiredValue(topic), parse.GetValue(partition));
            await using var connection = await CliApp.ConnectAsync(parse, ct);
            using var admin = new AdminClientBuilder(connection.Client).Build();
            // A producer without a marker yet has coordinator epoch -1; 0 is at least any epoch a coordinator gave, as Kafka's tool sends.
            var spec = parse.GetValue(startOffset) is { } offset
                ? await OpenTransactionAt(admin, tp, offset)
                : new AbortTransactionSpec(tp, parse.GetValue(producerId)!.Value, parse.GetValue(producerEpoch)!.Value, Math.Max(0, parse.GetValue(coordinatorEpoch)!.Value));
            await Call(admin.AbortTransactionAsync(spec));
            return ExitCodes.Success;
        });
        return command;
    }

    private static async Task<AbortTransactionSpec> OpenTransactionAt(IAdminClient admin, TopicPartition tp, long startOffset)
    {
        foreach (var p in (await Call(admin.DescribeProducersAsync([tp])))[0].ActiveProducers)
            if (p.CurrentTransactionStartOffset == startOffset)
                return new AbortTransactionSpec(tp, p.ProducerId, (short)p.ProducerEpoch, p.CoordinatorEpoch ?? 0);
        throw new CliException($"no open transaction starts at offset {startOffset} of {tp}");
    }

    /// <summary>
    /// kafka-transactions.sh find-hanging (KIP-664): the open transactions of a broker's or a topic's partitions, open
    /// longer than --max-transaction-timeout by their producer's last timestamp, that their coordinator will not end:
    /// it has no transactional id for the producer, or does not have the partition in the transaction.
    /// </summary>
    private static Command FindHanging()
    {
        var brokerId = new Option<int?>("--broker-id") { Description = "Node id of the broker whose partitions are searched" };
        var maxTimeout = new Option<int>("--max-transaction-timeout")
        {
            Description = "Maximum transaction timeout in minutes: only transactions open longer are searched (default 15)",
            DefaultValueFactory = _ => 15,
        };
        var topic = new Option<string?>("--topic") { Description = "Topic to search (required with --partition)" };
        var partition = new Option<int?>("--partition") { Description = "Partition of --topic to search" };
        var command = new Command("find-hanging", "Transactions open on partitions that their coordinator will not complete, to abort with transactions abort")
        {
            brokerId, maxTimeout, topic, partition,
        };
        command.Validators.Add(result =>
        {
            if (result.GetValue(topic) is null && result.GetValue(brokerId) is null)
                result.AddError("find-hanging requires either --topic or --broker-id to limit the scope of the search");
            if (result.GetValue(partition) is not null && result.GetValue(topic) is null)
                result.AddError("--partition requires --topic");
            if (result.GetValue(partition) < 0) result.AddError("--partition must be >= 0");
            if (result.GetValue(maxTimeout) < 0) result.AddError("--max-transaction-timeout must be >= 0");
        });
        command.SetAction(async (parse, ct) =>
        {
            await using var connection = await CliApp.ConnectAsync(parse, ct);
            using var admin = new AdminClientBuilder(connection.Client).Build();
            var partitions = await PartitionsToSearch(admin, parse.GetValue(topic), parse.GetValue(partition), parse.GetValue(brokerId));
            var candidates = await OpenTransactionsOlderThan(admin, partitions, parse.GetValue(maxTimeout) * 60_000L);
            var hanging = candidates.Count == 0 ? candidates : await Hanging(admin, candidates);
            var nowMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
            hanging.Sort(static (a, b) => a.Partition.Topic != b.Partition.Topic ? string.CompareOrdinal(a.Partition.Topic, b.Partition.Topic)
                : a.Partition.Partition != b.Partition.Partition ? a.Partition.Partition.CompareTo(b.Partition.Partition)
                : a.Producer.ProducerId.CompareTo(b.Producer.ProducerId));
            var rows = new List<string[]> { new[] { "Topic", "Partition", "ProducerId", "ProducerEpoch", "CoordinatorEpoch", "StartOffset", "LastTimestamp", "Duration(min)" } };
            foreach (var (tp, p) in hanging)
            {
                rows.Add([
                    tp.Topic, N(tp.Partition), N(p.ProducerId), N(p.ProducerEpoch), N(p.CoordinatorEpoch ?? -1), N(p.CurrentTransactionStartOffset ?? -1),
                    N(p.LastTimestamp), N((nowMs - p.LastTimestamp) / 60_000),
                ]);
            }
            GroupsCommands.WriteTable(rows, "\t");
            return ExitCodes.Success;
        });
        return command;
    }

    /// <summary>Kafka's choice: the one partition named, else the topic's (or every topic's) partitions with a replica on the broker.</summary>
    private static async Task<List<TopicPartition>> PartitionsToSearch(IAdminClient admin, string? topic, int? partition, int? nodeId)
    {
        if (topic is not null && partition is { } p) return [new TopicPartition(topic, p)];
        string? broker = null;
        if (nodeId is { } id)
        {
            foreach (var node in (await Call(admin.DescribeClusterAsync())).Nodes)
                if (node.Id == id) broker = node.BrokerId;
            if (broker is null) throw new CliException($"broker {id} is not a live broker of the cluster");
        }
        var options = new DescribeTopicsOptions { IncludeOffsets = false };
        var described = topic is null ? await Call(admin.DescribeTopicsAsync(options)) : await Call(admin.DescribeTopicsAsync([topic], options));
        var partitions = new List<TopicPartition>();
        foreach (var t in described.TopicDescriptions)
            foreach (var info in t.Partitions)
                if (broker is null || HasReplicaOn(info, broker)) partitions.Add(new TopicPartition(t.Name, info.Partition));
        return partitions;
    }

    private static bool HasReplicaOn(TopicPartitionInfo partition, string broker)
    {
        foreach (var replica in partition.Replicas)
            if (replica.BrokerId == broker) return true;
        return false;
    }

    /// <summary>
    /// The producers with a transaction open whose last write is older than the timeout, by the clock once their
    /// partitions answered, as Kafka's tool: their coordinator should have ended the transaction by now.
    /// </summary>
    private static async Task<List<(TopicPartition Partition, ProducerState Producer)>> OpenTransactionsOlderThan(
        IAdminClient admin, List<TopicPartition> partitions, long maxTransactionTimeoutMs)
    {
        var candidates = new List<(TopicPartition, ProducerState)>();
        // Kafka's tool asks in batches, so a broker with many partitions is not sent one giant request.
        const int batchSize = 500;
        for (var from = 0; from < partitions.Count; from += batchSize)
        {
            var batch = await Call(admin.DescribeProducersAsync(partitions.GetRange(from, Math.Min(batchSize, partitions.Count - from))));
            var nowMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
            foreach (var described in batch)
                foreach (var p in described.ActiveProducers)
                    if (p.CurrentTransactionStartOffset is not null && nowMs - p.LastTimestamp > maxTransactionTimeoutMs)
                        candidates.Add((described.TopicPartition, p));
        }
        return candidates;
    }

    /// <summary>
    /// Kafka's rule: an open transaction hangs when no coordinator lists a transactional id for its producer id, when
    /// that id is unknown to its coordinator, or when the coordinator's transaction (ongoing, or still writing its
    /// markers) does not include the partition; otherwise the coordinator will still write the partition's marker.
    /// </summary>
    private static async Task<List<(TopicPartition Partition, ProducerState Producer)>> Hanging(
        IAdminClient admin, List<(TopicPartition Partition, ProducerState Producer)> candidates)
    {
        var producerIds = new HashSet<long>();
        foreach (var (_, p) in candidates) producerIds.Add(p.ProducerId);
        var transactionalIds = new Dictionary<long, string>();
        foreach (var listing in await Call(admin.ListTransactionsAsync(new ListTransactionsOptions { FilterProducerIds = [.. producerIds] })))
            if (producerIds.Contains(listing.ProducerId)) transactionalIds[listing.ProducerId] = listing.TransactionalId;
        var descriptions = new Dictionary<string, TransactionDescription>(StringComparer.Ordinal);
        if (transactionalIds.Count > 0)
        {
            foreach (var d in await Call(admin.DescribeTransactionsAsync(new HashSet<string>(transactionalIds.Values, StringComparer.Ordinal))))
            {
                if (d.Error == ErrorCode.TransactionalIdNotFound) continue;
                if (d.Error != ErrorCode.None) throw new CliException($"{d.Error}: failed to describe transactional id '{d.TransactionalId}'");
                descriptions[d.TransactionalId] = d;
            }
        }
        var hanging = new List<(TopicPartition, ProducerState)>();
        foreach (var (tp, p) in candidates)
        {
            if (!transactionalIds.TryGetValue(p.ProducerId, out var transactionalId)
                || !descriptions.TryGetValue(transactionalId, out var description)
                || !description.Partitions.Contains(tp))
                hanging.Add((tp, p));
        }
        return hanging;
    }

    private static Command Stats()
    {
        var command = new Command("stats", "Commits, aborts by cause and producer fencings each transaction coordinator shard has stored, and their total");
        command.SetAction(async (parse, ct) =>
        {
            await using var connection = await CliApp.ConnectAsync(parse, ct);
            using var admin = new AdminClientBuilder(connection.Client).Build();
            var shards = await Call(admin.DescribeTransactionCoordinatorsAsync());
            var rows = new List<string[]>
            {
                new[] { "SHARD", "COMMITS", "ABORTS-CLIENT", "ABORTS-TIMEOUT", "ABORTS-FENCED", "FENCINGS-INIT-PRODUCER-ID", "FENCINGS-TIMEOUT" },
            };
            var total = TransactionCoordinatorStats.None;
            for (var shard = 0; shard < shards.Count; shard++)
            {
                rows.Add(StatsRow(shard.ToString(CultureInfo.InvariantCulture), shards[shard]));
                total += shards[shard];
            }
            rows.Add(StatsRow("TOTAL", total));
            GroupsCommands.WriteTable(rows);
            return ExitCodes.Success;
        });
        return command;
    }

    private static string[] StatsRow(string shard, TransactionCoordinatorStats s) =>
    [
        shard, N(s.Commits), N(s.ClientAborts), N(s.TimeoutAborts), N(s.FencedAborts), N(s.InitProducerIdFencings), N(s.TimeoutFencings),
    ];

    private static string N(long value) => value.ToString(CultureInfo.InvariantCulture);

    private static async Task Call(Task call)
    {
        try
        {
            await call;
        }
        catch (KafkaException e)
        {
            throw new CliException($"{e.Error.Code}: {e.Error.Reason}");
        }
    }

    private static async Task<T> Call<T>(Task<T> call)
    {
        try
        {
            return await call;
        }
        catch (KafkaException e)
        {
            throw new CliException($"{e.Error.Code}: {e.Error.Reason}");
        }
    }
}
