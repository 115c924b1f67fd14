using Confluent.Kafka;
using Confluent.Kafka.Admin;
using Orleans.Core.Internal;
using Sdk = OrleansStream.Client;

namespace OrleansStream.Kafka.Tests;

using TopicPartition = Confluent.Kafka.TopicPartition;

/// <summary>
/// librdkafka's consumer group protocol (KIP-848, <c>group.protocol=consumer</c>) against the coordinator: the broker
/// assigns, members reconcile by heartbeat, offsets are committed with the member epoch, the admin client lists and
/// describes the group by type, and a coordinator that moves keeps the members in their epochs.
/// </summary>
[Collection(KafkaClusterCollection.Name)]
public sealed class ConsumerProtocolTests(KafkaCluster cluster)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);

    private ConsumerConfig Config(string group) => new()
    {
        BootstrapServers = cluster.BootstrapServers,
        GroupId = group,
        GroupProtocol = GroupProtocol.Consumer,
        EnableAutoCommit = false,
        AutoOffsetReset = AutoOffsetReset.Earliest,
    };

    private async Task ProduceAsync(string topic, int count)
    {
        using var producer = new ProducerBuilder<string, string>(new ProducerConfig { BootstrapServers = cluster.BootstrapServers }).Build();
        for (var i = 0; i < count; i++)
            await producer.ProduceAsync(new TopicPartition(topic, i % 4), new Message<string, string> { Key = $"k{i}", Value = $"{i}" }, TestContext.Current.CancellationToken);
    }

    [Fact]
    public async Task Members_share_the_partitions_the_coordinator_assigns_commit_with_their_epoch_and_take_them_back_when_one_leaves()
    {
        var topic = await cluster.CreateTopicAsync("kip848", partitions: 4);
        var group = "g-" + Guid.NewGuid().ToString("N");
        await ProduceAsync(topic, 40);

        using var first = new ConsumerBuilder<string, string>(Config(group)).Build();
        first.Subscribe(topic);
        var read = 0;
        var deadline = DateTime.UtcNow + Wait;
        while (read < 40 && DateTime.UtcNow < deadline)
            if (first.Consume(TimeSpan.FromMilliseconds(200)) is { IsPartitionEOF: false }) read++;
        Assert.Equal(40, read);
        Assert.Equal(4, first.Assignment.Count);
        // OffsetCommit v9 with the member's id and epoch, then OffsetFetch v9 with them.
        var committed = first.Commit();
        Assert.Equal(40, committed.Sum(c => c.Offset.Value));
        var partitions = Enumerable.Range(0, 4).Select(p => new TopicPartition(topic, p)).ToList();
        Assert.Equal(40, first.Committed(partitions, Wait).Sum(c => c.Offset.Value));

        var grain = cluster.Silos.Client.GetGrain<IConsumerGroupGrain>(group);
        using (var second = new ConsumerBuilder<string, string>(Config(group)).Build())
        {
            second.Subscribe(topic);
            await Consuming.PollUntilAsync(() => first.Assignment.Count == 2 && second.Assignment.Count == 2, "the two members share the four partitions", Wait, first, second);
            Assert.Empty(first.Assignment.Intersect(second.Assignment));
            var described = await grain.DescribeConsumerGroup();
            Assert.Equal(ErrorCode.None, described.Error);
            Assert.Equal(2, described.Members.Count);
            Assert.Equal("uniform", described.AssignorName);
            // The second member starts where the group committed: nothing left to read.
            Assert.Null(second.Consume(TimeSpan.FromMilliseconds(500)) is { IsPartitionEOF: false } r ? r : null);
            second.Close();
        }
        await Consuming.PollUntilAsync(() => first.Assignment.Count == 4, "the first member gets every partition back", Wait, first);
        await Eventually.WaitUntilAsync(async () => (await grain.DescribeConsumerGroup()) is { GroupState: "Stable", Members.Count: 1 }, "the group is stable with one member");
        first.Close();
        await Eventually.WaitUntilAsync(async () => (await grain.DescribeConsumerGroup()) is { GroupState: "Empty" }, "the group is empty once the member left");
        // The committed offsets stay with the empty group.
        using var later = new ConsumerBuilder<string, string>(Config(group)).Build();
        Assert.Equal(40, later.Committed(partitions, Wait).Sum(c => c.Offset.Value));
    }

    [Fact]
    public async Task The_admin_client_lists_and_describes_a_consumer_group_by_its_type()
    {
        var topic = await cluster.CreateTopicAsync("kip848-admin", partitions: 2);
        var group = "g-" + Guid.NewGuid().ToString("N");
        using var member = new ConsumerBuilder<string, string>(Config(group)).Build();
        member.Subscribe(topic);
        await Consuming.PollUntilAsync(() => member.Assignment.Count == 2, "the member owns the topic", Wait, member);

        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = cluster.BootstrapServers }).Build();
        var consumers = await admin.ListConsumerGroupsAsync(new ListConsumerGroupsOptions { MatchTypes = [ConsumerGroupType.Consumer] });
        var listed = Assert.Single(consumers.Valid, g => g.GroupId == group);
        Assert.Equal(ConsumerGroupType.Consumer, listed.Type);
        Assert.Equal(ConsumerGroupState.Stable, listed.State);
        var classic = await admin.ListConsumerGroupsAsync(new ListConsumerGroupsOptions { MatchTypes = [ConsumerGroupType.Classic] });
        Assert.DoesNotContain(classic.Valid, g => g.GroupId == group);

        // ConsumerGroupDescribe: the member, its assignment and its target by topic.
        var described = Assert.Single((await admin.DescribeConsumerGroupsAsync([group])).ConsumerGroupDescriptions);
        Assert.Equal(ConsumerGroupType.Consumer, described.GroupType);
        Assert.Equal(ConsumerGroupState.Stable, described.State);
        Assert.Equal("uniform", described.PartitionAssignor);
        var m = Assert.Single(described.Members);
        Assert.Equal([0, 1], m.Assignment.TopicPartitions.Where(tp => tp.Topic == topic).Select(tp => tp.Partition.Value).Order());
        Assert.Equal([0, 1], m.TargetAssignment.TopicPartitions.Where(tp => tp.Topic == topic).Select(tp => tp.Partition.Value).Order());
        member.Close();
    }

    /// <summary>
    /// librdkafka's pattern subscription goes to the coordinator as Kafka 4's SubscribedTopicRegex (its patterns, each in
    /// parentheses, joined by "|"): the member gets every matching topic, and a topic created to match later once the
    /// group looks again.
    /// </summary>
    [Fact]
    public async Task A_regex_subscription_is_resolved_by_the_coordinator_and_picks_up_a_topic_created_later()
    {
        var prefix = "re" + Guid.NewGuid().ToString("N")[..8];
        var a = await cluster.CreateTopicAsync(prefix + "-a", partitions: 2);
        var b = await cluster.CreateTopicAsync(prefix + "-b", partitions: 1);
        var other = await cluster.CreateTopicAsync("re-other", partitions: 1);
        var group = "g-" + Guid.NewGuid().ToString("N");
        using var member = new ConsumerBuilder<string, string>(Config(group)).Build();
        member.Subscribe("^" + prefix + "-.*");
        await Consuming.PollUntilAsync(() => member.Assignment.Count == 3, "the member gets the three partitions of the two matching topics", Wait, member);
        Assert.DoesNotContain(member.Assignment, tp => tp.Topic == other);
        Assert.Equal(["(^" + prefix + "-.*)"], [(await cluster.Silos.Client.GetGrain<IConsumerGroupGrain>(group).DescribeConsumerGroup()).Members.Single().SubscribedTopicRegex]);

        var c = await cluster.CreateTopicAsync(prefix + "-c", partitions: 2);
        await Consuming.PollUntilAsync(() => member.Assignment.Count(tp => tp.Topic == c) == 2, "the topic created later is assigned", Wait, member);
        Assert.Contains(member.Assignment, tp => tp.Topic == a);
        Assert.Contains(member.Assignment, tp => tp.Topic == b);
        member.Close();
    }

    /// <summary>
    /// A librdkafka member and one of our SDK share a consumer group: the coordinator splits the topic between them, and
    /// the SDK member, once alone, reads on from what the librdkafka member committed with its epoch.
    /// </summary>
    [Fact]
    public async Task A_librdkafka_member_and_an_SDK_member_share_a_consumer_group()
    {
        var topic = await cluster.CreateTopicAsync("kip848-mixed", partitions: 4);
        var group = "g-" + Guid.NewGuid().ToString("N");
        await ProduceAsync(topic, 40);

        using var confluent = new ConsumerBuilder<string, string>(Config(group)).Build();
        using var sdk = new Sdk.ConsumerBuilder<string, string>(cluster.Silos.Client, new Sdk.ConsumerConfig
        {
            GroupId = group,
            GroupProtocol = Sdk.GroupProtocol.Consumer,
            EnableAutoCommit = false,
            AutoOffsetReset = Sdk.AutoOffsetReset.Earliest,
        }).Build();
        confluent.Subscribe(topic);
        sdk.Subscribe(topic);
        var read = new HashSet<string>();
        await Eventually.WaitUntilAsync(() =>
        {
            if (confluent.Consume(TimeSpan.FromMilliseconds(50)) is { IsPartitionEOF: false, Message: { } m }) read.Add(m.Value);
            if (sdk.Consume(TimeSpan.FromMilliseconds(50)) is { Message: { } s }) read.Add(s.Value);
            return confluent.Assignment.Count == 2 && sdk.Assignment.Count == 2 && read.Count == 40;
        }, "the two members split the topic and read every record", Wait);
        Assert.Empty(confluent.Assignment.Select(tp => tp.Partition.Value).Intersect(sdk.Assignment.Select(tp => tp.Partition)));

        confluent.Commit();
        sdk.Commit();
        confluent.Close();
        await ProduceAsync(topic, 8);
        var after = new List<string>();
        await Eventually.WaitUntilAsync(() =>
        {
            if (sdk.Consume(TimeSpan.FromMilliseconds(50)) is { Message: { } m }) after.Add(m.Value);
            return sdk.Assignment.Count == 4 && after.Count >= 8;
        }, "the SDK member takes the whole topic and reads only what came after the commits", Wait);
        Assert.Equal(Enumerable.Range(0, 8).Select(i => i.ToString()).Order(), after.Order());
        sdk.Close();
    }

    /// <summary>
    /// The group's activation goes (as when its silo leaves): the next one loads the group as stored, and the member
    /// goes on in its epoch with its partitions, without joining again.
    /// </summary>
    [Fact]
    public async Task A_coordinator_that_moves_keeps_the_members_in_their_epoch()
    {
        var topic = await cluster.CreateTopicAsync("kip848-move", partitions: 3);
        var group = "g-" + Guid.NewGuid().ToString("N");
        using var member = new ConsumerBuilder<string, string>(Config(group)).Build();
        member.Subscribe(topic);
        await Consuming.PollUntilAsync(() => member.Assignment.Count == 3, "the member owns the topic", Wait, member);
        var grain = cluster.Silos.Client.GetGrain<IConsumerGroupGrain>(group);
        var before = await grain.DescribeConsumerGroup();

        await grain.Cast<IGrainManagementExtension>().DeactivateOnIdle(TestContext.Current.CancellationToken);
        var after = await grain.DescribeConsumerGroup();
        Assert.Equal(before.GroupEpoch, after.GroupEpoch);
        Assert.Equal(before.Members.Single().MemberId, after.Members.Single().MemberId);
        Assert.Equal(before.Members.Single().MemberEpoch, after.Members.Single().MemberEpoch);

        // Heartbeats go on in the same epoch, and a commit with it is taken.
        for (var i = 0; i < 10; i++) member.Consume(TimeSpan.FromMilliseconds(100));
        member.Commit([new Confluent.Kafka.TopicPartitionOffset(topic, 0, new Offset(0))]);
        var still = await grain.DescribeConsumerGroup();
        Assert.Equal(before.Members.Single().MemberEpoch, still.Members.Single().MemberEpoch);
        Assert.Equal(3, member.Assignment.Count);
        member.Close();
    }
}
