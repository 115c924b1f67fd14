using System.Text;
using System.Text.Json;
using Confluent.Kafka;
using OrleansStream.Kafka.Tests;
using OrleansStream.Records;

namespace OrleansStream.KafkaJava.Tests;

using ErrorCode = OrleansStream.ErrorCode;
using IsolationLevel = Confluent.Kafka.IsolationLevel;
using TopicPartitionOffset = Confluent.Kafka.TopicPartitionOffset;

/// <summary>
/// The Apache Kafka Java client (producer, consumer group, admin, transactions) against the two brokers, nothing changed
/// but bootstrap.servers; what it did is checked with Confluent.Kafka and the grains.
/// </summary>
[Collection(KafkaClusterCollection.Name)]
public sealed class JavaClientTests(KafkaCluster cluster)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task The_producer_with_its_defaults_and_each_codec_puts_each_key_on_its_murmur2_partition_once()
    {
        var codecs = new[] { "none", "gzip", "snappy", "lz4", "zstd" };
        var topics = new List<string>();
        foreach (var codec in codecs) topics.Add(await cluster.CreateTopicAsync("java-keys-" + codec, partitions: 4));

        var result = await JavaClient.RunAsync(["produce", cluster.BootstrapServers, "40", .. topics.Select((t, i) => $"{t}:{codecs[i]}")]);

        foreach (var produced in result.GetProperty("topics").EnumerateArray())
        {
            var topic = produced.GetProperty("topic").GetString()!;
            var records = produced.GetProperty("records").EnumerateArray()
                .Select(r => (Key: r.GetProperty("key").GetString()!, Partition: r.GetProperty("partition").GetInt32(), Offset: r.GetProperty("offset").GetInt64())).ToList();
            Assert.Equal(40, records.Count);
            // Java's default partitioner, our SDK's and Confluent's murmur2_random: the same key, the same partition.
            Assert.All(records, r => Assert.Equal(Murmur2.Partition(Encoding.UTF8.GetBytes(r.Key), 4), r.Partition));
            foreach (var partition in records.GroupBy(r => r.Partition))
                Assert.Equal(Enumerable.Range(0, partition.Count()).Select(i => (long)i), partition.Select(r => r.Offset).Order());
            var read = ReadAll(topic, 4, IsolationLevel.ReadUncommitted, 40);
            Assert.Equal(Enumerable.Range(0, 40).Select(i => $"k{i}=v{i}").Order(), read.Select(r => $"{r.Message.Key}={r.Message.Value}").Order());
            Assert.All(read, r => Assert.Equal(records.Single(s => s.Key == r.Message.Key).Partition, r.Partition.Value));
        }
        Assert.Equal(topics, result.GetProperty("topics").EnumerateArray().Select(t => t.GetProperty("topic").GetString()));
    }

    [Fact]
    public async Task Two_group_members_rebalance_on_join_and_leave_commit_seek_and_find_offsets_by_time()
    {
        var topic = await cluster.CreateTopicAsync("java-group", partitions: 4);
        var group = "java-group-" + Guid.NewGuid().ToString("N");
        await ProduceAsync(topic, 40, i => $"v{i}");

        var result = await JavaClient.RunAsync("group", cluster.BootstrapServers, topic, group, "40");

        Assert.Equal(4, result.GetProperty("firstAlone").GetInt32());
        var (first, second) = (result.GetProperty("firstAfterJoin").GetInt32(), result.GetProperty("secondAfterJoin").GetInt32());
        Assert.True(first > 0 && second > 0 && first + second == 4, $"the join left the first member {first} partitions and gave the second {second}");
        Assert.Equal(4, result.GetProperty("firstAfterLeave").GetInt32());
        Assert.Contains(result.GetProperty("revocations").EnumerateArray(), r => r.GetProperty("member").GetString() == "second");
        var consumed = result.GetProperty("consumed").EnumerateArray().Select(r => $"{r.GetProperty("key").GetString()}={r.GetProperty("value").GetString()}");
        Assert.Equal(Enumerable.Range(0, 40).Select(i => $"k{i}=v{i}").Order(), consumed.Order());
        Assert.Equal(40, result.GetProperty("committed").GetInt64());
        Assert.All(result.GetProperty("offsetsForTimes").EnumerateArray(), t => Assert.Equal(t.GetProperty("expected").GetInt64(), t.GetProperty("offset").GetInt64()));
        Assert.Equal(4, result.GetProperty("offsetsForTimes").GetArrayLength());
        Assert.Equal(0, result.GetProperty("afterSeek").GetInt64());
        Assert.Equal((40, 0), (result.GetProperty("endOffsets").GetInt64(), result.GetProperty("beginningOffsets").GetInt64()));

        // The group grain holds what the Java members committed: our SDK sees the same group.
        var fetched = await cluster.Silos.Client.GetGrain<IConsumerGroupGrain>(group).OffsetFetch(new OffsetFetchRequest());
        Assert.Equal(40, fetched.Offsets.Sum(o => o.Offset));
    }

    [Fact]
    public async Task The_admin_client_creates_describes_alters_configs_of_and_deletes_a_topic_describes_log_dirs_and_a_group()
    {
        var topic = "java-admin-" + Guid.NewGuid().ToString("N")[..8];
        var group = "java-admin-" + Guid.NewGuid().ToString("N");

        var result = await JavaClient.RunAsync("admin", cluster.BootstrapServers, topic, group);

        Assert.True(result.GetProperty("listed").GetBoolean());
        Assert.Equal(3, result.GetProperty("partitions").GetInt32());
        Assert.True(result.GetProperty("leaders").GetBoolean());
        // describeTopics by name is DescribeTopicPartitions: paged one partition a response, the same description.
        Assert.True(result.GetProperty("pagedSame").GetBoolean());
        Assert.Equal("UnknownTopicOrPartition", result.GetProperty("missingTopic").GetString());
        Assert.Equal(2, result.GetProperty("brokers").GetInt32());
        Assert.False(string.IsNullOrEmpty(result.GetProperty("clusterId").GetString()));
        Assert.Equal("3600000/DYNAMIC_TOPIC_CONFIG", result.GetProperty("retentionCreated").GetString());
        Assert.Equal("LONG/true", result.GetProperty("retentionDefinition").GetString());
        Assert.Equal("7200000/DYNAMIC_TOPIC_CONFIG", result.GetProperty("retentionAltered").GetString());
        Assert.Equal("delete,compact/DYNAMIC_TOPIC_CONFIG", result.GetProperty("cleanupPolicyAltered").GetString());
        Assert.Equal(3, result.GetProperty("logDirPartitions").GetInt32());
        Assert.True(result.GetProperty("logDirVolumeSizes").GetBoolean());
        // kafka-reassign-partitions.sh with log_dirs: each replica kept in its broker's one directory, another refused.
        Assert.Equal(3, result.GetProperty("logDirsKept").GetInt32());
        Assert.Equal("LogDirNotFoundException", result.GetProperty("logDirElsewhere").GetString());
        Assert.True(result.GetProperty("electionNotNeeded").GetBoolean());
        // kafka-reassign-partitions.sh's calls: partition 0 moved to the other broker, listed until done, a cancel with none refused.
        Assert.True(result.GetProperty("reassigned").GetBoolean());
        Assert.Equal(0, result.GetProperty("reassignmentsListed").GetInt32());
        Assert.Equal("NoReassignmentInProgress", result.GetProperty("cancelNone").GetString());
        Assert.Equal("2/2", result.GetProperty("transactionVersion").GetString());
        Assert.Equal("1/2", result.GetProperty("transactionVersionDowngraded").GetString());
        Assert.Equal("2/2", result.GetProperty("transactionVersionUpgraded").GetString());
        Assert.Equal("Stable", result.GetProperty("groupState").GetString());
        Assert.Equal((1, 3), (result.GetProperty("groupMembers").GetInt32(), result.GetProperty("groupAssigned").GetInt32()));
        Assert.True(result.GetProperty("groupListed").GetBoolean());
        Assert.Equal(1, result.GetProperty("groupOffsets").GetInt32());
        Assert.False(result.GetProperty("listedAfterDelete").GetBoolean());
        var metadata = await cluster.Controller.GetMetadata(new MetadataRequest([topic]));
        Assert.Equal(ErrorCode.UnknownTopicOrPartition, Assert.Single(metadata.Topics).Error);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_transactional_copy_with_the_consumers_group_metadata_commits_or_aborts_output_and_offsets_together(bool commit)
    {
        var input = await cluster.CreateTopicAsync("java-txn-in", partitions: 2);
        var output = await cluster.CreateTopicAsync("java-txn-out", partitions: 2);
        var group = "java-txn-" + Guid.NewGuid().ToString("N");
        await ProduceAsync(input, 20, i => $"v{i}");

        var result = await JavaClient.RunAsync("txn", cluster.BootstrapServers, input, output, group, "java-txn-" + Guid.NewGuid().ToString("N"), "20", commit ? "true" : "false");

        Assert.Equal(20, result.GetProperty("copied").GetInt32());
        var everything = ReadAll(output, 2, IsolationLevel.ReadUncommitted, 20);
        Assert.Equal(Enumerable.Range(0, 20).Select(i => $"k{i}=V{i}").Order(), everything.Select(r => $"{r.Message.Key}={r.Message.Value}").Order());
        var committedRecords = ReadAll(output, 2, IsolationLevel.ReadCommitted, commit ? 20 : 0);
        Assert.Equal(commit ? 20 : 0, committedRecords.Count);
        // The group's offsets move with the transaction's marker, or not at all.
        var groupGrain = cluster.Silos.Client.GetGrain<IConsumerGroupGrain>(group);
        var partitions = new[] { new TopicPartition(input, 0), new TopicPartition(input, 1) };
        OffsetFetchResponse stable = null!;
        await Eventually.WaitUntilAsync(async () => (stable = await groupGrain.OffsetFetch(new OffsetFetchRequest(partitions, RequireStable: true))).Error == ErrorCode.None,
            $"the marker of group {group}'s transaction reached the group");
        Assert.Equal(commit ? 20 : -2, stable.Offsets.Sum(o => o.Offset));
    }

    /// <summary>Keyed records k0.. with the given values, each on its murmur2 partition, through Confluent.Kafka.</summary>
    internal static async Task ProduceAsync(string bootstrap, string topic, int count, Func<int, string> value)
    {
        using var producer = new ProducerBuilder<string, string>(new ProducerConfig { BootstrapServers = bootstrap, Partitioner = Partitioner.Murmur2Random, LingerMs = 5 }).Build();
        for (var i = 0; i < count; i++)
            await producer.ProduceAsync(topic, new Message<string, string> { Key = $"k{i}", Value = value(i) }, TestContext.Current.CancellationToken);
    }

    private Task ProduceAsync(string topic, int count, Func<int, string> value) => ProduceAsync(cluster.BootstrapServers, topic, count, value);

    private List<ConsumeResult<string, string>> ReadAll(string topic, int partitions, IsolationLevel isolation, int expected) =>
        ReadAll(cluster.BootstrapServers, topic, partitions, isolation, expected);

    /// <summary>
    /// Every record of the topic's partitions up to their ends (the last stable offset for read_committed); fails unless
    /// <paramref name="expected"/> came, when given.
    /// </summary>
    internal static List<ConsumeResult<string, string>> ReadAll(string bootstrap, string topic, int partitions, IsolationLevel isolation, int? expected)
    {
        using var consumer = new ConsumerBuilder<string, string>(new ConsumerConfig
        {
            BootstrapServers = bootstrap,
            GroupId = "reader-" + Guid.NewGuid().ToString("N"),
            EnableAutoCommit = false,
            IsolationLevel = isolation,
            EnablePartitionEof = true,
        }).Build();
        consumer.Assign(Enumerable.Range(0, partitions).Select(p => new TopicPartitionOffset(topic, p, Offset.Beginning)));
        var records = new List<ConsumeResult<string, string>>();
        var ended = new HashSet<int>();
        var deadline = DateTime.UtcNow + Wait;
        while (ended.Count < partitions || records.Count < (expected ?? 0))
        {
            Assert.True(DateTime.UtcNow < deadline, $"read {records.Count} of {expected} records of {topic}, {ended.Count} of {partitions} partitions to their end");
            if (consumer.Consume(TimeSpan.FromMilliseconds(500)) is not { } r) continue;
            if (r.IsPartitionEOF) ended.Add(r.Partition.Value);
            else records.Add(r);
        }
        if (expected is { } count) Assert.Equal(count, records.Count);
        return records;
    }
}
