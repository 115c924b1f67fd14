using OrleansStream.Server.Groups;
using static OrleansStream.Server.Tests.Groups.ClassicGroupHarness;

namespace OrleansStream.Server.Tests.Groups;

/// <summary>The classic protocol's state machine on a fake clock, as Kafka's GroupCoordinatorTest drives its coordinator.</summary>
public sealed class ClassicGroupTests
{
    private readonly ClassicGroupHarness _h = new();

    private ClassicGroup Group => _h.Group;

    [Fact]
    public async Task A_join_without_member_id_gets_MemberIdRequired_and_the_rejoin_makes_generation_1_led_by_that_member()
    {
        var issued = await Group.Join(Join(""));
        Assert.Equal(ErrorCode.MemberIdRequired, issued.Error);
        Assert.StartsWith("client-", issued.MemberId);
        Assert.Equal(0, Group.MemberCount);
        Assert.Equal(GroupState.Empty, Group.State);

        var joined = await Completed(Group.Join(Join(issued.MemberId)));
        Assert.Equal(ErrorCode.None, joined.Error);
        Assert.Equal(1, joined.GenerationId);
        Assert.True(joined.IsLeader);
        Assert.Equal("range", joined.ProtocolName);
        Assert.Equal(issued.MemberId, Assert.Single(joined.Members).MemberId);
        Assert.Equal(GroupState.CompletingRebalance, Group.State);
        var completing = Assert.Single(_h.Stored)!;
        Assert.True(completing.Rebalancing);
        Assert.Equal(1, completing.GenerationId);

        var synced = await Completed(Group.Sync(Sync(joined, (joined.MemberId, [0, 1]))));
        Assert.Equal(new[] { P(0), P(1) }, synced.Assignment!.Partitions);
        Assert.Equal(GroupState.Stable, Group.State);
        // The assignment was stored before the sync handed it out.
        var stable = _h.Stored[^1]!;
        Assert.False(stable.Rebalancing);
        Assert.Equal(joined.MemberId, stable.LeaderId);
        Assert.Equal(new[] { P(0), P(1) }, Assert.Single(stable.Members).Assignment.Partitions);
        Assert.Equal(ErrorCode.None, Group.Heartbeat(new HeartbeatRequest(joined.MemberId, 1)).Error);
    }

    [Fact]
    public async Task A_first_join_that_does_not_require_a_known_member_id_joins_at_once_under_an_issued_id()
    {
        // JoinGroup v0-3 (kafka-python, older clients): no MemberIdRequired round, the first answer is the generation.
        var joined = await Completed(Group.Join(Join("") with { RequireKnownMemberId = false }));

        Assert.Equal(ErrorCode.None, joined.Error);
        Assert.StartsWith("client-", joined.MemberId);
        Assert.Equal(1, joined.GenerationId);
        Assert.True(joined.IsLeader);
        Assert.Equal(joined.MemberId, Assert.Single(joined.Members).MemberId);
        Assert.Equal(1, Group.MemberCount);
    }

