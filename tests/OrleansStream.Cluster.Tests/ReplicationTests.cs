using OrleansStream.Server.Controller;
using static OrleansStream.TestKit.PartitionTestKit;

namespace OrleansStream.Cluster.Tests;

[Collection(SiloKillCollection.Name)]
public sealed class ReplicationTests(ReplicationFixture fixture) : IClassFixture<ReplicationFixture>, IAsyncDisposable
{
    private static readonly Dictionary<string, string> MinIsr2 = new() { ["min.insync.replicas"] = "2" };

    /// <summary>Brokers a failed test left stopped come back before the class's next test.</summary>
    public async ValueTask DisposeAsync() => await fixture.StartStoppedSilosAsync();

    [Fact]
    public async Task AcksAll_ReachesEveryReplica_AndFollowersLearnTheHighWatermark()
    {
        var topic = UniqueTopic("rf3");
        await fixture.CreateTopic(topic, replicationFactor: 3, configs: MinIsr2);
        var leader = await fixture.Leader(topic, 0);

        for (var i = 0; i < 10; i++)
        {
            var r = await leader.Produce(new ProduceRequest(Acks.All, 10_000, Batch($"v{i}")));
            Assert.Equal((ErrorCode.None, (long)i), (r.Error, r.BaseOffset));
        }

        Assert.Equal(10, (await leader.GetStatus()).HighWatermark);
        for (var replica = 0; replica < 3; replica++)
        {
            var grain = fixture.Grains.GetGrain<IPartitionReplicaGrain>(GrainKeys.Replica(topic, 0, replica));
            await Eventually.WaitUntilAsync(async () => await grain.GetStatus() is { LogEndOffset: 10, HighWatermark: 10 },
                $"replica {replica} has every record and the high watermark");
        }
        Assert.Equal(Enumerable.Range(0, 10).Select(i => ((long)i, $"v{i}")), await ReadAll(leader));
    }

    [Fact]
    public async Task DeleteRecords_AnswersOnlyOnceEveryInSyncReplicaMovedItsLogStart()
    {
        var topic = UniqueTopic("delrec3");
        await fixture.CreateTopic(topic, replicationFactor: 3, configs: MinIsr2);
        var leader = await fixture.Leader(topic, 0);
        for (var i = 0; i < 10; i++)
            Assert.Equal(ErrorCode.None, (await leader.Produce(new ProduceRequest(Acks.All, 10_000, Batch($"v{i}")))).Error);

        var deleted = await leader.DeleteRecords(new DeleteRecordsRequest(6));
        var starts = new List<long>();
        for (var replica = 0; replica < 3; replica++)
            starts.Add((await fixture.Grains.GetGrain<IPartitionReplicaGrain>(GrainKeys.Replica(topic, 0, replica)).GetStatus()).LogStartOffset);

        Assert.Equal((ErrorCode.None, 6L), (deleted.Error, deleted.LowWatermark));
        // Kafka's DelayedDeleteRecords: the answer comes after the followers, not before them.
        Assert.Equal([6L, 6L, 6L], starts);
    }

    [Fact]
    public async Task MinInsyncReplicas_IsEnforced_WhenAFollowerDies()
    {
        var topic = UniqueTopic("minisr");
        await fixture.CreateTopic(topic, replicationFactor: 2, configs: MinIsr2);
        var p = await fixture.Controller.Partition(topic, 0);
        var leader = await fixture.Leader(topic, 0);
        Assert.Equal(ErrorCode.None, (await leader.Produce(new ProduceRequest(Acks.All, 10_000, Batch("before")))).Error);
        var follower = p.Replicas.Single(r => r.ReplicaId != p.Leader).BrokerId;

        await fixture.KillSiloAsync(follower);
        var shrunk = await WaitForPartition(topic, p => p.Isr.Count == 1, "the ISR shrinks");
        // The controller records the shrink before the leader applies it; an acks=all produce in between would append.
        await Eventually.WaitUntilAsync(async () => (await leader.GetStatus()).Isr is { Count: 1 }, "the leader applies the smaller ISR");
        var all = await leader.Produce(new ProduceRequest(Acks.All, 10_000, Batch("refused")));
        var one = await leader.Produce(new ProduceRequest(Acks.Leader, 10_000, Batch("accepted")));
        await fixture.StartSiloAsync(follower);
        await WaitForPartition(topic, p => p.Isr.Count == 2, "the follower rejoins the ISR");
        // The leader hears of the larger ISR just after the controller records it; until then it refuses, appending nothing.
        ProduceResponse again = null!;
        await Eventually.WaitUntilAsync(async () =>
            (again = await leader.Produce(new ProduceRequest(Acks.All, 10_000, Batch("after")))).Error != ErrorCode.NotEnoughReplicas,
            "the leader accepts acks=all again");

        // Within ReplicaReassignmentDelayMs (default) the replica stays with its broker, though a third broker is free.
        Assert.Equal(p.Replicas, shrunk.Replicas);
        Assert.Equal(ErrorCode.NotEnoughReplicas, all.Error);
        Assert.Equal((ErrorCode.None, 1L), (one.Error, one.BaseOffset));
        Assert.Equal((ErrorCode.None, 2L), (again.Error, again.BaseOffset));
    }

