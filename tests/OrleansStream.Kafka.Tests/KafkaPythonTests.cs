using System.Globalization;
using System.Text;
using System.Text.Json;
using OrleansStream.Client;

namespace OrleansStream.Kafka.Tests;

/// <summary>
/// kafka-python (pure Python, its own protocol code: JoinGroup v2, Metadata v1, Fetch v4, OffsetCommit v2) against the
/// brokers. It runs on Debian's interpreter with Debian's python3-kafka (2.0.2), which .ci/run installs as it does kcat.
/// </summary>
[Collection(KafkaClusterCollection.Name)]
public sealed class KafkaPythonTests(KafkaCluster cluster)
{
    private const int Count = 30;
    private const string Python = "/usr/bin/python3";

    [Fact]
    public async Task Kafka_python_creates_a_topic_produces_keyed_records_and_consumes_them_in_a_group_of_two_that_commits()
    {
        var topic = "kafka-python-" + Guid.NewGuid().ToString("N")[..8];
        var group = "kafka-python-group-" + topic;
        var script = Repository.Path("tests", "OrleansStream.Kafka.Tests", "kafka-python", "client.py");

        var run = await ExternalProcess.RunAsync(Python, [script, cluster.BootstrapServers, topic, group, Count.ToString(CultureInfo.InvariantCulture)],
            timeout: TimeSpan.FromMinutes(2));

        Assert.True(run.ExitCode == 0, $"{Python} client.py exited with {run.ExitCode} (kafka-python is Debian's python3-kafka):\n{run.Output}");
        using var result = JsonDocument.Parse(run.StdoutLines[^1]);
        var root = result.RootElement;
        Assert.All(root.GetProperty("createdErrors").EnumerateArray(), e => Assert.Equal(0, e.GetInt32()));
        var described = Assert.Single(root.GetProperty("described").EnumerateArray());
        Assert.Equal((topic, 0, 3), (described.GetProperty("topic").GetString(), described.GetProperty("error").GetInt32(), described.GetProperty("partitions").GetInt32()));
        Assert.True(root.GetProperty("listed").GetBoolean());

        // kafka-python's default partitioner is Java's murmur2, as our SDK's: each key lands where the SDK would put it.
        var produced = root.GetProperty("produced").EnumerateArray()
            .Select(p => (Key: p.GetProperty("key").GetString()!, Partition: p.GetProperty("partition").GetInt32(), Offset: p.GetProperty("offset").GetInt64())).ToList();
        Assert.All(produced, p => Assert.Equal(Partitioners.Murmur2(Encoding.UTF8.GetBytes(p.Key), 3), p.Partition));

        // Two members split the partitions; each reads only its own, and together every record once.
        var assignments = root.GetProperty("assignments").EnumerateArray().Select(a => a.EnumerateArray().Select(p => p.GetInt32()).ToHashSet()).ToList();
        Assert.Equal(2, assignments.Count);
        Assert.All(assignments, Assert.NotEmpty);
        Assert.Equal([0, 1, 2], assignments[0].Concat(assignments[1]).Order());
        var consumed = root.GetProperty("consumed").EnumerateArray()
            .Select(member => member.EnumerateArray().Select(m => (Partition: m.GetProperty("partition").GetInt32(), Offset: m.GetProperty("offset").GetInt64(),
                Key: m.GetProperty("key").GetString()!, Value: m.GetProperty("value").GetString()!)).ToList()).ToList();
        for (var i = 0; i < 2; i++) Assert.All(consumed[i], m => Assert.Contains(m.Partition, assignments[i]));
        var all = consumed.SelectMany(m => m).ToList();
        Assert.Equal(Enumerable.Range(0, Count).Select(i => $"k{i}=v{i}").Order(), all.Select(m => $"{m.Key}={m.Value}").Order());
        Assert.Equal(produced.Select(p => (p.Key, p.Partition, p.Offset)).Order(), all.Select(m => (m.Key, m.Partition, m.Offset)).Order());

        // The commits of both members, read back by admin: each partition's next offset.
        Assert.Equal(2, root.GetProperty("groupMembers").GetInt32());
        Assert.Equal("Stable", root.GetProperty("groupState").GetString());
        var committed = root.GetProperty("committed").EnumerateArray().ToDictionary(p => p.GetProperty("partition").GetInt32(), p => p.GetProperty("offset").GetInt64());
        foreach (var partition in produced.GroupBy(p => p.Partition))
            Assert.Equal(partition.Max(p => p.Offset) + 1, committed[partition.Key]);
        Assert.True(root.GetProperty("groupListed").GetBoolean());
        var endOffsets = root.GetProperty("endOffsets").EnumerateArray().ToDictionary(p => p.GetProperty("partition").GetInt32(), p => p.GetProperty("offset").GetInt64());
        Assert.Equal(Enumerable.Range(0, 3).Select(p => committed.GetValueOrDefault(p)), Enumerable.Range(0, 3).Select(p => endOffsets[p]));

        Assert.Equal(0, root.GetProperty("configError").GetInt32());
        Assert.Equal("delete", root.GetProperty("configs").GetProperty("cleanup.policy").GetString());
        Assert.All(root.GetProperty("grownErrors").EnumerateArray(), e => Assert.Equal(0, e.GetInt32()));
        Assert.Equal(4, root.GetProperty("partitionsAfterGrowth").GetInt32());

        Assert.All(root.GetProperty("deletedErrors").EnumerateArray(), e => Assert.Equal(0, e.GetInt32()));
        var metadata = await cluster.Controller.GetMetadata(new MetadataRequest([topic]));
        Assert.DoesNotContain(metadata.Topics, t => t.Error == ErrorCode.None);
    }

