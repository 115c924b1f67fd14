using System.CommandLine;
using System.Globalization;
using OrleansStream.Client;

namespace OrleansStream.Cli.Commands;

/// <summary><c>transactions list|describe</c>, the kafka-transactions.sh of OrleansStream, <c>transactions stats</c> and <c>transactions copy</c>.</summary>
internal static class TransactionsCommands
{
    public static Command Build()
    {
        var transactions = new Command("transactions", "List and describe transactional producers' transactions; copy a topic exactly once");
        transactions.Subcommands.Add(List());
        transactions.Subcommands.Add(Describe());
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