    [Fact]
    public async Task A_new_member_starts_a_rebalance_that_waits_until_every_member_rejoined()
    {
        var a1 = await _h.StableAloneAsync(0, 1, 2, 3);
        var a = a1.MemberId;

        var (b, bJoin) = await _h.JoinNewAsync();
        Assert.False(bJoin.IsCompleted);
        Assert.Equal(GroupState.PreparingRebalance, Group.State);
        Assert.Equal(ErrorCode.RebalanceInProgress, Group.Heartbeat(new HeartbeatRequest(a, a1.GenerationId)).Error);
        Assert.Equal(ErrorCode.RebalanceInProgress, (await Completed(Group.Sync(new SyncGroupRequest(a, a1.GenerationId)))).Error);

        var a2 = await Completed(Group.Join(Join(a)));
        var b2 = await Completed(bJoin);
        Assert.Equal(2, a2.GenerationId);
        Assert.Equal(2, b2.GenerationId);
        Assert.True(a2.IsLeader);
        Assert.Equal(new[] { a, b }, a2.Members.Select(m => m.MemberId));
        Assert.Empty(b2.Members); // only the leader sees the subscriptions

        // The follower's sync waits for the leader's assignment.
        var bSync = Group.Sync(new SyncGroupRequest(b, 2));
        Assert.False(bSync.IsCompleted);
        var aSync = await Completed(Group.Sync(Sync(a2, (a, [0, 1]), (b, [2, 3]))));
        Assert.Equal(new[] { P(0), P(1) }, aSync.Assignment!.Partitions);
        Assert.Equal(new[] { P(2), P(3) }, (await Completed(bSync)).Assignment!.Partitions);
        Assert.Equal(GroupState.Stable, Group.State);
        var stored = _h.Stored[^1]!;
        Assert.Equal((2, false), (stored.GenerationId, stored.Rebalancing));
        Assert.Equal(new[] { a, b }, stored.Members.Select(m => m.MemberId));
        Assert.Equal(new[] { P(2), P(3) }, stored.Members[1].Assignment.Partitions);
    }

    [Fact]
    public async Task Heartbeat_sync_and_commit_from_an_old_generation_or_an_unknown_member_are_fenced()
    {
        var (a1, a2, _) = await _h.SecondMemberJoinedAsync();

        Assert.Equal(ErrorCode.IllegalGeneration, Group.Heartbeat(new HeartbeatRequest(a1.MemberId, a1.GenerationId)).Error);
        Assert.Equal(ErrorCode.IllegalGeneration, (await Completed(Group.Sync(new SyncGroupRequest(a1.MemberId, a1.GenerationId)))).Error);
        Assert.Equal(ErrorCode.IllegalGeneration, Group.ValidateOffsetCommit(a1.MemberId, a1.GenerationId, null, transactional: false)!.Error);
        // Between join and sync the assignment is not yet known: commits wait for it, transactional ones do not (Kafka's rule).
        Assert.Equal(ErrorCode.RebalanceInProgress, Group.ValidateOffsetCommit(a2.MemberId, a2.GenerationId, null, transactional: false)!.Error);
        Assert.Null(Group.ValidateOffsetCommit(a2.MemberId, a2.GenerationId, null, transactional: true));

        Assert.Equal(ErrorCode.UnknownMemberId, Group.Heartbeat(new HeartbeatRequest("stranger", a2.GenerationId)).Error);
        Assert.Equal(ErrorCode.UnknownMemberId, (await Completed(Group.Sync(new SyncGroupRequest("stranger", a2.GenerationId)))).Error);
        Assert.Equal(ErrorCode.UnknownMemberId, Group.Leave(new LeaveGroupRequest("stranger")).Error);
        Assert.Equal(ErrorCode.UnknownMemberId, (await Group.Join(Join("stranger"))).Error);
        Assert.Equal(ErrorCode.UnknownMemberId, Group.ValidateOffsetCommit("", -1, null, transactional: false)!.Error);
        Assert.Equal(ErrorCode.UnknownMemberId, Group.ValidateOffsetCommit("stranger", -1, null, transactional: true)!.Error);
    }

    [Fact]
    public async Task A_LeaveGroup_request_is_answered_per_member_and_a_Dead_group_answers_it_CoordinatorNotAvailable_with_no_member()
    {
        var (a, _) = await _h.StableTwoAsync();

        var live = Group.Leave([new LeaveGroupRequest(a), new LeaveGroupRequest("stranger")]);

        Assert.Equal(ErrorCode.None, live.Error);
        Assert.Equal([ErrorCode.None, ErrorCode.UnknownMemberId], live.Members.Select(static m => m.Error));

        // Kafka's classicGroupLeaveToClassicGroup: a Dead group's answer is the request's, with no member list.
        Group.MarkDead();
        var dead = Group.Leave([new LeaveGroupRequest("m"), new LeaveGroupRequest("", GroupInstanceId: "i")]);

        Assert.Equal(ErrorCode.CoordinatorNotAvailable, dead.Error);
        Assert.Empty(dead.Members);
    }

