using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Orleans.Core.Internal;
using OrleansStream.Client;
using OrleansStream.Server.Groups;

namespace OrleansStream.Cluster.Tests.Groups;

/// <summary>One broker whose group coordinator runs on a fake clock; the rest of the silo keeps real time.</summary>
public class FakeTimeGroupFixture : ClusterFixture
{
    protected virtual int InitialRebalanceDelayMs => 0;

    public FakeTimeProvider Time { get; } = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));

    public override int SiloCount => 1;

    protected override void ConfigureSilo(ISiloBuilder silo)
    {
        silo.Services.AddKeyedSingleton<TimeProvider>(ConsumerGroupOptions.TimeProviderKey, Time);
        silo.AddOrleansStreamGroups(o =>
        {
            o.GroupInitialRebalanceDelayMs = InitialRebalanceDelayMs;
            o.OffsetsRetentionMinutes = 60;
        });
    }
}

/// <summary>The coordinator through its raw grain API: the classic protocol's steps and its documented errors.</summary>
public sealed class GroupProtocolTests(FakeTimeGroupFixture fixture) : IClassFixture<FakeTimeGroupFixture>
{
    private const int SessionMs = 6000;

    private static string Unique(string prefix) => $"{prefix}-{Guid.NewGuid():N}"[..24];

    private IConsumerGroupGrain Group(string id) => fixture.Client.GetGrain<IConsumerGroupGrain>(id);

    private static JoinGroupRequest Join(string memberId, string topic, string protocol = "range", params TopicPartition[] owned) =>
        new(memberId, "test", SessionMs, 10_000, GroupKeys.ConsumerProtocolType,
            [new JoinGroupProtocol(protocol, new ConsumerProtocolSubscription([topic], owned))]);

    private static Dictionary<string, ConsumerProtocolAssignment> RangeOf(JoinGroupResponse leader, string topic, int partitions)
    {
        var subs = leader.Members.ToDictionary(m => m.MemberId, m => m.Metadata);
        var result = new RangeAssignor().Assign(new Dictionary<string, int> { [topic] = partitions }, subs);
        return result.ToDictionary(kv => kv.Key, kv => new ConsumerProtocolAssignment(kv.Value));
    }

    /// <summary>KIP-394's round trip: a join without a member id is answered MemberIdRequired with the id to rejoin with.</summary>
    internal static async Task<JoinGroupResponse> JoinNew(IConsumerGroupGrain group, JoinGroupRequest request)
    {
        var first = await group.JoinGroup(request);
        Assert.True(first.Error == ErrorCode.MemberIdRequired && first.MemberId.Length > 0, $"{first.Error}: {first.ErrorMessage}");
        return await group.JoinGroup(request with { MemberId = first.MemberId });
    }

    private async Task WaitForState(IConsumerGroupGrain group, Func<GroupDescription, bool> condition, string what) =>
        await Eventually.WaitUntilAsync(async () => condition(await group.Describe()), what);

