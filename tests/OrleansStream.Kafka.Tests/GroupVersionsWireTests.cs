using OrleansStream.Protocol;
using OrleansStream.Records;
using M = OrleansStream.Protocol.Messages;

namespace OrleansStream.Kafka.Tests;

/// <summary>
/// The classic group APIs and FindCoordinator at the versions a Kafka 4 broker serves, as bare requests: FindCoordinator
/// v4's batch answered key by key, JoinGroup v7's protocol type, SyncGroup v5's protocol type and name checked against
/// the group's (KIP-559), a returning static leader told to skip the assignment from JoinGroup v9 (KIP-814), and the
/// flexible Heartbeat and LeaveGroup with a member's reason.
/// </summary>
[Collection(KafkaClusterCollection.Name)]
public sealed class GroupVersionsWireTests(KafkaCluster cluster)
{
    private delegate T Reader<out T>(ref KafkaReader r, short version);

    private static async Task<T> AskAsync<T>(KafkaWire wire, ApiKey key, short version, Action<KafkaWriter, short> write, Reader<T> read)
    {
        await wire.SendAsync(key, version, w => write(w, version));
        var frame = await wire.ReadFrameAsync();
        Assert.NotNull(frame);
        var r = new KafkaReader(frame);
        r.ReadInt32();   // correlation id
        if (ApiVersionsTable.IsFlexible(key, version)) r.SkipTaggedFields();
        var answer = read(ref r, version);
        Assert.Equal(0, r.Remaining);
        return answer;
    }

    private static Task<M.FindCoordinatorResponse> FindAsync(KafkaWire wire, short version, M.FindCoordinatorRequest request) =>
        AskAsync(wire, ApiKey.FindCoordinator, version, request.Write, static (ref KafkaReader r, short v) => M.FindCoordinatorResponse.Read(ref r, v));

    [Fact]
    public async Task FindCoordinator_v4_answers_each_key_of_a_batch_on_its_own_and_as_v2_answers_it_alone()
    {
        string[] groups = ["batch-" + Guid.NewGuid().ToString("N"), "batch-" + Guid.NewGuid().ToString("N")];
        await using var wire = await KafkaWire.ConnectAsync(cluster.Silos.KafkaPort(0));

        var batch = await FindAsync(wire, 4, new M.FindCoordinatorRequest("", M.FindCoordinatorRequest.Group, [groups[0], "", groups[1]]));

        Assert.Equal([groups[0], "", groups[1]], batch.Coordinators.Select(c => c.Key));
        var empty = batch.Coordinators[1];
        Assert.Equal((ErrorCode.InvalidGroupId, -1, "", -1), (empty.Error, empty.NodeId, empty.Host, empty.Port));
        foreach (var i in (int[])[0, 2])
        {
            var alone = Assert.Single((await FindAsync(wire, 2, new M.FindCoordinatorRequest(batch.Coordinators[i].Key, M.FindCoordinatorRequest.Group))).Coordinators);
            var found = batch.Coordinators[i];
            Assert.Equal(ErrorCode.None, found.Error);
            Assert.Equal((alone.Error, alone.NodeId, alone.Host, alone.Port), (found.Error, found.NodeId, found.Host, found.Port));
            Assert.Contains(found.Port, (int[])[cluster.Silos.KafkaPort(0), cluster.Silos.KafkaPort(1)]);
        }

        // A transactional id batch at v5 (no new field), and v3's single flexible key.
        var transactional = await FindAsync(wire, 5, new M.FindCoordinatorRequest("", M.FindCoordinatorRequest.Transaction, ["tx-" + Guid.NewGuid().ToString("N"), ""]));
        Assert.Equal([ErrorCode.None, ErrorCode.InvalidRequest], transactional.Coordinators.Select(c => c.Error));
        var v3 = Assert.Single((await FindAsync(wire, 3, new M.FindCoordinatorRequest(groups[0], M.FindCoordinatorRequest.Group))).Coordinators);
        Assert.Equal((ErrorCode.None, batch.Coordinators[0].NodeId), (v3.Error, v3.NodeId));

        // No share groups (KIP-932): v6's share keys are InvalidRequest each, as Kafka answers without a share coordinator.
        var share = await FindAsync(wire, 6, new M.FindCoordinatorRequest("", M.FindCoordinatorRequest.Share, [$"{groups[0]}:{Guid.NewGuid()}:0", "x"]));
        Assert.Equal([(ErrorCode.InvalidRequest, -1), (ErrorCode.InvalidRequest, -1)], share.Coordinators.Select(c => (c.Error, c.NodeId)));
    }

