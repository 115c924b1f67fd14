using Orleans.Core.Internal;
using Orleans.Storage;
using OrleansStream.Server.Controller;

namespace OrleansStream.Cluster.Tests;

/// <summary>
/// A reassignment is the controller's stored state: a new controller activation lists one it finds in progress, can
/// cancel it, and carries one on to completion. Each reassignment is written into the stored state and the controller
/// deactivated, as a controller that died after storing it leaves it.
/// </summary>
[Collection(SiloKillCollection.Name)]
public sealed class PartitionReassignmentRecoveryTests(ClusterFixture fixture) : IClassFixture<ClusterFixture>
{
    [Fact]
    public async Task A_new_controller_activation_lists_a_stored_reassignment_and_cancels_it()
    {
        var topic = PartitionTestKit.UniqueTopic("reassign-listed");
        await fixture.CreateTopic(topic, partitions: 1, replicationFactor: 1);
        var leader = (await fixture.Controller.Partition(topic, 0)).LeaderBroker!;

        // Adding a registered broker that is gone: the reassignment cannot complete by itself.
        await StoreAsync(topic, (state, p) =>
        {
            state.NodeIds["Silo_gone"] = 99;
            Start(p, "Silo_gone", leader);
        });
        var nodeIds = await fixture.Grains.GetGrain<IControllerInternalGrain>(GrainKeys.Controller).GetBrokerNodes();
        var leaderNode = nodeIds.NodeIds[leader];

        var listed = Assert.Single(await fixture.Controller.ListPartitionReassignments(null), r => r.Topic == topic);
        Assert.Equal(0, listed.Partition);
        Assert.Equal([99, leaderNode], listed.Replicas);
        Assert.Equal([99], listed.Adding);
        Assert.Equal([leaderNode], listed.Removing);
        var metadata = await fixture.Controller.Partition(topic, 0);
        Assert.Equal(["Silo_gone", leader], metadata.Replicas.Select(r => r.BrokerId));
        // A partition added meanwhile takes the topic's replication factor, the target's (1), not the two replicas of
        // the partition under reassignment.
        Assert.Equal(ErrorCode.None, Assert.Single(await fixture.Controller.CreatePartitions([new PartitionsIncrease(topic, 2)])).Error);
        Assert.Single((await fixture.Controller.Partition(topic, 1)).Replicas);

        var cancelled = Assert.Single(await fixture.Controller.AlterPartitionReassignments([new ReassignmentTarget(topic, 0, null)]));

        Assert.Equal(ErrorCode.None, cancelled.Error);
        Assert.DoesNotContain(await fixture.Controller.ListPartitionReassignments([new ElectionPartitions(topic, [0])]), r => r.Topic == topic);
        var after = await fixture.Controller.Partition(topic, 0);
        Assert.Equal([new ReplicaInfo(0, leader)], after.Replicas);
        Assert.Equal(leader, after.LeaderBroker);
    }

    [Fact]
    public async Task A_new_controller_activation_carries_a_stored_reassignment_to_completion()
    {
        var topic = PartitionTestKit.UniqueTopic("reassign-resumed");
        await fixture.CreateTopic(topic, partitions: 1, replicationFactor: 1);
        var leader = (await fixture.Controller.Partition(topic, 0)).LeaderBroker!;
        var target = fixture.Silos.Values.Select(s => s.Name).First(n => n != leader);

        await StoreAsync(topic, (_, p) => Start(p, target, leader));

        // The new activation pushes every partition: the adding replica starts, catches up and joins the ISR, which completes it.
        await Eventually.WaitUntilAsync(async () => (await fixture.Controller.Partition(topic, 0)) is { Replicas: [var only] } p
            && only == new ReplicaInfo(1, target) && p.LeaderBroker == target, "the stored reassignment completes", TimeSpan.FromSeconds(60));
        Assert.DoesNotContain(await fixture.Controller.ListPartitionReassignments(null), r => r.Topic == topic);
    }

    /// <summary>Kafka's first step of a move of an RF-1 partition: the target first (a new replica id), the leader removing.</summary>
    private static void Start(PartitionAssignment p, string adding, string removing)
    {
        p.Replicas = [adding, removing];
        p.ReplicaIds = [1, 0];
        p.Leader = 1;
        p.Isr = [1];
        p.AddingReplicas = [adding];
        p.RemovingReplicas = [removing];
        p.PartitionEpoch++;
    }

    /// <summary>Writes the edit into the stored state (again if the live activation wrote first), then ends the activation.</summary>
    private async Task StoreAsync(string topic, Action<ControllerState, PartitionAssignment> edit)
    {
        await Eventually.WaitUntilAsync(async () =>
        {
            var stored = await ProducerIdLedger.ReadControllerState(fixture);
            edit(stored.State!, stored.State!.Topics[topic].Partitions[0]);
            try
            {
                await ProducerIdLedger.Storage(fixture).WriteStateAsync("controller", ProducerIdLedger.ControllerId, stored);
                return true;
            }
            catch (InconsistentStateException)
            {
                return false;
            }
        }, "the reassignment is stored");
        await fixture.Controller.Cast<IGrainManagementExtension>().DeactivateOnIdle(TestContext.Current.CancellationToken);
    }
}