    [Fact]
    public async Task LeaderDeath_ElectsAnInSyncFollower_WithNoAcknowledgedLoss()
    {
        var topic = UniqueTopic("failover");
        await fixture.CreateTopic(topic, replicationFactor: 3, configs: MinIsr2);
        var acked = new List<string>();
        var leader = await fixture.Leader(topic, 0);
        for (var i = 0; i < 20; i++)
        {
            Assert.Equal(ErrorCode.None, (await leader.Produce(new ProduceRequest(Acks.All, 10_000, Batch($"a{i}")))).Error);
            acked.Add($"a{i}");
        }
        var before = await fixture.Controller.Partition(topic, 0);

        await fixture.KillSiloAsync(before.LeaderBroker!);
        var after = await WaitForPartition(topic, p => p.LeaderEpoch > before.LeaderEpoch, "a new leader is elected");
        // An idempotent producer's batches: a retry of one that was appended but not acknowledged (its leader lost the
        // lead while it waited for the followers) is acknowledged at its first offset, as a Kafka producer's would be,
        // where a plain batch would be written twice and fail the exact comparison below.
        for (var i = 0; i < 20; i++)
        {
            await ProduceWithRetry(topic, IdempotentBatch(7_000_101, 0, i, $"b{i}"), $"b{i}");
            acked.Add($"b{i}");
        }
        await fixture.StartSiloAsync(before.LeaderBroker!);

        Assert.NotEqual(before.LeaderBroker, after.LeaderBroker);
        Assert.Contains(after.Leader, before.Isr);
        var records = await ReadAll(await fixture.Leader(topic, 0));
        Assert.Equal(acked, records.Select(r => r.Value));
        Assert.Equal(Enumerable.Range(0, acked.Count).Select(i => (long)i), records.Select(r => r.Offset));
        await WaitForPartition(topic, p => p.Isr.Count == 3, "the old leader catches up and rejoins the ISR");
    }

