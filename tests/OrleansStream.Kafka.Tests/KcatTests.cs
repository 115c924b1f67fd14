namespace OrleansStream.Kafka.Tests;

/// <summary>kcat (librdkafka), as the README's quick start runs it: list, produce with keys, consume.</summary>
[Collection(KafkaClusterCollection.Name)]
public sealed class KcatTests(KafkaCluster cluster)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Kcat_lists_the_brokers_produces_keyed_records_and_consumes_them_back()
    {
        var topic = await cluster.CreateTopicAsync("kcat", partitions: 2);
        var bootstrap = $"127.0.0.1:{cluster.Silos.KafkaPort(0)}";

        var list = await Kcat(["-b", bootstrap, "-L", "-t", topic]);
        var produce = await Kcat(["-b", bootstrap, "-P", "-t", topic, "-K", ":"], "a:1\nb:2\nc:3\n");
        var consume = await Kcat(["-b", bootstrap, "-C", "-t", topic, "-o", "beginning", "-e", "-f", "%k=%s\\n"]);

        Assert.Contains(" 2 brokers:", list.Stdout, StringComparison.Ordinal);
        Assert.Contains($"broker {await NodeOfAsync(0)} at 127.0.0.1:{cluster.Silos.KafkaPort(0)}", list.Stdout, StringComparison.Ordinal);
        Assert.Contains($"topic \"{topic}\" with 2 partitions:", list.Stdout, StringComparison.Ordinal);
        Assert.Equal(0, produce.ExitCode);
        Assert.Equal(["a=1", "b=2", "c=3"], consume.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Order());
    }

    private async Task<int> NodeOfAsync(int silo)
    {
        var description = await cluster.Silos.Client.GetGrain<Server.Cluster.IBrokerGrain>(SiloProcesses.BrokerId(silo)).Describe();
        return description.NodeId!.Value;
    }

    private static async Task<ProcessResult> Kcat(string[] args, string? stdin = null)
    {
        var result = await ExternalProcess.RunAsync("kcat", args, stdin: stdin, timeout: Timeout);
        Assert.True(result.ExitCode == 0, $"kcat {string.Join(' ', args)} exited with {result.ExitCode}:\n{result.Output}");
        return result;
    }
}