    [Fact]
    public async Task Two_members_rebalance_and_an_expired_session_moves_its_partitions()
    {
        var group = Group(Unique("evict"));

        // A alone: generation 1, A leads and takes all six partitions.
        var a1 = await JoinNew(group, Join("", "t"));
        Assert.Equal(ErrorCode.None, a1.Error);
        Assert.True(a1.IsLeader);
        var a = a1.MemberId;
        Assert.Equal(ErrorCode.None, (await group.SyncGroup(new SyncGroupRequest(a, a1.GenerationId, RangeOf(a1, "t", 6)))).Error);

        // B joins: the barrier holds B until A rejoins, which A learns from its heartbeat.
        var bJoin = JoinNew(group, Join("", "t"));
        await WaitForState(group, d => d.State == GroupState.PreparingRebalance, "B's join starts a rebalance");
        Assert.Equal(ErrorCode.RebalanceInProgress, (await group.Heartbeat(new HeartbeatRequest(a, a1.GenerationId))).Error);
        var a2 = await group.JoinGroup(Join(a, "t"));
        var b2 = await bJoin;
        Assert.Equal(a1.GenerationId + 1, a2.GenerationId);
        Assert.Equal(a2.GenerationId, b2.GenerationId);
        Assert.True(a2.IsLeader);
        Assert.Equal(2, a2.Members.Count);
        Assert.Empty(b2.Members); // only the leader sees the subscriptions
        var b = b2.MemberId;

        var bSync = group.SyncGroup(new SyncGroupRequest(b, b2.GenerationId));
        var aSync = await group.SyncGroup(new SyncGroupRequest(a, a2.GenerationId, RangeOf(a2, "t", 6)));
        var bShare = (await bSync).Assignment!.Partitions;
        Assert.Equal(3, aSync.Assignment!.Partitions.Count);
        Assert.Equal(3, bShare.Count);
        Assert.Empty(aSync.Assignment.Partitions.Intersect(bShare));

        // B goes silent (a killed client). A keeps heartbeating; once B's session has passed, B is evicted.
        fixture.Time.Advance(TimeSpan.FromMilliseconds(SessionMs - 2000));
        Assert.Equal(ErrorCode.None, (await group.Heartbeat(new HeartbeatRequest(a, a2.GenerationId))).Error);
        fixture.Time.Advance(TimeSpan.FromMilliseconds(3000));
        await WaitForState(group, d => d.Members.Count == 1 && d.State == GroupState.PreparingRebalance, "B is evicted");

        Assert.Equal(ErrorCode.RebalanceInProgress, (await group.Heartbeat(new HeartbeatRequest(a, a2.GenerationId))).Error);
        var a3 = await group.JoinGroup(Join(a, "t"));
        Assert.Equal(ErrorCode.None, a3.Error);
        var aOnly = await group.SyncGroup(new SyncGroupRequest(a, a3.GenerationId, RangeOf(a3, "t", 6)));
        Assert.Equal(6, aOnly.Assignment!.Partitions.Count);
        Assert.Equal(ErrorCode.UnknownMemberId, (await group.Heartbeat(new HeartbeatRequest(b, b2.GenerationId))).Error);
        var d = await group.Describe();
        Assert.Equal(GroupState.Stable, d.State);
        Assert.Equal(a, Assert.Single(d.Members).MemberId);
    }

