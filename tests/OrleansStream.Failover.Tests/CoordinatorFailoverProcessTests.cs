using Microsoft.Extensions.DependencyInjection;
using OrleansStream.Client;

namespace OrleansStream.Failover.Tests;

/// <summary>
/// A call in flight to a silo that dies: Orleans 10.4.2 fails it only at the client's response timeout
/// (dotnet/orleans#10165). The client here has a ten-minute response timeout, so only the SDK's own failover
/// (<see cref="SiloFailureWatch"/>) can end the call before the test's deadlines.
/// </summary>
[Trait("Category", "Slow")]
public sealed class CoordinatorFailoverProcessTests
{
    [Fact]
    public async Task A_commit_in_flight_when_the_group_coordinators_silo_dies_is_retried_on_the_new_coordinator()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var cluster = await SiloProcesses.StartAsync(3);
        var topic = PartitionTestKit.UniqueTopic("commit");
        var controller = cluster.Client.GetGrain<IClusterControllerGrain>(GrainKeys.Controller);
        Assert.Equal(ErrorCode.None, Assert.Single(await controller.CreateTopics([new NewTopic(topic, 1, 3)])).Error);
        await using (var producer = new ProducerBuilder<Null, string>(cluster.Client, new ProducerConfig { Acks = Acks.All }).Build())
            for (var i = 0; i < 5; i++) await producer.ProduceAsync(topic, new Message<Null, string> { Value = $"r{i}" }, ct);
        var group = PartitionTestKit.UniqueTopic("group");
        var coordinator = cluster.Client.GetGrain<IConsumerGroupGrain>(group);
        await coordinator.Describe();
        var address = await cluster.Client.GetGrain<IManagementGrain>(0).GetActivationAddress(coordinator, ct);
        var victim = cluster.IndexOfSiloPort(address!.Endpoint.Port);

        using var host = await cluster.ConnectClientAsync([.. Enumerable.Range(0, 3).Where(i => i != victim)], TimeSpan.FromMinutes(10));
        var client = host.Services.GetRequiredService<IClusterClient>();
        using var consumer = new ConsumerBuilder<Ignore, string>(client, new ConsumerConfig { GroupId = group, EnableAutoCommit = false }).Build();
        var tp = new TopicPartition(topic, 0);
        consumer.Assign(tp);
        consumer.Commit([new TopicPartitionOffset(tp, 1)]);

        // Frozen, the coordinator's silo keeps its connections open and answers nothing: the commit stays in flight.
        cluster.Freeze(victim);
        var inFlight = Task.Run(() => consumer.Commit([new TopicPartitionOffset(tp, 2)]), ct);
        var broker = SiloProcesses.BrokerId(victim);
        await Eventually.WaitUntilAsync(async () =>
        {
            try
            {
                var m = await client.GetGrain<IClusterControllerGrain>(GrainKeys.Controller).GetMetadata(new MetadataRequest([topic]))
                    .WaitAsync(TimeSpan.FromSeconds(2), ct);
                return m.Brokers.Any(b => b.BrokerId == broker && !b.IsAlive);
            }
            catch (TimeoutException)
            {
                return false; // the controller may have lived on the frozen silo too
            }
        }, $"membership declares {broker} dead", TimeSpan.FromSeconds(90));
        cluster.Kill(victim);

        // Kafka's commitSync: the commit given up on the dead coordinator is retried on its new activation and succeeds,
        // long before the response timeout; the next commit goes straight there.
        var outcome = await Record.ExceptionAsync(() => inFlight.WaitAsync(TimeSpan.FromSeconds(60), ct));
        Assert.Null(outcome);
        Assert.Equal(2, consumer.Committed([tp], TimeSpan.FromSeconds(30))[0].Offset);
        consumer.Commit([new TopicPartitionOffset(tp, 3)]);
        Assert.Equal(3, consumer.Committed([tp], TimeSpan.FromSeconds(30))[0].Offset);
    }
}
