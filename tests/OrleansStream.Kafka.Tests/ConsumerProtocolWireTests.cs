using OrleansStream.Protocol;
using OrleansStream.Records;
using M = OrleansStream.Protocol.Messages;

namespace OrleansStream.Kafka.Tests;

/// <summary>
/// The consumer group protocol's requests no client here sends on its own: a v0 join that the coordinator names,
/// Kafka's refusals of a request without a member id or group id, and a group of one protocol refusing the other's
/// members.
/// </summary>
[Collection(KafkaClusterCollection.Name)]
public sealed class ConsumerProtocolWireTests(KafkaCluster cluster)
{
    private delegate T Reader<out T>(ref KafkaReader r, short version);

    private static async Task<T> AskAsync<T>(KafkaWire wire, ApiKey key, short version, Action<KafkaWriter, short> write, Reader<T> read, bool flexible = true)
    {
        await wire.SendAsync(key, version, w => write(w, version));
        var frame = await wire.ReadFrameAsync();
        Assert.NotNull(frame);
        var r = new KafkaReader(frame);
        r.ReadInt32();   // correlation id
        if (flexible) r.SkipTaggedFields();
        return read(ref r, version);
    }

    private static Task<M.ConsumerGroupHeartbeatResponse> HeartbeatAsync(KafkaWire wire, short version, M.ConsumerGroupHeartbeatRequest request) =>
        AskAsync(wire, ApiKey.ConsumerGroupHeartbeat, version, request.Write, M.ConsumerGroupHeartbeatResponse.Read);

    private static M.ConsumerGroupHeartbeatRequest Join(string group, string memberId, string topic) =>
        new(group, memberId, 0, null, null, 30_000, [topic], null, null, []);

    [Fact]
    public async Task A_v0_join_is_given_a_member_id_and_v1_or_an_empty_group_id_is_InvalidRequest()
    {
        var topic = await cluster.CreateTopicAsync("kip848-wire", partitions: 2);
        await using var wire = await KafkaWire.ConnectAsync(cluster.Silos.KafkaPort(0));

        var v0 = await HeartbeatAsync(wire, 0, Join("g-" + Guid.NewGuid().ToString("N"), "", topic));
        Assert.Equal(ErrorCode.None, v0.Error);
        Assert.False(string.IsNullOrEmpty(v0.MemberId));
        Assert.Equal(1, v0.MemberEpoch);
        Assert.Equal(2, Assert.Single(v0.Assignment!).Partitions.Count);

        var v1 = await HeartbeatAsync(wire, 1, Join("g-" + Guid.NewGuid().ToString("N"), "", topic));
        Assert.Equal((ErrorCode.InvalidRequest, "MemberId can't be empty."), (v1.Error, v1.ErrorMessage));
        var noGroup = await HeartbeatAsync(wire, 1, Join("", "m", topic));
        Assert.Equal((ErrorCode.InvalidRequest, "GroupId can't be empty."), (noGroup.Error, noGroup.ErrorMessage));
        var badRegex = await HeartbeatAsync(wire, 1, Join("g-" + Guid.NewGuid().ToString("N"), "m", topic) with { SubscribedTopicRegex = "(" });
        Assert.Equal(ErrorCode.InvalidRegularExpression, badRegex.Error);
    }

    [Fact]
    public async Task A_group_refuses_members_of_the_other_protocol_that_it_cannot_take_in()
    {
        var topic = await cluster.CreateTopicAsync("kip848-kind", partitions: 1);
        await using var wire = await KafkaWire.ConnectAsync(cluster.Silos.KafkaPort(0));

        // A consumer group takes classic consumers in (Kafka 4), but not another protocol type's member: InconsistentGroupProtocol.
        var consumerGroup = "g-" + Guid.NewGuid().ToString("N");
        var member = Guid.NewGuid().ToString("N");
        Assert.Equal(ErrorCode.None, (await HeartbeatAsync(wire, 1, Join(consumerGroup, member, topic))).Error);
        var join = await AskAsync(wire, ApiKey.JoinGroup, 5,
            new M.JoinGroupRequest(consumerGroup, 10_000, 30_000, "", null, "connect", [new M.JoinGroupRequestProtocol("default", [0, 0])]).Write,
            static (ref KafkaReader r, short _) =>
            {
                r.ReadInt32();   // throttle time
                return (ErrorCode)r.ReadInt16();
            }, flexible: false);
        Assert.Equal(ErrorCode.InconsistentGroupProtocol, join);
        // Once its member leaves, the group takes either.
        var left = await HeartbeatAsync(wire, 1, new M.ConsumerGroupHeartbeatRequest(consumerGroup, member, -1, null, null, -1, null, null, null, null));
        Assert.Equal((ErrorCode.None, -1), (left.Error, left.MemberEpoch));

        // A classic group of another protocol type with a member is not upgraded (Kafka's validateOnlineUpgrade):
        // ConsumerGroupHeartbeat and ConsumerGroupDescribe are GroupIdNotFound.
        var classicGroup = "g-" + Guid.NewGuid().ToString("N");
        var joined = await cluster.Silos.Client.GetGrain<IConsumerGroupGrain>(classicGroup).JoinGroup(new JoinGroupRequest("", "wire-test", 10_000, 30_000,
            "connect", [new JoinGroupProtocol("default", new ConsumerProtocolSubscription([], [], Encoded: [0, 0]))], RequireKnownMemberId: false));
        Assert.Equal(ErrorCode.None, joined.Error);
        var refused = await HeartbeatAsync(wire, 1, Join(classicGroup, Guid.NewGuid().ToString("N"), topic));
        Assert.Equal((ErrorCode.GroupIdNotFound, $"Group {classicGroup} is not a consumer group."), (refused.Error, refused.ErrorMessage));
        var described = await AskAsync(wire, ApiKey.ConsumerGroupDescribe, 0, new M.ConsumerGroupDescribeRequest([classicGroup, consumerGroup], false).Write,
            M.ConsumerGroupDescribeResponse.Read);
        Assert.Equal(ErrorCode.GroupIdNotFound, described.Groups[0].Error);
        Assert.Equal((ErrorCode.None, "Empty"), (described.Groups[1].Error, described.Groups[1].GroupState));
    }
}