    [Fact]
    public async Task JoinGroup_v7_answers_the_protocol_type_and_SyncGroup_v5_refuses_another_protocol_type_or_name()
    {
        var topic = await cluster.CreateTopicAsync("group-v5", partitions: 1);
        var group = "v5-" + Guid.NewGuid().ToString("N");
        await using var wire = await KafkaWire.ConnectAsync(cluster.Silos.KafkaPort(0));
        var join = new M.JoinGroupRequest(group, 10_000, 30_000, "", null, "consumer",
            [new M.JoinGroupRequestProtocol("range", Subscription(topic)), new M.JoinGroupRequestProtocol("roundrobin", Subscription(topic))], "wire test");

        var first = await AskAsync(wire, ApiKey.JoinGroup, 8, join.Write, M.JoinGroupResponse.Read);
        Assert.Equal((ErrorCode.MemberIdRequired, (string?)null, (string?)null), (first.Error, first.ProtocolType, first.ProtocolName));
        var joined = await AskAsync(wire, ApiKey.JoinGroup, 7, (join with { MemberId = first.MemberId }).Write, M.JoinGroupResponse.Read);
        Assert.Equal((ErrorCode.None, "consumer", "range", first.MemberId, first.MemberId),
            (joined.Error, joined.ProtocolType, joined.ProtocolName, joined.Leader, joined.MemberId));

        var assignment = Assignment(topic);
        var sync = new M.SyncGroupRequest(group, joined.GenerationId, joined.MemberId, null, [new M.SyncGroupRequestAssignment(joined.MemberId, assignment)],
            "consumer", "roundrobin");
        var otherName = await AskAsync(wire, ApiKey.SyncGroup, 5, sync.Write, M.SyncGroupResponse.Read);
        var otherType = await AskAsync(wire, ApiKey.SyncGroup, 5, (sync with { ProtocolType = "connect", ProtocolName = "range" }).Write, M.SyncGroupResponse.Read);
        var synced = await AskAsync(wire, ApiKey.SyncGroup, 5, (sync with { ProtocolName = "range" }).Write, M.SyncGroupResponse.Read);

        Assert.Equal((ErrorCode.InconsistentGroupProtocol, (string?)null, (string?)null), (otherName.Error, otherName.ProtocolType, otherName.ProtocolName));
        Assert.Equal(ErrorCode.InconsistentGroupProtocol, otherType.Error);
        Assert.Equal((ErrorCode.None, "consumer", "range"), (synced.Error, synced.ProtocolType, synced.ProtocolName));
        Assert.Equal(assignment, synced.Assignment);
        // A member that names neither (both are nullable in v5) is not refused, and is answered the group's.
        var unnamed = await AskAsync(wire, ApiKey.SyncGroup, 5, (sync with { ProtocolType = null, ProtocolName = null }).Write, M.SyncGroupResponse.Read);
        Assert.Equal((ErrorCode.None, "consumer", "range"), (unnamed.Error, unnamed.ProtocolType, unnamed.ProtocolName));

        var heartbeat = await AskAsync(wire, ApiKey.Heartbeat, 4, new M.HeartbeatRequest(group, joined.GenerationId, joined.MemberId, null).Write, M.HeartbeatResponse.Read);
        Assert.Equal(ErrorCode.None, heartbeat.Error);
        var leave = await AskAsync(wire, ApiKey.LeaveGroup, 5,
            new M.LeaveGroupRequest(group, [new M.LeaveGroupMember(joined.MemberId, null, "the test is done"), new M.LeaveGroupMember("nobody", null, null)]).Write,
            M.LeaveGroupResponse.Read);
        Assert.Equal(ErrorCode.None, leave.Error);
        Assert.Equal([ErrorCode.None, ErrorCode.UnknownMemberId], leave.Members.Select(m => m.Error));
    }

