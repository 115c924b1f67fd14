using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using OrleansStream.Server.Controller;
using static OrleansStream.Cluster.Tests.PartitionTestKit;

namespace OrleansStream.Cluster.Tests;

/// <summary>
/// A LeaderAndIsr that a live replica did not take is sent again: an elected leader that missed its push answered
/// NotLeaderOrFollower until the partition's next change, since an active replica only pulls its state when it activates.
/// </summary>
public sealed class LeaderAndIsrRetryTests(LeaderAndIsrRetryTests.Fixture fixture) : IClassFixture<LeaderAndIsrRetryTests.Fixture>
{
    public sealed class Fixture : ClusterFixture
    {
        public LostPushes Lost { get; } = new();

        protected override void ConfigureSilo(ISiloBuilder silo) =>
            silo.Services.AddSingleton<IOutgoingGrainCallFilter>(new LostPushes.Filter(Lost));
    }

    /// <summary>Fails the next LeaderAndIsr to each replica of one topic once, as a call to a silo that just died fails.</summary>
    public sealed class LostPushes
    {
        private readonly ConcurrentDictionary<string, bool> _failed = new(StringComparer.Ordinal);
        private volatile string? _topicPrefix;

        public int Failed => _failed.Count;

        public void LoseNextPushesTo(string topic) => _topicPrefix = topic + "/";

        internal sealed class Filter(LostPushes lost) : IOutgoingGrainCallFilter
        {
            public Task Invoke(IOutgoingGrainCallContext context)
            {
                if (lost._topicPrefix is { } prefix && context.InterfaceMethod?.Name == nameof(IPartitionReplicaGrain.LeaderAndIsr)
                    && context.TargetId.Key.ToString() is { } key && key.StartsWith(prefix, StringComparison.Ordinal)
                    && lost._failed.TryAdd(key, true))
                    throw new SiloUnavailableException($"LeaderAndIsr to {key} lost.");
                return context.Invoke();
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
        var moved = await fixture.Grains.GetGrain<IControllerInternalGrain>(GrainKeys.Controller).ControlledShutdown(before.LeaderBroker!);
        Assert.Equal(1, moved);
        Assert.Equal(3, fixture.Lost.Failed);
        var after = await fixture.Controller.Partition(topic, 0);
        Assert.NotEqual(before.LeaderBroker, after.LeaderBroker);

        var newLeader = await fixture.Leader(topic, 0);
        var seen = ErrorCode.None;
        await Eventually.WaitUntilAsync(async () =>
        {
            seen = (await newLeader.Produce(new ProduceRequest(Acks.Leader, 10_000, Batch("after")))).Error;
            return seen == ErrorCode.None;
        }, "the elected leader takes a produce", TimeSpan.FromSeconds(20), () => seen.ToString());
        Assert.Equal(after.LeaderEpoch, (await newLeader.GetStatus()).LeaderEpoch);
    }
}
