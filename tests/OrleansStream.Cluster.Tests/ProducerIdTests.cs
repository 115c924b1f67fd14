using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Runtime;
using Orleans.Storage;
using OrleansStream.Server;
using OrleansStream.Server.Cluster;
using OrleansStream.Server.Controller;
using OrleansStream.Server.Transactions.ProducerIds;

namespace OrleansStream.Cluster.Tests;

/// <summary>What the producer id tests record: every id each broker handed out and every block it held.</summary>
internal sealed class ProducerIdLedger
{
    public ConcurrentBag<(string Broker, long Id)> Ids { get; } = [];

    public ConcurrentDictionary<long, ProducerIdsBlock> Blocks { get; } = new();

    public static readonly GrainId ControllerId = GrainId.Create("os-controller", GrainKeys.Controller);

    /// <summary>Takes <paramref name="count"/> ids from each running broker, <paramref name="callers"/> callers per broker at once.</summary>
    public async Task TakeFromEveryBroker(ClusterFixture fixture, int callers, int count)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        deadline.CancelAfter(TimeSpan.FromSeconds(60));
        var work = new List<Task>();
        foreach (var (_, silo) in fixture.Silos)
        {
            var manager = silo.ServiceProvider.GetRequiredService<ProducerIdManager>();
            for (var c = 0; c < callers; c++)
                work.Add(Task.Run(async () =>
                {
                    var previous = -1L;
                    for (var i = 0; i < count / callers; i++)
                    {
                        var id = await manager.NextProducerIdAsync(deadline.Token);
                        Assert.True(id > previous, $"{silo.Name} handed out {id} after {previous} to one caller");
                        previous = id;
                        Ids.Add((silo.Name, id));
                        Remember(manager.CurrentBlock);
                        Remember(manager.NextBlock);
                    }
                }, deadline.Token));
        }
        await Task.WhenAll(work);
    }

    private void Remember(ProducerIdsBlock? block)
    {
        if (block is not null) Assert.Equal(block, Blocks.GetOrAdd(block.FirstProducerId, block));
    }

    /// <summary>No id twice, blocks disjoint, and each id from a block assigned to the broker that handed it out.</summary>
    public void AssertUnique()
    {
        var ids = Ids.ToList();
        Assert.Equal(ids.Count, ids.Select(static i => i.Id).Distinct().Count());
        var blocks = Blocks.Values.OrderBy(static b => b.FirstProducerId).ToList();
        for (var i = 1; i < blocks.Count; i++)
            Assert.True(blocks[i].FirstProducerId > blocks[i - 1].LastProducerId, $"{blocks[i]} overlaps {blocks[i - 1]}");
        foreach (var (broker, id) in ids)
            Assert.Contains(blocks, b => b.AssignedBroker == broker && b.FirstProducerId <= id && id <= b.LastProducerId);
    }

    public static async Task<GrainState<ControllerState>> ReadControllerState(ClusterFixture fixture)
    {
        var stored = new GrainState<ControllerState> { State = new ControllerState() };
        await Storage(fixture).ReadStateAsync("controller", ControllerId, stored);
        return stored;
    }

    public static IGrainStorage Storage(ClusterFixture fixture) =>
        fixture.Silos.Values.First().ServiceProvider.GetRequiredKeyedService<IGrainStorage>(OrleansStreamDefaults.GrainStorageName);

    /// <summary>Kills the silo the (active) controller lives on; returns its broker id.</summary>
    public static async Task<string> KillControllerSilo(ClusterFixture fixture)
    {
        var controller = fixture.Grains.GetGrain<IControllerInternalGrain>(GrainKeys.Controller);
        var host = await fixture.Client.GetGrain<IManagementGrain>(0).GetActivationAddress(controller, TestContext.Current.CancellationToken);
        Assert.NotNull(host);
        var victim = fixture.Silos.Values.Single(s => s.SiloAddress.Equals(host)).Name;
        await fixture.KillSiloAsync(victim);
        return victim;
    }
}

[Collection(ClusterCollection.Name)]
public sealed class ProducerIdTests(ClusterFixture fixture)
{
    [Fact]
    public async Task Many_concurrent_callers_on_every_broker_never_get_the_same_id()
    {
        var ledger = new ProducerIdLedger();
        var viaClient = new Task<InitProducerIdResponse>[300];

        for (var i = 0; i < viaClient.Length; i++) viaClient[i] = fixture.Grains.GetGrain<IProducerIdGrain>(0).InitProducerId();
        await ledger.TakeFromEveryBroker(fixture, callers: 8, count: 2_400);
        var answers = await Task.WhenAll(viaClient);

        Assert.All(answers, a => Assert.Equal((ErrorCode.None, (short)0), (a.Error, a.ProducerEpoch)));
        ledger.AssertUnique();
        var all = ledger.Ids.Select(static i => i.Id).Concat(answers.Select(static a => a.ProducerId)).ToList();
        Assert.Equal(all.Count, all.Distinct().Count());
        Assert.Equal(3, ledger.Blocks.Values.Select(static b => b.AssignedBroker).Distinct().Count());
        var stored = await ProducerIdLedger.ReadControllerState(fixture);
        Assert.True(stored.State!.NextProducerIdBlockStart > all.Max());
        Assert.True(stored.State!.NextProducerIdBlockStart > ledger.Blocks.Values.Max(static b => b.LastProducerId));
    }
}

