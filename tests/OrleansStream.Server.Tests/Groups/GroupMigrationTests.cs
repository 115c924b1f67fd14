using Microsoft.Extensions.Logging.Abstractions;
using OrleansStream.Server.Groups;
using OrleansStream.Server.Groups.Consumer;

namespace OrleansStream.Server.Tests.Groups;

/// <summary>
/// Kafka 4's online migration between the classic and the consumer group protocol (<c>group.consumer.migration.policy</c>)
/// on a fake clock, with the grain's steps made by hand: a classic group handed to a consumer group (the upgrade), classic
/// members served inside it by JoinGroup, SyncGroup, Heartbeat and LeaveGroup through the same reconciliation, and the
/// consumer group handed back to a classic group when its last consumer protocol member leaves (the downgrade). Each step
/// checks that no partition is held by two members at once.
/// </summary>
public class GroupMigrationTests
{
    private static readonly Guid T = Guid.Parse("00000000-0000-0000-0000-0000000000aa");
    private const string Topic = ClassicGroupHarness.Topic;

    private readonly ClassicGroupHarness _classic;
    private readonly ConsumerGroup _group;
    private readonly Dictionary<string, SubscribedTopic> _cluster = new(StringComparer.Ordinal) { [Topic] = new(T, 4) };

    public GroupMigrationTests()
    {
        _classic = new ClassicGroupHarness();
        _group = new ConsumerGroup("g", _classic.Options, _classic.Time);
    }

    private ConsumerGroupOptions Options => _classic.Options;

    private static ConsumerGroupHeartbeatRequest CgJoin(string memberId) =>
        new(memberId, 0, null, null, 30_000, [Topic], null, null, [], "client", "/127.0.0.1");

    private static ConsumerGroupHeartbeatRequest Beat(string memberId, int epoch, params int[] owned) =>
        new(memberId, epoch, null, null, -1, null, null, null, [new TopicIdPartitions(T, owned)]);

    private static JoinGroupRequest ClassicJoin(string memberId, params int[] owned) =>
        new(memberId, "client", ClassicGroupHarness.SessionMs, ClassicGroupHarness.RebalanceMs, GroupKeys.ConsumerProtocolType,
            [new JoinGroupProtocol("range", new ConsumerProtocolSubscription([Topic], [.. owned.Select(ClassicGroupHarness.P)]))]);

    private ConsumerGroupHeartbeatResponse Send(ConsumerGroupHeartbeatRequest request)
    {
        var (response, _) = _group.Heartbeat(request, Refreshed(_group.TopicsToRefresh(request)));
        AssertNoPartitionHasTwoOwners();
        return response;
    }

    private JoinGroupResponse Rejoin(JoinGroupRequest request)
    {
        var memberId = string.IsNullOrEmpty(request.MemberId) ? Guid.NewGuid().ToString() : request.MemberId;
        if (_group.ValidateClassicJoin(request, memberId) is { } refused) return refused;
        var joined = _group.ClassicJoin(request, memberId, Refreshed(_group.TopicsToRefresh(request, memberId)));
        AssertNoPartitionHasTwoOwners();
        return joined;
    }

    private Dictionary<string, SubscribedTopic>? Refreshed(TopicRefresh? refresh)
    {
        if (refresh is not { } r) return null;
        var found = new Dictionary<string, SubscribedTopic>(StringComparer.Ordinal);
        foreach (var t in r.Names ?? [.. _cluster.Keys])
            if (_cluster.TryGetValue(t, out var topic)) found[t] = topic;
        return found;
    }

    private void AssertNoPartitionHasTwoOwners()
    {
        var held = new HashSet<(Guid, int)>();
        foreach (var m in _group.Describe().Members)
            foreach (var t in m.Assignment)
                foreach (var p in t.Partitions)
                    Assert.True(held.Add((t.TopicId, p)), $"partition {t.TopicName}-{p} is held by two members");
    }

    private static int[] Partitions(ConsumerProtocolAssignment? assignment) =>
        [.. Assert.IsType<ConsumerProtocolAssignment>(assignment).Partitions.Select(tp => tp.Partition).Order()];

    private static int[] Partitions(ConsumerGroupHeartbeatResponse response) =>
        [.. (response.Assignment ?? []).SelectMany(t => t.Partitions).Order()];

    private int[] Held(string memberId) =>
        [.. _group.Describe().Members.Single(m => m.MemberId == memberId).Assignment.SelectMany(t => t.Partitions).Order()];