    [Fact]
    public async Task A_group_being_removed_answers_CoordinatorNotAvailable_until_the_removal_is_stored_and_then_starts_anew()
    {
        // Kafka's Dead classic group: joins, syncs, heartbeats, leaves and commits (simple or transactional) are refused
        // with COORDINATOR_NOT_AVAILABLE, so the client finds the coordinator again and retries.
        Group.MarkDead();

        Assert.Equal(ErrorCode.CoordinatorNotAvailable, (await Completed(Group.Join(Join("")))).Error);
        Assert.Equal(ErrorCode.CoordinatorNotAvailable, (await Completed(Group.Sync(new SyncGroupRequest("m", 0)))).Error);
        Assert.Equal(ErrorCode.CoordinatorNotAvailable, Group.Heartbeat(new HeartbeatRequest("m", 0)).Error);
        Assert.Equal(ErrorCode.CoordinatorNotAvailable, Group.Leave(new LeaveGroupRequest("m")).Error);
        Assert.Equal(ErrorCode.CoordinatorNotAvailable, Group.ValidateOffsetCommit("", -1, null, transactional: false)!.Error);
        Assert.Equal(ErrorCode.CoordinatorNotAvailable, Group.ValidateOffsetCommit("", -1, null, transactional: true)!.Error);
        Assert.Equal(GroupState.Dead, Group.State);
        Assert.True(Group.IsBeingRemoved);

        // Stored: the next simple commit or join makes a new group, as Kafka's coordinator creates one.
        Group.Removed();
        Assert.False(Group.IsBeingRemoved);
        Assert.Null(Group.ValidateOffsetCommit("", -1, null, transactional: false));
        var (_, join) = await _h.JoinNewAsync();
        Assert.Equal(ErrorCode.None, (await Completed(join)).Error);
        Assert.Equal(GroupState.CompletingRebalance, Group.State);
    }

    [Fact]
    public async Task A_member_whose_session_expires_is_removed_and_the_others_rebalance_without_it()
    {
        var (a, b) = await _h.StableTwoAsync();

        // A keeps heartbeating; B goes silent.
        _h.Advance(SessionMs - 1000);
        Assert.Equal(ErrorCode.None, Group.Heartbeat(new HeartbeatRequest(a, 2)).Error);
        Assert.Equal(2, Group.MemberCount);
        _h.Advance(1000);
        Assert.Equal(1, Group.MemberCount);
        Assert.Equal(GroupState.PreparingRebalance, Group.State);
        Assert.Equal(ErrorCode.RebalanceInProgress, Group.Heartbeat(new HeartbeatRequest(a, 2)).Error);

        var a3 = await Completed(Group.Join(Join(a)));
        Assert.Equal(3, a3.GenerationId);
        Assert.Single(a3.Members);
        Assert.Equal(ErrorCode.UnknownMemberId, Group.Heartbeat(new HeartbeatRequest(b, 2)).Error);
    }

    [Fact]
    public async Task A_member_waiting_in_join_outlives_its_session_and_one_that_never_rejoins_is_dropped_at_the_rebalance_timeout()
    {
        var a1 = await _h.StableAloneAsync(0);
        var (b, bJoin) = await _h.JoinNewAsync(Join("", sessionMs: 6000, rebalanceMs: 20_000));

        // A answers heartbeats but never rejoins; B waits in join past its own session and its own rebalance timeout.
        for (var t = 0; t < 25_000; t += 5000)
        {
            _h.Advance(5000);
            Assert.Equal(ErrorCode.RebalanceInProgress, Group.Heartbeat(new HeartbeatRequest(a1.MemberId, 1)).Error);
        }
        Assert.False(bJoin.IsCompleted);
        Assert.Equal(2, Group.MemberCount);

        // The rebalance timeout is the longest any member asked for (A's 30 s).
        _h.Advance(RebalanceMs - 25_000);
        var b2 = await Completed(bJoin);
        Assert.Equal(2, b2.GenerationId);
        Assert.True(b2.IsLeader);
        Assert.Equal(b, Assert.Single(b2.Members).MemberId);
        Assert.Equal(ErrorCode.UnknownMemberId, Group.Heartbeat(new HeartbeatRequest(a1.MemberId, 1)).Error);
    }