    /// <summary>
    /// Orleans deactivates the coordinator's activation (here by DeactivateOnIdle; after a silo dies, on the live silo
    /// whose directory entry the dead one held) and waits for its running requests. On the fake clock no rebalance
    /// ever times out, so a join or sync still waiting would hold the deactivation and every call behind it for good.
    /// </summary>
    [Fact]
    public async Task A_deactivating_coordinator_answers_waiting_syncs_and_joins_NotCoordinator_and_the_members_rejoin_the_next_one()
    {
        var group = Group(Unique("unload"));
        var a1 = await JoinNew(group, Join("", "t"));
        var a = a1.MemberId;
        Assert.Equal(ErrorCode.None, (await group.SyncGroup(new SyncGroupRequest(a, a1.GenerationId, RangeOf(a1, "t", 4)))).Error);
        var bJoin = JoinNew(group, Join("", "t"));
        await WaitForState(group, d => d.State == GroupState.PreparingRebalance, "B's join starts a rebalance");
        var a2 = await group.JoinGroup(Join(a, "t"));
        var b = (await bJoin).MemberId;

        // B waits in SyncGroup for the leader's assignment when the activation deactivates. Orleans does not order
        // calls, so B syncs twice: the one that arrives second replaces the first, whose answer shows it is waiting.
        Task<SyncGroupResponse>[] bSyncs = [group.SyncGroup(new SyncGroupRequest(b, a2.GenerationId)), group.SyncGroup(new SyncGroupRequest(b, a2.GenerationId))];
        var superseded = await Task.WhenAny(bSyncs);
        Assert.Equal(ErrorCode.RebalanceInProgress, (await superseded).Error);
        await group.Cast<IGrainManagementExtension>().DeactivateOnIdle(TestContext.Current.CancellationToken);
        var bMoved = await bSyncs[superseded == bSyncs[0] ? 1 : 0];

        // The next activation loaded the generation being assigned: both members rejoin with their ids, A leads again.
        var bRejoin = group.JoinGroup(Join(b, "t"));
        await WaitForState(group, d => d.State == GroupState.PreparingRebalance && d.Members.Count == 2, "the next activation rebalances both");
        Assert.Equal(ErrorCode.RebalanceInProgress, (await group.SyncGroup(new SyncGroupRequest(a, a2.GenerationId, RangeOf(a2, "t", 4)))).Error);
        var a3 = await group.JoinGroup(Join(a, "t"));
        var b3 = await bRejoin;
        var b3Sync = group.SyncGroup(new SyncGroupRequest(b, b3.GenerationId));
        Assert.Equal(ErrorCode.None, (await group.SyncGroup(new SyncGroupRequest(a, a3.GenerationId, RangeOf(a3, "t", 4)))).Error);
        Assert.Equal(ErrorCode.None, (await b3Sync).Error);

        // The leader waits in JoinGroup for B when the activation deactivates again: B learns of the rebalance from the next one.
        var aJoin = group.JoinGroup(Join(a, "t"));
        await WaitForState(group, d => d.State == GroupState.PreparingRebalance, "the leader's rejoin starts a rebalance");
        await group.Cast<IGrainManagementExtension>().DeactivateOnIdle(TestContext.Current.CancellationToken);
        var aMoved = await aJoin;
        var a4Join = group.JoinGroup(Join(a, "t"));
        await WaitForState(group, d => d.State == GroupState.PreparingRebalance, "the leader's rejoin starts a rebalance in the next activation");
        Assert.Equal(ErrorCode.RebalanceInProgress, (await group.Heartbeat(new HeartbeatRequest(b, b3.GenerationId))).Error);
        var b4 = await group.JoinGroup(Join(b, "t"));
        var a4 = await a4Join;
        var b4Sync = group.SyncGroup(new SyncGroupRequest(b, b4.GenerationId));
        Assert.Equal(ErrorCode.None, (await group.SyncGroup(new SyncGroupRequest(a, a4.GenerationId, RangeOf(a4, "t", 4)))).Error);

        Assert.Equal(ErrorCode.NotCoordinator, bMoved.Error);
        Assert.Equal(ErrorCode.NotCoordinator, aMoved.Error);
        Assert.Equal((ErrorCode.None, ErrorCode.None), (a3.Error, b3.Error));
        Assert.Equal((a2.GenerationId + 1, a, a), (a3.GenerationId, a3.LeaderId, a3.MemberId));
        Assert.Equal((a3.GenerationId + 1, a, b), (a4.GenerationId, b4.LeaderId, b4.MemberId));
        Assert.Equal(2, (await b4Sync).Assignment!.Partitions.Count);
        var d = await group.Describe();
        Assert.Equal((GroupState.Stable, a4.GenerationId), (d.State, d.GenerationId));
        Assert.Equal(new[] { a, b }.Order(), d.Members.Select(m => m.MemberId).Order());
    }

    [Fact]
    public async Task A_join_without_member_id_gets_MemberIdRequired_and_pending_members_expire()
    {
        var group = Group(Unique("kip394"));

        // The first join only issues an id: nobody is in the group yet, and a retried join gets another id.
        var issued = await group.JoinGroup(Join("", "t"));
        Assert.Equal(ErrorCode.MemberIdRequired, issued.Error);
        Assert.StartsWith("test-", issued.MemberId);
        Assert.Equal(-1, issued.GenerationId);
        Assert.Equal(ErrorCode.GroupIdNotFound, (await group.Describe()).Error);
        var retried = await group.JoinGroup(Join("", "t"));
        Assert.Equal(ErrorCode.MemberIdRequired, retried.Error);
        Assert.NotEqual(issued.MemberId, retried.MemberId);

        // Rejoining with the id makes the member; the unanswered id (a lost response) does not hold up the rebalance.
        var a = await group.JoinGroup(Join(issued.MemberId, "t"));
        Assert.Equal(ErrorCode.None, a.Error);
        Assert.Equal(issued.MemberId, a.MemberId);
        Assert.True(a.IsLeader);
        Assert.Equal(issued.MemberId, Assert.Single(a.Members).MemberId);
        Assert.Equal(ErrorCode.None, (await group.SyncGroup(new SyncGroupRequest(a.MemberId, a.GenerationId, RangeOf(a, "t", 2)))).Error);
        var stable = await group.Describe();
        Assert.Equal(GroupState.Stable, stable.State);
        Assert.Equal(a.MemberId, Assert.Single(stable.Members).MemberId);

        // An id that is not claimed within its session timeout expires; coming back with it is UnknownMemberId.
        fixture.Time.Advance(TimeSpan.FromMilliseconds(SessionMs - 2000));
        Assert.Equal(ErrorCode.None, (await group.Heartbeat(new HeartbeatRequest(a.MemberId, a.GenerationId))).Error);
        fixture.Time.Advance(TimeSpan.FromMilliseconds(3000));
        Assert.Equal(ErrorCode.UnknownMemberId, (await group.JoinGroup(Join(retried.MemberId, "t"))).Error);
        Assert.Equal(ErrorCode.None, (await group.Heartbeat(new HeartbeatRequest(a.MemberId, a.GenerationId))).Error);
        Assert.Equal(GroupState.Stable, (await group.Describe()).State);
    }