    // The classic generation the members are handed over in, and the epoch a consumer protocol member's join moves the group to.
    private const int G = 2;
    private const int Next = G + 1;

    /// <summary>Classic members a and b, stable in generation <see cref="G"/> with t-0,1 and t-2,3, handed to the consumer group.</summary>
    private async Task<(string A, string B)> UpgradedAsync()
    {
        var (_, joined, b) = await _classic.SecondMemberJoinedAsync();
        var a = joined.MemberId;
        await ClassicGroupHarness.Completed(_classic.Group.Sync(ClassicGroupHarness.Sync(joined, (a, [0, 1]), (b, [2, 3]))));
        Assert.Equal((GroupState.Stable, G), (_classic.Group.State, _classic.Group.GenerationId));

        Assert.True(ConsumerGroup.CanUpgrade(Options, _classic.Group.ProtocolType, _classic.Group.MemberCount));
        _group.LoadFromClassic(_classic.Group.HandOver(), _cluster);
        Assert.Equal(0, _classic.Group.MemberCount);
        return (a, b);
    }

    [Theory]
    [InlineData(ConsumerGroupMigrationPolicy.Bidirectional, "consumer", 2, true)]
    [InlineData(ConsumerGroupMigrationPolicy.Upgrade, "consumer", 2, true)]
    [InlineData(ConsumerGroupMigrationPolicy.Downgrade, "consumer", 2, false)]
    [InlineData(ConsumerGroupMigrationPolicy.Disabled, "consumer", 2, false)]
    [InlineData(ConsumerGroupMigrationPolicy.Bidirectional, "connect", 2, false)]
    [InlineData(ConsumerGroupMigrationPolicy.Bidirectional, "consumer", 3, false)]
    public void A_classic_group_is_upgraded_only_as_the_policy_its_protocol_type_and_the_consumer_group_size_allow(
        ConsumerGroupMigrationPolicy policy, string protocolType, int members, bool upgrades)
    {
        var options = new ConsumerGroupOptions { ConsumerMigrationPolicy = policy, ConsumerGroupMaxSize = 2 };
        Assert.Equal(upgrades, ConsumerGroup.CanUpgrade(options, protocolType, members));
    }

    [Fact]
    public async Task The_upgrade_keeps_the_classic_members_in_their_generation_with_their_partitions_and_ends_their_waiting_joins()
    {
        var (a, b) = await UpgradedAsync();

        Assert.Equal(G, _group.GroupEpoch);
        Assert.Equal("Stable", _group.StateName);
        Assert.Equal([0, 1], Held(a));
        Assert.Equal([2, 3], Held(b));
        // The classic members heartbeat on in their generation, and commit with it from OffsetCommit before v9.
        Assert.Equal(ErrorCode.None, _group.ClassicHeartbeat(new HeartbeatRequest(a, G)).Error);
        Assert.Null(_group.ValidateOffsetCommit(a, G, transactional: false, version9OrLater: false));
        Assert.Equal(ErrorCode.IllegalGeneration, _group.ValidateOffsetCommit(a, G - 1, transactional: false, version9OrLater: false)!.Error);
        Assert.Equal(ErrorCode.IllegalGeneration, _group.ClassicHeartbeat(new HeartbeatRequest(a, Next)).Error);

        // A member waiting in a join when the group is handed over is sent back to rejoin.
        var harness = new ClassicGroupHarness();
        await harness.StableAloneAsync(0, 1);
        var (_, waiting) = await harness.JoinNewAsync();
        Assert.False(waiting.IsCompleted);
        var handOver = harness.Group.HandOver();
        Assert.Equal(ErrorCode.RebalanceInProgress, (await ClassicGroupHarness.Completed(waiting)).Error);
        Assert.Equal(2, handOver.Members.Count);
        Assert.Equal((GroupState.Empty, 0), (harness.Group.State, harness.Group.MemberCount));
    }

