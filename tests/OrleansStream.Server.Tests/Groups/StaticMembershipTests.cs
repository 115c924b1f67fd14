using OrleansStream.Server.Groups;
using static OrleansStream.Server.Tests.Groups.ClassicGroupHarness;

namespace OrleansStream.Server.Tests.Groups;

/// <summary>KIP-345's static members in the classic group, on a fake clock.</summary>
public sealed class StaticMembershipTests
{
    private readonly ClassicGroupHarness _h = new();

    private ClassicGroup Group => _h.Group;

    private static JoinGroupRequest Static(string instance, string memberId = "") => Join(memberId) with { GroupInstanceId = instance };

    /// <summary>Static members a and b joined: generation 2, completing, a leads.</summary>
    private async Task<(JoinGroupResponse A, JoinGroupResponse B)> StaticPairJoinedAsync()
    {
        var a1 = await Completed(Group.Join(Static("a")));
        Assert.Equal(ErrorCode.None, a1.Error);
        var bJoin = Group.Join(Static("b"));
        var a = await Completed(Group.Join(Static("a", a1.MemberId)));
        var b = await Completed(bJoin);
        Assert.Equal(2, b.GenerationId);
        return (a, b);
    }

    /// <summary>Static members a (leader, partitions 0-1) and b (2-3), stable in generation 2.</summary>
    private async Task<(JoinGroupResponse A, JoinGroupResponse B)> StableStaticPairAsync()
    {
        var (a, b) = await StaticPairJoinedAsync();
        Assert.Equal(ErrorCode.None, a.Error);
        Assert.True(a.IsLeader);
        Assert.Equal(["a", "b"], a.Members.Select(m => m.GroupInstanceId));
        var bSync = Group.Sync(new SyncGroupRequest(b.MemberId, b.GenerationId, GroupInstanceId: "b"));
        Assert.Equal(ErrorCode.None, (await Completed(Group.Sync(Sync(a, (a.MemberId, [0, 1]), (b.MemberId, [2, 3])) with { GroupInstanceId = "a" }))).Error);
        Assert.Equal(ErrorCode.None, (await Completed(bSync)).Error);
        Assert.Equal(GroupState.Stable, Group.State);
        return (a, b);
    }

    [Fact]
    public async Task A_transactional_offset_commit_under_a_static_members_old_member_id_is_fenced()
    {
        var (a, b) = await StableStaticPairAsync();
        var rejoined = await Completed(Group.Join(Static("b")));
        await Completed(Group.Sync(new SyncGroupRequest(rejoined.MemberId, rejoined.GenerationId, GroupInstanceId: "b")));
        var offsets = new OffsetMetadataManager(Group, new OrleansStream.Server.Groups.Consumer.ConsumerGroup(Group.GroupId, _h.Options, _h.Time), _h.Options, _h.Time, static () => Task.CompletedTask);
        TxnOffsetCommitRequest Commit(string memberId) => new("copier", 7, 0, [new OffsetToCommit(P(2), 5)], b.GenerationId, memberId, "b");

        // KIP-447: the producer's group metadata carries the instance id; the old member id of that instance is a zombie.
        Assert.Equal(ErrorCode.FencedInstanceId, offsets.ValidateTxnCommitter(Commit(b.MemberId), groupExists: true)!.Error);
        Assert.Null(offsets.ValidateTxnCommitter(Commit(rejoined.MemberId), groupExists: true));
        Assert.Null(offsets.ValidateTxnCommitter(new("copier", 7, 0, [new OffsetToCommit(P(0), 5)], a.GenerationId, a.MemberId, "a"), groupExists: true));
    }

    [Fact]
    public async Task A_restarted_static_member_gets_its_assignment_back_under_a_new_id_without_a_rebalance_and_its_old_id_is_fenced()
    {
        var (a, b) = await StableStaticPairAsync();

        var rejoined = await Completed(Group.Join(Static("b")));
        var synced = await Completed(Group.Sync(new SyncGroupRequest(rejoined.MemberId, rejoined.GenerationId, GroupInstanceId: "b")));

        Assert.Equal(ErrorCode.None, rejoined.Error);
        Assert.NotEqual(b.MemberId, rejoined.MemberId);
        Assert.Equal(b.GenerationId, rejoined.GenerationId);
        Assert.Equal(a.MemberId, rejoined.LeaderId);
        Assert.Equal(GroupState.Stable, Group.State);
        // The new member id was stored before the join answered it, in the same stable generation.
        var stored = _h.Stored[^1]!;
        Assert.Equal((b.GenerationId, false), (stored.GenerationId, stored.Rebalancing));
        Assert.Equal(rejoined.MemberId, stored.Members.Single(m => m.GroupInstanceId == "b").MemberId);
        Assert.Equal([P(2), P(3)], synced.Assignment!.Partitions);
        Assert.Equal(ErrorCode.None, Group.Heartbeat(new HeartbeatRequest(a.MemberId, 2, "a")).Error);
        Assert.Equal(ErrorCode.None, Group.Heartbeat(new HeartbeatRequest(rejoined.MemberId, 2, "b")).Error);
        Assert.Equal(ErrorCode.FencedInstanceId, Group.Heartbeat(new HeartbeatRequest(b.MemberId, 2, "b")).Error);
        Assert.Equal(ErrorCode.FencedInstanceId, (await Completed(Group.Sync(new SyncGroupRequest(b.MemberId, 2, GroupInstanceId: "b")))).Error);
        Assert.Equal(ErrorCode.FencedInstanceId, Group.ValidateOffsetCommit(b.MemberId, 2, "b", transactional: false)!.Error);
        Assert.Null(Group.ValidateOffsetCommit(rejoined.MemberId, 2, "b", transactional: false));
        Assert.Equal(ErrorCode.FencedInstanceId, (await Completed(Group.Join(Static("b", b.MemberId)))).Error);
    }

