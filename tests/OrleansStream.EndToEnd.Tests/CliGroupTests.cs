using System.Text;
using System.Text.Json;

namespace OrleansStream.EndToEnd.Tests;

/// <summary>Two <c>consume --group</c> processes of the real CLI share a topic; <c>groups</c> commands watch and reset them.</summary>
[Trait("Category", "Slow")]
public sealed class CliGroupTests(SiloFixture silo) : IClassFixture<SiloFixture>
{
    private const string Topic = "e2e-group";
    private const string Group = "e2e-g";
    private const int Partitions = 4;
    private const int Records = 200;
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    private sealed record PartitionRow(int Partition, long Committed, long LogEnd, long Lag, string Consumer);

    private sealed record Described(string Header, List<PartitionRow> Rows, ProcessResult Result);

    [Fact]
    public async Task Two_consumers_split_a_topic_and_describe_shows_lag_falling_to_zero()
    {
        Assert.Equal(0, (await silo.RunCliAsync("topics", "create", "--topic", Topic, "--partitions", $"{Partitions}")).ExitCode);
        // A group that does not exist yet is empty: its offsets can be set, so lag is counted from offset 0.
        var reset = await silo.RunCliAsync("groups", "reset-offsets", "--group", Group, "--topic", Topic, "--to-earliest");
        Assert.True(reset.ExitCode == 0, reset.ToString());
        Assert.Equal(Partitions + 1, reset.StdoutLines.Length);

        // The consumers are frozen below while four more CLI processes start, connect and exit, two after two; on a busy
        // machine one such run may take tens of seconds (see ORLEANSSTREAM_CONNECT_TIMEOUT_MS in Processes), so the
        // default 45 s session could pass and the coordinator evict them mid-test. Three minutes outlasts both rounds at
        // their CLI deadline; nothing here waits for a session to expire (the consumers leave when they stop).
        string[] consume(string client) =>
        [
            "consume", "--topic", Topic, "--group", Group, "--format", "json",
            "--consumer-property", $"client.id={client}", "--consumer-property", "auto.commit.interval.ms=100",
            "--consumer-property", "heartbeat.interval.ms=500", "--consumer-property", "session.timeout.ms=180000",
        ];
        await using var a = silo.StartCli("consumer-a", consume("consumer-a"));
        await using var b = silo.StartCli("consumer-b", consume("consumer-b"));

        // Both members hold partitions before any record exists, so no partition is read by two of them.
        var split = await DescribeUntilAsync(d => d.Header.Contains(" is Stable ", StringComparison.Ordinal)
            && d.Header.Contains(", 2 members", StringComparison.Ordinal)
            && d.Rows.Count == Partitions && d.Rows.TrueForAll(r => r.Consumer != "-")
            && d.Rows.Select(r => r.Consumer).Distinct().Count() == 2, "two members share the four partitions", a, b);
        var owners = split.Rows.ToDictionary(r => r.Partition, r => r.Consumer);

        // Frozen consumers cannot keep up: the group lags by every record produced. Frozen, they are still members,
        // so a reset is refused meanwhile. (Independent CLI runs go in parallel: each process start costs seconds.)
        a.Freeze();
        b.Freeze();
        var input = new StringBuilder();
        for (var i = 0; i < Records; i++) input.Append($"key-{i}:value-{i}\n");
        var producing = silo.RunCliWithInputAsync(input.ToString(), "produce", "--topic", Topic, "--key-separator", ":", "--acks", "1");
        var subscribed = silo.RunCliAsync("groups", "delete-offsets", "--group", Group, "--topic", Topic);
        var active = await silo.RunCliAsync("groups", "reset-offsets", "--group", Group, "--topic", Topic, "--to-latest");
        Assert.True(active.ExitCode == 1 && active.StderrLines.Length == 1 && active.Stdout.Length == 0, active.ToString());
        Assert.StartsWith("orleansstream: NonEmptyGroup: ", active.Stderr);
        var refused = await subscribed;
        Assert.True(refused.ExitCode == 1 && refused.StderrLines.Length == 1 && refused.Stdout.Length == 0, refused.ToString());
        Assert.StartsWith("orleansstream: GroupSubscribedToTopic: ", refused.Stderr);
        var produce = await producing;
        Assert.True(produce.ExitCode == 0, produce.ToString());
        var listing = silo.RunCliAsync("groups", "list");
        var behind = await DescribeAsync();
        a.Resume();
        b.Resume();
        Assert.Equal(Records, behind.Rows.Sum(r => r.Lag));
        Assert.All(behind.Rows, r => Assert.Equal(r.LogEnd, r.Lag));
        Assert.Contains($"{Group}\tStable", (await listing).StdoutLines);

        var caughtUp = await DescribeUntilAsync(d => d.Rows.Count == Partitions && d.Rows.TrueForAll(r => r.Lag == 0 && r.Committed == r.LogEnd),
            "the group's lag falls to zero", a, b);
        Assert.Equal(Records, caughtUp.Rows.Sum(r => r.LogEnd));

        var stoppingA = a.StopAsync(Deadline);
        var resultB = await b.StopAsync(Deadline);
        var resultA = await stoppingA;
        Assert.True(resultA.ExitCode == 0, resultA.ToString());
        Assert.True(resultB.ExitCode == 0, resultB.ToString());

        // Every record once; each partition's records all from the member that owns it.
        var seen = new HashSet<string>();
        foreach (var (result, member) in new[] { (resultA, "consumer-a"), (resultB, "consumer-b") })
        {
            var lines = result.StdoutLines;
            Assert.Equal($"Processed a total of {lines.Length} messages", result.Stderr.Trim());
            foreach (var line in lines)
            {
                using var json = JsonDocument.Parse(line);
                var partition = json.RootElement.GetProperty("partition").GetInt32();
                Assert.StartsWith(member + "-", owners[partition]);
                var key = json.RootElement.GetProperty("key").GetString()!;
                Assert.True(seen.Add(key), $"{key} was consumed twice");
            }
        }
        Assert.Equal(Records, seen.Count);

        // Closed consumers committed and left: the group is empty, with its offsets at the log end.
        listing = silo.RunCliAsync("groups", "list");
        var empty = await DescribeAsync();
        Assert.Contains($"{Group}\tEmpty", (await listing).StdoutLines);
        Assert.Contains(" is Empty ", empty.Header);
        Assert.All(empty.Rows, r => Assert.True(r.Lag == 0 && r.Consumer == "-", empty.Result.ToString()));

        // With no member subscribed, a partition's offset can be deleted (kafka-consumer-groups.sh --delete-offsets).
        var deleted = await silo.RunCliAsync("groups", "delete-offsets", "--group", Group, "--topic", Topic, "--partition", "0");
        Assert.True(deleted.ExitCode == 0, deleted.ToString());
        Assert.Equal(2, deleted.StdoutLines.Length);
        Assert.Equal([Topic, "0", "Successful"], deleted.StdoutLines[1].Split(' ', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal([1, 2, 3], (await DescribeAsync()).Rows.Select(r => r.Partition));
    }

    /// <summary>
    /// A <c>consume --group</c> process with <c>group.protocol=consumer</c> (KIP-848): <c>groups list</c> shows its group's
    /// type and Kafka's state name (and filters by them), <c>groups describe</c> its group epoch and the coordinator's assignor.
    /// </summary>
    [Fact]
    public async Task A_consumer_protocol_member_is_listed_and_described_as_a_consumer_group()
    {
        const string topic = "e2e-kip848", group = "e2e-kip848-g";
        Assert.Equal(0, (await silo.RunCliAsync("topics", "create", "--topic", topic, "--partitions", "2")).ExitCode);
        await using var member = silo.StartCli("kip848", "consume", "--topic", topic, "--group", group,
            "--consumer-property", "group.protocol=consumer", "--consumer-property", "session.timeout.ms=180000");

        // The group exists once the member's first heartbeat is stored.
        await Eventually.WaitUntilAsync(async () =>
        {
            if (member.HasExited) throw new InvalidOperationException($"the consumer exited:\n{member.Output}");
            return (await silo.RunCliAsync("groups", "list")).StdoutLines.Contains($"{group}\tStable\tconsumer");
        }, "groups list shows the consumer group", Deadline);
        // kafka-consumer-groups.sh's --state and --type filters.
        Assert.Contains($"{group}\tStable\tconsumer", (await silo.RunCliAsync("groups", "list", "--type", "consumer", "--state", "stable,empty")).StdoutLines);
        Assert.DoesNotContain($"{group}\tStable\tconsumer", (await silo.RunCliAsync("groups", "list", "--type", "classic")).StdoutLines);
        Assert.DoesNotContain($"{group}\tStable\tconsumer", (await silo.RunCliAsync("groups", "list", "--state", "Empty")).StdoutLines);
        var bad = await silo.RunCliAsync("groups", "list", "--state", "Sleeping");
        Assert.True(bad.ExitCode == 2 && bad.Stderr.Contains("--state: 'Sleeping' is not a group state", StringComparison.Ordinal), bad.ToString());
        var described = await DescribeUntilAsync(d => d.Rows.Count == 2 && d.Rows.TrueForAll(r => r.Consumer != "-"),
            "the member owns both partitions", member, group);
        Assert.StartsWith($"Consumer group '{group}' is Stable (consumer protocol, group epoch ", described.Header);
        Assert.EndsWith("assignor uniform, 1 members).", described.Header);
        var stopped = await member.StopAsync(Deadline);
        Assert.True(stopped.ExitCode == 0, stopped.ToString());
    }

    private async Task<Described> DescribeAsync(string group = Group)
    {
        var result = await silo.RunCliAsync("groups", "describe", "--group", group);
        Assert.True(result.ExitCode == 0, result.ToString());
        var lines = result.StdoutLines;
        var rows = new List<PartitionRow>();
        // "Consumer group 'G' is S (...)." then the table: GROUP TOPIC PARTITION CURRENT-OFFSET LOG-END-OFFSET LAG CONSUMER-ID CLIENT-ID
        for (var i = 2; i < lines.Length; i++)
        {
            var f = lines[i].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            static long Number(string s) => s == "-" ? -1 : long.Parse(s);
            rows.Add(new PartitionRow(int.Parse(f[2]), Number(f[3]), Number(f[4]), Number(f[5]), f[6]));
        }
        return new Described(lines[0], rows, result);
    }

    private Task<Described> DescribeUntilAsync(Func<Described, bool> condition, string what, params ExternalProcess[] consumers) =>
        DescribeUntilAsync(condition, what, consumers, Group);

    private Task<Described> DescribeUntilAsync(Func<Described, bool> condition, string what, ExternalProcess consumer, string group) =>
        DescribeUntilAsync(condition, what, [consumer], group);

    private async Task<Described> DescribeUntilAsync(Func<Described, bool> condition, string what, ExternalProcess[] consumers, string group)
    {
        Described? last = null;
        await Eventually.WaitUntilAsync(async () =>
        {
            last = await DescribeAsync(group);
            if (condition(last)) return true;
            foreach (var c in consumers)
                if (c.HasExited) throw new InvalidOperationException($"{c.Name} exited while waiting until {what}.\n{c.Output}");
            return false;
        }, what, Deadline, () => $"Last describe:\n{last?.Result}\n" + string.Join('\n', consumers.Select(c => c.Output)));
        return last!;
    }
}