    [Fact]
    public async Task The_initial_rebalance_delay_holds_an_empty_groups_first_generation_for_more_members()
    {
        var h = new ClassicGroupHarness(o => o.GroupInitialRebalanceDelayMs = 3000);
        var (a, aJoin) = await h.JoinNewAsync();
        h.Advance(2000);
        Assert.False(aJoin.IsCompleted);

        // B arrives within the delay: the delay starts again from B's join.
        var (b, bJoin) = await h.JoinNewAsync();
        h.Advance(2000);
        Assert.False(aJoin.IsCompleted);
        Assert.Equal(GroupState.PreparingRebalance, h.Group.State);
        h.Advance(1000);

        var a1 = await Completed(aJoin);
        var b1 = await Completed(bJoin);
        Assert.Equal(1, a1.GenerationId);
        Assert.Equal(1, b1.GenerationId);
        Assert.Equal(new[] { a, b }, a1.Members.Select(m => m.MemberId));
    }

    [Fact]
    public async Task Leaving_rebalances_the_rest_and_the_last_member_leaving_empties_the_group_in_a_new_generation()
    {
        var (a, b) = await _h.StableTwoAsync();

        Assert.Equal(ErrorCode.None, Group.Leave(new LeaveGroupRequest(b)).Error);
        Assert.Equal(GroupState.PreparingRebalance, Group.State);
        var a3 = await Completed(Group.Join(Join(a)));
        await Completed(Group.Sync(Sync(a3, (a, [0, 1]))));

        _h.Advance(1000);
        Assert.Equal(-1, Group.EmptySinceMs);
        Assert.Equal(ErrorCode.None, Group.Leave(new LeaveGroupRequest(a)).Error);
        Assert.Equal(GroupState.Empty, Group.State);
        Assert.Equal(4, Group.GenerationId);
        Assert.Equal(_h.NowMs, Group.EmptySinceMs);
        Assert.Null(_h.Stored[^1]); // no members left to store
        var described = Group.Describe();
        Assert.Equal(GroupKeys.ConsumerProtocolType, described.ProtocolType); // still a consumer group
        Assert.Null(described.Protocol);
        Assert.Null(described.LeaderId);
        Assert.Empty(described.Members);
    }

    [Fact]
    public async Task An_issued_member_id_not_used_within_its_session_timeout_expires()
    {
        var issued = await Group.Join(Join("", sessionMs: 6000));
        _h.Advance(6000);
        Assert.Equal(ErrorCode.UnknownMemberId, (await Group.Join(Join(issued.MemberId))).Error);
        Assert.Equal(0, Group.MemberCount);
    }