    [Fact]
    public async Task A_consumer_protocol_member_joining_takes_partitions_only_once_the_classic_members_rejoined_and_gave_them_up()
    {
        var (a, b) = await UpgradedAsync();

        var c = Send(CgJoin("c"));
        Assert.Equal(Next, c.MemberEpoch);
        Assert.Empty(Partitions(c));

        // The classic members are told to rejoin; an eager one rejoins owning nothing and moves to the new epoch at once.
        Assert.Equal(ErrorCode.RebalanceInProgress, _group.ClassicHeartbeat(new HeartbeatRequest(a, G)).Error);
        var joinedA = Rejoin(ClassicJoin(a));
        Assert.Equal((ErrorCode.None, Next, "range", ""), (joinedA.Error, joinedA.GenerationId, joinedA.ProtocolName, joinedA.LeaderId));
        Assert.Empty(joinedA.Members);
        Assert.Equal(ErrorCode.IllegalGeneration, _group.ClassicSync(new SyncGroupRequest(a, G)).Error);
        var syncedA = _group.ClassicSync(new SyncGroupRequest(a, Next));
        Assert.Equal(ErrorCode.None, syncedA.Error);
        var keptA = Partitions(syncedA.Assignment);
        Assert.Subset(new HashSet<int>([0, 1]), new HashSet<int>(keptA));
        Assert.Equal(ErrorCode.None, _group.ClassicHeartbeat(new HeartbeatRequest(a, Next)).Error);

        Assert.Equal(ErrorCode.RebalanceInProgress, _group.ClassicHeartbeat(new HeartbeatRequest(b, G)).Error);
        Assert.Equal(ErrorCode.RebalanceInProgress, _group.ClassicSync(new SyncGroupRequest(b, G)).Error);
        var joinedB = Rejoin(ClassicJoin(b));
        Assert.Equal(Next, joinedB.GenerationId);
        var keptB = Partitions(_group.ClassicSync(new SyncGroupRequest(b, Next)).Assignment);

        // c gets what the classic members gave up: the three share the four partitions.
        var taken = Partitions(Send(Beat("c", Next)));
        Assert.NotEmpty(taken);
        Assert.Equal([0, 1, 2, 3], keptA.Concat(keptB).Concat(taken).Order());
        Assert.Equal("Stable", _group.StateName);
        var described = _group.DescribeAsClassic();
        Assert.Equal(GroupKeys.ConsumerGroupType, described.Type);
        Assert.Equal(3, described.Members.Count);
    }

    [Fact]
    public async Task A_cooperative_classic_member_keeps_what_stays_revokes_the_rest_and_moves_on_at_its_next_join()
    {
        var (first, second) = await UpgradedAsync();
        Send(CgJoin("c"));
        // The classic member whose target is smaller than what it holds (the other keeps both of its partitions).
        var target = _group.Describe().Members.Single(m => m.MemberId == first).TargetAssignment.Sum(t => t.Partitions.Count);
        var (a, owned) = target < 2 ? (first, new[] { 0, 1 }) : (second, new[] { 2, 3 });

        // Rejoining while it still owns both, it stays in its generation and gets only what it keeps.
        var joined = Rejoin(ClassicJoin(a, owned));
        Assert.Equal(G, joined.GenerationId);
        var kept = Partitions(_group.ClassicSync(new SyncGroupRequest(a, G)).Assignment);
        Assert.True(kept.Length < 2, "a gives up a partition to c");
        // Its heartbeat sends it to rejoin until it reports them revoked.
        Assert.Equal(ErrorCode.RebalanceInProgress, _group.ClassicHeartbeat(new HeartbeatRequest(a, G)).Error);
        Assert.Empty(Partitions(Send(Beat("c", Next))));

        var moved = Rejoin(ClassicJoin(a, kept));
        Assert.Equal(Next, moved.GenerationId);
        Assert.Equal(kept, Partitions(_group.ClassicSync(new SyncGroupRequest(a, Next)).Assignment));
        Assert.NotEmpty(Partitions(Send(Beat("c", Next))));
    }

