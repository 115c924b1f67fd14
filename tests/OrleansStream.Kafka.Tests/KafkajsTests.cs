using System.Text.Json;
using OrleansStream.Client;

namespace OrleansStream.Kafka.Tests;

/// <summary>kafkajs (Node, pinned in tests/package.json and restored by the test build) against the brokers.</summary>
[Collection(KafkaClusterCollection.Name)]
public sealed class KafkajsTests(KafkaCluster cluster)
{
    private const int Count = 20;

    [Fact]
    public Task Kafkajs_creates_and_lists_a_topic_produces_keyed_records_and_consumes_them_in_a_group() =>
        RunClientAsync(cluster.Silos.Client, cluster.BootstrapServers, []);

    /// <summary>Runs kafkajs/client.js against <paramref name="bootstrap"/> with <paramref name="environment"/> (SASL, TLS) and checks what it saw.</summary>
    internal static async Task RunClientAsync(IClusterClient client, string bootstrap, Dictionary<string, string?> environment)
    {
        var topic = "kafkajs-" + Guid.NewGuid().ToString("N")[..8];
        var group = "kafkajs-group-" + topic;
        var script = Repository.Path("tests", "OrleansStream.Kafka.Tests", "kafkajs", "client.js");
        environment["KAFKAJS_NO_PARTITIONER_WARNING"] = "1";

        var run = await ExternalProcess.RunAsync("node", [script, bootstrap, topic, group, Count.ToString(System.Globalization.CultureInfo.InvariantCulture)],
            environment: environment, timeout: TimeSpan.FromMinutes(2));
        Assert.True(run.ExitCode == 0, $"node client.js exited with {run.ExitCode}:\n{run.Output}");
        using var result = JsonDocument.Parse(run.StdoutLines[^1]);
        var root = result.RootElement;
        var consumed = root.GetProperty("consumed").EnumerateArray()
            .Select(m => (Partition: m.GetProperty("partition").GetInt32(), Key: m.GetProperty("key").GetString()!, Value: m.GetProperty("value").GetString()!)).ToList();
        var committed = root.GetProperty("committed").EnumerateArray().Sum(p => p.GetProperty("offset").GetInt64());
        var metadata = await client.GetGrain<IClusterControllerGrain>(GrainKeys.Controller).GetMetadata(new MetadataRequest([topic]));

        Assert.True(root.GetProperty("created").GetBoolean());
        Assert.True(root.GetProperty("listed").GetBoolean());
        Assert.All(root.GetProperty("produced").EnumerateArray(), r => Assert.Equal(0, r.GetProperty("errorCode").GetInt32()));
        Assert.Equal(Enumerable.Range(0, Count).Select(i => $"k{i}=v{i}").Order(), consumed.Select(m => $"{m.Key}={m.Value}").Order());
        // kafkajs's default partitioner is Java's murmur2, as our SDK's: each key lands where the SDK would put it.
        Assert.All(consumed, m => Assert.Equal(Partitioners.Murmur2(System.Text.Encoding.UTF8.GetBytes(m.Key), 2), m.Partition));
        Assert.Equal(Count, committed);
        Assert.Equal(2, metadata.Topics.Single().Partitions.Count);
    }
}
