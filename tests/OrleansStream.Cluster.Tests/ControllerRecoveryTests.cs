using Microsoft.Extensions.DependencyInjection;
using Orleans.Core.Internal;
using Orleans.Storage;
using OrleansStream.Server.Cluster;
using OrleansStream.Server.Controller;
using OrleansStream.Server.Transactions.ProducerIds;

namespace OrleansStream.Cluster.Tests;

/// <summary>
/// A controller that found its state lost serves again once the state is readable, and every broker it refused, or
/// whose silo hosted it, registers again and is ready: nothing stays not ready after the cause is gone. Each test has
/// its own cluster.
/// </summary>
public abstract class ControllerRecoveryTests(ClusterFixture fixture)
{
    protected ClusterFixture Fixture => fixture;

    /// <summary>
    /// Loses the controller's record and kills the controller's silo; the controller re-activates on a survivor without
    /// state and refuses to serve; the killed broker comes back and is refused. Returns the saved state.
    /// </summary>
    protected async Task<(ControllerState Saved, string Topic, BrokerRegistration Refused)> LoseControllerStateAsync()
    {
        var topic = PartitionTestKit.UniqueTopic("kept");
        await fixture.CreateTopic(topic, partitions: 1, replicationFactor: 3);
        foreach (var (_, silo) in fixture.Silos)
        {
            var directory = fixture.DataDirectory(silo.Name);
            await Eventually.WaitUntilAsync(() => Task.FromResult(MetaProperties.Read(directory).ClusterId is not null), $"{silo.Name} records the cluster id");
        }
        var saved = (await ProducerIdLedger.ReadControllerState(fixture)).State!;

        await ProducerIdLedger.Storage(fixture).ClearStateAsync("controller", ProducerIdLedger.ControllerId, await ProducerIdLedger.ReadControllerState(fixture));
        var victim = await ProducerIdLedger.KillControllerSilo(fixture);
        await Eventually.WaitUntilAsync(async () => await TopicError(topic) == ErrorCode.InconsistentClusterId,
            "the controller activates on a survivor and finds its state lost", TimeSpan.FromSeconds(60));
        var restarted = await fixture.StartSiloAsync(victim);
        var refused = restarted.ServiceProvider.GetRequiredService<BrokerRegistration>();
        await Eventually.WaitUntilAsync(() => Task.FromResult(refused.Problem?.Contains("grain storage is not shared", StringComparison.Ordinal) == true),
            $"{victim} is refused by the controller without state", state: () => refused.Problem ?? "ready");
        return (saved, topic, refused);
    }

    protected Task RestoreAsync(ControllerState saved) =>
        ProducerIdLedger.Storage(fixture).WriteStateAsync("controller", ProducerIdLedger.ControllerId, new GrainState<ControllerState> { State = saved });

    /// <summary>The controller serves the topic as it was, and every running broker is registered and ready.</summary>
    protected async Task AssertRecoveredAsync(ControllerState saved, string topic)
    {
        await Eventually.WaitUntilAsync(async () => await TopicError(topic) == ErrorCode.None, "the controller serves the topic again", TimeSpan.FromSeconds(60));
        await AssertEveryBrokerReadyAsync();
        var metadata = Assert.Single((await fixture.Controller.GetMetadata(new MetadataRequest([topic]))).Topics);
        Assert.Equal(saved.Topics[topic].TopicId, metadata.TopicId);
        Assert.Equal(3, Assert.Single(metadata.Partitions).Replicas.Count);
    }

    protected async Task AssertEveryBrokerReadyAsync()
    {
        foreach (var (_, silo) in fixture.Silos)
        {
            var broker = silo.ServiceProvider.GetRequiredService<BrokerRegistration>();
            await Eventually.WaitUntilAsync(() => Task.FromResult(broker.Problem is null), $"{silo.Name} is ready again", state: () => broker.Problem ?? "ready");
        }
    }

    private async Task<ErrorCode?> TopicError(string topic)
    {
        try
        {
            var metadata = await fixture.Controller.GetMetadata(new MetadataRequest([topic])).WaitAsync(TimeSpan.FromSeconds(5));
            return Assert.Single(metadata.Topics).Error;
        }
        catch (Exception e) when (e is TimeoutException or OrleansMessageRejectionException or InvalidOperationException)
        {
            return null; // the dead silo's activation is still registered, or a new one is still deciding
        }
    }
}

[Collection(SiloKillCollection.Name)]
public sealed class ControllerStateReadableAgainTests(ClusterFixture fixture) : ControllerRecoveryTests(fixture), IClassFixture<ClusterFixture>
{
    [Fact]
    public async Task The_controller_serves_again_once_its_state_is_readable_and_every_broker_registers_again()
    {
        var (saved, topic, _) = await LoseControllerStateAsync();

        await RestoreAsync(saved);

        await AssertRecoveredAsync(saved, topic);
    }
}