    [Fact]
    public async Task A_restarted_static_leader_is_answered_as_a_follower_and_keeps_its_assignment()
    {
        var (a, _) = await StableStaticPairAsync();

        var rejoined = await Completed(Group.Join(Static("a")));
        var synced = await Completed(Group.Sync(new SyncGroupRequest(rejoined.MemberId, rejoined.GenerationId, GroupInstanceId: "a")));

        // The answer names the leader as it was, so the restarted leader does not assign; the group's leader is its new id.
        Assert.Equal(a.MemberId, rejoined.LeaderId);
        Assert.False(rejoined.IsLeader);
        Assert.Empty(rejoined.Members);
        Assert.Equal([P(0), P(1)], synced.Assignment!.Partitions);
        Assert.Equal(rejoined.MemberId, Group.Describe().LeaderId);
        Assert.Equal(GroupState.Stable, Group.State);
    }

    [Fact]
    public async Task A_static_member_joins_without_MemberIdRequired_and_a_wrong_instance_for_a_known_member_is_refused()
    {
        var joined = await Completed(Group.Join(Static("solo")));

        Assert.Equal(ErrorCode.None, joined.Error);
        Assert.StartsWith("solo-", joined.MemberId);
        Assert.Equal(ErrorCode.UnknownMemberId, (await Completed(Group.Join(Static("other", joined.MemberId)))).Error);
        Assert.Equal(ErrorCode.UnknownMemberId, Group.Heartbeat(new HeartbeatRequest(joined.MemberId, joined.GenerationId, "other")).Error);
    }

    [Fact]
    public async Task A_static_member_rejoining_while_the_leader_assigns_fences_its_old_sync_and_the_group_rebalances()
    {
        var (a, b) = await StaticPairJoinedAsync();
        var bSync = Group.Sync(new SyncGroupRequest(b.MemberId, b.GenerationId, GroupInstanceId: "b"));
        Assert.False(bSync.IsCompleted);

        var rejoin = Group.Join(Static("b"));

        Assert.Equal(ErrorCode.FencedInstanceId, (await Completed(bSync)).Error);
        Assert.Equal(GroupState.PreparingRebalance, Group.State);
        var aAgain = await Completed(Group.Join(Static("a", a.MemberId)));
        var bAgain = await Completed(rejoin);
        Assert.Equal(3, aAgain.GenerationId);
        Assert.Equal(3, bAgain.GenerationId);
        Assert.Equal([a.MemberId, bAgain.MemberId], aAgain.Members.Select(m => m.MemberId));
    }

    [Fact]
    public async Task LeaveGroup_by_instance_id_alone_removes_that_static_member_and_a_stale_member_id_is_fenced()
    {
        var (a, b) = await StableStaticPairAsync();

        Assert.Equal(ErrorCode.FencedInstanceId, Group.Leave(new LeaveGroupRequest("stale", GroupInstanceId: "b")).Error);
        Assert.Equal(ErrorCode.UnknownMemberId, Group.Leave(new LeaveGroupRequest("", GroupInstanceId: "nobody")).Error);
        Assert.Equal(2, Group.MemberCount);
        Assert.Equal(ErrorCode.None, Group.Leave(new LeaveGroupRequest("", GroupInstanceId: "b")).Error);

        Assert.Equal(1, Group.MemberCount);
        Assert.Equal(GroupState.PreparingRebalance, Group.State);
        Assert.Equal(ErrorCode.UnknownMemberId, Group.Heartbeat(new HeartbeatRequest(b.MemberId, 2, "b")).Error);
        Assert.Equal(3, (await Completed(Group.Join(Static("a", a.MemberId)))).GenerationId);
    }
}
