using Orleans.Core.Internal;
using Orleans.Runtime;
using OrleansStream.Client;

namespace OrleansStream.Cluster.Tests.Groups;

/// <summary>Its own three brokers: the tests here kill and restart silos.</summary>
public sealed class GroupFailoverFixture : ClusterFixture
{
    protected override void ConfigureSilo(ISiloBuilder silo) =>
        silo.AddOrleansStreamGroups(o => o.GroupInitialRebalanceDelayMs = 0);
}

public sealed class GroupFailoverTests(GroupFailoverFixture fixture) : IClassFixture<GroupFailoverFixture>, IAsyncDisposable
{
    /// <summary>Brokers a failed test left stopped come back before the class's next test.</summary>
    public async ValueTask DisposeAsync() => await fixture.StartStoppedSilosAsync();

    [Fact]
    public async Task Committed_offsets_survive_the_coordinators_silo_dying_and_a_full_cluster_restart()
    {
        var topic = GroupFixture.Unique("durable");
        var groupId = GroupFixture.Unique("g-durable");
        Assert.Equal(ErrorCode.None, Assert.Single(await fixture.Controller.CreateTopics([new NewTopic(topic, 3, 1)])).Error);
        using (var producer = new ProducerBuilder<string, string>(fixture.Client, new ProducerConfig { Acks = Acks.Leader }).Build())
        {
            for (var p = 0; p < 3; p++)
                for (var i = 0; i < 10; i++)
                    await producer.ProduceAsync(new TopicPartition(topic, p), new Message<string, string> { Key = "k", Value = $"{p}/{i}" }, TestContext.Current.CancellationToken);
        }

        // A member commits, fenced by its generation, as a consumer would.
        var group = fixture.Client.GetGrain<IConsumerGroupGrain>(groupId);
        var join = await GroupProtocolTests.JoinNew(group, new JoinGroupRequest("", "test", 6000, 10_000, GroupKeys.ConsumerProtocolType,
            [new JoinGroupProtocol("range", new ConsumerProtocolSubscription([topic], []))]));
        var all = Enumerable.Range(0, 3).Select(p => new TopicPartition(topic, p)).ToList();
        await group.SyncGroup(new SyncGroupRequest(join.MemberId, join.GenerationId,
            new Dictionary<string, ConsumerProtocolAssignment> { [join.MemberId] = new(all) }));
        var commit = await group.OffsetCommit(new OffsetCommitRequest(join.MemberId, join.GenerationId,
            [new OffsetToCommit(all[0], 7, "seven"), new OffsetToCommit(all[1], 8), new OffsetToCommit(all[2], 10)]));
        Assert.Equal(ErrorCode.None, commit.Error);

        async Task AssertOffsetsAsync(string when)
        {
            var fetched = await fixture.Client.GetGrain<IConsumerGroupGrain>(groupId).OffsetFetch(new OffsetFetchRequest(all));
            Assert.True(fetched.Error == ErrorCode.None, when);
            Assert.Equal([7L, 8L, 10L], fetched.Offsets.Select(o => o.Offset));
            Assert.Equal("seven", fetched.Offsets[0].Metadata);
        }

        // Kill the silo the coordinator lives on: it comes back on another silo from grain storage.
        var host = await fixture.Client.GetGrain<IManagementGrain>(0).GetActivationAddress(group, TestContext.Current.CancellationToken);
        Assert.NotNull(host);
        var victim = fixture.Silos.Values.Single(s => s.SiloAddress.Equals(host)).Name;
        await fixture.KillSiloAsync(victim);
        await Eventually.WaitUntilAsync(async () =>
        {
            await AssertOffsetsAsync("after the kill");
            return true;
        }, "the coordinator answers from another silo", attemptTimeout: Eventually.AttemptAcrossFailover);
        Assert.True((await group.Describe()).GenerationId >= join.GenerationId);

        // Every broker down, then up again with the same data.
        foreach (var (_, silo) in fixture.Silos) await fixture.StopSiloAsync(silo.Name);
        for (var i = 0; i < 3; i++) await fixture.StartSiloAsync(ClusterFixture.BrokerIdOf(i));
        await Eventually.WaitUntilAsync(async () =>
        {
            await AssertOffsetsAsync("after the restart");
            return true;
        }, "the coordinator answers after a full restart", TimeSpan.FromSeconds(60), attemptTimeout: Eventually.AttemptAcrossFailover);
    }

