using Orleans.Core.Internal;
using OrleansStream.Protocol;
using OrleansStream.Protocol.Messages;

namespace OrleansStream.Kafka.Tests;

/// <summary>
/// A consumer group's protocol metadata and assignments are the clients' bytes: a Kafka coordinator hands each member's
/// JoinGroup metadata to the leader, the leader's SyncGroup assignment to its member and both to DescribeGroups
/// unchanged. Clients that read strictly (sarama 1.22 fails on a byte past the version it wrote) depend on it.
/// </summary>
[Collection(KafkaClusterCollection.Name)]
public sealed class GroupProtocolBytesTests(KafkaCluster cluster)
{
    [Fact]
    public async Task JoinGroup_SyncGroup_and_DescribeGroups_answer_the_subscription_and_assignment_as_the_clients_wrote_them()
    {
        var topic = await cluster.CreateTopicAsync("group-bytes", partitions: 2);
        var group = "group-bytes-" + Guid.NewGuid().ToString("N");
        // ConsumerProtocolSubscription v0 (topics, user data "sub"): re-encoded it would gain v1's owned partitions.
        var subscription = Subscription(topic);
        // ConsumerProtocolAssignment v1 (partitions 0 and 1, user data "asg"): re-encoded it would be written as v0.
        var assignment = Bytes(w =>
        {
            w.WriteInt16(1);
            w.WriteArrayLength(1, false);
            w.WriteString(topic, false);
            w.WriteInt32Array([0, 1], false);
            w.WriteBytes("asg"u8, false);
        });
        var port = await CoordinatorPortAsync(group);
        await using var wire = await KafkaWire.ConnectAsync(port);

        var memberId = await FormAloneAsync(wire, group, "consumer", "range", subscription, assignment);

        await AssertDescribedAsync(wire, group, memberId, subscription, assignment);

        // A new activation of the group's grain loads the members from storage with the bytes (Kafka's GroupMetadataValue).
        await ReloadAsync(group);
        await AssertDescribedAsync(wire, group, memberId, subscription, assignment);
    }

    /// <summary>
    /// Kafka Connect's workers join with protocol type "connect" and metadata of their own: the group takes any protocol
    /// type, hands its bytes on unchanged, lists and describes it under that type, refuses a consumer while it has
    /// members, and answers OffsetDelete with NonEmptyGroup, as Kafka does for a group it cannot see subscriptions of.
    /// </summary>
    [Fact]
    public async Task A_group_of_protocol_type_connect_forms_with_opaque_bytes_and_is_listed_and_described_under_its_type()
    {
        var group = "connect-" + Guid.NewGuid().ToString("N");
        byte[] metadata = [0xde, 0xad, 0xbe, 0xef, 0x00, 0x01];
        byte[] assignment = [0x00, 0x01, 0xca, 0xfe];
        await using var wire = await KafkaWire.ConnectAsync(await CoordinatorPortAsync(group));

        var memberId = await FormAloneAsync(wire, group, "connect", "sessioned", metadata, assignment);

        await AssertDescribedAsync(wire, group, memberId, metadata, assignment, "connect", "sessioned");
        // The type is stored with the group: a new activation loads it with the members.
        await ReloadAsync(group);
        await AssertDescribedAsync(wire, group, memberId, metadata, assignment, "connect", "sessioned");
        await wire.SendAsync(ApiKey.ListGroups, 0, _ => { });
        var list = Body(await wire.ReadFrameAsync());
        Assert.Equal(0, list.ReadInt16());
        var listed = new Dictionary<string, string>();
        for (var i = list.ReadArrayLength(false); i > 0; i--) listed[list.ReadString(false)] = list.ReadString(false);
        Assert.Equal("connect", listed[group]);

        // A consumer may not join it (InconsistentGroupProtocol), nor its offsets be deleted while it has members.
        await wire.SendAsync(ApiKey.JoinGroup, 1, w => new Protocol.Messages.JoinGroupRequest(group, 10_000, 10_000, "", null, "consumer",
            [new JoinGroupRequestProtocol("range", Subscription("t"))]).Write(w, 1));
        Assert.Equal((short)ErrorCode.InconsistentGroupProtocol, Body(await wire.ReadFrameAsync()).ReadInt16());
        await wire.SendAsync(ApiKey.OffsetDelete, 0, w =>
        {
            w.WriteString(group, false);
            w.WriteArrayLength(1, false);
            w.WriteString("t", false);
            w.WriteInt32Array([0], false);
        });
        Assert.Equal((short)ErrorCode.NonEmptyGroup, Body(await wire.ReadFrameAsync()).ReadInt16());
    }

