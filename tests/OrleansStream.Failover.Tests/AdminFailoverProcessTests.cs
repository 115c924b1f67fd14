using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Orleans.Configuration;
using Orleans.Runtime.Placement;
using OrleansStream.Client;
using OrleansStream.Client.Admin;

namespace OrleansStream.Failover.Tests;

/// <summary>
/// Admin calls through a silo that dies: Orleans 10.4.2 fails a call in flight to a dead gateway only at the client's
/// response timeout (dotnet/orleans#10165). The admin client here has a ten-minute request timeout over an Orleans
/// client with a ten-minute response timeout, so only the SDK's give-up (<see cref="SiloFailureWatch"/>) can end the
/// calls before the test's deadline.
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

        using var host = await ConnectThroughSiloZeroAsync(cluster);
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

        await FreezeUntilDeclaredDeadAsync(cluster, witness, coordinator, ct);

        // Issued now, the read waits on the frozen gateway; its client learns of the death only once that gateway is
        // killed, after the read began, so the departure rule leaves it: the closed gateway connection gives it up.
        var read = admin.ListConsumerGroupOffsetsAsync(group);
        cluster.Kill(Gateway);
        var offsets = await read.WaitAsync(TimeSpan.FromSeconds(60), ct);
        Assert.Equal(7, Committed(offsets, tp));
    }

    /// <summary>
    /// A client that starts during a failover, as a CLI command does: its first look at the membership comes after a silo
    /// was declared dead, so its failure watch sees no departure, and its calls through that silo's gateway wait for
    /// Orleans' response timeout unless the SDK gives them up when the gateway connection closes, as Kafka's client fails
    /// the requests in flight on a connection that closes. One is a CreateTopics, which may wait its whole request timeout.
    /// </summary>
    [Fact]
    public async Task A_new_clients_first_calls_through_a_gateway_killed_after_its_silo_was_declared_dead_are_answered_through_another()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var cluster = await SiloProcesses.StartAsync(3);
        var topic = PartitionTestKit.UniqueTopic("newclient");
        using (var setup = new AdminClientBuilder(cluster.Client).Build())
            await setup.CreateTopicsAsync([new TopicSpecification { Name = topic, NumPartitions = 1, ReplicationFactor = 3 }]);
        var gatewaySilo = (await cluster.Client.GetGrain<IManagementGrain>(0).GetHosts(true, ct)).Keys
            .Single(s => cluster.IndexOfSiloPort(s.Endpoint.Port) == Gateway);
        using var host = await ConnectThroughSiloZeroAsync(cluster);
        var client = host.Services.GetRequiredService<IClusterClient>();
        await cluster.StartSiloAsync(Restarted);
        using var witnessHost = await cluster.ConnectClientAsync([Restarted]);
        await FreezeUntilDeclaredDeadAsync(cluster, witnessHost.Services.GetRequiredService<IClusterClient>(), gatewaySilo, ct);

        // The client's first SDK calls, and with them its watch's first poll, go to the frozen gateway; the kill then
        // closes the connection, and the first view the watch gets (through silo 1) already lacks silo 0.
        using var admin = new AdminClientBuilder(client, new AdminClientConfig { RequestTimeoutMs = 600_000 }).Build();
        var created = PartitionTestKit.UniqueTopic("created");
        var describe = admin.DescribeTopicsAsync([topic]);
        var create = admin.CreateTopicsAsync([new TopicSpecification { Name = created, NumPartitions = 1, ReplicationFactor = 2 }]);
        cluster.Kill(Gateway);

        // The failover (the controller's and the leaders' moves) on a loaded machine, far inside the ten minutes.
        await Task.WhenAll(describe, create).WaitAsync(TimeSpan.FromSeconds(60), ct);
        var partition = Assert.Single(Assert.Single((await describe).TopicDescriptions).Partitions);
        Assert.NotEqual(SiloProcesses.BrokerId(Gateway), partition.LeaderBroker);
        // The frozen gateway never passed the first attempt on: the one sent again created the topic.
        Assert.Single(Assert.Single((await admin.DescribeTopicsAsync([created])).TopicDescriptions).Partitions);
    }

    /// <summary>
    /// A client every call of which goes through one gateway connection (one sender bucket), opened while its other
    /// gateway (silo 1, killed here; the test restarts it for the calls after silo 0's death) was down: silo 0's.
    /// </summary>
    private static Task<IHost> ConnectThroughSiloZeroAsync(SiloProcesses cluster)
    {
        cluster.Kill(Restarted);
        return cluster.ConnectClientAsync([Gateway, Restarted], TimeSpan.FromMinutes(10),
            c => c.Configure<ClientMessagingOptions>(o => o.ClientSenderBuckets = 1));
    }

    /// <summary>
    /// Frozen, silo 0 keeps its connections open and answers nothing, until <paramref name="witness"/> (a client of the
    /// restarted silo) no longer counts it among the active silos.
    /// </summary>
    private static async Task FreezeUntilDeclaredDeadAsync(SiloProcesses cluster, IClusterClient witness, SiloAddress silo, CancellationToken ct)
    {
        cluster.Freeze(Gateway);
        await Eventually.WaitUntilAsync(async () =>
        {
            try
            {
                // Until the frozen silo is declared dead, the call may wait on it (its directory range).
                var view = await witness.GetGrain<IMembershipViewGrain>(0).GetView(-1).WaitAsync(TimeSpan.FromSeconds(2), ct);
                return view.ActiveSilos is { } active && !active.Contains(silo);
            }
            catch (TimeoutException)
            {
                return false;
            }
        }, "the restarted silo sees the frozen one dead", TimeSpan.FromSeconds(90));
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
                    await admin.AlterConsumerGroupOffsetsAsync([new ConsumerGroupTopicPartitionOffsets(group, [new TopicPartitionOffset(tp, 7)])]);
                    return true;
                }
                catch (AlterConsumerGroupOffsetsException e) when (e.Error.IsRetriable)
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

    private static long Committed(ConsumerGroupLag result, TopicPartition tp) =>
        Assert.Single(result.Partitions, p => p.TopicPartition == tp).CommittedOffset;
}
