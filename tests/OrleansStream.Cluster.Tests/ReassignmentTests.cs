using Orleans.Core.Internal;
using OrleansStream.Server;
using OrleansStream.Server.Controller;
using static OrleansStream.TestKit.PartitionTestKit;

namespace OrleansStream.Cluster.Tests;

/// <summary>Four brokers that move a dead broker's replicas at once, so an RF 3 partition has somewhere to go.</summary>
public sealed class ReassignmentFixture : ClusterFixture
{
    public override int SiloCount => 4;

    protected override void ConfigureBroker(BrokerOptions options)
    {
        ReplicationFixture.FastIsr(options);
        options.ReplicaReassignmentDelayMs = 0;
    }

    protected override void ConfigureSilo(ISiloBuilder silo) => silo.AddOutgoingGrainCallFilter<StrandedReplica>();
}

/// <summary>
/// While armed, answers every LeaderAndIsr to one replica NotLeaderOrFollower, as that replica's activation does when
/// it is left on a broker that is out of membership but still running (the killed silo, before it has stopped).
/// </summary>
public sealed class StrandedReplica : IOutgoingGrainCallFilter
{
    private static volatile string? _replicaKey;
    private static int _refused;

    public static int Refused => Volatile.Read(ref _refused);

    public static void Arm(string replicaKey) => (_replicaKey, _refused) = (replicaKey, 0);

    public static void Disarm() => _replicaKey = null;

    public Task Invoke(IOutgoingGrainCallContext context)
    {
        if (_replicaKey is { } key && context.InterfaceMethod?.Name == nameof(IPartitionReplicaGrain.LeaderAndIsr)
            && context.TargetId.Key.ToString() == key)
        {
            Interlocked.Increment(ref _refused);
            context.Result = ErrorCode.NotLeaderOrFollower;
            return Task.CompletedTask;
        }
        return context.Invoke();
    }
}

[Collection(SiloKillCollection.Name)]
public sealed class ReassignmentTests(ReassignmentFixture fixture) : IClassFixture<ReassignmentFixture>, IAsyncDisposable
{
    /// <summary>Brokers a failed test left stopped come back before the class's next test.</summary>
    public async ValueTask DisposeAsync()
    {
        StrandedReplica.Disarm();
        await fixture.StartStoppedSilosAsync();
    }

    /// <summary>
    /// Only the controller activation that moved a replica knows to push it again until it is in sync; when that
    /// activation ends (its silo was the one that died) before the push reached the new broker, the next activation
    /// must wake every replica outside the ISR, or the moved one never opens and the partition stays under-replicated.
    /// </summary>
    [Fact]
    public async Task A_moved_replica_whose_push_went_astray_is_woken_by_the_next_controller_activation()
    {
        var topic = UniqueTopic("stranded");
        await fixture.CreateTopic(topic, replicationFactor: 3, configs: new() { ["min.insync.replicas"] = "2" });
        await ProduceWithRetry(topic, "a");
        var before = await fixture.Controller.Partition(topic, 0);
        var lost = before.Replicas.First(r => r.ReplicaId != before.Leader);
        var spare = fixture.Silos.Values.Select(s => s.Name).Single(b => before.Replicas.All(r => r.BrokerId != b));

        StrandedReplica.Arm(GrainKeys.Replica(topic, 0, lost.ReplicaId));
        await fixture.KillSiloAsync(lost.BrokerId);
        await Eventually.WaitUntilAsync(async () => StrandedReplica.Refused > 0
            && (await fixture.Controller.Partition(topic, 0)).Replicas.Single(r => r.ReplicaId == lost.ReplicaId).BrokerId == spare,
            $"the controller moves replica {lost.ReplicaId} to {spare} and its push goes astray", attemptTimeout: Eventually.AttemptAcrossFailover);
        // The controller activation that moved it ends; the call after runs on the next one, which finds the move done.
        var controller = fixture.Grains.GetGrain<IControllerInternalGrain>(GrainKeys.Controller);
        await controller.Cast<IGrainManagementExtension>().DeactivateOnIdle(TestContext.Current.CancellationToken);
        await Eventually.WaitUntilAsync(async () => await fixture.Controller.Partition(topic, 0) is not null, "the next controller activation answers",
            attemptTimeout: Eventually.AttemptAcrossFailover);
        StrandedReplica.Disarm();

        await ProduceWithRetry(topic, "b");
        await Eventually.WaitUntilAsync(async () => (await fixture.Controller.Partition(topic, 0)).Isr.Count == 3,
            $"replica {lost.ReplicaId} opens on {spare}, catches up and rejoins the ISR", attemptTimeout: Eventually.AttemptAcrossFailover);
        var moved = fixture.Grains.GetGrain<IPartitionReplicaGrain>(GrainKeys.Replica(topic, 0, lost.ReplicaId));
        Assert.Equal((await (await fixture.Leader(topic, 0)).GetStatus()).LogEndOffset, (await moved.GetStatus()).LogEndOffset);
    }

