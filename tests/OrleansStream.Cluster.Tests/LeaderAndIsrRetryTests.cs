using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Core.Internal;
using OrleansStream.Server.Controller;
using static OrleansStream.TestKit.PartitionTestKit;

namespace OrleansStream.Cluster.Tests;

/// <summary>
/// A LeaderAndIsr that a live replica did not take is sent again: an elected leader that missed its push answered
/// NotLeaderOrFollower until the partition's next change, since an active replica only pulls its state when it activates.
/// And the controller does not wait for its pushes' answers where a replica's answer may wait for the controller. Its
/// wait for a replica before it sends a push again (<see cref="Server.BrokerOptions.LeaderAndIsrRetryMs"/>) is 10 min
/// here, so that a controller that waited for it would not answer within a call's timeout.
/// </summary>
public sealed class LeaderAndIsrRetryTests(LeaderAndIsrRetryTests.Fixture fixture) : IClassFixture<LeaderAndIsrRetryTests.Fixture>
{
    public sealed class Fixture : ClusterFixture
    {
        public LostPushes Lost { get; } = new();

        protected override void ConfigureSilo(ISiloBuilder silo) =>
            silo.Services.AddSingleton<IOutgoingGrainCallFilter>(new LostPushes.Filter(Lost));

        protected override void ConfigureBroker(Server.BrokerOptions options) => options.LeaderAndIsrRetryMs = 600_000;
    }

    /// <summary>
    /// Fails the next LeaderAndIsr to each replica of one topic once (or every one until disarmed), as a call to a silo
    /// that just died fails.
    /// </summary>
    public sealed class LostPushes
    {
        private readonly ConcurrentDictionary<string, bool> _failed = new(StringComparer.Ordinal);
        private volatile string? _topicPrefix;
        private volatile bool _every;
        private volatile TaskCompletionSource? _hold;
        private int _held;

        public int Failed => _failed.Count;

        /// <summary>LeaderAndIsr calls held so far by <see cref="HoldEveryPushTo"/>.</summary>
        public int Held => Volatile.Read(ref _held);

        /// <summary>Holds every LeaderAndIsr to the topic's replicas unsent until <see cref="Disarm"/>: a replica that takes long to answer.</summary>
        public void HoldEveryPushTo(string topic)
        {
            _failed.Clear();
            Interlocked.Exchange(ref _held, 0);
            _hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _topicPrefix = topic + "/";
        }

        public void LoseNextPushesTo(string topic) => Arm(topic, every: false);

        public void LoseEveryPushTo(string topic) => Arm(topic, every: true);

        private void Arm(string topic, bool every)
        {
            _failed.Clear();
            (_topicPrefix, _every) = (topic + "/", every);
        }

        public void Disarm()
        {
            _topicPrefix = null;
            Interlocked.Exchange(ref _hold, null)?.TrySetResult();
        }

        internal sealed class Filter(LostPushes lost) : IOutgoingGrainCallFilter
        {
            public async Task Invoke(IOutgoingGrainCallContext context)
            {
                if (lost._topicPrefix is { } prefix && context.InterfaceMethod?.Name == nameof(IPartitionReplicaGrain.LeaderAndIsr)
                    && context.TargetId.Key.ToString() is { } key && key.StartsWith(prefix, StringComparison.Ordinal))
                {
                    if (lost._hold is { } hold)
                    {
                        Interlocked.Increment(ref lost._held);
                        await hold.Task;
                    }
                    else if (lost._failed.TryAdd(key, true) || lost._every)
                        throw new SiloUnavailableException($"LeaderAndIsr to {key} lost.");
                }
                await context.Invoke();
            }
        }
    }

    [Fact]
    public async Task A_leader_elected_while_its_LeaderAndIsr_failed_learns_it_from_a_retry()
    {
        var topic = UniqueTopic("push-retry");
        await fixture.CreateTopic(topic, replicationFactor: 3);
        var before = await fixture.Controller.Partition(topic, 0);
        var leader = await fixture.Leader(topic, 0);
        Assert.Equal(ErrorCode.None, (await leader.Produce(new ProduceRequest(Acks.All, 10_000, Batch("before")))).Error);

        // Leadership moves off the leader's broker (Kafka's controlled shutdown), and every replica's push of it fails once.
        fixture.Lost.LoseNextPushesTo(topic);
        var controller = fixture.Grains.GetGrain<IControllerInternalGrain>(GrainKeys.Controller);
        try
        {
            var moved = await controller.ControlledShutdown(before.LeaderBroker!);
            Assert.Equal(1, moved);
            Assert.Equal(3, fixture.Lost.Failed);
            var after = await fixture.Controller.Partition(topic, 0);
            Assert.NotEqual(before.LeaderBroker, after.LeaderBroker);

            var newLeader = await WaitForTheElectedLeaderAsync(topic);
            Assert.Equal(after.LeaderEpoch, (await newLeader.GetStatus()).LeaderEpoch);
        }
        finally
        {
            // The broker did not stop: it registers again, as a restart would, so the other tests may elect it.
            await controller.RegisterBroker(before.LeaderBroker!, null, null);
        }
    }