    [Fact]
    public async Task AFormerLeaderThatDiverged_TruncatesToTheNewLeadersEpochEnd_AndCatchesUp()
    {
        var topic = UniqueTopic("diverge");
        await fixture.CreateTopic(topic, replicationFactor: 2, configs: new() { ["unclean.leader.election.enable"] = "true" });
        var before = await fixture.Controller.Partition(topic, 0);
        var oldLeader = before.LeaderBroker!;
        var follower = before.Replicas.Single(r => r.ReplicaId != before.Leader);
        var leader = await fixture.Leader(topic, 0);
        var acked = new List<string>();
        for (var i = 0; i < 10; i++)
        {
            Assert.Equal(ErrorCode.None, (await leader.Produce(new ProduceRequest(Acks.All, 10_000, Batch($"a{i}")))).Error);
            acked.Add($"a{i}");
        }

        // Cut off from its follower, the leader appends (acks=1) what no other replica will ever have, then dies too.
        await fixture.KillSiloAsync(follower.BrokerId);
        await WaitForPartition(topic, p => p.Isr.Count == 1, "the ISR shrinks to the leader");
        // The lag check may shrink the ISR first; membership must declare this silo dead before a second one dies,
        // or the lone survivor lacks the votes to declare either.
        await WaitForBrokerDead(follower.BrokerId);
        for (var i = 0; i < 5; i++)
            Assert.Equal(ErrorCode.None, (await leader.Produce(new ProduceRequest(Acks.Leader, 10_000, Batch($"lost{i}")))).Error);
        await fixture.KillSiloAsync(oldLeader);
        await WaitForPartition(topic, p => p.Leader < 0, "the partition has no leader");

        // The follower returns and leads (unclean election) from offset 10 in a new epoch; new records take offsets 10-14.
        await fixture.StartSiloAsync(follower.BrokerId);
        var elected = await WaitForPartition(topic, p => p.Leader == follower.ReplicaId, "the returned follower leads");
        for (var i = 0; i < 5; i++)
        {
            await ProduceWithRetry(topic, IdempotentBatch(7_000_102, 0, i, $"c{i}"), $"c{i}");
            acked.Add($"c{i}");
        }

        // The former leader returns with offsets 10-14 of the old epoch: it must truncate them, then fetch the new ones.
        await fixture.StartSiloAsync(oldLeader);
        await WaitForPartition(topic, p => p.Isr.Count == 2, "the former leader rejoins the ISR");
        var newLeader = await fixture.Leader(topic, 0);
        var end = (await newLeader.GetStatus()).LogEndOffset;
        var formerLeader = fixture.Grains.GetGrain<IPartitionReplicaGrain>(GrainKeys.Replica(topic, 0, before.Leader));
        await Eventually.WaitUntilAsync(async () =>
        {
            try
            {
                return (await formerLeader.GetStatus()).LogEndOffset == end;
            }
            catch (Exception e) when (e is not Xunit.Sdk.XunitException)
            {
                return false;
            }
        }, "the former leader has the new leader's log", attemptTimeout: Eventually.AttemptAcrossFailover);

        var read = await ReadAll(newLeader);
        Assert.True(elected.LeaderEpoch > before.LeaderEpoch);
        Assert.Equal(acked, read.Select(r => r.Value).Distinct());
        Assert.Equal(Enumerable.Range(0, read.Count).Select(i => (long)i), read.Select(r => r.Offset));
        Assert.Equal(read, ReadLocalLog(fixture.DataDirectory(oldLeader), topic, 0, end));
        Assert.Equal(read, ReadLocalLog(fixture.DataDirectory(follower.BrokerId), topic, 0, end));
    }

    [Fact]
    public async Task StaleEpochs_AreFenced()
    {
        var topic = UniqueTopic("fence");
        await fixture.CreateTopic(topic, replicationFactor: 2);
        var p = await fixture.Controller.Partition(topic, 0);
        var controller = fixture.Grains.GetGrain<IControllerInternalGrain>(GrainKeys.Controller);
        var state = await controller.GetPartitionState(topic, 0);

        var staleIsr = await controller.AlterPartition(topic, 0, p.Leader, p.LeaderEpoch - 1, state!.PartitionEpoch, [p.Leader]);
        var notLeader = await controller.AlterPartition(topic, 0, p.Leader == 0 ? 1 : 0, p.LeaderEpoch, state.PartitionEpoch, [0, 1]);
        var replica = fixture.Grains.GetGrain<IPartitionReplicaGrain>(GrainKeys.Replica(topic, 0, p.Leader));
        var newer = state with { LeaderEpoch = state.LeaderEpoch + 1 };
        Assert.Equal(ErrorCode.None, await replica.LeaderAndIsr(newer));
        var older = await replica.LeaderAndIsr(state);
        var staleProduce = await replica.Produce(new ProduceRequest(Acks.Leader, 5000, Batch("x"), CurrentLeaderEpoch: state.LeaderEpoch));

        Assert.Equal(ErrorCode.FencedLeaderEpoch, staleIsr.Error);
        Assert.Equal(ErrorCode.NotLeaderOrFollower, notLeader.Error);
        Assert.Equal(ErrorCode.FencedLeaderEpoch, older);
        Assert.Equal(ErrorCode.FencedLeaderEpoch, staleProduce.Error);
        Assert.Equal(2, (await fixture.Controller.Partition(topic, 0)).Isr.Count);
    }

