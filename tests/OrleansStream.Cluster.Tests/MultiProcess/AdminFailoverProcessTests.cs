using Microsoft.Extensions.DependencyInjection;
using Orleans.Configuration;
using Orleans.Runtime.Placement;
using OrleansStream.Client;
using OrleansStream.Client.Admin;

namespace OrleansStream.Cluster.Tests.MultiProcess;

/// <summary>
/// An admin read through a silo that dies: Orleans 10.4.2 fails a call in flight to a dead gateway only at the client's
/// response timeout (dotnet/orleans#10165). The admin client here has a ten-minute request timeout over an Orleans
/// client with a ten-minute response timeout, so only the SDK's give-up (<see cref="SiloFailureWatch"/>) can end the
/// call before the test's deadline.
/// </summary>
[Trait("Category", "Slow")]
public sealed class AdminFailoverProcessTests
{
    private const int Gateway = 0;
    private const int Restarted = 1;

    [Fact]
    public async Task ListConsumerGroupOffsets_through_the_coordinators_dead_silo_returns_the_committed_offsets_before_its_request_timeout()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var cluster = await SiloProcesses.StartAsync(3);
        var tp = new TopicPartition(PartitionTestKit.UniqueTopic("admin"), 0);
        using (var setup = new AdminClientBuilder(cluster.Client).Build())
            await setup.CreateTopicsAsync([new TopicSpecification { Name = tp.Topic, NumPartitions = 1, ReplicationFactor = 3 }]);

        // Every call of this client goes through one gateway connection (one sender bucket), opened while its other
        // gateway was down: silo 0's. Silo 1 comes back for the calls after silo 0's death.
        cluster.Kill(Restarted);
        using var host = await cluster.ConnectClientAsync([Gateway, Restarted], TimeSpan.FromMinutes(10),
            c => c.Configure<ClientMessagingOptions>(o => o.ClientSenderBuckets = 1));
        var client = host.Services.GetRequiredService<IClusterClient>();
        // Placing the grain, silo 0 may look it up in the killed silo's directory range until that one is declared dead.
        await Eventually.WaitUntilAsync(async () =>
        {
            try
            {
                await client.GetGrain<IMembershipViewGrain>(0).GetView(-1);
                return true;
            }
            catch (OrleansMessageRejectionException)
            {
                return false;
            }
        }, "a first call through silo 0", TimeSpan.FromSeconds(60));
        await cluster.StartSiloAsync(Restarted);
        using var witnessHost = await cluster.ConnectClientAsync([Restarted]);
        var witness = witnessHost.Services.GetRequiredService<IClusterClient>();

        using var admin = new AdminClientBuilder(client, new AdminClientConfig { RequestTimeoutMs = 600_000 }).Build();
        var (group, coordinator) = await GroupCoordinatedOnAsync(cluster, admin, tp, ct);
        // The client's SiloFailureWatch now knows a membership view with silo 0 active.
        Assert.Equal(7, Committed(await admin.ListConsumerGroupOffsetsAsync(group), tp));

        // Frozen, silo 0 keeps its connections open and answers nothing, until the restarted silo (this client's gateway
        // once silo 0 is gone) no longer counts it among the active silos.
        cluster.Freeze(Gateway);
        await Eventually.WaitUntilAsync(async () =>
        {
            try
            {
                // Until the frozen silo is declared dead, the call may wait on it (its directory range).
                var view = await witness.GetGrain<IMembershipViewGrain>(0).GetView(-1).WaitAsync(TimeSpan.FromSeconds(2), ct);
                return view.ActiveSilos is { } active && !active.Contains(coordinator);
            }
            catch (TimeoutException)
            {
                return false;
            }
        }, "the restarted silo sees the frozen one dead", TimeSpan.FromSeconds(90));

        // Issued now, the read waits on the frozen gateway; its client learns of the death only once that gateway is
        // killed, after the read began, so the departure rule leaves it: the closed gateway connection gives it up.
        var read = admin.ListConsumerGroupOffsetsAsync(group);
        cluster.Kill(Gateway);
        var offsets = await read.WaitAsync(TimeSpan.FromSeconds(60), ct);
        Assert.Equal(7, Committed(offsets, tp));
    }

    /// <summary>A group with an offset committed (7 for <paramref name="tp"/>) whose coordinator runs on silo 0.</summary>
    private static async Task<(string Group, SiloAddress Silo)> GroupCoordinatedOnAsync(
        SiloProcesses cluster, IAdminClient admin, TopicPartition tp, CancellationToken ct)
    {
        var management = cluster.Client.GetGrain<IManagementGrain>(0);
        var silo = (await management.GetHosts(onlyActive: true)).Keys.Single(s => cluster.IndexOfSiloPort(s.Endpoint.Port) == Gateway);
        var group = PartitionTestKit.UniqueTopic("group");
        RequestContext.Set(IPlacementDirector.PlacementHintKey, silo);
        try
        {
            // The coordinator checks the partitions with the controller, which may still be moving after silo 1's restart.
            await Eventually.WaitUntilAsync(async () =>
            {
                try
                {
                    await admin.AlterConsumerGroupOffsetsAsync(group, [new TopicPartitionOffset(tp, 7)]);
                    return true;
                }
                catch (ConsumerGroupException e) when (e.Error.IsRetriable)
                {
                    return false;
                }
            }, $"group {group} commits", TimeSpan.FromSeconds(60));
        }
        finally
        {
            RequestContext.Remove(IPlacementDirector.PlacementHintKey);
        }
        Assert.Equal(silo, await management.GetActivationAddress(cluster.Client.GetGrain<IConsumerGroupGrain>(group), ct));
        return (group, silo);
    }

    private static long Committed(ListConsumerGroupOffsetsResult result, TopicPartition tp) =>
        Assert.Single(result.Partitions, p => p.TopicPartition == tp).CommittedOffset;
}