/// <summary>Its own brokers, where nothing else asks for producer ids: the controller's state is written behind its back, its silo killed.</summary>
public sealed class ProducerIdFailoverTests(ClusterFixture fixture) : IClassFixture<ClusterFixture>, IAsyncDisposable
{
    /// <summary>The killed controller silo comes back before the class's next test.</summary>
    public async ValueTask DisposeAsync() => await fixture.StartStoppedSilosAsync();

    [Fact]
    public async Task A_stale_controller_activation_hands_out_no_block_and_the_next_one_starts_above_the_newer_state()
    {
        var controller = fixture.Grains.GetGrain<IControllerInternalGrain>(GrainKeys.Controller);
        var before = await controller.AllocateProducerIds("Silo_0");
        Assert.Equal(ErrorCode.None, before.Error);

        // Another activation hands out blocks and writes its state behind the live one's back.
        var newer = await ProducerIdLedger.ReadControllerState(fixture);
        newer.State!.NextProducerIdBlockStart += 50 * ProducerIdsBlock.DefaultSize;
        await ProducerIdLedger.Storage(fixture).WriteStateAsync("controller", ProducerIdLedger.ControllerId, newer);

        var refused = await controller.AllocateProducerIds("Silo_0");
        var after = await controller.AllocateProducerIds("Silo_0");

        Assert.Equal(ErrorCode.NotController, refused.Error);
        Assert.Null(refused.Block);
        Assert.Equal(ErrorCode.None, after.Error);
        Assert.True(after.Block!.FirstProducerId >= newer.State!.NextProducerIdBlockStart);
        Assert.True((await ProducerIdLedger.ReadControllerState(fixture)).State!.NextProducerIdBlockStart > after.Block.LastProducerId);
    }

    [Fact]
    public async Task Ids_stay_unique_and_blocks_increase_across_a_controller_failover()
    {
        var ledger = new ProducerIdLedger();
        await ledger.TakeFromEveryBroker(fixture, callers: 4, count: 2_400);
        var before = ledger.Blocks.Values.Max(static b => b.LastProducerId);
        var known = new HashSet<long>(ledger.Blocks.Keys);

        var victim = await ProducerIdLedger.KillControllerSilo(fixture);
        await ledger.TakeFromEveryBroker(fixture, callers: 4, count: 2_400);

        ledger.AssertUnique();
        var later = ledger.Blocks.Values.Where(b => !known.Contains(b.FirstProducerId)).ToList();
        Assert.NotEmpty(later);
        Assert.All(later, b => Assert.True(b.FirstProducerId > before, $"{b} from the new controller activation is not above {before}"));
        Assert.DoesNotContain(later, b => b.AssignedBroker == victim);
        var stored = await ProducerIdLedger.ReadControllerState(fixture);
        Assert.True(stored.State!.NextProducerIdBlockStart > later.Max(static b => b.LastProducerId));
    }
}

/// <summary>Its own brokers: the controller's state is removed.</summary>
public sealed class ProducerIdStateLostTests(ClusterFixture fixture) : IClassFixture<ClusterFixture>
{
    [Fact]
    public async Task A_controller_whose_state_vanished_or_that_activates_without_it_hands_out_no_producer_ids()
    {
        var controller = fixture.Grains.GetGrain<IControllerInternalGrain>(GrainKeys.Controller);
        Assert.Equal(ErrorCode.None, (await controller.AllocateProducerIds("Silo_0")).Error);
        foreach (var (_, silo) in fixture.Silos)
        {
            var directory = fixture.DataDirectory(silo.Name);
            await Eventually.WaitUntilAsync(() => Task.FromResult(MetaProperties.Read(directory).ClusterId is not null), $"{silo.Name} records the cluster id");
        }

        // Grain storage loses the controller's record under the live activation: its write fails, and what it reloads is empty.
        var stored = await ProducerIdLedger.ReadControllerState(fixture);
        await ProducerIdLedger.Storage(fixture).ClearStateAsync("controller", ProducerIdLedger.ControllerId, stored);
        var stale = await controller.AllocateProducerIds("Silo_0");
        var vanished = await controller.AllocateProducerIds("Silo_0");

        // A new activation on another silo finds no state while the brokers hold the cluster's data.
        await ProducerIdLedger.KillControllerSilo(fixture);
        AllocateProducerIdsResult? activated = null;
        await Eventually.WaitUntilAsync(async () =>
        {
            try
            {
                activated = await controller.AllocateProducerIds("Silo_1");
                return true;
            }
            catch (Exception e) when (e is TimeoutException or OrleansMessageRejectionException or InvalidOperationException)
            {
                return false; // the dead silo's activation is still registered, or the new one is still deciding
            }
        }, "the controller answers from another silo", attemptTimeout: Eventually.AttemptAcrossFailover);
        var init = await fixture.Grains.GetGrain<IProducerIdGrain>(0).InitProducerId();

        Assert.Equal(ErrorCode.NotController, stale.Error);
        Assert.Equal((ErrorCode.InconsistentClusterId, null), (vanished.Error, vanished.Block));
        Assert.Equal((ErrorCode.InconsistentClusterId, null), (activated!.Error, activated.Block));
        Assert.Equal((ErrorCode.InconsistentClusterId, -1L), (init.Error, init.ProducerId));
        Assert.False((await ProducerIdLedger.ReadControllerState(fixture)).RecordExists);
    }
}
