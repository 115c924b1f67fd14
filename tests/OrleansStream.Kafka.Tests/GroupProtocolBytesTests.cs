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
        var subscription = Bytes(w =>
        {
            w.WriteInt16(0);
            w.WriteArrayLength(1, false);
            w.WriteString(topic, false);
            w.WriteBytes("sub"u8, false);
        });
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

        await wire.SendAsync(ApiKey.JoinGroup, 1, w => new Protocol.Messages.JoinGroupRequest(group, 10_000, 10_000, "", null, "consumer",
            [new JoinGroupRequestProtocol("range", subscription)]).Write(w, 1));
        var join = Body(await wire.ReadFrameAsync());
        Assert.Equal(0, join.ReadInt16());
        var generation = join.ReadInt32();
        Assert.Equal("range", join.ReadString(false));
        var leader = join.ReadString(false);
        var memberId = join.ReadString(false);
        Assert.Equal(leader, memberId);
        Assert.Equal(1, join.ReadArrayLength(false));
        Assert.Equal(memberId, join.ReadString(false));
        Assert.Equal(subscription, join.ReadBytes(false).ToArray());

        await wire.SendAsync(ApiKey.SyncGroup, 0, w => new Protocol.Messages.SyncGroupRequest(group, generation, memberId, null,
            [new SyncGroupRequestAssignment(memberId, assignment)]).Write(w, 0));
        var sync = Body(await wire.ReadFrameAsync());
        Assert.Equal(0, sync.ReadInt16());
        Assert.Equal(assignment, sync.ReadBytes(false).ToArray());

        await AssertDescribedAsync(wire, group, memberId, subscription, assignment);

        // A new activation of the group's grain loads the members from storage with the bytes (Kafka's GroupMetadataValue).
        await cluster.Silos.Client.GetGrain<IConsumerGroupGrain>(group).Cast<IGrainManagementExtension>().DeactivateOnIdle(TestContext.Current.CancellationToken);
        await AssertDescribedAsync(wire, group, memberId, subscription, assignment);
    }

    private static async Task AssertDescribedAsync(KafkaWire wire, string group, string memberId, byte[] subscription, byte[] assignment)
    {
        await wire.SendAsync(ApiKey.DescribeGroups, 0, w => new GroupsRequest([group]).WriteDescribeGroups(w, 0));
        var describe = Body(await wire.ReadFrameAsync());
        Assert.Equal(1, describe.ReadArrayLength(false));
        Assert.Equal(0, describe.ReadInt16());
        Assert.Equal((group, "Stable", "consumer", "range"),
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
