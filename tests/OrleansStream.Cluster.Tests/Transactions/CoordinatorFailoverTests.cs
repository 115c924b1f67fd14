using System.Collections.Concurrent;
using Orleans.Core.Internal;
using Orleans.Runtime;
using OrleansStream.Server.Controller;
using OrleansStream.Storage.Producers;
using static OrleansStream.TestKit.PartitionTestKit;
using static OrleansStream.Cluster.Tests.Transactions.TransactionTestKit;

namespace OrleansStream.Cluster.Tests.Transactions;

/// <summary>Its own cluster: the test stops a silo, and its silos run <see cref="MarkerFaultFilter"/>.</summary>
public sealed class CoordinatorFailoverFixture : TransactionFixture
{
    protected override void ConfigureSilo(ISiloBuilder silo)
    {
        base.ConfigureSilo(silo);
        silo.AddIncomingGrainCallFilter<MarkerFaultFilter>();
    }
}

/// <summary>
/// For an armed topic, once: its leader answers a transaction marker UnknownTopicOrPartition (as a replica does before it
/// has its state), then the controller's next GetPartitionState for the topic fails (as a call to a silo that just died does).
/// </summary>
public sealed class MarkerFaultFilter : IIncomingGrainCallFilter
{
    private static readonly ConcurrentDictionary<string, int> Armed = new();

    /// <summary>0 armed, 1 the marker refused, 2 the lookup failed too.</summary>
    public static int StepOf(string topic) => Armed.GetValueOrDefault(topic, -1);

    public static void Arm(string topic) => Armed[topic] = 0;

    public Task Invoke(IIncomingGrainCallContext context)
    {
        if (context.MethodName == nameof(IPartitionReplicaGrain.WriteTxnMarker)
            && GrainKeys.ParseReplica(context.TargetId.Key.ToString()!).Topic is var topic && Armed.TryUpdate(topic, 1, 0))
        {
            context.Result = ErrorCode.UnknownTopicOrPartition;
            return Task.CompletedTask;
        }
        if (context.MethodName == nameof(IControllerInternalGrain.GetPartitionState)
            && context.Request.GetArgument(0) is string lookedUp && Armed.TryUpdate(lookedUp, 2, 1))
            throw new SiloUnavailableException($"the controller's silo is gone (a test fault for {lookedUp})");
        return context.Invoke();
    }
}

/// <summary>A coordinator that moves (deactivated, activated again) finishes the marker phase its predecessor began.</summary>
public sealed class CoordinatorFailoverTests(CoordinatorFailoverFixture fixture) : IClassFixture<CoordinatorFailoverFixture>, IAsyncDisposable
{
    private static readonly Dictionary<string, string> MinIsr2 = new() { ["min.insync.replicas"] = "2" };

    /// <summary>Brokers a failed test left stopped come back before the class's next test.</summary>
    public async ValueTask DisposeAsync() => await fixture.StartStoppedSilosAsync();

    [Fact]
    public async Task When_the_coordinators_silo_dies_another_silo_wakes_the_shard_which_aborts_the_dead_producers_transaction()
    {
        var (topic, txnId) = (UniqueTopic("txn-dead"), UniqueTopic("txn-dead-id"));
        await fixture.CreateTopic(topic, replicationFactor: 3);
        var shard = await fixture.Shard(txnId);
        var (_, producer) = await fixture.BeginTransaction(txnId, [new TopicPartition(topic, 0)], timeoutMs: 10_000);
        Assert.Equal(ErrorCode.None, (await (await fixture.Leader(topic, 0)).Produce(new ProduceRequest(Acks.All, 10_000,
            TransactionalBatch(producer.ProducerId, producer.ProducerEpoch, 0, "orphan"), TransactionalId: txnId))).Error);
        var epochBefore = await shard.Wake();
        var host = await fixture.Client.GetGrain<IManagementGrain>(0).GetActivationAddress(shard, TestContext.Current.CancellationToken);
        var victim = fixture.Silos.Values.Single(s => s.SiloAddress.Equals(host)).Name;

        // The producer is gone with it, and nothing calls the coordinator from here on: only the silos' waker can bring
        // the shard back, and only the new activation can abort the open transaction when it times out.
        await fixture.KillSiloAsync(victim);
        List<ReadBatch> batches = [];
        await Eventually.WaitUntilAsync(async () =>
        {
            batches = await ReadBatches(await fixture.Leader(topic, 0));
            return batches.Any(b => b.IsControl);
        }, "the open transaction is aborted", TimeSpan.FromSeconds(60), attemptTimeout: Eventually.AttemptAcrossFailover);
        await fixture.StartSiloAsync(victim);

        var marker = batches.Single(b => b.IsControl);
        Assert.Equal(ControlRecordType.Abort, marker.Marker);
        Assert.True(marker.CoordinatorEpoch > epochBefore, $"the marker's coordinator epoch {marker.CoordinatorEpoch} is the new activation's, above {epochBefore}");
        Assert.Equal((short)(producer.ProducerEpoch + 1), marker.ProducerEpoch);
    }

