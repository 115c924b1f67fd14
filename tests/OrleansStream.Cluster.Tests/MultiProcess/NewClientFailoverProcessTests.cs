using Microsoft.Extensions.DependencyInjection;
using Orleans.Configuration;
using OrleansStream.Client;
using OrleansStream.Client.Admin;

namespace OrleansStream.Cluster.Tests.MultiProcess;

/// <summary>
/// A client that starts during a failover, as a CLI command does: its first look at the membership comes after a silo
/// was declared dead, so its failure watch sees no departure, and a call it sent through that silo's gateway waits for
/// Orleans' response timeout (dotnet/orleans#10165) unless the SDK gives it up when the gateway connection closes, as
/// Kafka's client fails the requests in flight on a connection that closes. The client here has a ten-minute response
/// timeout and request timeout, so only that give-up can end its calls before the test's deadline.
/// </summary>
[Trait("Category", "Slow")]
public sealed class NewClientFailoverProcessTests
{
    private const int Gateway = 0;
    private const int Restarted = 1;

    /// <summary>
    /// How long after the kill the call may take: the failover (the controller's and the leaders' moves, which waited
    /// for the death to be declared before the kill) on a loaded machine, far inside the ten minutes a call stuck on the
    /// dead connection waits.
    /// </summary>
    private static readonly TimeSpan AfterKill = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task A_new_clients_first_calls_through_a_gateway_killed_after_its_silo_was_declared_dead_are_answered_through_another()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var cluster = await SiloProcesses.StartAsync(3);
        var topic = PartitionTestKit.UniqueTopic("newclient");
        using (var setup = new AdminClientBuilder(cluster.Client).Build())
            await setup.CreateTopicsAsync([new TopicSpecification { Name = topic, NumPartitions = 1, ReplicationFactor = 3 }]);
        var management = cluster.Client.GetGrain<IManagementGrain>(0);
        var gatewaySilo = (await management.GetHosts(true, ct)).Keys.Single(s => cluster.IndexOfSiloPort(s.Endpoint.Port) == Gateway);

        // Every call of this client goes through one gateway connection (one sender bucket), opened while its other
        // gateway was down: silo 0's. Silo 1 comes back for the calls after silo 0's death.
        cluster.Kill(Restarted);
        using var host = await cluster.ConnectClientAsync([Gateway, Restarted], TimeSpan.FromMinutes(10),
            c => c.Configure<ClientMessagingOptions>(o => o.ClientSenderBuckets = 1));
        var client = host.Services.GetRequiredService<IClusterClient>();
        await cluster.StartSiloAsync(Restarted);
        using var witnessHost = await cluster.ConnectClientAsync([Restarted]);
        var witness = witnessHost.Services.GetRequiredService<IClusterClient>();

        // Frozen, silo 0 keeps the client's connection open and answers nothing until the cluster declares it dead.
        cluster.Freeze(Gateway);
        await Eventually.WaitUntilAsync(async () =>
        {
            try
            {
                var view = await witness.GetGrain<IMembershipViewGrain>(0).GetView(-1).WaitAsync(TimeSpan.FromSeconds(2), ct);
                return view.ActiveSilos is { } active && !active.Contains(gatewaySilo);
            }
            catch (Exception e) when (e is TimeoutException or OrleansException)
            {
                return false;
            }
        }, "the cluster declares the frozen silo dead", TimeSpan.FromSeconds(90));

        // The client's first SDK calls, a read and a CreateTopics (not idempotent: it may wait its whole request
        // timeout), and with them its watch's first poll, go to the frozen gateway; the kill then closes the connection,
        // and the first view the watch gets (through silo 1) already lacks silo 0.
        using var admin = new AdminClientBuilder(client, new AdminClientConfig { RequestTimeoutMs = 600_000 }).Build();
        var created = PartitionTestKit.UniqueTopic("created");
        var describe = admin.DescribeTopicsAsync([topic]);
        var create = admin.CreateTopicsAsync([new TopicSpecification { Name = created, NumPartitions = 1, ReplicationFactor = 2 }]);
        cluster.Kill(Gateway);

        await Task.WhenAll(describe, create).WaitAsync(AfterKill, ct);
        var partition = Assert.Single(Assert.Single((await describe).TopicDescriptions).Partitions);
        Assert.NotEqual(SiloProcesses.BrokerId(Gateway), partition.LeaderBroker);
        // The frozen gateway never passed the first attempt on: the one sent again created the topic.
        Assert.Single(Assert.Single((await admin.DescribeTopicsAsync([created])).TopicDescriptions).Partitions);
    }
}