    [Fact]
    public async Task When_the_coordinators_silo_dies_the_members_carry_on_with_their_ids_and_generation_without_a_rebalance()
    {
        var topic = GroupFixture.Unique("moving");
        var groupId = GroupFixture.Unique("g-moving");
        Assert.Equal(ErrorCode.None, Assert.Single(await fixture.Controller.CreateTopics([new NewTopic(topic, 2, 3)])).Error);
        var group = fixture.Client.GetGrain<IConsumerGroupGrain>(groupId);
        var join = new JoinGroupRequest("", "test", 60_000, 60_000, GroupKeys.ConsumerProtocolType,
            [new JoinGroupProtocol("range", new ConsumerProtocolSubscription([topic], []))]);
        var a = await GroupProtocolTests.JoinNew(group, join);
        Assert.Equal(ErrorCode.None, (await group.SyncGroup(new SyncGroupRequest(a.MemberId, a.GenerationId,
            new Dictionary<string, ConsumerProtocolAssignment> { [a.MemberId] = new([new TopicPartition(topic, 0), new TopicPartition(topic, 1)]) }))).Error);
        // B joins; A rejoins once the group waits for it, as its heartbeat would tell it.
        var bId = (await group.JoinGroup(join)).MemberId;
        var bJoin = group.JoinGroup(join with { MemberId = bId });
        // Calls are not ordered: A rejoins once B's join has started the rebalance, or A's would complete nothing.
        await Eventually.WaitUntilAsync(async () => await group.Describe() is { State: GroupState.PreparingRebalance, Members.Count: 2 }, "B waits for A");
        var leader = await group.JoinGroup(join with { MemberId = a.MemberId });
        var b = await bJoin;
        Assert.Equal(leader.GenerationId, b.GenerationId);
        var assignment = new Dictionary<string, ConsumerProtocolAssignment>
        {
            [leader.MemberId] = new([new TopicPartition(topic, 0)]),
            [bId] = new([new TopicPartition(topic, 1)]),
        };
        var bSync = group.SyncGroup(new SyncGroupRequest(bId, b.GenerationId));
        Assert.Equal(ErrorCode.None, (await group.SyncGroup(new SyncGroupRequest(leader.MemberId, leader.GenerationId, assignment))).Error);
        Assert.Equal(ErrorCode.None, (await bSync).Error);
        var generation = leader.GenerationId;

        var host = await fixture.Client.GetGrain<IManagementGrain>(0).GetActivationAddress(group, TestContext.Current.CancellationToken);
        Assert.NotNull(host);
        var victim = fixture.Silos.Values.Single(s => s.SiloAddress.Equals(host)).Name;
        await fixture.KillSiloAsync(victim);

        // The first heartbeat the new activation answers finds the member where it was.
        GroupResponse? heartbeat = null;
        await Eventually.WaitUntilAsync(async () =>
        {
            heartbeat = await group.Heartbeat(new HeartbeatRequest(bId, generation));
            return true;
        }, "the coordinator answers from another silo", attemptTimeout: Eventually.AttemptAcrossFailover);
        var moved = await fixture.Client.GetGrain<IManagementGrain>(0).GetActivationAddress(group, TestContext.Current.CancellationToken);

        Assert.NotEqual(host, moved);
        Assert.Equal(ErrorCode.None, heartbeat!.Error);
        Assert.Equal(ErrorCode.None, (await group.Heartbeat(new HeartbeatRequest(leader.MemberId, generation))).Error);
        var commit = await group.OffsetCommit(new OffsetCommitRequest(leader.MemberId, generation, [new OffsetToCommit(new TopicPartition(topic, 0), 0)]));
        Assert.Equal(ErrorCode.None, commit.Error);
        var described = await group.Describe();
        Assert.Equal(GroupState.Stable, described.State);
        Assert.Equal(generation, described.GenerationId);
        Assert.Equal(leader.MemberId, described.LeaderId);
        Assert.Equal(new[] { leader.MemberId, bId }.Order(), described.Members.Select(m => m.MemberId).Order());
        // A follower's rejoin with nothing new keeps the generation.
        Assert.Equal(generation, (await group.JoinGroup(join with { MemberId = bId })).GenerationId);

        await fixture.StartSiloAsync(victim);
    }