    [Fact]
    public async Task A_consumer_joins_with_the_member_id_the_coordinator_issued()
    {
        var topic = Unique("kip394-sdk");
        Assert.Equal(ErrorCode.None, Assert.Single(await fixture.Controller.CreateTopics([new NewTopic(topic, 2, 1)])).Error);
        var groupId = Unique("kip394-sdk");
        var group = Group(groupId);
        using var consumer = new ConsumerBuilder<string, string>(fixture.Client, new ConsumerConfig
        {
            GroupId = groupId,
            ClientId = "kip394",
            SessionTimeoutMs = SessionMs,
            HeartbeatIntervalMs = 200,
            FetchWaitMaxMs = 100,
        }).Build();
        consumer.Subscribe(topic);

        await Eventually.WaitUntilAsync(async () =>
        {
            consumer.Consume(TimeSpan.FromMilliseconds(50));
            return consumer.Assignment.Count == 2 && (await group.Describe()).State == GroupState.Stable;
        }, "the consumer holds both partitions");

        // One member, the first generation: the id came from MemberIdRequired and no phantom member was left behind.
        var d = await group.Describe();
        Assert.Equal(1, d.GenerationId);
        var member = Assert.Single(d.Members);
        Assert.Equal(consumer.MemberId, member.MemberId);
        Assert.StartsWith("kip394-", member.MemberId);
        consumer.Close();
        await WaitForState(group, g => g.State == GroupState.Empty, "the closed consumer left");
    }

    [Fact]
    public async Task Bad_requests_get_the_documented_errors()
    {
        var group = Group(Unique("errors"));

        var badSession = await group.JoinGroup(Join("", "t") with { SessionTimeoutMs = 10 });
        Assert.Equal(ErrorCode.InvalidSessionTimeout, badSession.Error);
        Assert.Equal(ErrorCode.InconsistentGroupProtocol, (await group.JoinGroup(Join("", "t") with { ProtocolType = "" })).Error);
        Assert.Equal(ErrorCode.UnknownMemberId, (await group.JoinGroup(Join("nobody", "t"))).Error);
        Assert.Equal(ErrorCode.UnknownMemberId, (await group.Heartbeat(new HeartbeatRequest("nobody", 0))).Error);

        var a = await JoinNew(group, Join("", "t"));
        Assert.Equal(ErrorCode.IllegalGeneration, (await group.SyncGroup(new SyncGroupRequest(a.MemberId, a.GenerationId + 5))).Error);
        Assert.Equal(ErrorCode.None, (await group.SyncGroup(new SyncGroupRequest(a.MemberId, a.GenerationId, RangeOf(a, "t", 2)))).Error);
        Assert.Equal(ErrorCode.IllegalGeneration, (await group.Heartbeat(new HeartbeatRequest(a.MemberId, a.GenerationId - 1))).Error);

        // A member that offers no assignor in common with the group, or names another protocol type, is refused.
        Assert.Equal(ErrorCode.InconsistentGroupProtocol, (await group.JoinGroup(Join("", "t", "roundrobin"))).Error);
        Assert.Equal(ErrorCode.InconsistentGroupProtocol, (await group.JoinGroup(Join("", "t") with { ProtocolType = "connect" })).Error);

        // Admin calls that need an empty group.
        Assert.Equal(ErrorCode.NonEmptyGroup, (await group.DeleteGroup()).Error);
        Assert.Equal(ErrorCode.NonEmptyGroup, (await group.ResetOffsets([new OffsetToCommit(new TopicPartition("t", 0), 0)])).Error);

        Assert.Equal(ErrorCode.None, (await group.LeaveGroup(new LeaveGroupRequest(a.MemberId))).Error);
        Assert.Equal(ErrorCode.UnknownMemberId, (await group.LeaveGroup(new LeaveGroupRequest(a.MemberId))).Error);
        await WaitForState(group, d => d.State == GroupState.Empty, "the group is empty after the last member left");
    }

