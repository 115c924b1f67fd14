using OrleansStream.Server;
using static OrleansStream.Cluster.Tests.PartitionTestKit;

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
}

[Collection(SiloKillCollection.Name)]
public sealed class ReassignmentTests(ReassignmentFixture fixture) : IClassFixture<ReassignmentFixture>
{
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
            "the partition is back to three in-sync replicas on live brokers");
        var newLeader = await fixture.Leader(topic, 0);
        var end = (await newLeader.GetStatus()).LogEndOffset;
        foreach (var r in after.Replicas)
            await Eventually.WaitUntilAsync(async () =>
                await fixture.Grains.GetGrain<IPartitionReplicaGrain>(GrainKeys.Replica(topic, 0, r.ReplicaId)).GetStatus() is { } s && s.LogEndOffset == end,
                $"replica {r.ReplicaId} on {r.BrokerId} has the whole log");

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
                var r = await (await fixture.Leader(topic, 0)).Produce(new ProduceRequest(Acks.All, 10_000, Batch(value, value + "+")));
                return r.Error == ErrorCode.None;
            }
            catch (Exception e) when (e is not Xunit.Sdk.XunitException)
            {
                return false;
            }
        }, $"'{value}' is acknowledged");
    }
}