    /// <summary>
    /// A consumer group (KIP-848) whose coordinator's silo dies: what each heartbeat changed was stored before it was
    /// answered, so the next activation has both members in their epochs with their partitions, and their heartbeats
    /// and commits go on without a new epoch.
    /// </summary>
    [Fact]
    public async Task When_the_coordinators_silo_dies_consumer_group_members_carry_on_in_their_epochs()
    {
        var topic = GroupFixture.Unique("kip848-moving");
        var groupId = GroupFixture.Unique("g-kip848-moving");
        Assert.Equal(ErrorCode.None, Assert.Single(await fixture.Controller.CreateTopics([new NewTopic(topic, 2, 3)])).Error);
        var topicId = Assert.Single((await fixture.Controller.GetMetadata(new MetadataRequest([topic]))).Topics).TopicId;
        var group = fixture.Client.GetGrain<IConsumerGroupGrain>(groupId);
        ConsumerGroupHeartbeatRequest Join(string member) => new(member, 0, null, null, 60_000, [topic], null, null, []);
        ConsumerGroupHeartbeatRequest Beat(string member, int epoch, params int[] owned) =>
            new(member, epoch, null, null, -1, null, null, null, [new TopicIdPartitions(topicId, owned)]);

        var a = await group.ConsumerGroupHeartbeat(Join("a"));
        var b = await group.ConsumerGroupHeartbeat(Join("b"));
        // a gives up the partition the target moves to b; then b takes it.
        var kept = (await group.ConsumerGroupHeartbeat(Beat("a", a.MemberEpoch, 0, 1))).Assignment!.Single().Partitions.ToArray();
        a = await group.ConsumerGroupHeartbeat(Beat("a", a.MemberEpoch, kept));
        b = await group.ConsumerGroupHeartbeat(Beat("b", b.MemberEpoch));
        Assert.Equal(a.MemberEpoch, b.MemberEpoch);
        var before = await group.DescribeConsumerGroup();
        Assert.Equal("Stable", before.GroupState);

        var host = await fixture.Client.GetGrain<IManagementGrain>(0).GetActivationAddress(group, TestContext.Current.CancellationToken);
        Assert.NotNull(host);
        var victim = fixture.Silos.Values.Single(s => s.SiloAddress.Equals(host)).Name;
        await fixture.KillSiloAsync(victim);

        ConsumerGroupHeartbeatResponse? beat = null;
        await Eventually.WaitUntilAsync(async () =>
        {
            beat = await group.ConsumerGroupHeartbeat(Beat("a", a.MemberEpoch, kept));
            return true;
        }, "the coordinator answers from another silo", attemptTimeout: Eventually.AttemptAcrossFailover);
        Assert.NotEqual(host, await fixture.Client.GetGrain<IManagementGrain>(0).GetActivationAddress(group, TestContext.Current.CancellationToken));
        Assert.Equal((ErrorCode.None, a.MemberEpoch), (beat!.Error, beat.MemberEpoch));
        var bPartitions = b.Assignment!.Single().Partitions.ToArray();
        var bBeat = await group.ConsumerGroupHeartbeat(Beat("b", b.MemberEpoch, bPartitions));
        Assert.Equal((ErrorCode.None, b.MemberEpoch), (bBeat.Error, bBeat.MemberEpoch));
        var commit = await group.OffsetCommit(new OffsetCommitRequest("b", b.MemberEpoch, [new OffsetToCommit(new TopicPartition(topic, bPartitions[0]), 0)], Version9OrLater: true));
        Assert.Equal(ErrorCode.None, commit.Error);
        var after = await group.DescribeConsumerGroup();
        Assert.Equal((before.GroupState, before.GroupEpoch, before.AssignmentEpoch), (after.GroupState, after.GroupEpoch, after.AssignmentEpoch));
        Assert.Equal(before.Members.Select(m => (m.MemberId, m.MemberEpoch, string.Join(",", m.Assignment.SelectMany(t => t.Partitions)))),
            after.Members.Select(m => (m.MemberId, m.MemberEpoch, string.Join(",", m.Assignment.SelectMany(t => t.Partitions)))));

        await fixture.StartSiloAsync(victim);
    }