    [Fact]
    public async Task Unknown_group_is_GroupIdNotFound()
    {
        var group = Group(Unique("missing"));

        var description = await group.Describe();
        Assert.Equal(ErrorCode.GroupIdNotFound, description.Error);
        Assert.Equal(GroupState.Dead, description.State);
        Assert.Equal(ErrorCode.GroupIdNotFound, (await group.OffsetFetch(new OffsetFetchRequest())).Error);
        Assert.Equal(ErrorCode.GroupIdNotFound, (await group.DeleteGroup()).Error);
    }

    [Fact]
    public async Task Commits_are_fenced_by_member_and_generation_never_by_assignment()
    {
        var topic = Unique("fence");
        Assert.Equal(ErrorCode.None, Assert.Single(await fixture.Controller.CreateTopics([new NewTopic(topic, 2, 1)])).Error);
        var group = Group(Unique("fence"));
        var a = await JoinNew(group, Join("", topic));
        var assignment = new Dictionary<string, ConsumerProtocolAssignment> { [a.MemberId] = new([new TopicPartition(topic, 0)]) };
        await group.SyncGroup(new SyncGroupRequest(a.MemberId, a.GenerationId, assignment));
        var p0 = new TopicPartition(topic, 0);
        var p1 = new TopicPartition(topic, 1);

        Assert.Equal(ErrorCode.None, (await group.OffsetCommit(new OffsetCommitRequest(a.MemberId, a.GenerationId, [new OffsetToCommit(p0, 0, "m")]))).Error);
        Assert.Equal(ErrorCode.IllegalGeneration, (await group.OffsetCommit(new OffsetCommitRequest(a.MemberId, a.GenerationId - 1, [new OffsetToCommit(p0, 0)]))).Error);
        Assert.Equal(ErrorCode.UnknownMemberId, (await group.OffsetCommit(new OffsetCommitRequest("nobody", a.GenerationId, [new OffsetToCommit(p0, 0)]))).Error);
        Assert.Equal(ErrorCode.UnknownMemberId, (await group.OffsetCommit(new OffsetCommitRequest("", -1, [new OffsetToCommit(p0, 0)]))).Error);

        // Kafka's coordinator checks the member and its generation, not its assignment: p1 is not A's, and is committed.
        Assert.Equal(ErrorCode.None, (await group.OffsetCommit(new OffsetCommitRequest(a.MemberId, a.GenerationId, [new OffsetToCommit(p1, 4)]))).Error);

        var unknown = await group.OffsetCommit(new OffsetCommitRequest(a.MemberId, a.GenerationId, [new OffsetToCommit(new TopicPartition(topic, 9), 0)]));
        Assert.Equal(ErrorCode.UnknownTopicOrPartition, unknown.Error);
        Assert.Equal(ErrorCode.OffsetMetadataTooLarge,
            (await group.OffsetCommit(new OffsetCommitRequest(a.MemberId, a.GenerationId, [new OffsetToCommit(p0, 0, new string('x', 5000))]))).Error);

        var fetched = Assert.Single((await group.OffsetFetch(new OffsetFetchRequest([p0]))).Offsets);
        Assert.Equal(0, fetched.Offset);
        Assert.Equal("m", fetched.Metadata);

        // Kafka checks no offset against the log (the topic is empty) and refuses a partition that does not exist on its own.
        var partly = await group.OffsetCommit(new OffsetCommitRequest(a.MemberId, a.GenerationId,
            [new OffsetToCommit(p0, 1_000, "past"), new OffsetToCommit(new TopicPartition(topic, 9), 0)]));
        Assert.Equal(ErrorCode.UnknownTopicOrPartition, partly.Error);
        Assert.Equal([ErrorCode.None, ErrorCode.UnknownTopicOrPartition], partly.Partitions.Select(p => p.Error));
        Assert.Equal(1_000, Assert.Single((await group.OffsetFetch(new OffsetFetchRequest([p0]))).Offsets).Offset);
        Assert.Equal(ErrorCode.None, (await group.OffsetCommit(new OffsetCommitRequest(a.MemberId, a.GenerationId, [new OffsetToCommit(p0, -5)]))).Error);
        Assert.Equal(4, Assert.Single((await group.OffsetFetch(new OffsetFetchRequest([p1]))).Offsets).Offset);
    }

