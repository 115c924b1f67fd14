namespace OrleansStream.EndToEnd.Tests;

/// <summary><c>transactions describe-producers</c> and <c>transactions abort</c> of the real CLI against a silo process, kafka-transactions.sh's flags.</summary>
[Trait("Category", "Slow")]
public sealed class CliTransactionsTests(SiloFixture silo) : IClassFixture<SiloFixture>
{
    private const string Topic = "e2e-producers";

    [Fact]
    public async Task Describe_producers_lists_a_producers_state_and_abort_writes_its_marker_or_refuses_bad_flags()
    {
        Assert.Equal(0, (await silo.RunCliAsync("topics", "create", "--topic", Topic)).ExitCode);
        var produce = await silo.RunCliWithInputAsync("a\nb\nc\n", "produce", "--topic", Topic, "--partition", "0");
        Assert.True(produce.ExitCode == 0, produce.ToString());

        // The CLI's producer is idempotent (acks=all): sequences 0-2, no marker yet, no transaction open.
        var before = Assert.Single(await DescribeProducersAsync());
        Assert.Equal(["-1", "2", "None"], [before[2], before[3], before[5]]);
        var (producerId, epoch) = (before[0], before[1]);

        var usage = await silo.RunCliAsync("transactions", "abort", "--topic", Topic, "--partition", "0", "--producer-id", producerId);
        Assert.True(usage.ExitCode == 2 && usage.Stdout.Length == 0, usage.ToString());
        Assert.Contains("--producer-id, --producer-epoch and --coordinator-epoch go together", usage.Stderr);

        var notOpen = await silo.RunCliAsync("transactions", "abort", "--topic", Topic, "--partition", "0", "--start-offset", "0");
        Assert.True(notOpen.ExitCode == 1, notOpen.ToString());
        Assert.Equal($"orleansstream: no open transaction starts at offset 0 of {Topic}-0", notOpen.Stderr.Trim());

        // Kafka's tool sends a coordinator epoch of -1 (no marker yet) as 0; the marker ends nothing here but is the producer's last.
        var abort = await silo.RunCliAsync("transactions", "abort", "--topic", Topic, "--partition", "0",
            "--producer-id", producerId, "--producer-epoch", epoch, "--coordinator-epoch", "-1");
        Assert.True(abort.ExitCode == 0 && abort.Stdout.Length == 0, abort.ToString());
        var after = Assert.Single(await DescribeProducersAsync());
        Assert.Equal([producerId, epoch, "0", "2", "None"], [after[0], after[1], after[2], after[3], after[5]]);
    }

    /// <summary>The rows below kafka-transactions.sh's header, each cell without its padding.</summary>
    private async Task<List<string[]>> DescribeProducersAsync()
    {
        var describe = await silo.RunCliAsync("transactions", "describe-producers", "--topic", Topic, "--partition", "0");
        Assert.True(describe.ExitCode == 0, describe.ToString());
        var lines = describe.StdoutLines;
        Assert.Equal(["ProducerId", "ProducerEpoch", "LatestCoordinatorEpoch", "LastSequence", "LastTimestamp", "CurrentTransactionStartOffset"], Cells(lines[0]));
        return [.. lines.Skip(1).Select(Cells)];
    }

    private static string[] Cells(string line) => [.. line.Split('\t').Select(static c => c.Trim())];
}
