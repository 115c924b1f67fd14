using Confluent.Kafka;
using OrleansStream.Protocol;
using OrleansStream.Protocol.Messages;
using ErrorCode = OrleansStream.ErrorCode;
using MetadataRequest = OrleansStream.MetadataRequest;
using PartitionMetadata = OrleansStream.PartitionMetadata;
using TopicMetadata = OrleansStream.TopicMetadata;

namespace OrleansStream.Kafka.Tests;

/// <summary>
/// AlterPartitionReassignments and ListPartitionReassignments v0 (KIP-455) on the wire, as kafka-reassign-partitions.sh
/// sends them, on the two brokers of the shared cluster; each test names only topics of its own. The partitions are
/// read back with Confluent's consumer afterwards.
/// </summary>
[Collection(KafkaClusterCollection.Name)]
public sealed class PartitionReassignmentTests(KafkaCluster cluster)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task A_partition_moves_to_the_other_broker_with_every_record_and_its_old_copy_is_removed()
    {
        var topic = await cluster.CreateTopicAsync("reassign-move", 1, 1);
        await ProduceAsync(topic, 0, 20);
        var from = await cluster.LeaderIndexAsync(topic, 0);
        var to = 1 - from;
        var oldDirectory = Path.Combine(cluster.Silos.DataDirectory(from), $"{topic}-0");
        Assert.True(Directory.Exists(oldDirectory));

        var answer = await AlterAsync(new ReassignableTopic(topic, [new ReassignablePartition(0, [NodeId(to)])]));

        Assert.Equal((ErrorCode.None, (string?)null), (answer.Error, answer.ErrorMessage));
        Assert.Equal([(topic, 0, ErrorCode.None, (string?)null)], Results(answer));
        // The new replica rebuilds from the leader and joins the ISR; the partition then is the target, led by it.
        await Eventually.WaitUntilAsync(async () => Partition(await MetadataAsync(topic)) is { Replicas: [var only] } p
            && only.BrokerId == SiloProcesses.BrokerId(to) && p.LeaderBroker == SiloProcesses.BrokerId(to), "the partition moved", Wait);
        await Eventually.WaitUntilAsync(() => !Directory.Exists(oldDirectory), "the old broker removed its copy", Wait);
        // Kafka's Metadata names the replicas and the ISR by node (the moved replica keeps its id, 1, at position 0).
        using (var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = cluster.BootstrapServers }).Build())
        {
            var described = admin.GetMetadata(topic, TimeSpan.FromSeconds(30)).Topics.Single().Partitions.Single();
            Assert.Equal(NodeId(to), described.Leader);
            Assert.Equal([NodeId(to)], described.Replicas);
            Assert.Equal([NodeId(to)], described.InSyncReplicas);
        }
        Assert.DoesNotContain(await ListAsync(null), t => t.Name == topic);
        Assert.Empty(await ListAsync([new TopicPartitions(topic, [0])]));

        await ProduceAsync(topic, 20, 5);
        Assert.Equal(Enumerable.Range(0, 25).Select(i => $"r{i}"), ReadAll(topic, 25));
    }

    [Fact]
    public async Task Leaving_out_the_leader_of_an_in_sync_partition_hands_over_at_once_and_keeps_every_record()
    {
        var topic = await cluster.CreateTopicAsync("reassign-shrink", 1, 2);
        await ProduceAsync(topic, 0, 10);
        var leader = await cluster.LeaderIndexAsync(topic, 0);
        var follower = 1 - leader;
        var before = Partition(await MetadataAsync(topic));
        await Eventually.WaitUntilAsync(async () => Partition(await MetadataAsync(topic)).Isr.Count == 2, "both replicas are in sync", Wait);

        var answer = await AlterAsync(new ReassignableTopic(topic, [new ReassignablePartition(0, [NodeId(follower)])]));

        Assert.Equal([(topic, 0, ErrorCode.None, (string?)null)], Results(answer));
        var after = Partition(await MetadataAsync(topic));
        Assert.Equal([SiloProcesses.BrokerId(follower)], after.Replicas.Select(r => r.BrokerId));
        Assert.Equal(SiloProcesses.BrokerId(follower), after.LeaderBroker);
        Assert.Equal(before.LeaderEpoch + 1, after.LeaderEpoch);
        Assert.DoesNotContain(await ListAsync(null), t => t.Name == topic);
        await Eventually.WaitUntilAsync(() => !Directory.Exists(Path.Combine(cluster.Silos.DataDirectory(leader), $"{topic}-0")),
            "the old leader removed its copy", Wait);

        await ProduceAsync(topic, 10, 5);
        Assert.Equal(Enumerable.Range(0, 15).Select(i => $"r{i}"), ReadAll(topic, 15));
    }

    [Fact]
    public async Task A_follower_left_out_is_removed_at_once_and_its_copy_deleted()
    {
        var topic = await cluster.CreateTopicAsync("reassign-drop", 1, 2);
        await ProduceAsync(topic, 0, 3);
        var leader = await cluster.LeaderIndexAsync(topic, 0);
        var follower = 1 - leader;
        var copy = Path.Combine(cluster.Silos.DataDirectory(follower), $"{topic}-0");
        await Eventually.WaitUntilAsync(async () => Partition(await MetadataAsync(topic)).Isr.Count == 2 && Directory.Exists(copy), "both replicas are in sync", Wait);
        var before = Partition(await MetadataAsync(topic));

        var answer = await AlterAsync(new ReassignableTopic(topic, [new ReassignablePartition(0, [NodeId(leader)])]));

        Assert.Equal([(topic, 0, ErrorCode.None, (string?)null)], Results(answer));
        var after = Partition(await MetadataAsync(topic));
        Assert.Equal([SiloProcesses.BrokerId(leader)], after.Replicas.Select(r => r.BrokerId));
        Assert.Equal((before.LeaderBroker, before.LeaderEpoch), (after.LeaderBroker, after.LeaderEpoch));
        await Eventually.WaitUntilAsync(() => !Directory.Exists(copy), "the left-out follower removed its copy", Wait);
        Assert.Equal(Enumerable.Range(0, 3).Select(i => $"r{i}"), ReadAll(topic, 3));
    }

    [Fact]
    public async Task A_reassignment_cancelled_before_it_completes_restores_the_original_replicas()
    {
        var topic = await cluster.CreateTopicAsync("reassign-cancel", 1, 1);
        await ProduceAsync(topic, 0, 5);
        var from = await cluster.LeaderIndexAsync(topic, 0);
        var before = Partition(await MetadataAsync(topic));

        // One request, handled in order: the move starts (its new replica cannot be in sync yet), then is cancelled.
        var answer = await AlterAsync(new ReassignableTopic(topic, [new ReassignablePartition(0, [NodeId(1 - from)]), new ReassignablePartition(0, null)]));

        Assert.Equal([(topic, 0, ErrorCode.None, (string?)null), (topic, 0, ErrorCode.None, null)], Results(answer));
        var after = Partition(await MetadataAsync(topic));
        Assert.Equal([SiloProcesses.BrokerId(from)], after.Replicas.Select(r => r.BrokerId));
        Assert.Equal((before.LeaderBroker, before.LeaderEpoch), (after.LeaderBroker, after.LeaderEpoch));
        Assert.Empty(await ListAsync([new TopicPartitions(topic, [0])]));
        var again = await AlterAsync(new ReassignableTopic(topic, [new ReassignablePartition(0, null)]));
        Assert.Equal([(topic, 0, ErrorCode.NoReassignmentInProgress, "No partition reassignment is in progress.")], Results(again));
        Assert.Equal(Enumerable.Range(0, 5).Select(i => $"r{i}"), ReadAll(topic, 5));
    }

    [Fact]
    public async Task Bad_targets_get_Kafkas_errors_and_change_nothing()
    {
        var topic = await cluster.CreateTopicAsync("reassign-bad", 1, 1);
        var missing = "reassign-missing-" + Guid.NewGuid().ToString("N")[..8];
        var before = Partition(await MetadataAsync(topic));
        var node = NodeId(0);

        var answer = await AlterAsync(
            new ReassignableTopic(missing, [new ReassignablePartition(0, [node])]),
            new ReassignableTopic(topic, [
                new ReassignablePartition(7, [node]),
                new ReassignablePartition(0, []),
                new ReassignablePartition(0, [node, node]),
                new ReassignablePartition(0, [node, 99_999]),
                new ReassignablePartition(0, null),
            ]));

        Assert.Equal(ErrorCode.None, answer.Error);
        Assert.Equal(
        [
            (missing, 0, ErrorCode.UnknownTopicOrPartition, $"Unable to find a topic named {missing}."),
            (topic, 7, ErrorCode.UnknownTopicOrPartition, $"Unable to find partition {topic}:7."),
            (topic, 0, ErrorCode.InvalidReplicaAssignment, "The manual partition assignment includes an empty replica list."),
            (topic, 0, ErrorCode.InvalidReplicaAssignment, $"The manual partition assignment includes the broker {node} more than once."),
            (topic, 0, ErrorCode.InvalidReplicaAssignment, "The manual partition assignment includes broker 99999, but no such broker is registered."),
            (topic, 0, ErrorCode.NoReassignmentInProgress, "No partition reassignment is in progress."),
        ], Results(answer));
        var after = Partition(await MetadataAsync(topic));
        Assert.Equal(before.Replicas, after.Replicas);
        Assert.Equal(before.LeaderEpoch, after.LeaderEpoch);
        Assert.Empty(await ListAsync([new TopicPartitions(topic, [0, 7]), new TopicPartitions(missing, [0])]));
    }

    private int NodeId(int index)
    {
        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = cluster.BootstrapServers }).Build();
        return admin.GetMetadata(TimeSpan.FromSeconds(30)).Brokers.Single(b => b.Port == cluster.Silos.KafkaPort(index)).BrokerId;
    }

    private async Task<TopicMetadata> MetadataAsync(string topic) => (await cluster.Controller.GetMetadata(new MetadataRequest([topic]))).Topics.Single();

    private static PartitionMetadata Partition(TopicMetadata topic) => topic.Partitions.Single();

    private async Task ProduceAsync(string topic, int first, int count)
    {
        using var producer = new ProducerBuilder<Null, string>(new ProducerConfig
        {
            BootstrapServers = cluster.BootstrapServers, Acks = Confluent.Kafka.Acks.All, LingerMs = 0, MessageTimeoutMs = 60_000,
        }).Build();
        for (var i = first; i < first + count; i++)
            await producer.ProduceAsync(topic, new Message<Null, string> { Value = $"r{i}" }, TestContext.Current.CancellationToken);
    }

    private List<string> ReadAll(string topic, int expected)
    {
        using var consumer = new ConsumerBuilder<Null, string>(new ConsumerConfig
        {
            BootstrapServers = cluster.BootstrapServers, GroupId = "reassign-" + Guid.NewGuid().ToString("N")[..8], EnablePartitionEof = true,
        }).Build();
        consumer.Assign(new Confluent.Kafka.TopicPartitionOffset(new Confluent.Kafka.TopicPartition(topic, 0), Offset.Beginning));
        return [.. Consuming.ToEnd(consumer, 1, expected).Select(r => r.Message.Value)];
    }

    private static List<(string, int, ErrorCode, string?)> Results(AlterPartitionReassignmentsResponse answer) =>
        [.. answer.Responses.SelectMany(t => t.Partitions.Select(p => (t.Name, p.PartitionIndex, p.Error, p.ErrorMessage)))];

    private async Task<AlterPartitionReassignmentsResponse> AlterAsync(params ReassignableTopic[] topics)
    {
        var frame = await ExchangeAsync(ApiKey.AlterPartitionReassignments, new AlterPartitionReassignmentsRequest(30_000, topics).Write);
        var r = new KafkaReader(frame.AsSpan(4));
        r.SkipTaggedFields();
        var answer = AlterPartitionReassignmentsResponse.Read(ref r, 0);
        Assert.Equal(0, r.Remaining);
        return answer;
    }

    private async Task<OngoingTopicReassignment[]> ListAsync(TopicPartitions[]? topics)
    {
        var frame = await ExchangeAsync(ApiKey.ListPartitionReassignments, new ListPartitionReassignmentsRequest(30_000, topics).Write);
        var r = new KafkaReader(frame.AsSpan(4));
        r.SkipTaggedFields();
        var answer = ListPartitionReassignmentsResponse.Read(ref r, 0);
        Assert.Equal(0, r.Remaining);
        Assert.Equal((ErrorCode.None, (string?)null), (answer.Error, answer.ErrorMessage));
        return answer.Topics;
    }

    private async Task<byte[]> ExchangeAsync(ApiKey key, Action<KafkaWriter, short> write)
    {
        await using var wire = await KafkaWire.ConnectAsync(cluster.Silos.KafkaPort(0));
        await wire.SendAsync(key, 0, w => write(w, 0));
        var frame = await wire.ReadFrameAsync();
        Assert.NotNull(frame);
        return frame;
    }
}