    /// <summary>
    /// Kafka's classic protocol serves any protocol type (Kafka Connect's "connect", Schema Registry's "sr"): the first
    /// member of an empty group sets the type, the metadata and assignments are bytes handed on unchanged, a member the
    /// leader leaves out gets empty bytes, a consumer is refused while the group has members, and the type outlives them.
    /// </summary>
    [Fact]
    public async Task A_group_of_another_protocol_type_hands_on_opaque_metadata_and_assignments_and_refuses_consumers()
    {
        static JoinGroupRequest Worker(string memberId, byte[] metadata) =>
            new(memberId, "worker", ClassicGroupHarness.SessionMs, ClassicGroupHarness.RebalanceMs, "connect",
                [new JoinGroupProtocol("sessioned", new ConsumerProtocolSubscription([], [], Encoded: metadata))]);
        var (a, aJoin) = await _h.JoinNewAsync(Worker("", [1, 2, 3]));
        var a1 = await ClassicGroupHarness.Completed(aJoin);
        Assert.Equal(ErrorCode.None, (await ClassicGroupHarness.Completed(_h.Group.Sync(new SyncGroupRequest(a, a1.GenerationId,
            new Dictionary<string, ConsumerProtocolAssignment> { [a] = new([], Encoded: [9]) })))).Error);
        Assert.Equal("connect", _h.Group.ProtocolType);

        Assert.Equal(ErrorCode.InconsistentGroupProtocol, (await _h.Group.Join(ClassicGroupHarness.Join(""))).Error);
        var (b, bJoin) = await _h.JoinNewAsync(Worker("", [4, 5]));
        var a2 = await ClassicGroupHarness.Completed(_h.Group.Join(Worker(a, [1, 2, 3])));
        await ClassicGroupHarness.Completed(bJoin);
        Assert.Equal(a, a2.LeaderId);
        Assert.Equal([new byte[] { 1, 2, 3 }, new byte[] { 4, 5 }], a2.Members.OrderBy(m => m.MemberId == b).Select(m => m.Metadata.Encoded!));
        var bSync = _h.Group.Sync(new SyncGroupRequest(b, a2.GenerationId));
        var aSync = await ClassicGroupHarness.Completed(_h.Group.Sync(new SyncGroupRequest(a, a2.GenerationId,
            new Dictionary<string, ConsumerProtocolAssignment> { [a] = new([], Encoded: [7, 7]) })));
        Assert.Equal(new byte[] { 7, 7 }, aSync.Assignment!.Encoded);
        Assert.Equal(new byte[0], (await ClassicGroupHarness.Completed(bSync)).Assignment!.Encoded);
        Assert.Equal("connect", _h.Group.Describe().ProtocolType);
        Assert.False(_h.Group.IsSubscribedToTopic(ClassicGroupHarness.Topic));

        // The stored members carry the bytes; with every member gone the group keeps its type, and the next first
        // member of an empty group sets it anew.
        Assert.Equal(new byte[] { 1, 2, 3 }, _h.Stored[^1]!.Members.Single(m => m.MemberId == a).Protocols[0].Metadata.Encoded);
        _h.Advance(ClassicGroupHarness.SessionMs + 1);
        Assert.Equal((0, GroupState.Empty, "connect"), (_h.Group.MemberCount, _h.Group.State, _h.Group.Describe().ProtocolType));
        var (_, consumerJoin) = await _h.JoinNewAsync();
        Assert.Equal(ErrorCode.None, (await ClassicGroupHarness.Completed(consumerJoin)).Error);
        Assert.Equal(GroupKeys.ConsumerProtocolType, _h.Group.ProtocolType);
    }

    [Fact]
    public async Task Joins_outside_the_session_bounds_with_another_protocol_or_beyond_group_max_size_are_refused()
    {
        var h = new ClassicGroupHarness(o => o.GroupMaxSize = 1);
        Assert.Equal(ErrorCode.InvalidSessionTimeout, (await h.Group.Join(Join("", sessionMs: h.Options.GroupMinSessionTimeoutMs - 1))).Error);
        Assert.Equal(ErrorCode.InvalidSessionTimeout, (await h.Group.Join(Join("", sessionMs: h.Options.GroupMaxSessionTimeoutMs + 1))).Error);
        Assert.Equal(ErrorCode.InconsistentGroupProtocol, (await h.Group.Join(Join("") with { ProtocolType = "" })).Error);

        await h.StableAloneAsync(0);
        Assert.Equal(ErrorCode.InconsistentGroupProtocol, (await h.Group.Join(Join("", protocols: "roundrobin"))).Error);
        // The group's protocol type is its first member's: a member of another type is refused while it has members.
        Assert.Equal(ErrorCode.InconsistentGroupProtocol, (await h.Group.Join(Join("") with { ProtocolType = "connect" })).Error);
        Assert.Equal(ErrorCode.GroupMaxSizeReached, (await h.Group.Join(Join(""))).Error);
        Assert.Equal(1, h.Group.MemberCount);
    }