    [Fact]
    public async Task Concurrent_commits_share_writes_and_every_acknowledged_one_is_stored()
    {
        const int partitions = 16;
        var topic = Unique("groupcommit");
        Assert.Equal(ErrorCode.None, Assert.Single(await fixture.Controller.CreateTopics([new NewTopic(topic, partitions, 1)])).Error);
        var group = Group(Unique("groupcommit"));
        var all = Enumerable.Range(0, partitions).Select(p => new TopicPartition(topic, p)).ToList();
        var a = await JoinNew(group, Join("", topic));
        await group.SyncGroup(new SyncGroupRequest(a.MemberId, a.GenerationId, new Dictionary<string, ConsumerProtocolAssignment> { [a.MemberId] = new(all) }));

        // Many commits in flight at once, each of its own partition (Orleans does not order concurrent calls, so two
        // in flight for one partition may land either way; the second round starts once the first is acknowledged).
        foreach (var round in new[] { "first", "second" })
        {
            var commits = all.Select(tp => group.OffsetCommit(new OffsetCommitRequest(a.MemberId, a.GenerationId, [new OffsetToCommit(tp, 0, $"{round} {tp.Partition}")])));
            Assert.All(await Task.WhenAll(commits), r => Assert.Equal(ErrorCode.None, r.Error));
        }
        // Still fenced while commits interleave: a stale generation is refused.
        Assert.Equal(ErrorCode.IllegalGeneration, (await group.OffsetCommit(new OffsetCommitRequest(a.MemberId, a.GenerationId - 1, [new OffsetToCommit(all[0], 0, "stale")]))).Error);

        // Acknowledged means stored: a new activation reads every one of them back from grain storage.
        await fixture.Cluster.DeactivateAsync(group);
        var fetched = await group.OffsetFetch(new OffsetFetchRequest(all));
        Assert.Equal(all.Select(tp => $"second {tp.Partition}"), fetched.Offsets.Select(o => o.Metadata));
    }

    /// <summary>Kafka's OffsetDelete: offsets of topics no member subscribes to go for good; an empty group left without offsets is removed.</summary>
    [Fact]
    public async Task DeleteOffsets_removes_unsubscribed_offsets_durably_and_refuses_subscribed_topics()
    {
        var consumed = Unique("offdel-a");
        var other = Unique("offdel-b");
        Assert.All(await fixture.Controller.CreateTopics([new NewTopic(consumed, 1, 1), new NewTopic(other, 1, 1)]), r => Assert.Equal(ErrorCode.None, r.Error));
        var group = Group(Unique("offdel"));
        var (a0, b0) = (new TopicPartition(consumed, 0), new TopicPartition(other, 0));
        Assert.Equal(ErrorCode.GroupIdNotFound, (await group.DeleteOffsets([b0])).Error);
        Assert.Equal(ErrorCode.None, (await group.OffsetCommit(new OffsetCommitRequest("", -1, [new OffsetToCommit(b0, 0, "b")]))).Error);
        var a = await JoinNew(group, Join("", consumed));
        await group.SyncGroup(new SyncGroupRequest(a.MemberId, a.GenerationId, new Dictionary<string, ConsumerProtocolAssignment> { [a.MemberId] = new([a0]) }));
        Assert.Equal(ErrorCode.None, (await group.OffsetCommit(new OffsetCommitRequest(a.MemberId, a.GenerationId, [new OffsetToCommit(a0, 0, "a")]))).Error);

        var refused = await group.DeleteOffsets([a0, b0]);
        await fixture.Cluster.DeactivateAsync(group);
        var afterReactivation = await group.OffsetFetch(new OffsetFetchRequest([a0, b0]));

        Assert.Equal(ErrorCode.None, refused.Error);
        Assert.Equal([ErrorCode.GroupSubscribedToTopic, ErrorCode.None], refused.Partitions.Select(p => p.Error));
        Assert.Equal(["a", null], afterReactivation.Offsets.Select(o => o.Metadata));
        Assert.Equal([0L, -1L], afterReactivation.Offsets.Select(o => o.Offset));

        Assert.Equal(ErrorCode.None, (await group.LeaveGroup(new LeaveGroupRequest(a.MemberId))).Error);
        var deleted = await group.DeleteOffsets([a0]);
        await fixture.Cluster.DeactivateAsync(group);

        Assert.Equal(ErrorCode.None, Assert.Single(deleted.Partitions).Error);
        Assert.Equal(-1, Assert.Single((await group.OffsetFetch(new OffsetFetchRequest([a0]))).Offsets).Offset);
        Assert.Equal(ErrorCode.GroupIdNotFound, (await group.Describe()).Error);
        Assert.Equal(ErrorCode.GroupIdNotFound, (await group.DeleteOffsets([a0])).Error);
    }

