using Confluent.Kafka;
using OrleansStream.Protocol;
using OrleansStream.Protocol.Messages;

namespace OrleansStream.Kafka.Tests;

/// <summary>
/// DescribeTopicPartitions v0 (KIP-966), bare: what the Java admin client's describeTopics asks by name, read with the
/// codec's response reader. Each test makes topics named <c>dtp-{unique}-a</c> (three partitions) and <c>-b</c> (two),
/// both of replication factor 2, so their order by name is known.
/// </summary>
[Collection(KafkaClusterCollection.Name)]
public sealed class DescribeTopicPartitionsTests(KafkaCluster cluster)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    /// <summary>Kafka's operations on a topic (READ, WRITE, CREATE, DELETE, ALTER, DESCRIBE, DESCRIBE_CONFIGS, ALTER_CONFIGS): all of them without an authorizer.</summary>
    private static readonly int EveryTopicOperation = (1 << 3) | (1 << 4) | (1 << 5) | (1 << 6) | (1 << 7) | (1 << 8) | (1 << 10) | (1 << 11);

    [Fact]
    public async Task Every_topic_is_answered_sorted_by_name_page_by_page_each_partition_as_Metadata_describes_it()
    {
        var (a, b) = await CreateTopicsAsync();

        // Every topic of the shared cluster, 4 partitions a page (pages end inside topics), following each next cursor until there is none.
        var pages = new List<DescribeTopicPartitionsResponse>();
        DescribeTopicPartitionsCursor? cursor = null;
        do
        {
            var page = await DescribeAsync(new DescribeTopicPartitionsRequest([], 4, cursor));
            pages.Add(page);
            Assert.True(pages.Count < 1000, "the pages never end");
            Assert.True(page.Topics.Sum(t => t.Partitions.Count) <= 4);
            cursor = page.NextCursor;
        }
        while (cursor is not null);

        // A topic split across pages is answered in each page with the partitions of that page, in order.
        var described = new List<(string Name, MetadataTopic Topic, List<MetadataPartition> Partitions)>();
        foreach (var t in pages.SelectMany(p => p.Topics))
        {
            Assert.Equal(ErrorCode.None, t.Error);
            if (described.Count > 0 && described[^1].Name == t.Name) described[^1].Partitions.AddRange(t.Partitions);
            else described.Add((t.Name!, t, [.. t.Partitions]));
        }
        var names = described.Select(d => d.Name).ToList();
        var every = (await cluster.Controller.GetMetadata(new OrleansStream.MetadataRequest(null))).Topics.Select(t => t.Name);
        Assert.Equal(every.Order(StringComparer.Ordinal), names);
        Assert.All(described, d => Assert.Equal(Enumerable.Range(0, d.Partitions.Count), d.Partitions.Select(p => p.PartitionIndex)));
        Assert.Equal(names.IndexOf(a) + 1, names.IndexOf(b));

        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = cluster.BootstrapServers }).Build();
        foreach (var name in new[] { a, b })
        {
            var (_, topic, partitions) = described.Single(d => d.Name == name);
            var state = (await cluster.Controller.GetMetadata(new OrleansStream.MetadataRequest([name]))).Topics.Single();
            var metadata = admin.GetMetadata(name, Wait).Topics.Single();
            Assert.Equal((state.TopicId, false, EveryTopicOperation), (topic.TopicId, topic.IsInternal, topic.AuthorizedOperations));
            Assert.Equal(metadata.Partitions.Count, partitions.Count);
            foreach (var p in partitions)
            {
                var expected = metadata.Partitions.Single(m => m.PartitionId == p.PartitionIndex);
                Assert.Equal((ErrorCode.None, expected.Leader, state.Partitions[p.PartitionIndex].LeaderEpoch), (p.Error, p.LeaderId, p.LeaderEpoch));
                Assert.Equal(expected.Replicas, p.ReplicaNodes);
                Assert.Equal(expected.InSyncReplicas, p.IsrNodes);
                Assert.Empty(p.OfflineReplicas);
                Assert.Equal(2, p.ReplicaNodes.Length);
            }
        }
    }

    [Fact]
    public async Task Named_topics_are_answered_once_each_sorted_by_name_and_an_unknown_one_is_UnknownTopicOrPartition()
    {
        var (a, b) = await CreateTopicsAsync();
        var missing = a[..^1] + "0-missing";

        var answer = await DescribeAsync(new DescribeTopicPartitionsRequest([b, missing, a, b]));

        Assert.Null(answer.NextCursor);
        Assert.Equal([(missing, ErrorCode.UnknownTopicOrPartition, 0), (a, ErrorCode.None, 3), (b, ErrorCode.None, 2)],
            answer.Topics.Select(t => (t.Name, t.Error, t.Partitions.Count)));
        // Kafka's answer for a topic that does not exist: the zero id, its operations still given.
        Assert.Equal((Guid.Empty, EveryTopicOperation), (answer.Topics[0].TopicId, answer.Topics[0].AuthorizedOperations));
    }

    [Fact]
    public async Task A_small_partition_limit_pages_across_two_topics_with_the_cursor_of_the_first_partition_left_out()
    {
        var (a, b) = await CreateTopicsAsync();

        var first = await DescribeAsync(new DescribeTopicPartitionsRequest([a, b], 2));
        var second = await DescribeAsync(new DescribeTopicPartitionsRequest([a, b], 2, first.NextCursor));
        var third = await DescribeAsync(new DescribeTopicPartitionsRequest([a, b], 2, second.NextCursor));
        // A page that ends exactly where a topic does points at the next topic's partition 0.
        var exact = await DescribeAsync(new DescribeTopicPartitionsRequest([a, b], 3));
        // A limit below 1 is taken as 1 (Kafka's max(min(limit, max.request.partition.size.limit), 1)).
        var zero = await DescribeAsync(new DescribeTopicPartitionsRequest([a, b], 0));
        // The cursor's topic comes first: topics named before it are not answered.
        var fromB = await DescribeAsync(new DescribeTopicPartitionsRequest([a, b], 10, new DescribeTopicPartitionsCursor(b, 0)));

        Assert.Equal([(a, 0), (a, 1)], Partitions(first));
        Assert.Equal(new DescribeTopicPartitionsCursor(a, 2), first.NextCursor);
        Assert.Equal([(a, 2), (b, 0)], Partitions(second));
        Assert.Equal(new DescribeTopicPartitionsCursor(b, 1), second.NextCursor);
        Assert.Equal([(b, 1)], Partitions(third));
        Assert.Null(third.NextCursor);
        Assert.Equal([(a, 0), (a, 1), (a, 2)], Partitions(exact));
        Assert.Equal(new DescribeTopicPartitionsCursor(b, 0), exact.NextCursor);
        Assert.Equal([(a, 0)], Partitions(zero));
        Assert.Equal(new DescribeTopicPartitionsCursor(a, 1), zero.NextCursor);
        Assert.Equal([(b, 0), (b, 1)], Partitions(fromB));
        Assert.Null(fromB.NextCursor);
    }

    [Fact]
    public async Task A_cursor_naming_a_topic_not_asked_or_a_negative_partition_is_InvalidRequest_for_each_topic_asked()
    {
        var (a, b) = await CreateTopicsAsync();

        var notAsked = await DescribeAsync(new DescribeTopicPartitionsRequest([b, a], 10, new DescribeTopicPartitionsCursor(a + "x", 0)));
        var negative = await DescribeAsync(new DescribeTopicPartitionsRequest([b, a], 10, new DescribeTopicPartitionsCursor(a, -1)));
        var negativeForAll = await DescribeAsync(new DescribeTopicPartitionsRequest([], 10, new DescribeTopicPartitionsCursor(a, -1)));

        foreach (var refused in new[] { notAsked, negative })
        {
            Assert.Equal([(b, ErrorCode.InvalidRequest, 0), (a, ErrorCode.InvalidRequest, 0)], refused.Topics.Select(t => (t.Name, t.Error, t.Partitions.Count)));
            Assert.Null(refused.NextCursor);
        }
        Assert.Empty(negativeForAll.Topics);
    }

    private static List<(string?, int)> Partitions(DescribeTopicPartitionsResponse answer) =>
        [.. answer.Topics.SelectMany(t => t.Partitions.Select(p => (t.Name, p.PartitionIndex)))];

    private async Task<(string A, string B)> CreateTopicsAsync()
    {
        var prefix = $"dtp-{Guid.NewGuid():N}"[..12];
        var results = await cluster.Controller.CreateTopics([new NewTopic(prefix + "-a", 3, 2), new NewTopic(prefix + "-b", 2, 2)]);
        Assert.All(results, r => Assert.Equal(ErrorCode.None, r.Error));
        return (prefix + "-a", prefix + "-b");
    }

    private async Task<DescribeTopicPartitionsResponse> DescribeAsync(DescribeTopicPartitionsRequest request)
    {
        await using var wire = await KafkaWire.ConnectAsync(cluster.Silos.KafkaPort(0));
        return await TopicAuthorizationTests.DescribeTopicPartitionsAsync(wire, request);
    }
}