    [Fact]
    public async Task Members_vote_for_the_protocol_every_member_supports()
    {
        var (a, aJoin) = await _h.JoinNewAsync(Join("", protocols: ["range", "cooperative-sticky"]));
        var a1 = await Completed(aJoin);
        Assert.Equal("range", a1.ProtocolName);

        var (_, bJoin) = await _h.JoinNewAsync(Join("", protocols: ["cooperative-sticky", "range"]));
        var (_, cJoin) = await _h.JoinNewAsync(Join("", protocols: ["cooperative-sticky", "range"]));
        var a2 = await Completed(Group.Join(Join(a, protocols: ["range", "cooperative-sticky"])));
        await Completed(bJoin);
        await Completed(cJoin);
        Assert.Equal("cooperative-sticky", a2.ProtocolName);
        Assert.Equal(3, a2.Members.Count);
    }

    [Fact]
    public async Task A_follower_rejoining_unchanged_keeps_the_generation_and_the_leader_rejoining_starts_a_rebalance()
    {
        var (a, b) = await _h.StableTwoAsync();

        var again = await Completed(Group.Join(Join(b)));
        Assert.Equal(2, again.GenerationId);
        Assert.Equal(GroupState.Stable, Group.State);

        var leaderRejoin = Group.Join(Join(a));
        Assert.Equal(GroupState.PreparingRebalance, Group.State);
        Assert.False(leaderRejoin.IsCompleted);
        await Completed(Group.Join(Join(b)));
        Assert.Equal(3, (await Completed(leaderRejoin)).GenerationId);
    }

    [Fact]
    public async Task A_follower_rejoining_with_other_metadata_bytes_starts_a_rebalance_as_in_Kafka()
    {
        // Kafka compares a member's metadata as bytes: a Kafka Connect worker rejoins with its new config offset, a
        // consumer with new user data, and the group must rebalance for the leader to see it.
        static JoinGroupRequest Worker(string memberId, byte[] metadata) =>
            new(memberId, "worker", SessionMs, RebalanceMs, "connect",
                [new JoinGroupProtocol("sessioned", new ConsumerProtocolSubscription([], [], Encoded: metadata))]);
        var (a, aJoin) = await _h.JoinNewAsync(Worker("", [1]));
        var a1 = await Completed(aJoin);
        await Completed(Group.Sync(new SyncGroupRequest(a, a1.GenerationId)));
        var (b, bJoin) = await _h.JoinNewAsync(Worker("", [2]));
        var a2 = await Completed(Group.Join(Worker(a, [1])));
        await Completed(bJoin);
        var bSync = Group.Sync(new SyncGroupRequest(b, a2.GenerationId));
        await Completed(Group.Sync(new SyncGroupRequest(a, a2.GenerationId)));
        await Completed(bSync);
        Assert.Equal(GroupState.Stable, Group.State);

        Assert.Equal(a2.GenerationId, (await Completed(Group.Join(Worker(b, [2])))).GenerationId);
        Assert.Equal(GroupState.Stable, Group.State);

        var bChanged = Group.Join(Worker(b, [2, 9]));
        Assert.Equal(GroupState.PreparingRebalance, Group.State);
        Assert.False(bChanged.IsCompleted);
        var a3 = await Completed(Group.Join(Worker(a, [1])));
        Assert.Equal(a2.GenerationId + 1, a3.GenerationId);
        Assert.Equal(new byte[] { 2, 9 }, a3.Members.Single(m => m.MemberId == b).Metadata.Encoded);

        // A consumer-protocol member of a Kafka client: the same topics, other user data in its bytes.
        var h = new ClassicGroupHarness();
        static JoinGroupRequest Consumer(string memberId, byte userData) =>
            Join(memberId) with
            {
                Protocols = [new JoinGroupProtocol("range", new ConsumerProtocolSubscription([Topic], [], UserData: [userData],
                    Encoded: [0, 0, 0, 0, 0, 1, 0, 1, (byte)'t', 0, 0, 0, 1, userData]))],
            };
        var (c, cJoin) = await h.JoinNewAsync(Consumer("", 1));
        var c1 = await Completed(cJoin);
        await Completed(h.Group.Sync(new SyncGroupRequest(c, c1.GenerationId)));
        var (d, dJoin) = await h.JoinNewAsync(Consumer("", 1));
        var c2 = await Completed(h.Group.Join(Consumer(c, 1)));
        await Completed(dJoin);
        var dSync = h.Group.Sync(new SyncGroupRequest(d, c2.GenerationId));
        await Completed(h.Group.Sync(new SyncGroupRequest(c, c2.GenerationId)));
        await Completed(dSync);
        Assert.Equal(c2.GenerationId, (await Completed(h.Group.Join(Consumer(d, 1)))).GenerationId);
        var dChanged = h.Group.Join(Consumer(d, 2));
        Assert.Equal(GroupState.PreparingRebalance, h.Group.State);
        Assert.False(dChanged.IsCompleted);
    }

