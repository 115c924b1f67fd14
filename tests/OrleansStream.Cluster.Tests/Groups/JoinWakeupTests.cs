using OrleansStream.Client;
using OrleansStream.Client.Groups;

namespace OrleansStream.Cluster.Tests.Groups;

/// <summary>
/// The join runs in the background and, when it ends, leaves a wakeup in the consumer's queue. A join that ends after
/// Consume polled the group but before Consume read its queue must still start the fetchers: the wakeup makes Consume
/// poll the group again instead of being dropped (CI of 9509714 waited 20 s on a consumer that had lost it).
/// </summary>
[Collection(GroupCollection.Name)]
public sealed class JoinWakeupTests(GroupFixture fixture)
{
    [Theory]
    [InlineData("range")]
    [InlineData("cooperative-sticky")]
    public async Task A_join_that_ends_between_the_group_poll_and_the_queue_read_still_hands_out_records(string strategy)
    {
        var topic = GroupFixture.Unique("gwake");
        await fixture.CreateTopicAsync(topic, 1);
        await fixture.ProduceAsync(topic, 0, 10);
        var time = new JoinRaceTime();
        using var consumer = new ConsumerBuilder<string, string>(fixture.Client, fixture.GroupConfig(GroupFixture.Unique("g-gwake"), strategy))
            .SetTimeProvider(time).BuildConsumer();
        consumer.Subscribe(topic);
        time.Stage(consumer, Environment.CurrentManagedThreadId);

        var first = consumer.Consume(TimeSpan.FromSeconds(15));

        Assert.True(time.Staged, "the join ended while Consume was between its group poll and its queue read");
        Assert.NotNull(first);
        Assert.Equal("0", first!.Message!.Value);
    }

    [Fact]
    public async Task The_wakeup_at_the_end_of_a_join_comes_when_a_poll_can_see_its_outcome()
    {
        var topic = GroupFixture.Unique("gwake");
        await fixture.CreateTopicAsync(topic, 2);
        var host = new PollOnWakeup();
        using var coordinator = new ConsumerCoordinator(fixture.Client,
            new GroupSettings(GroupFixture.Unique("g-gwake"), "wakeup-test", SessionTimeoutMs: 6000, HeartbeatIntervalMs: 200), host);
        host.Coordinator = coordinator;

        coordinator.Subscribe([topic]); // its wakeup polls: the join starts; the join's own wakeup polls again

        var started = await host.Started.Task.WaitAsync(TimeSpan.FromSeconds(15), TestContext.Current.CancellationToken);
        Assert.Equal([0, 1], started.Select(p => p.Partition).Order());
    }

    /// <summary>A consumer that polls its coordinator as soon as it is woken, on the thread that wakes it.</summary>
    private sealed class PollOnWakeup : IGroupConsumerHost
    {
        private readonly Lock _polling = new();

        public ConsumerCoordinator? Coordinator { get; set; }

        public TaskCompletionSource<IReadOnlyList<TopicPartitionOffset>> Started { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Wakeup()
        {
            lock (_polling) Coordinator?.Poll();
        }

        public void StartFetching(IReadOnlyList<TopicPartitionOffset> partitions) => Started.TrySetResult(partitions);

        public void StopFetching(IReadOnlyList<TopicPartition> partitions) { }

        public IEnumerable<TopicPartitionOffset>? OnPartitionsAssigned(List<TopicPartition> partitions) => null;

        public void OnPartitionsRevoked(List<TopicPartitionOffset> partitions) { }

        public void OnPartitionsLost(List<TopicPartitionOffset> partitions) { }
    }

    /// <summary>
    /// The system clock, except that the consumer's thread, asking for the time inside a group poll that has just started
    /// a join (the auto commit check after it), waits until that join has ended and left its wakeup in the queue.
    /// </summary>
    private sealed class JoinRaceTime : TimeProvider
    {
        private Consumer<string, string>? _consumer;
        private int _thread;

        public bool Staged { get; private set; }

        public void Stage(Consumer<string, string> consumer, int thread)
        {
            _consumer = consumer;
            _thread = thread;
        }

        public override DateTimeOffset GetUtcNow()
        {
            if (_consumer is { } consumer && Environment.CurrentManagedThreadId == _thread && consumer.Group!.JoinInFlight)
            {
                _consumer = null;
                var queued = consumer.QueuedItems;
                Staged = SpinWait.SpinUntil(() => !consumer.Group.JoinInFlight && consumer.QueuedItems > queued, TimeSpan.FromSeconds(10));
            }
            return base.GetUtcNow();
        }
    }
}