    [Fact]
    public async Task Classic_calls_are_checked_as_Kafka_checks_them()
    {
        var (a, _) = await UpgradedAsync();
        Send(CgJoin("c"));

        Assert.Equal(ErrorCode.UnknownMemberId, _group.ClassicHeartbeat(new HeartbeatRequest("nobody", 1)).Error);
        var notClassic = _group.ClassicHeartbeat(new HeartbeatRequest("c", Next));
        Assert.Equal((ErrorCode.UnknownMemberId, "Member c does not use the classic protocol."), (notClassic.Error, notClassic.ErrorMessage));
        Assert.Equal(ErrorCode.InconsistentGroupProtocol, Rejoin(ClassicJoin(a) with { ProtocolType = "connect" }).Error);
        Assert.Equal(ErrorCode.InconsistentGroupProtocol,
            Rejoin(ClassicJoin(a) with { Protocols = [new JoinGroupProtocol("roundrobin", new ConsumerProtocolSubscription([Topic], []))] }).Error);
        var issued = Rejoin(ClassicJoin(""));
        Assert.Equal(ErrorCode.MemberIdRequired, issued.Error);
        Assert.Equal(3, _group.MemberCount);
        Assert.Equal(ErrorCode.UnknownMemberId, Rejoin(ClassicJoin("m") with { GroupInstanceId = "i" }).Error);
        // A classic member's LeaveGroup; a consumer protocol member cannot leave that way.
        var (left, changed) = _group.ClassicLeave([new LeaveGroupRequest(a), new LeaveGroupRequest("c")]);
        Assert.True(changed);
        Assert.Equal([ErrorCode.None, ErrorCode.UnknownMemberId], left.Members.Select(m => m.Error));
        Assert.Equal(2, _group.MemberCount);
        Assert.Equal(Next + 1, _group.GroupEpoch);
    }

    /// <summary>Kafka's <c>throwIfClassicProtocolUnmatched</c>: SyncGroup v5's type and name must be what the member's JoinGroup was answered.</summary>
    [Fact]
    public async Task A_classic_members_SyncGroup_names_the_protocol_type_and_name_its_JoinGroup_was_answered()
    {
        var (a, _) = await UpgradedAsync();
        var joined = Rejoin(ClassicJoin(a, 0, 1));
        Assert.Equal((ErrorCode.None, "range"), (joined.Error, joined.ProtocolName));

        var wrongName = _group.ClassicSync(new SyncGroupRequest(a, joined.GenerationId, null, null, GroupKeys.ConsumerProtocolType, "roundrobin"));
        var wrongType = _group.ClassicSync(new SyncGroupRequest(a, joined.GenerationId, null, null, "connect", "range"));
        var named = _group.ClassicSync(new SyncGroupRequest(a, joined.GenerationId, null, null, GroupKeys.ConsumerProtocolType, "range"));
        var unnamed = _group.ClassicSync(new SyncGroupRequest(a, joined.GenerationId));

        Assert.Equal(ErrorCode.InconsistentGroupProtocol, wrongName.Error);
        Assert.Equal(ErrorCode.InconsistentGroupProtocol, wrongType.Error);
        Assert.Equal((ErrorCode.None, GroupKeys.ConsumerProtocolType, "range"), (named.Error, named.ProtocolType, named.ProtocolName));
        Assert.Equal([0, 1], Partitions(named.Assignment));
        Assert.Equal(ErrorCode.None, unnamed.Error);
    }

    [Fact]
    public async Task A_classic_member_told_to_rejoin_that_does_not_within_its_rebalance_timeout_is_fenced()
    {
        var (a, b) = await UpgradedAsync();
        Send(CgJoin("c"));
        Assert.Equal(ErrorCode.RebalanceInProgress, _group.ClassicHeartbeat(new HeartbeatRequest(a, G)).Error);
        Rejoin(ClassicJoin(b));
        Assert.Equal(ErrorCode.None, _group.ClassicSync(new SyncGroupRequest(b, Next)).Error);

        // a keeps heartbeating (its session lives) but never rejoins: its join timeout, its rebalance timeout, fences it.
        for (var elapsed = 0; elapsed < ClassicGroupHarness.RebalanceMs; elapsed += 5_000)
        {
            Assert.False(_group.CheckExpirations());
            _classic.Time.Advance(TimeSpan.FromMilliseconds(5_000));
            Assert.Equal(ErrorCode.RebalanceInProgress, _group.ClassicHeartbeat(new HeartbeatRequest(a, G)).Error);
            Assert.Equal(ErrorCode.None, _group.ClassicHeartbeat(new HeartbeatRequest(b, Next)).Error);
        }
        Assert.True(_group.CheckExpirations());
        Assert.Equal(ErrorCode.UnknownMemberId, _group.ClassicHeartbeat(new HeartbeatRequest(a, G)).Error);
        Assert.Equal(2, _group.MemberCount);
    }