    [Fact]
    public async Task ReplicasOfADeadBroker_MoveToALiveBroker_RebuildAndRejoinTheIsr()
    {
        var topic = UniqueTopic("move");
        await fixture.CreateTopic(topic, replicationFactor: 3, configs: new() { ["min.insync.replicas"] = "2" });
        var acked = new List<string>();
        // With replica.lag.time.max.ms at 1 s a follower of a busy machine may leave the ISR briefly: retried, as after the kill.
        for (var i = 0; i < 20; i++)
        {
            await ProduceWithRetry(topic, $"a{i}");
            acked.Add($"a{i}");
        }
        var before = await fixture.Controller.Partition(topic, 0);
        var dead = before.LeaderBroker!;
        var spare = fixture.Silos.Values.Select(s => s.Name).Single(b => before.Replicas.All(r => r.BrokerId != b));

        // The leader's broker dies: a follower takes over, and the lost replica id moves to the broker that had none.
        await fixture.KillSiloAsync(dead);
        for (var i = 0; i < 20; i++)
        {
            await ProduceWithRetry(topic, $"b{i}");
            acked.Add($"b{i}");
        }
        PartitionMetadata after = null!;
        await Eventually.WaitUntilAsync(async () =>
            (after = await fixture.Controller.Partition(topic, 0)).Isr.Count == 3 && after.Replicas.All(r => r.BrokerId != dead),
            "the partition is back to three in-sync replicas on live brokers", attemptTimeout: Eventually.AttemptAcrossFailover);
        var newLeader = await fixture.Leader(topic, 0);
        var end = (await newLeader.GetStatus()).LogEndOffset;
        foreach (var r in after.Replicas)
            await Eventually.WaitUntilAsync(async () =>
                await fixture.Grains.GetGrain<IPartitionReplicaGrain>(GrainKeys.Replica(topic, 0, r.ReplicaId)).GetStatus() is { } s && s.LogEndOffset == end,
                $"replica {r.ReplicaId} on {r.BrokerId} has the whole log", attemptTimeout: Eventually.AttemptAcrossFailover);

        // The dead broker comes back: it holds no replica of the partition any more, and its stale copy is removed.
        await fixture.StartSiloAsync(dead);
        var staleCopy = Path.Combine(fixture.DataDirectory(dead), $"{topic}-0");
        // The sweep runs once the broker has registered with the controller, retrying controller calls with a backoff
        // of up to 4 s: a loaded machine can use more than the usual 30 s.
        await Eventually.WaitUntilAsync(() => Task.FromResult(!Directory.Exists(staleCopy)), "the returned broker removes its stray replica",
            TimeSpan.FromSeconds(60));

        Assert.Equal(3, after.Replicas.Count);
        Assert.Contains(after.Replicas, r => r.BrokerId == spare);
        Assert.Equal(before.Replicas.Select(r => r.ReplicaId), after.Replicas.Select(r => r.ReplicaId));
        var read = await ReadAll(newLeader);
        Assert.Equal(acked, read.Where(r => !r.Value.EndsWith('+')).Select(r => r.Value).Distinct());
        foreach (var r in after.Replicas)
            Assert.Equal(read, ReadLocalLog(fixture.DataDirectory(r.BrokerId), topic, 0, end));
        Assert.Equal(after.Replicas, (await fixture.Controller.Partition(topic, 0)).Replicas);
    }

    private async Task ProduceWithRetry(string topic, string value)
    {
        await Eventually.WaitUntilAsync(async () =>
        {
            try
            {
                // Within the attempt's bound: one that waits longer for the ISR is answered RequestTimedOut and made again.
                var r = await (await fixture.Leader(topic, 0)).Produce(new ProduceRequest(Acks.All, 4_000, Batch(value, value + "+")));
                return r.Error == ErrorCode.None;
            }
            catch (Exception e) when (e is not Xunit.Sdk.XunitException)
            {
                return false;
            }
        }, $"'{value}' is acknowledged", attemptTimeout: Eventually.AttemptAcrossFailover);
    }
}