    [Fact]
    public async Task IsrUpdatesOfOneLeaderEpoch_AreOrderedByPartitionEpoch()
    {
        var topic = UniqueTopic("pepoch");
        await fixture.CreateTopic(topic, replicationFactor: 2, configs: MinIsr2);
        var controller = fixture.Grains.GetGrain<IControllerInternalGrain>(GrainKeys.Controller);
        var initial = (await controller.GetPartitionState(topic, 0))!;
        var leader = fixture.Grains.GetGrain<IPartitionReplicaGrain>(GrainKeys.Replica(topic, 0, initial.Leader));

        // The leader shrinks the ISR to itself, then (its follower still fetching) expands it again: two updates in one leader epoch.
        var shrink = await controller.AlterPartition(topic, 0, initial.Leader, initial.LeaderEpoch, initial.PartitionEpoch, [initial.Leader]);
        var stale = await controller.AlterPartition(topic, 0, initial.Leader, initial.LeaderEpoch, initial.PartitionEpoch, [0, 1]);
        PartitionState expanded = null!;
        await Eventually.WaitUntilAsync(async () => (expanded = (await controller.GetPartitionState(topic, 0))!).Isr.Count == 2,
            "the leader adds its follower back");
        ProduceResponse before = null!;
        await Eventually.WaitUntilAsync(async () =>
            (before = await leader.Produce(new ProduceRequest(Acks.All, 10_000, Batch("before")))).Error != ErrorCode.NotEnoughReplicas,
            "the leader has the expanded ISR");
        // The shrink's LeaderAndIsr arrives late, after the expansion: the replica keeps the newer ISR.
        var late = await leader.LeaderAndIsr(shrink.State!);
        var after = await leader.Produce(new ProduceRequest(Acks.All, 10_000, Batch("after")));

        Assert.Equal((ErrorCode.None, initial.PartitionEpoch + 1, 1), (shrink.Error, shrink.State!.PartitionEpoch, shrink.State.Isr.Count));
        Assert.Equal(ErrorCode.InvalidUpdateVersion, stale.Error);
        Assert.Equal(initial.LeaderEpoch, expanded.LeaderEpoch);
        Assert.True(expanded.PartitionEpoch > shrink.State.PartitionEpoch);
        Assert.Equal(ErrorCode.None, before.Error);
        Assert.Equal(ErrorCode.InvalidUpdateVersion, late);
        Assert.Equal((ErrorCode.None, before.BaseOffset + 1), (after.Error, after.BaseOffset));
    }

    /// <summary>
    /// Polls the partition's metadata; calls fail for a moment while the client loses a killed silo's gateway, and one
    /// in flight to the controller's silo as it dies is never answered.
    /// </summary>
    private async Task<PartitionMetadata> WaitForPartition(string topic, Func<PartitionMetadata, bool> condition, string what)
    {
        PartitionMetadata last = null!;
        await Eventually.WaitUntilAsync(async () =>
        {
            try
            {
                return condition(last = await fixture.Controller.Partition(topic, 0));
            }
            catch (Exception e) when (e is not Xunit.Sdk.XunitException)
            {
                return false;
            }
        }, what, attemptTimeout: Eventually.AttemptAcrossFailover);
        return last;
    }

    private async Task WaitForBrokerDead(string brokerId) =>
        await Eventually.WaitUntilAsync(async () =>
        {
            try
            {
                var metadata = await fixture.Controller.GetMetadata(new MetadataRequest([]));
                return !metadata.Brokers.Any(b => b.BrokerId == brokerId && b.IsAlive);
            }
            catch (Exception e) when (e is not Xunit.Sdk.XunitException)
            {
                return false;
            }
        }, $"membership declares {brokerId} dead", attemptTimeout: Eventually.AttemptAcrossFailover);

    private async Task ProduceWithRetry(string topic, byte[] batch, string value)
    {
        await Eventually.WaitUntilAsync(async () =>
        {
            try
            {
                var r = await (await fixture.Leader(topic, 0)).Produce(new ProduceRequest(Acks.All, 10_000, batch));
                return r.Error == ErrorCode.None;
            }
            catch (Exception e) when (e is not Xunit.Sdk.XunitException)
            {
                return false;
            }
        }, $"'{value}' is acknowledged");
    }
}