    /// <summary>
    /// The controller activation that elected a leader may end before any replica took the push (its silo died): the
    /// next activation pushes every partition's state, or the elected leader answers NotLeaderOrFollower until the
    /// partition's next change.
    /// </summary>
    [Fact]
    public async Task A_leader_elected_by_an_activation_that_ended_before_its_push_arrived_learns_it_from_the_next_activation()
    {
        var topic = UniqueTopic("push-next");
        await fixture.CreateTopic(topic, replicationFactor: 3);
        var before = await fixture.Controller.Partition(topic, 0);
        var controller = fixture.Grains.GetGrain<IControllerInternalGrain>(GrainKeys.Controller);
        try
        {
            try
            {
                fixture.Lost.LoseEveryPushTo(topic);
                Assert.True(await controller.ControlledShutdown(before.LeaderBroker!) >= 1);
                // The old leader is back in the ISR (as the new leader would ask once it catches up, after its broker
                // registered again: in controlled shutdown it may not rejoin): no replica is outside it, so only a push
                // of every partition reaches the new leader.
                Assert.Equal(ErrorCode.None, (await controller.RegisterBroker(before.LeaderBroker!, null, null)).Error);
                var moved = (await controller.GetPartitionState(topic, 0))!;
                var full = await controller.AlterPartition(topic, 0, moved.Leader, moved.LeaderEpoch, moved.PartitionEpoch, [0, 1, 2]);
                Assert.Equal(ErrorCode.None, full.Error);
                await controller.Cast<IGrainManagementExtension>().DeactivateOnIdle(TestContext.Current.CancellationToken);
                // The next activation's first push fails too; its retry, once pushes go through again, reaches the leader.
                await fixture.Controller.Partition(topic, 0);
            }
            finally
            {
                fixture.Lost.Disarm();
            }

            await WaitForTheElectedLeaderAsync(topic);
        }
        finally
        {
            // Its leader is not counted by the other test's controlled shutdown of whichever broker leads it.
            await fixture.Controller.DeleteTopics([topic]);
        }
    }

    /// <summary>
    /// A replica whose activation Orleans ended (its directory registration was on a silo that died) activates again
    /// as the controller's push reaches it, and asks the controller for its state (and its placement for its broker)
    /// first: a controller activation that awaited its pushes' answers before it answered anything held both for the
    /// push's wait (2 s by default, in about half the failovers of a soak). Here the pushes are held until the test
    /// lets them go, and a new controller activation answers meanwhile.
    /// </summary>
    [Fact]
    public async Task A_new_controller_activation_answers_while_the_replicas_have_not_answered_its_pushes()
    {
        var topic = UniqueTopic("push-held");
        await fixture.CreateTopic(topic, replicationFactor: 3);
        var controller = fixture.Grains.GetGrain<IControllerInternalGrain>(GrainKeys.Controller);
        try
        {
            fixture.Lost.HoldEveryPushTo(topic);
            await controller.Cast<IGrainManagementExtension>().DeactivateOnIdle(TestContext.Current.CancellationToken);
            // The next activation pushes every partition's state as it activates; the call that reaches it is answered
            // while those pushes are held (a call the old activation answered first is made again).
            PartitionState? state = null;
            await Eventually.WaitUntilAsync(async () =>
            {
                state = await controller.GetPartitionState(topic, 0);
                return fixture.Lost.Held > 0;
            }, "a new controller activation answers", TimeSpan.FromSeconds(20), () => $"{fixture.Lost.Held} pushes held");
            Assert.NotNull(state);
            Assert.Equal(3, fixture.Lost.Held); // the partition's three replicas, still unanswered
        }
        finally
        {
            fixture.Lost.Disarm();
        }

        // Let go, the held pushes reach the replicas and the partition takes a produce.
        await WaitForTheElectedLeaderAsync(topic);
        await fixture.Controller.DeleteTopics([topic]);
    }

    /// <summary>Produces to the leader the metadata names until it takes the record (it answers NotLeaderOrFollower until it has its push).</summary>
    private async Task<IPartitionReplicaGrain> WaitForTheElectedLeaderAsync(string topic)
    {
        var newLeader = await fixture.Leader(topic, 0);
        var seen = ErrorCode.None;
        await Eventually.WaitUntilAsync(async () =>
        {
            seen = (await newLeader.Produce(new ProduceRequest(Acks.Leader, 10_000, Batch("after")))).Error;
            return seen == ErrorCode.None;
        }, "the elected leader takes a produce", TimeSpan.FromSeconds(20), () => seen.ToString());
        return newLeader;
    }
}