    [Fact]
    public async Task A_returning_static_leader_is_told_to_skip_the_assignment_from_JoinGroup_v9_and_is_a_follower_before()
    {
        var topic = await cluster.CreateTopicAsync("group-v9", partitions: 2);
        var group = "v9-" + Guid.NewGuid().ToString("N");
        await using var wire = await KafkaWire.ConnectAsync(cluster.Silos.KafkaPort(0));
        var join = new M.JoinGroupRequest(group, 10_000, 30_000, "", "instance-1", "consumer", [new M.JoinGroupRequestProtocol("range", Subscription(topic))]);
        var first = await AskAsync(wire, ApiKey.JoinGroup, 9, join.Write, M.JoinGroupResponse.Read);
        Assert.Equal((ErrorCode.None, first.MemberId, false), (first.Error, first.Leader, first.SkipAssignment));
        var assignment = Assignment(topic);
        var sync = await AskAsync(wire, ApiKey.SyncGroup, 5, new M.SyncGroupRequest(group, first.GenerationId, first.MemberId, "instance-1",
            [new M.SyncGroupRequestAssignment(first.MemberId, assignment)], "consumer", "range").Write, M.SyncGroupResponse.Read);
        Assert.Equal(ErrorCode.None, sync.Error);

        // The instance restarts: v9 names it the leader under its new id, with the members, and tells it to skip.
        var back = await AskAsync(wire, ApiKey.JoinGroup, 9, join.Write, M.JoinGroupResponse.Read);
        Assert.Equal((ErrorCode.None, first.GenerationId, back.MemberId, true), (back.Error, back.GenerationId, back.Leader, back.SkipAssignment));
        Assert.NotEqual(first.MemberId, back.MemberId);
        var member = Assert.Single(back.Members);
        Assert.Equal((back.MemberId, "instance-1"), (member.MemberId, member.GroupInstanceId));
        // Its SyncGroup without assignments gets the one it held: the generation stands.
        var kept = await AskAsync(wire, ApiKey.SyncGroup, 5, new M.SyncGroupRequest(group, back.GenerationId, back.MemberId, "instance-1", [], "consumer", "range").Write,
            M.SyncGroupResponse.Read);
        Assert.Equal(ErrorCode.None, kept.Error);
        Assert.Equal(assignment, kept.Assignment);

        // Before v9 the answer names the leader as it was, so the restarted leader syncs as a follower.
        var old = await AskAsync(wire, ApiKey.JoinGroup, 8, join.Write, M.JoinGroupResponse.Read);
        Assert.Equal((ErrorCode.None, first.GenerationId, back.MemberId), (old.Error, old.GenerationId, old.Leader));
        Assert.NotEqual(old.Leader, old.MemberId);
        Assert.Empty(old.Members);
    }

    /// <summary>ConsumerProtocolSubscription v0 of one topic, no user data.</summary>
    private static byte[] Subscription(string topic) => Bytes(w =>
    {
        w.WriteInt16(0);
        w.WriteArrayLength(1, false);
        w.WriteString(topic, false);
        w.WriteNullBytes(false);
    });

    /// <summary>ConsumerProtocolAssignment v0: partition 0 of the topic, no user data.</summary>
    private static byte[] Assignment(string topic) => Bytes(w =>
    {
        w.WriteInt16(0);
        w.WriteArrayLength(1, false);
        w.WriteString(topic, false);
        w.WriteInt32Array([0], false);
        w.WriteNullBytes(false);
    });

    private static byte[] Bytes(Action<KafkaWriter> write)
    {
        using var w = new KafkaWriter();
        write(w);
        return w.WrittenSpan.ToArray();
    }
}