    [Fact]
    public async Task A_join_while_the_group_completes_a_rebalance_sends_waiting_syncs_back_to_rejoin()
    {
        var (_, _, b) = await _h.SecondMemberJoinedAsync();
        var bSync = Group.Sync(new SyncGroupRequest(b, 2));
        Assert.False(bSync.IsCompleted);

        var (_, cJoin) = await _h.JoinNewAsync();
        Assert.Equal(ErrorCode.RebalanceInProgress, (await Completed(bSync)).Error);
        Assert.Equal(GroupState.PreparingRebalance, Group.State);
        Assert.False(cJoin.IsCompleted);
    }

    [Fact]
    public async Task Unloading_answers_waiting_joins_and_syncs_with_NotCoordinator()
    {
        var a1 = await _h.StableAloneAsync(0);
        var (bId, bJoin) = await _h.JoinNewAsync();
        var stored = _h.Stored.Count;

        Group.Unload();

        var b = await Completed(bJoin);
        Assert.Equal(ErrorCode.NotCoordinator, b.Error);
        Assert.Equal(ErrorCode.RebalanceInProgress, Group.Heartbeat(new HeartbeatRequest(a1.MemberId, 1)).Error);
        // Calls that still reach the unloaded group do not wait either.
        Assert.Equal(ErrorCode.NotCoordinator, (await Completed(Group.Join(Join(bId)))).Error);
        Assert.Equal(ErrorCode.NotCoordinator, (await Completed(Group.Sync(new SyncGroupRequest(a1.MemberId, 1)))).Error);
        // With nobody waiting, the rebalance deadline passing would drop every member: an unloaded group keeps them,
        // and stores nothing, so the next coordinator loads them as they were.
        _h.Advance(RebalanceMs + SessionMs);
        Assert.Equal(2, Group.MemberCount);
        Assert.Equal(GroupState.PreparingRebalance, Group.State);
        Assert.Equal(stored, _h.Stored.Count);
    }

    [Fact]
    public async Task A_stored_group_loads_empty_from_now_and_keeps_its_generation()
    {
        _h.Advance(5000);
        Group.Load(generationId: 7, emptySinceMs: -1, lastProtocolName: "range", stored: true);
        Assert.Equal(_h.NowMs, Group.EmptySinceMs);

        var (_, join) = await _h.JoinNewAsync();
        Assert.Equal(8, (await Completed(join)).GenerationId);
        Assert.Equal(-1, Group.EmptySinceMs);
    }