    [Fact]
    public async Task Offsets_of_an_empty_group_expire_after_the_retention()
    {
        var topic = Unique("retain");
        await fixture.Controller.CreateTopics([new NewTopic(topic, 1, 1)]);
        var group = Group(Unique("retain"));
        var tp = new TopicPartition(topic, 0);
        Assert.Equal(ErrorCode.None, (await group.ResetOffsets([new OffsetToCommit(tp, 0)])).Error);
        var groups = await fixture.Client.GetGrain<IConsumerGroupDirectoryGrain>(GroupKeys.Directory).List();
        Assert.Contains(group.GetPrimaryKeyString(), groups);

        fixture.Time.Advance(TimeSpan.FromMinutes(59));
        Assert.Equal(0, Assert.Single((await group.OffsetFetch(new OffsetFetchRequest([tp]))).Offsets).Offset);

        fixture.Time.Advance(TimeSpan.FromMinutes(2));
        await WaitForState(group, d => d.Error == ErrorCode.GroupIdNotFound, "the offsets expired and the group is gone");
        Assert.Equal(-1, Assert.Single((await group.OffsetFetch(new OffsetFetchRequest([tp]))).Offsets).Offset);
        Assert.DoesNotContain(group.GetPrimaryKeyString(), await fixture.Client.GetGrain<IConsumerGroupDirectoryGrain>(GroupKeys.Directory).List());
    }
}

public sealed class DelayedGroupFixture : FakeTimeGroupFixture
{
    protected override int InitialRebalanceDelayMs => 3000;
}

/// <summary><c>group.initial.rebalance.delay.ms</c>: the first rebalance of an empty group waits for more members.</summary>
public sealed class InitialRebalanceDelayTests(DelayedGroupFixture fixture) : IClassFixture<DelayedGroupFixture>
{
    private IConsumerGroupGrain Group(string id) => fixture.Client.GetGrain<IConsumerGroupGrain>(id);

    private static JoinGroupRequest Join(string memberId) =>
        new(memberId, "test", 6000, 10_000, GroupKeys.ConsumerProtocolType,
            [new JoinGroupProtocol("range", new ConsumerProtocolSubscription(["t"], []))]);

    [Fact]
    public async Task Initial_rebalance_delay_collects_members_into_one_generation()
    {
        var group = Group($"delay-{Guid.NewGuid():N}");
        var aJoin = GroupProtocolTests.JoinNew(group, Join(""));
        var bJoin = GroupProtocolTests.JoinNew(group, Join(""));
        await Eventually.WaitUntilAsync(async () => (await group.Describe()).Members.Count == 2, "both members are waiting");
        Assert.False(aJoin.IsCompleted);

        fixture.Time.Advance(TimeSpan.FromMilliseconds(3000));
        var (ra, rb) = (await aJoin, await bJoin);
        Assert.Equal(ra.GenerationId, rb.GenerationId);
        Assert.Equal(2, (ra.IsLeader ? ra : rb).Members.Count);
    }
}
