using OrleansStream.Client;

namespace OrleansStream.Cluster.Tests.Groups;

/// <summary>
/// The SDK's consumer-protocol member leaves the group on close even while its join is in flight: Kafka's member
/// leaves from its JOINING state too, after the heartbeat in flight has its answer. Otherwise the join would make a
/// member that only its session timeout removes (which never passes on the fixture's fake clock).
/// </summary>
public sealed class ConsumerProtocolLeaveTests(FailingStorageGroupFixture fixture) : IClassFixture<FailingStorageGroupFixture>
{
    [Fact]
    public async Task A_consumer_closed_while_its_join_is_in_flight_leaves_once_the_join_is_answered()
    {
        var topic = GroupFixture.Unique("leave-joining");
        var groupId = GroupFixture.Unique("g-leave-joining");
        Assert.Equal(ErrorCode.None, Assert.Single(await fixture.Controller.CreateTopics([new NewTopic(topic, 2, 1)])).Error);
        var config = GroupFixture.Config(groupId);
        config.GroupProtocol = GroupProtocol.Consumer;
        using var consumer = new ConsumerBuilder<string, string>(fixture.Client, config).Build();
        var coordinator = ((Consumer<string, string>)consumer).Group!;
        var group = fixture.Client.GetGrain<IConsumerGroupGrain>(groupId);

        // The join reaches the coordinator, which holds its answer until the new member is stored.
        var hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        fixture.WriteHeld = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        fixture.HoldGroupWrites = hold;
        Task closing;
        try
        {
            consumer.Subscribe(topic);
            await fixture.WriteHeld.Task.WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);
            closing = Task.Run(consumer.Close, TestContext.Current.CancellationToken);
            await Eventually.WaitUntilAsync(() => Task.FromResult(coordinator.IsClosed), "the consumer is closing");
        }
        finally
        {
            fixture.HoldGroupWrites = null;
            hold.TrySetResult();
        }
        await closing.WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);

        var described = await group.DescribeConsumerGroup();
        Assert.Equal(("Empty", 0), (described.GroupState, described.Members.Count));
    }
}
