using Confluent.Kafka;
using Confluent.Kafka.Admin;
using Orleans.Core.Internal;
using Sdk = OrleansStream.Client;

namespace OrleansStream.Kafka.Tests;

using TopicPartition = Confluent.Kafka.TopicPartition;

/// <summary>
/// Kafka 4's online migration (<c>group.consumer.migration.policy</c>, bidirectional by default) with librdkafka: a group
/// of classic consumers is rolled to <c>group.protocol=consumer</c> without stopping (the upgrade), and back when the
/// consumer protocol member leaves (the downgrade). Every consumer commits each record it reads, so a partition read by
/// two owners at once, or read again from an offset not committed, shows as a record read twice.
/// </summary>
[Collection(KafkaClusterCollection.Name)]
public sealed class GroupMigrationTests(KafkaCluster cluster)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);
    private const int Partitions = 4;

    private ConsumerConfig Classic(string group, string? bootstrapServers = null) => new()
    {
        BootstrapServers = bootstrapServers ?? cluster.BootstrapServers,
        GroupId = group,
        EnableAutoCommit = false,
        AutoOffsetReset = AutoOffsetReset.Earliest,
        SessionTimeoutMs = 10_000,
        HeartbeatIntervalMs = 500,
        PartitionAssignmentStrategy = PartitionAssignmentStrategy.Range,
    };

    private ConsumerConfig Modern(string group, string? bootstrapServers = null) => new()
    {
        BootstrapServers = bootstrapServers ?? cluster.BootstrapServers,
        GroupId = group,
        GroupProtocol = GroupProtocol.Consumer,
        EnableAutoCommit = false,
        AutoOffsetReset = AutoOffsetReset.Earliest,
    };

    private async Task ProduceAsync(string topic, int from, int count)
    {
        using var producer = new ProducerBuilder<string, string>(new ProducerConfig { BootstrapServers = cluster.BootstrapServers }).Build();
        for (var i = from; i < from + count; i++)
            await producer.ProduceAsync(new TopicPartition(topic, i % Partitions), new Message<string, string> { Key = $"k{i}", Value = $"{i}" }, TestContext.Current.CancellationToken);
    }

    /// <summary>Each consumer polls once; a record read is committed at once and kept.</summary>
    private static void PollAndCommit(List<string> read, params IConsumer<string, string>[] consumers)
    {
        foreach (var c in consumers)
        {
            if (c.Consume(TimeSpan.FromMilliseconds(50)) is not { IsPartitionEOF: false, Message: { } m } r) continue;
            read.Add(m.Value);
            c.Commit(r);
        }
    }

    private static bool ShareEveryPartition(params IConsumer<string, string>[] consumers)
    {
        var owned = new HashSet<int>();
        foreach (var c in consumers)
        {
            if (c.Assignment.Count == 0) return false;
            foreach (var tp in c.Assignment)
                if (!owned.Add(tp.Partition.Value)) return false;
        }
        return owned.Count == Partitions;
    }

    /// <summary>
    /// Two classic consumers start reading the topic's 80 records; with most still unread, a consumer protocol member
    /// joins the group, which becomes a consumer group of the three while they read on.
    /// </summary>
    private async Task<(IConsumer<string, string> A, IConsumer<string, string> B, IConsumer<string, string> C, List<string> Read)> UpgradeAsync(
        string topic, string group)
    {
        await ProduceAsync(topic, 0, 80);
        var read = new List<string>();
        var a = new ConsumerBuilder<string, string>(Classic(group)).Build();
        var b = new ConsumerBuilder<string, string>(Classic(group)).Build();
        a.Subscribe(topic);
        b.Subscribe(topic);
        await Eventually.WaitUntilAsync(() =>
        {
            PollAndCommit(read, a, b);
            return ShareEveryPartition(a, b) && read.Count >= 20;
        }, "the classic consumers share the topic and read from it", Wait);
        var grain = cluster.Silos.Client.GetGrain<IConsumerGroupGrain>(group);
        Assert.Equal((GroupKeys.ClassicGroupType, GroupState.Stable), ((await grain.Describe()).Type, (await grain.Describe()).State));

        var classicIds = new[] { a.MemberId, b.MemberId };
        var c = new ConsumerBuilder<string, string>(Modern(group)).Build();
        c.Subscribe(topic);
        await Eventually.WaitUntilAsync(async () =>
        {
            PollAndCommit(read, a, b, c);
            return ShareEveryPartition(a, b, c) && (await grain.DescribeConsumerGroup()) is { Error: ErrorCode.None, GroupState: "Stable", Members.Count: 3 };
        }, "the three consumers own disjoint partitions covering the topic in a stable consumer group", Wait);
        // The classic consumers went on in the consumer group with their member ids: they were not dropped and joined anew.
        Assert.Subset((await grain.DescribeConsumerGroup()).Members.Select(m => m.MemberId).ToHashSet(), classicIds.ToHashSet());
        return (a, b, c, read);
    }

    [Fact]
    public async Task A_classic_group_takes_a_consumer_protocol_member_and_becomes_a_consumer_group_without_a_record_read_twice()
    {
        var topic = await cluster.CreateTopicAsync("migrate-up", Partitions);
        var group = "g-" + Guid.NewGuid().ToString("N");
        var (a, b, c, read) = await UpgradeAsync(topic, group);
        using var _ = a;
        using var __ = b;
        using var ___ = c;

        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = cluster.BootstrapServers }).Build();
        var described = Assert.Single((await admin.DescribeConsumerGroupsAsync([group])).ConsumerGroupDescriptions);
        Assert.Equal(ConsumerGroupType.Consumer, described.GroupType);
        Assert.Equal(3, described.Members.Count);
        // ConsumerGroupDescribe v1 (KIP-1099) names each member's type: the classic consumers 0, the consumer protocol one 1.
        await using (var wire = await KafkaWire.ConnectAsync(cluster.Silos.KafkaPort(0)))
        {
            await wire.SendAsync(Protocol.ApiKey.ConsumerGroupDescribe, 1, w => new Protocol.Messages.ConsumerGroupDescribeRequest([group], false).Write(w, 1));
            var frame = await wire.ReadFrameAsync();
            Assert.NotNull(frame);
            var r = new Protocol.KafkaReader(frame.AsSpan(5));
            var types = Assert.Single(Protocol.Messages.ConsumerGroupDescribeResponse.Read(ref r, 1).Groups).Members.ToDictionary(m => m.MemberId, m => m.MemberType);
            Assert.Equal(3, types.Count);
            Assert.Equal((sbyte)0, types[a.MemberId]);
            Assert.Equal((sbyte)0, types[b.MemberId]);
            Assert.Equal([(sbyte)0, (sbyte)0, (sbyte)1], types.Values.Order());
        }

        // The three read on, each its own partitions, from the committed offsets.
        await Eventually.WaitUntilAsync(() =>
        {
            PollAndCommit(read, a, b, c);
            return read.Count >= 80;
        }, "the group reads the rest of the records", Wait);
        Assert.Equal(Enumerable.Range(0, 80).Select(i => $"{i}").Order(), read.Order());

        // The coordinator moves: the next activation loads the classic members with their protocols and epochs, and
        // they go on (heartbeats, commits with their generation) without joining anew.
        var grain = cluster.Silos.Client.GetGrain<IConsumerGroupGrain>(group);
        var before = await grain.DescribeConsumerGroup();
        await grain.Cast<IGrainManagementExtension>().DeactivateOnIdle(TestContext.Current.CancellationToken);
        await ProduceAsync(topic, 80, 8);
        await Eventually.WaitUntilAsync(() =>
        {
            PollAndCommit(read, a, b, c);
            return read.Count >= 88;
        }, "the group reads on after the coordinator moved", Wait);
        Assert.Equal(Enumerable.Range(0, 88).Select(i => $"{i}").Order(), read.Order());
        var after = await grain.DescribeConsumerGroup();
        Assert.Equal(before.GroupEpoch, after.GroupEpoch);
        Assert.Equal(before.Members.Select(m => (m.MemberId, m.MemberEpoch)).Order(), after.Members.Select(m => (m.MemberId, m.MemberEpoch)).Order());
        c.Close();
        a.Close();
        b.Close();
    }

    [Fact]
    public async Task When_the_consumer_protocol_member_leaves_the_classic_consumers_take_every_partition_in_a_classic_group_again()
    {
        var topic = await cluster.CreateTopicAsync("migrate-down", Partitions);
        var group = "g-" + Guid.NewGuid().ToString("N");
        var (a, b, c, read) = await UpgradeAsync(topic, group);
        using var _ = a;
        using var __ = b;
        var classicIds = new[] { a.MemberId, b.MemberId }.Order().ToArray();
        c.Close();
        c.Dispose();

        var grain = cluster.Silos.Client.GetGrain<IConsumerGroupGrain>(group);
        await Eventually.WaitUntilAsync(async () =>
        {
            PollAndCommit(read, a, b);
            return ShareEveryPartition(a, b) && (await grain.Describe()) is { Type: GroupKeys.ClassicGroupType, State: GroupState.Stable, Members.Count: 2 };
        }, "the classic consumers own every partition of a stable classic group", Wait);
        Assert.Equal(ErrorCode.GroupIdNotFound, (await grain.DescribeConsumerGroup()).Error);
        // The classic members went on in the classic group with their member ids: they were not dropped and joined anew.
        Assert.Equal(classicIds, (await grain.Describe()).Members.Select(m => m.MemberId).Order());

        await ProduceAsync(topic, 80, 40);
        await Eventually.WaitUntilAsync(() =>
        {
            PollAndCommit(read, a, b);
            return read.Count >= 120;
        }, "the classic consumers read every record", Wait);
        Assert.Equal(Enumerable.Range(0, 120).Select(i => $"{i}").Order(), read.Order());
        a.Close();
        b.Close();
    }

    /// <summary>
    /// <c>group.consumer.migration.policy=disabled</c>: a classic group with members is no consumer group to a consumer
    /// protocol member's first heartbeat (GroupIdNotFound, Kafka's answer); a consumer group still serves a classic
    /// consumer (Kafka 4 serves classic joins to a consumer group whatever the policy), and stays a consumer group when its
    /// consumer protocol member leaves.
    /// </summary>
    [Fact]
    public async Task With_the_policy_disabled_a_classic_group_is_not_upgraded_and_a_consumer_group_is_not_downgraded()
    {
        await using var silos = await SiloProcesses.StartAsync(1, static (_, env) =>
        {
            env["OrleansStream__Groups__GroupInitialRebalanceDelayMs"] = "0";
            env["OrleansStream__Groups__ConsumerMinHeartbeatIntervalMs"] = "500";
            env["OrleansStream__Groups__ConsumerHeartbeatIntervalMs"] = "500";
            env["OrleansStream__Groups__ConsumerMigrationPolicy"] = "disabled";
        });
        var topic = "migrate-off-" + Guid.NewGuid().ToString("N")[..8];
        var created = Assert.Single(await silos.Client.GetGrain<IClusterControllerGrain>(GrainKeys.Controller).CreateTopics([new NewTopic(topic, Partitions, 1)]));
        Assert.Equal(ErrorCode.None, created.Error);

        var classicGroup = "g-" + Guid.NewGuid().ToString("N");
        using (var a = new ConsumerBuilder<string, string>(Classic(classicGroup, silos.BootstrapServers)).Build())
        {
            a.Subscribe(topic);
            await Consuming.PollUntilAsync(() => a.Assignment.Count == Partitions, "the classic consumer owns the topic", Wait, a);
            var refused = await silos.Client.GetGrain<IConsumerGroupGrain>(classicGroup).ConsumerGroupHeartbeat(
                new ConsumerGroupHeartbeatRequest(Guid.NewGuid().ToString(), 0, null, null, 30_000, [topic], null, null, []));
            Assert.Equal((ErrorCode.GroupIdNotFound, $"Group {classicGroup} is not a consumer group."), (refused.Error, refused.ErrorMessage));
            Assert.Equal(Partitions, a.Assignment.Count);
            a.Close();
        }

        var consumerGroup = "g-" + Guid.NewGuid().ToString("N");
        var grain = silos.Client.GetGrain<IConsumerGroupGrain>(consumerGroup);
        using var k = new ConsumerBuilder<string, string>(Classic(consumerGroup, silos.BootstrapServers)).Build();
        using (var m = new ConsumerBuilder<string, string>(Modern(consumerGroup, silos.BootstrapServers)).Build())
        {
            m.Subscribe(topic);
            await Consuming.PollUntilAsync(() => m.Assignment.Count == Partitions, "the consumer protocol member owns the topic", Wait, m);
            k.Subscribe(topic);
            await Consuming.PollUntilAsync(() => ShareEveryPartition(m, k), "the two share the topic in the consumer group", Wait, m, k);
            m.Close();
        }
        await Eventually.WaitUntilAsync(async () =>
        {
            k.Consume(TimeSpan.FromMilliseconds(100));
            return k.Assignment.Count == Partitions && (await grain.DescribeConsumerGroup()) is { Error: ErrorCode.None, GroupState: "Stable", Members.Count: 1 };
        }, "the classic consumer owns the topic in a consumer group", Wait);
        Assert.Equal(GroupKeys.ConsumerGroupType, (await grain.Describe()).Type);
        k.Close();
    }

    /// <summary>
    /// Our SDK's classic member through an upgrade and a downgrade: a librdkafka consumer protocol member joining its
    /// group makes it a consumer group, in which the SDK member goes on as a classic member (its JoinGroup answered with
    /// no leader, its assignment from SyncGroup); when the librdkafka member leaves, the group is classic again and the
    /// SDK member owns the whole topic, every record read once.
    /// </summary>
    [Fact]
    public async Task Our_SDK_classic_member_goes_on_inside_the_consumer_group_and_after_the_downgrade()
    {
        var topic = await cluster.CreateTopicAsync("migrate-sdk", Partitions);
        var group = "g-" + Guid.NewGuid().ToString("N");
        await ProduceAsync(topic, 0, 40);
        var grain = cluster.Silos.Client.GetGrain<IConsumerGroupGrain>(group);
        var read = new List<string>();
        using var sdk = new Sdk.ConsumerBuilder<string, string>(cluster.Silos.Client, new Sdk.ConsumerConfig
        {
            GroupId = group,
            GroupProtocol = Sdk.GroupProtocol.Classic,
            EnableAutoCommit = false,
            AutoOffsetReset = Sdk.AutoOffsetReset.Earliest,
            SessionTimeoutMs = 10_000,
            HeartbeatIntervalMs = 500,
        }).Build();
        void PollSdk()
        {
            if (sdk.Consume(TimeSpan.FromMilliseconds(50)) is not { Message: { } m } r) return;
            read.Add(m.Value);
            sdk.Commit(r);
        }
        sdk.Subscribe(topic);
        await Eventually.WaitUntilAsync(() =>
        {
            PollSdk();
            return sdk.Assignment.Count == Partitions && read.Count >= 10;
        }, "the SDK's classic member owns the topic and reads from it", Wait);

        using (var modern = new ConsumerBuilder<string, string>(Modern(group)).Build())
        {
            modern.Subscribe(topic);
            await Eventually.WaitUntilAsync(async () =>
            {
                PollSdk();
                PollAndCommit(read, modern);
                var owned = sdk.Assignment.Select(tp => tp.Partition).ToList();
                return owned.Count > 0 && modern.Assignment.Count > 0 && owned.Count + modern.Assignment.Count == Partitions
                    && !owned.Intersect(modern.Assignment.Select(tp => tp.Partition.Value)).Any()
                    && (await grain.DescribeConsumerGroup()) is { Error: ErrorCode.None, GroupState: "Stable", Members.Count: 2 };
            }, "the SDK member and the consumer protocol member split the topic in a stable consumer group", Wait);
            Assert.Equal(GroupKeys.ConsumerGroupType, (await grain.Describe()).Type);
            modern.Close();
        }

        await ProduceAsync(topic, 40, 8);
        await Eventually.WaitUntilAsync(async () =>
        {
            PollSdk();
            return sdk.Assignment.Count == Partitions && read.Count >= 48 && (await grain.Describe()) is { Type: GroupKeys.ClassicGroupType, State: GroupState.Stable };
        }, "the group is classic again and the SDK member owns the topic and reads every record", Wait);
        Assert.Equal(Enumerable.Range(0, 48).Select(i => $"{i}").Order(), read.Order());
        sdk.Close();
    }
}