    /// <summary>
    /// Orleans deactivates the coordinator's activation (here by DeactivateOnIdle; after a silo dies, on the live silo
    /// whose directory entry the dead one held) only once its running requests end. B and C wait in JoinGroup for A,
    /// which polls again only after the deactivation: their joins end with NotCoordinator, they rejoin the next
    /// activation, and the group becomes stable long before the 60 s rebalance timeout.
    /// </summary>
    [Fact]
    public async Task Consumers_waiting_in_a_rebalance_when_the_coordinator_deactivates_rejoin_the_next_activation_and_the_group_becomes_stable()
    {
        var topic = GroupFixture.Unique("unload");
        var groupId = GroupFixture.Unique("g-unload");
        Assert.Equal(ErrorCode.None, Assert.Single(await fixture.Controller.CreateTopics([new NewTopic(topic, 3, 1)])).Error);
        var config = GroupFixture.Config(groupId);
        config.MaxPollIntervalMs = 60_000;
        using var a = new ConsumerBuilder<string, string>(fixture.Client, config).Build();
        a.Subscribe(topic);
        await Eventually.WaitUntilAsync(() => a.Consume(TimeSpan.FromMilliseconds(50)) is null && a.Assignment.Count == 3, "A owns the topic");

        // A stops polling: its heartbeat learns of the rebalance B and C start, but it rejoins only in Consume.
        using var stop = new CancellationTokenSource();
        using var b = new ConsumerBuilder<string, string>(fixture.Client, config).Build();
        using var c = new ConsumerBuilder<string, string>(fixture.Client, config).Build();
        var polling = new List<Task> { PollAsync(b, topic, stop.Token), PollAsync(c, topic, stop.Token) };
        try
        {
            var group = fixture.Client.GetGrain<IConsumerGroupGrain>(groupId);
            await Eventually.WaitUntilAsync(async () => await group.Describe() is { State: GroupState.PreparingRebalance, Members.Count: 3 },
                "B and C wait in JoinGroup for A");
            await group.Cast<IGrainManagementExtension>().DeactivateOnIdle(TestContext.Current.CancellationToken);
            polling.Add(PollAsync(a, topic, stop.Token, subscribe: false));

            await Eventually.WaitUntilAsync(async () => await group.Describe() is { State: GroupState.Stable, Members.Count: 3 }
                && a.Assignment.Count == 1 && b.Assignment.Count == 1 && c.Assignment.Count == 1
                && a.Assignment.Concat(b.Assignment).Concat(c.Assignment).Distinct().Count() == 3,
                "A, B and C share the topic in a stable generation");
        }
        finally
        {
            await stop.CancelAsync();
            await Task.WhenAll(polling);
        }
    }

    private static Task PollAsync(IConsumer<string, string> consumer, string topic, CancellationToken stop, bool subscribe = true) =>
        Task.Factory.StartNew(() =>
        {
            if (subscribe) consumer.Subscribe(topic);
            while (!stop.IsCancellationRequested) consumer.Consume(TimeSpan.FromMilliseconds(50));
            consumer.Close();
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
}