    [Fact]
    public async Task When_the_last_consumer_protocol_member_leaves_the_classic_members_become_a_classic_group_that_rebalances()
    {
        var (a, b) = await UpgradedAsync();
        Send(CgJoin("c"));
        Rejoin(ClassicJoin(a));
        Rejoin(ClassicJoin(b));
        Send(Beat("c", Next));
        Assert.Equal("Stable", _group.StateName);
        var targets = _group.Describe().Members.ToDictionary(m => m.MemberId, m => m.TargetAssignment.SelectMany(t => t.Partitions).Order().ToArray());

        var left = Send(new ConsumerGroupHeartbeatRequest("c", ConsumerGroup.LeaveEpoch, null, null, -1, null, null, null, null));
        Assert.Equal((ErrorCode.None, -1), (left.Error, left.MemberEpoch));
        Assert.Equal(0, _group.MemberCount);
        // Kafka removes the consumer group: nothing of it is stored any more.
        Assert.Null(_group.ToStored());
        var downgrade = Assert.IsType<ClassicHandOver>(_group.TakeDowngrade());
        Assert.Null(_group.TakeDowngrade());
        Assert.Equal(Next, downgrade.GenerationId);
        Assert.Equal(new[] { a, b }.Order(), downgrade.Members.Select(m => m.MemberId).Order());
        foreach (var m in downgrade.Members)
        {
            Assert.Equal(targets[m.MemberId], Partitions(m.Assignment));
            Assert.Equal(ClassicGroupHarness.SessionMs, m.SessionTimeoutMs);
            Assert.Equal("range", Assert.Single(m.Protocols).Name);
        }

        // The classic group takes them in the consumer group's epoch and rebalances: they rejoin and the leader assigns.
        var classic = new ClassicGroup("g", Options, _classic.Time, NullLogger.Instance, static () => Task.CompletedTask);
        classic.TakeOver(downgrade);
        Assert.Equal((GroupState.PreparingRebalance, Next, GroupKeys.ConsumerProtocolType), (classic.State, classic.GenerationId, classic.ProtocolType));
        Assert.Equal(ErrorCode.RebalanceInProgress, classic.Heartbeat(new HeartbeatRequest(a, Next)).Error);
        var joinA = classic.Join(ClassicGroupHarness.Join(a));
        var joinB = classic.Join(ClassicGroupHarness.Join(b));
        var (ja, jb) = (await joinA, await joinB);
        Assert.Equal((ErrorCode.None, Next + 1), (ja.Error, ja.GenerationId));
        Assert.True(ja.IsLeader ^ jb.IsLeader);
    }

    [Fact]
    public async Task A_classic_static_member_taking_the_last_consumer_protocol_members_place_makes_a_stable_classic_group()
    {
        var (a, b) = await UpgradedAsync();
        Send(CgJoin("c") with { InstanceId = "instance-c" });
        Rejoin(ClassicJoin(a));
        Rejoin(ClassicJoin(b));
        Send(Beat("c", Next));
        var target = _group.Describe().Members.Single(m => m.MemberId == "c").TargetAssignment.SelectMany(t => t.Partitions).Order().ToArray();
        Assert.NotEmpty(target);

        // The consumer protocol member restarts as a classic consumer with the same instance id.
        var joined = Rejoin(ClassicJoin("") with { GroupInstanceId = "instance-c" });
        Assert.Equal((ErrorCode.None, Next), (joined.Error, joined.GenerationId));
        Assert.Equal(0, _group.MemberCount);
        var downgrade = Assert.IsType<ClassicHandOver>(_group.TakeDowngrade());
        Assert.False(downgrade.Rebalance);
        Assert.Equal(Next, downgrade.GenerationId);
        Assert.Equal(target, Partitions(downgrade.Members.Single(m => m.MemberId == joined.MemberId).Assignment));

        // The classic group is stable: the new member syncs the partitions the one it replaced was to hold.
        var classic = new ClassicGroup("g", Options, _classic.Time, NullLogger.Instance, static () => Task.CompletedTask);
        classic.TakeOver(downgrade);
        Assert.Equal((GroupState.Stable, 3), (classic.State, classic.MemberCount));
        var synced = await ClassicGroupHarness.Completed(classic.Sync(new SyncGroupRequest(joined.MemberId, Next, GroupInstanceId: "instance-c")));
        Assert.Equal(target, Partitions(synced.Assignment));
        Assert.Equal(ErrorCode.None, classic.Heartbeat(new HeartbeatRequest(a, Next)).Error);
    }