    /// <summary>A new coordinator's group, loaded from what this one stored last.</summary>
    private ClassicGroupHarness TakeOver()
    {
        var next = new ClassicGroupHarness();
        next.Time.SetUtcNow(_h.Time.GetUtcNow());
        next.Group.Load(Group.GenerationId, Group.EmptySinceMs, Group.LastProtocolName, stored: true, _h.Stored[^1]);
        return next;
    }

    [Fact]
    public async Task A_coordinator_that_loads_a_stable_group_keeps_its_members_generation_and_assignment_and_restarts_their_sessions()
    {
        var (a, b) = await _h.StableTwoAsync();
        _h.Advance(SessionMs - 1000);

        var next = TakeOver();

        Assert.Equal(GroupState.Stable, next.Group.State);
        Assert.Equal(2, next.Group.GenerationId);
        Assert.Equal(ErrorCode.None, next.Group.Heartbeat(new HeartbeatRequest(a, 2)).Error);
        Assert.Null(next.Group.ValidateOffsetCommit(a, 2, null, transactional: false));
        var described = next.Group.Describe();
        Assert.Equal(a, described.LeaderId);
        Assert.Equal(new[] { a, b }, described.Members.Select(m => m.MemberId));
        // A follower rejoining with nothing new gets the current generation back: no rebalance.
        Assert.Equal(2, (await Completed(next.Group.Join(Join(b)))).GenerationId);
        Assert.Equal(GroupState.Stable, next.Group.State);

        // B's session runs from the load: it outlives the old deadline and ends a session timeout after the load.
        next.Advance(SessionMs - 1);
        Assert.Equal(2, next.Group.MemberCount);
        Assert.Equal(ErrorCode.None, next.Group.Heartbeat(new HeartbeatRequest(a, 2)).Error);
        next.Advance(1);
        Assert.Equal(1, next.Group.MemberCount);
        Assert.Equal(GroupState.PreparingRebalance, next.Group.State);
    }

    [Fact]
    public async Task A_coordinator_that_loads_a_rebalancing_group_finishes_the_rebalance_with_the_same_member_ids()
    {
        var (_, a2, b) = await _h.SecondMemberJoinedAsync();
        var a = a2.MemberId;

        var next = TakeOver();

        Assert.Equal(GroupState.PreparingRebalance, next.Group.State);
        Assert.Equal(2, next.Group.GenerationId);
        Assert.Equal(ErrorCode.RebalanceInProgress, next.Group.Heartbeat(new HeartbeatRequest(b, 2)).Error);
        var aJoin = next.Group.Join(Join(a));
        Assert.False(aJoin.IsCompleted);
        var bJoined = await Completed(next.Group.Join(Join(b)));
        var aJoined = await Completed(aJoin);
        Assert.Equal(3, bJoined.GenerationId);
        Assert.True(aJoined.IsLeader);
        Assert.Equal(new[] { a, b }, aJoined.Members.Select(m => m.MemberId));
        Assert.Equal(ErrorCode.None, (await Completed(next.Group.Sync(Sync(aJoined, (a, [0]), (b, [1]))))).Error);
        Assert.Equal(GroupState.Stable, next.Group.State);
    }

    [Fact]
    public async Task An_assignment_whose_write_fails_is_not_handed_out_and_the_members_rejoin()
    {
        var (_, a2, b) = await _h.SecondMemberJoinedAsync();
        var bSync = Group.Sync(new SyncGroupRequest(b, 2));
        _h.StoreFailure = new IOException("disk full");

        var aSync = await Completed(Group.Sync(Sync(a2, (a2.MemberId, [0]), (b, [1]))));

        Assert.Equal(ErrorCode.RebalanceInProgress, aSync.Error);
        Assert.Equal(ErrorCode.RebalanceInProgress, (await Completed(bSync)).Error);
        Assert.Equal(GroupState.PreparingRebalance, Group.State);
        Assert.Empty(Group.Describe().Members.Single(m => m.MemberId == b).Assignment.Partitions);
    }
}