[Collection(SiloKillCollection.Name)]
public sealed class ControllerMovedTests(ClusterFixture fixture) : ControllerRecoveryTests(fixture), IClassFixture<ClusterFixture>
{
    [Fact]
    public async Task A_broker_refused_by_a_controller_without_state_registers_once_the_controller_activates_elsewhere_with_it()
    {
        var (saved, topic, refused) = await LoseControllerStateAsync();
        var host = await Fixture.Client.GetGrain<IManagementGrain>(0).GetActivationAddress(Fixture.Controller, TestContext.Current.CancellationToken);
        var lostHost = Fixture.Silos.Values.Single(s => s.SiloAddress.Equals(host)).Name;
        Assert.NotSame(refused, Fixture.Silo(lostHost).ServiceProvider.GetRequiredService<BrokerRegistration>());
        await RestoreAsync(saved);

        // The controller that could not serve dies with its silo; the next activation, elsewhere, loads the state.
        await Fixture.KillSiloAsync(lostHost);

        await AssertRecoveredAsync(saved, topic);
        Assert.Null(refused.Problem);
    }
}

/// <summary>
/// A new controller activation brings the state in line with membership before it answers: the reports of a broker's
/// death may all have gone to the previous activation (or failed), and the next report comes only with the next
/// membership update, which Orleans may publish tens of seconds later.
/// </summary>
[Collection(SiloKillCollection.Name)]
public sealed class ControllerActivationTests(ClusterFixture fixture) : IClassFixture<ClusterFixture>
{
    [Fact]
    public async Task A_new_controller_activation_moves_leadership_off_a_broker_out_of_membership_before_it_answers()
    {
        var topic = PartitionTestKit.UniqueTopic("orphan");
        await fixture.CreateTopic(topic, partitions: 1, replicationFactor: 2);
        var before = await fixture.Controller.Partition(topic, 0);
        var follower = before.Replicas.Single(r => r.ReplicaId != before.Leader).BrokerId;

        // The state names a leader on a broker that left while no controller activation heard of it.
        await Eventually.WaitUntilAsync(async () =>
        {
            var stored = await ProducerIdLedger.ReadControllerState(fixture);
            var p = stored.State!.Topics[topic].Partitions[0];
            p.Replicas[p.Leader] = "Silo_gone";
            try
            {
                await ProducerIdLedger.Storage(fixture).WriteStateAsync("controller", ProducerIdLedger.ControllerId, stored);
                return true;
            }
            catch (InconsistentStateException)
            {
                return false; // the live activation wrote first (an ISR change): edit its state instead
            }
        }, "the edited state is written");
        await fixture.Controller.Cast<IGrainManagementExtension>().DeactivateOnIdle(TestContext.Current.CancellationToken);

        var first = await fixture.Controller.Partition(topic, 0);

        Assert.Equal(follower, first.LeaderBroker);
        Assert.True(first.LeaderEpoch > before.LeaderEpoch);
    }
}

[Collection(SiloKillCollection.Name)]
public sealed class ControllerStateVanishedTests(ClusterFixture fixture) : ControllerRecoveryTests(fixture), IClassFixture<ClusterFixture>
{
    [Fact]
    public async Task A_controller_whose_record_vanished_under_it_serves_again_once_the_record_is_back_and_hands_out_ids_above_the_old_ones()
    {
        var controller = Fixture.Grains.GetGrain<IControllerInternalGrain>(GrainKeys.Controller);
        var given = await controller.AllocateProducerIds("Silo_0");
        Assert.Equal(ErrorCode.None, given.Error);
        var saved = (await ProducerIdLedger.ReadControllerState(Fixture)).State!;

        // The record vanishes under the live activation: its next write fails, and what it reloads is empty.
        await ProducerIdLedger.Storage(Fixture).ClearStateAsync("controller", ProducerIdLedger.ControllerId, await ProducerIdLedger.ReadControllerState(Fixture));
        Assert.Equal(ErrorCode.NotController, (await controller.AllocateProducerIds("Silo_0")).Error);
        Assert.Equal(ErrorCode.InconsistentClusterId, (await controller.AllocateProducerIds("Silo_0")).Error);

        await ProducerIdLedger.Storage(Fixture).WriteStateAsync("controller", ProducerIdLedger.ControllerId, new GrainState<ControllerState> { State = saved });

        AllocateProducerIdsResult? later = null;
        await Eventually.WaitUntilAsync(async () =>
        {
            later = await controller.AllocateProducerIds("Silo_1");
            return later.Error == ErrorCode.None;
        }, "the controller hands out producer ids again", state: () => $"{later?.Error} {later?.ErrorMessage}");
        Assert.True(later!.Block!.FirstProducerId > given.Block!.LastProducerId);
        await AssertEveryBrokerReadyAsync();
    }
}

