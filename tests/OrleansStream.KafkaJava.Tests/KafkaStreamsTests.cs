using OrleansStream.Kafka.Tests;

namespace OrleansStream.KafkaJava.Tests;

using IsolationLevel = Confluent.Kafka.IsolationLevel;

/// <summary>
/// Kafka Streams applications with exactly_once_v2 against the two brokers: transactions, read_committed, the
/// consumer group's offsets committed in the transaction, and the internal topics Streams creates.
/// </summary>
[Collection(KafkaClusterCollection.Name)]
public sealed class KafkaStreamsTests(KafkaCluster cluster)
{
    [Fact]
    public async Task A_stateless_map_writes_each_input_record_once_as_read_committed_sees_it()
    {
        var input = await cluster.CreateTopicAsync("streams-map-in", partitions: 2);
        var output = await cluster.CreateTopicAsync("streams-map-out", partitions: 2);
        await JavaClientTests.ProduceAsync(cluster.BootstrapServers, input, 20, i => $"v{i}");

        var result = await JavaClient.RunAsync("streams", cluster.BootstrapServers, input, output, "streams-map-" + Guid.NewGuid().ToString("N"), "map", "20");

        Assert.Equal("RUNNING", result.GetProperty("state").GetString());
        var read = JavaClientTests.ReadAll(cluster.BootstrapServers, output, 2, IsolationLevel.ReadCommitted, 20);
        Assert.Equal(Enumerable.Range(0, 20).Select(i => $"k{i}=V{i}").Order(), read.Select(r => $"{r.Message.Key}={r.Message.Value}").Order());
    }

    [Fact]
    public async Task A_stateful_count_through_its_repartition_and_changelog_topics_ends_at_the_true_counts()
    {
        var input = await cluster.CreateTopicAsync("streams-count-in", partitions: 2);
        var output = await cluster.CreateTopicAsync("streams-count-out", partitions: 2);
        var application = "streams-count-" + Guid.NewGuid().ToString("N");
        // 40 records over 5 values: each value 8 times.
        await JavaClientTests.ProduceAsync(cluster.BootstrapServers, input, 40, i => $"c{i % 5}");

        await JavaClient.RunAsync("streams", cluster.BootstrapServers, input, output, application, "count", "40");

        // The count's updates are committed as they go: the last one read_committed sees per value is its count, once
        // the markers of the last transaction have reached the output's partitions.
        var expected = Enumerable.Range(0, 5).Select(v => $"c{v}=8").ToList();
        List<string> counts = [];
        await Eventually.WaitUntilAsync(() =>
        {
            var last = new SortedDictionary<string, string>(StringComparer.Ordinal);
            foreach (var r in JavaClientTests.ReadAll(cluster.BootstrapServers, output, 2, IsolationLevel.ReadCommitted, expected: null)) last[r.Message.Key] = r.Message.Value;
            counts = last.Select(kv => $"{kv.Key}={kv.Value}").ToList();
            return counts.SequenceEqual(expected);
        }, "the last counts read_committed are 8 for each value", state: () => string.Join(", ", counts));
        // Streams made its internal topics with CreateTopics: the repartition topic by value and the count's changelog.
        var topics = (await cluster.Controller.GetMetadata(new MetadataRequest(null))).Topics.Select(t => t.Name).ToList();
        Assert.Contains($"{application}-by-value-repartition", topics);
        Assert.Contains(topics, t => t.StartsWith(application, StringComparison.Ordinal) && t.EndsWith("-changelog", StringComparison.Ordinal));
    }
}