    /// <summary>
    /// One member joins (JoinGroup v1) and leads alone, getting its own metadata back, then syncs its assignment
    /// (SyncGroup v0) and gets that back; returns its member id.
    /// </summary>
    private static async Task<string> FormAloneAsync(KafkaWire wire, string group, string protocolType, string protocol, byte[] metadata, byte[] assignment)
    {
        await wire.SendAsync(ApiKey.JoinGroup, 1, w => new Protocol.Messages.JoinGroupRequest(group, 10_000, 10_000, "", null, protocolType,
            [new JoinGroupRequestProtocol(protocol, metadata)]).Write(w, 1));
        var join = Body(await wire.ReadFrameAsync());
        Assert.Equal(0, join.ReadInt16());
        var generation = join.ReadInt32();
        Assert.Equal(protocol, join.ReadString(false));
        var leader = join.ReadString(false);
        var memberId = join.ReadString(false);
        Assert.Equal(leader, memberId);
        Assert.Equal(1, join.ReadArrayLength(false));
        Assert.Equal(memberId, join.ReadString(false));
        Assert.Equal(metadata, join.ReadBytes(false).ToArray());

        await wire.SendAsync(ApiKey.SyncGroup, 0, w => new Protocol.Messages.SyncGroupRequest(group, generation, memberId, null,
            [new SyncGroupRequestAssignment(memberId, assignment)]).Write(w, 0));
        var sync = Body(await wire.ReadFrameAsync());
        Assert.Equal(0, sync.ReadInt16());
        Assert.Equal(assignment, sync.ReadBytes(false).ToArray());
        return memberId;
    }

    private ValueTask ReloadAsync(string group) =>
        cluster.Silos.Client.GetGrain<IConsumerGroupGrain>(group).Cast<IGrainManagementExtension>().DeactivateOnIdle(TestContext.Current.CancellationToken);

    private static async Task AssertDescribedAsync(KafkaWire wire, string group, string memberId, byte[] subscription, byte[] assignment,
        string protocolType = "consumer", string protocol = "range")
    {
        await wire.SendAsync(ApiKey.DescribeGroups, 0, w => new GroupsRequest([group]).WriteDescribeGroups(w, 0));
        var describe = Body(await wire.ReadFrameAsync());
        Assert.Equal(1, describe.ReadArrayLength(false));
        Assert.Equal(0, describe.ReadInt16());
        Assert.Equal((group, "Stable", protocolType, protocol),
            (describe.ReadString(false), describe.ReadString(false), describe.ReadString(false), describe.ReadString(false)));
        Assert.Equal(1, describe.ReadArrayLength(false));
        Assert.Equal(memberId, describe.ReadString(false));
        describe.ReadString(false);
        describe.ReadString(false);
        Assert.Equal(subscription, describe.ReadBytes(false).ToArray());
        Assert.Equal(assignment, describe.ReadBytes(false).ToArray());
    }

    /// <summary>The group coordinator's port, from FindCoordinator v0 (error, node id, host, port).</summary>
    private async Task<int> CoordinatorPortAsync(string group)
    {
        await using var wire = await KafkaWire.ConnectAsync(cluster.Silos.KafkaPort(0));
        await wire.SendAsync(ApiKey.FindCoordinator, 0, w => w.WriteString(group, false));
        var found = Body(await wire.ReadFrameAsync());
        Assert.Equal(0, found.ReadInt16());
        found.ReadInt32();
        found.ReadString(false);
        return found.ReadInt32();
    }

    /// <summary>ConsumerProtocolSubscription v0 of one topic with user data "sub".</summary>
    private static byte[] Subscription(string topic) => Bytes(w =>
    {
        w.WriteInt16(0);
        w.WriteArrayLength(1, false);
        w.WriteString(topic, false);
        w.WriteBytes("sub"u8, false);
    });

    private static byte[] Bytes(Action<KafkaWriter> write)
    {
        using var w = new KafkaWriter();
        write(w);
        return w.WrittenSpan.ToArray();
    }

    /// <summary>A response frame after its correlation id (every request here has a v0 response header).</summary>
    private static KafkaReader Body(byte[]? frame)
    {
        Assert.NotNull(frame);
        var r = new KafkaReader(frame);
        r.ReadInt32();
        return r;
    }
}