    /// <summary>
    /// kafka-python's own group coordinator with protocol type "sr" (Schema Registry's Kafka-based primary election):
    /// metadata and assignments are the members' JSON, handed on unchanged, as for Kafka Connect's "connect" groups. A
    /// follower rejoining with other metadata starts a rebalance, as Kafka's coordinator compares the bytes.
    /// </summary>
    [Fact]
    public async Task Kafka_python_members_of_another_protocol_type_elect_a_primary_through_the_group_coordinator()
    {
        var group = "kafka-python-election-" + Guid.NewGuid().ToString("N")[..8];
        var script = Repository.Path("tests", "OrleansStream.Kafka.Tests", "kafka-python", "leader_election.py");

        var run = await ExternalProcess.RunAsync(Python, [script, cluster.BootstrapServers, group], timeout: TimeSpan.FromMinutes(2));

        Assert.True(run.ExitCode == 0, $"{Python} leader_election.py exited with {run.ExitCode}:\n{run.Output}");
        using var result = JsonDocument.Parse(run.StdoutLines[^1]);
        var root = result.RootElement;
        // [generation, primary, members] as each candidate's last join completed: the leader read every member's JSON.
        var alone = root.GetProperty("firstAlone");
        Assert.Equal(("candidate-a", 1), (alone[1].GetString(), alone[2].GetInt32()));
        var after = root.GetProperty("afterJoin").EnumerateArray().ToList();
        Assert.All(after, a => Assert.Equal(("candidate-a", 2), (a[1].GetString(), a[2].GetInt32())));
        Assert.True(after[0][0].GetInt32() > alone[0].GetInt32());
        Assert.Equal(after[0][0].GetInt32(), after[1][0].GetInt32());
        // The follower rejoined with a new port in its metadata: a new generation, whose assignment the leader made
        // from the new bytes.
        var changed = root.GetProperty("afterChange").EnumerateArray().ToList();
        Assert.All(changed, c => Assert.Equal([8081, 8082], c[3].EnumerateArray().Select(p => p.GetInt32())));
        Assert.True(changed[0][0].GetInt32() > after[0][0].GetInt32());

        var listed = Assert.Single(root.GetProperty("listed").EnumerateArray());
        Assert.Equal((group, "sr"), (listed[0].GetString(), listed[1].GetString()));
        // The candidates left at the end: the empty group keeps its protocol type, as Kafka's does.
        var description = await cluster.Silos.Client.GetGrain<IConsumerGroupGrain>(group).Describe();
        Assert.Equal((GroupState.Empty, "sr"), (description.State, description.ProtocolType));
    }

    [Fact]
    public async Task Kafka_python_batches_in_each_codec_are_rewritten_in_the_topics_codec_and_read_back()
    {
        const int count = 50;
        var prefix = "kafka-python-codec-" + Guid.NewGuid().ToString("N")[..8];
        var script = Repository.Path("tests", "OrleansStream.Kafka.Tests", "kafka-python", "codecs.py");

        var run = await ExternalProcess.RunAsync(Python, [script, cluster.BootstrapServers, prefix, count.ToString(CultureInfo.InvariantCulture)],
            timeout: TimeSpan.FromMinutes(2));

        Assert.True(run.ExitCode == 0, $"{Python} codecs.py exited with {run.ExitCode} (Debian's python3-kafka, python3-snappy, python3-lz4, python3-zstandard):\n{run.Output}");
        var lines = run.StdoutLines.Where(l => l.StartsWith('{')).ToList();
        Assert.Equal(["gzip", "snappy", "lz4", "zstd"], lines.Select(l => JsonDocument.Parse(l).RootElement.GetProperty("codec").GetString()));
        foreach (var line in lines)
        {
            using var document = JsonDocument.Parse(line);
            var root = document.RootElement;
            var codec = root.GetProperty("codec").GetString()!;
            var topicCodec = root.GetProperty("topicCodec").GetString()!;
            Assert.Equal(Enumerable.Range(0, count).Select(i => (long)i), root.GetProperty("offsets").EnumerateArray().Select(o => o.GetInt64()));
            var records = root.GetProperty("records").EnumerateArray().Select(r => (r.GetProperty("key").GetString(), r.GetProperty("value").GetString())).ToList();
            Assert.Equal(Enumerable.Range(0, count).Select(i => ((string?)$"k{i}", (string?)string.Concat(Enumerable.Repeat($"{codec}-{i}-", 20)))), records);
            // The leader read kafka-python's framing of the codec and stored the batches in the topic's.
            var stored = await TopicCompressionTests.StoredCodecsAsync(cluster.Silos.Client, $"{prefix}-{codec}", 0);
            Assert.NotEmpty(stored);
            Assert.All(stored, c => Assert.Equal(topicCodec, c.ToString(), ignoreCase: true));
        }
    }
}