    [Fact]
    public async Task A_marker_phase_goes_on_when_a_call_fails_while_it_asks_whether_a_refusing_partition_still_exists()
    {
        var (topic, txnId) = (UniqueTopic("txn-lookup"), UniqueTopic("txn-lookup-id"));
        await fixture.CreateTopic(topic, replicationFactor: 1);
        var (coordinator, producer) = await fixture.BeginTransaction(txnId, [new TopicPartition(topic, 0)]);
        MarkerFaultFilter.Arm(topic);

        var ended = await coordinator.EndTxn(new EndTxnRequest(txnId, producer.ProducerId, producer.ProducerEpoch, Commit: true));
        await fixture.WaitForState(txnId, "CompleteCommit");

        Assert.Equal((ErrorCode.None, 2), (ended.Error, MarkerFaultFilter.StepOf(topic)));
        var marker = Assert.Single(await ReadBatches(await fixture.Leader(topic, 0)), b => b.IsControl);
        Assert.Equal(ControlRecordType.Commit, marker.Marker);
    }

    [Fact]
    public async Task A_reactivated_coordinator_writes_the_markers_of_a_stored_PrepareCommit_under_its_own_epoch()
    {
        var (topic, txnId) = (UniqueTopic("txn-resume"), UniqueTopic("txn-resume-id"));
        await fixture.CreateTopic(topic, replicationFactor: 2, configs: MinIsr2);
        var shard = await fixture.Shard(txnId);
        var (coordinator, producer) = await fixture.BeginTransaction(txnId, [new TopicPartition(topic, 0)]);
        var (pid, epoch) = (producer.ProducerId, producer.ProducerEpoch);
        var leader = await fixture.Leader(topic, 0);
        Assert.Equal(ErrorCode.None, (await leader.Produce(new ProduceRequest(Acks.All, 10_000, TransactionalBatch(pid, epoch, 0, "committed"), TransactionalId: txnId))).Error);

        // With its follower's broker stopped, the partition has fewer in-sync replicas than min.insync.replicas: the
        // COMMIT marker is refused (NotEnoughReplicas) and retried, and the transaction stays in PrepareCommit.
        var partition = await fixture.Controller.Partition(topic, 0);
        var follower = partition.Replicas.Single(r => r.ReplicaId != partition.Leader).BrokerId;
        await fixture.StopSiloAsync(follower);
        await Eventually.WaitUntilAsync(async () => (await fixture.Controller.Partition(topic, 0)).Isr.Count == 1, "the follower leaves the ISR",
            attemptTimeout: Eventually.AttemptAcrossFailover);
        var ended = await coordinator.EndTxn(new EndTxnRequest(txnId, pid, epoch, Commit: true));
        var before = await shard.Wake();
        Assert.Equal("PrepareCommit", (await fixture.Describe(txnId)).State);

        await coordinator.Cast<IGrainManagementExtension>().DeactivateOnIdle(TestContext.Current.CancellationToken);
        var after = before;
        await Eventually.WaitUntilAsync(async () => (after = await shard.Wake()) > before, "the coordinator is active again under a new epoch");
        await fixture.StartSiloAsync(follower);
        await fixture.WaitForState(txnId, "CompleteCommit");

        Assert.Equal(ErrorCode.None, ended.Error);
        leader = await fixture.Leader(topic, 0);
        var batches = await ReadBatches(leader);
        Assert.Equal(["committed"], batches[0].Values);
        var markers = batches.Where(b => b.IsControl).ToList();
        Assert.NotEmpty(markers);
        Assert.All(markers, m => Assert.Equal((ControlRecordType.Commit, after), (m.Marker!.Value, m.CoordinatorEpoch)));
    }
}
