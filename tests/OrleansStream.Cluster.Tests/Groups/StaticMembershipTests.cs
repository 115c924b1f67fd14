using OrleansStream.Client;

namespace OrleansStream.Cluster.Tests.Groups;

/// <summary>KIP-345 through the SDK consumer: <c>group.instance.id</c> makes it a static member.</summary>
[Collection(GroupCollection.Name)]
public sealed class StaticMembershipTests(GroupFixture fixture)
{
    [Fact]
    public async Task A_static_member_keeps_its_place_across_a_restart_without_a_rebalance_and_its_old_incarnation_is_fenced()
    {
        var topic = GroupFixture.Unique("static");
        var group = GroupFixture.Unique("g-static");
        await fixture.CreateTopicAsync(topic, 2);
        var config = fixture.GroupConfig(group);
        config.GroupInstanceId = "instance-a";
        config.SessionTimeoutMs = 30_000;
        var groupGrain = fixture.Client.GetGrain<IConsumerGroupGrain>(group);

        ConsumerGroupMetadata before;
        using (var first = new ConsumerBuilder<string, string>(fixture.Client, config).Build())
        {
            first.Subscribe(topic);
            await WaitForAssignment(first, 2);
            before = Assert.IsType<ConsumerGroupMetadata>(first.ConsumerGroupMetadata);
            first.Close();
        }

        // No LeaveGroup on close: the member and its generation wait for the instance to come back.
        Assert.Equal("instance-a", before.GroupInstanceId);
        Assert.Equal(ErrorCode.None, (await groupGrain.Heartbeat(new HeartbeatRequest(before.MemberId, before.GenerationId, "instance-a"))).Error);

        using var second = new ConsumerBuilder<string, string>(fixture.Client, config).Build();
        second.Subscribe(topic);
        await WaitForAssignment(second, 2);
        var after = Assert.IsType<ConsumerGroupMetadata>(second.ConsumerGroupMetadata);

        Assert.Equal(("instance-a", before.GenerationId), (after.GroupInstanceId, after.GenerationId));
        Assert.NotEqual(before.MemberId, after.MemberId);
        Assert.Equal(ErrorCode.FencedInstanceId, (await groupGrain.Heartbeat(new HeartbeatRequest(before.MemberId, before.GenerationId, "instance-a"))).Error);
        second.Close();
    }

    private static Task WaitForAssignment(IConsumer<string, string> consumer, int partitions) =>
        Eventually.WaitUntilAsync(() =>
        {
            consumer.Consume(TimeSpan.FromMilliseconds(50));
            return consumer.Assignment.Count == partitions;
        }, $"the consumer is assigned {partitions} partitions");
}