    [Theory]
    [InlineData(ConsumerGroupMigrationPolicy.Upgrade)]
    [InlineData(ConsumerGroupMigrationPolicy.Disabled)]
    public async Task Without_the_downgrade_a_consumer_group_left_with_classic_members_stays_a_consumer_group(ConsumerGroupMigrationPolicy policy)
    {
        var (a, b) = await UpgradedAsync();
        Send(CgJoin("c"));
        Options.ConsumerMigrationPolicy = policy;
        Assert.False(_group.CanDowngradeWithout("c"));

        Send(new ConsumerGroupHeartbeatRequest("c", ConsumerGroup.LeaveEpoch, null, null, -1, null, null, null, null));
        Assert.Null(_group.TakeDowngrade());
        Assert.Equal(new[] { a, b }.Order(), _group.Describe().Members.Select(m => m.MemberId).Order());
        Assert.Equal(Next + 1, _group.GroupEpoch);
    }

    [Fact]
    public async Task A_downgrade_needs_a_consumer_protocol_member_leaving_classic_members_left_and_room_in_a_classic_group()
    {
        var (a, _) = await UpgradedAsync();
        Send(CgJoin("c"));
        Assert.True(_group.CanDowngradeWithout("c"));
        Assert.False(_group.CanDowngradeWithout(a));
        Options.GroupMaxSize = 1;
        Assert.False(_group.CanDowngradeWithout("c"));
        Options.GroupMaxSize = 2;
        Send(CgJoin("d"));
        Assert.False(_group.CanDowngradeWithout("c"));

        // A consumer group of one consumer protocol member stays one when it leaves.
        var alone = new ConsumerGroup("g2", Options, _classic.Time);
        alone.Heartbeat(CgJoin("x"), _cluster);
        Assert.False(alone.CanDowngradeWithout("x"));
    }

    [Fact]
    public async Task A_classic_member_of_a_consumer_group_is_stored_with_its_protocols_and_session_and_loaded_with_them()
    {
        var (a, _) = await UpgradedAsync();
        Send(CgJoin("c"));
        var stored = _group.ToStored()!;
        var storedA = stored.Members.Single(m => m.MemberId == a);
        Assert.Equal(ClassicGroupHarness.SessionMs, storedA.ClassicSessionTimeoutMs);
        Assert.Equal("range", Assert.Single(storedA.ClassicProtocols!).Name);
        Assert.Null(stored.Members.Single(m => m.MemberId == "c").ClassicProtocols);

        var loaded = new ConsumerGroup("g", Options, _classic.Time);
        loaded.Load(stored);
        Assert.Equal(ErrorCode.RebalanceInProgress, loaded.ClassicHeartbeat(new HeartbeatRequest(a, G)).Error);
        // Its session is its own (10 s), not the consumer group's (45 s); c's is the group's.
        _classic.Time.Advance(TimeSpan.FromMilliseconds(ClassicGroupHarness.SessionMs + 1));
        Assert.True(loaded.CheckExpirations());
        Assert.Equal(ErrorCode.UnknownMemberId, loaded.ClassicHeartbeat(new HeartbeatRequest(a, G)).Error);
        Assert.Contains(loaded.Describe().Members, m => m.MemberId == "c");

        // A member stored before classic members were (no protocols) loads as a consumer protocol member.
        var old = stored with { Members = [.. stored.Members.Select(m => m with { ClassicSessionTimeoutMs = 0, ClassicProtocols = null })] };
        var fromOld = new ConsumerGroup("g", Options, _classic.Time);
        fromOld.Load(old);
        Assert.Equal(ErrorCode.UnknownMemberId, fromOld.ClassicHeartbeat(new HeartbeatRequest(a, G)).Error);
    }

    [Fact]
    public void The_policy_is_validated_and_defaults_to_Kafkas_bidirectional()
    {
        Assert.Equal(ConsumerGroupMigrationPolicy.Bidirectional, new ConsumerGroupOptions().ConsumerMigrationPolicy);
        var validator = new ConsumerGroupOptionsValidator();
        Assert.True(validator.Validate(null, new ConsumerGroupOptions { ConsumerMigrationPolicy = ConsumerGroupMigrationPolicy.Disabled }).Succeeded);
        var invalid = validator.Validate(null, new ConsumerGroupOptions { ConsumerMigrationPolicy = (ConsumerGroupMigrationPolicy)7 });
        Assert.True(invalid.Failed);
        Assert.Contains("group.consumer.migration.policy", invalid.FailureMessage);
    }
}
