using Confluent.Kafka;
using Confluent.Kafka.Admin;
using static OrleansStream.Kafka.Tests.LeaderChangeTests;

namespace OrleansStream.Kafka.Tests;

/// <summary>
/// ElectLeaders (KIP-460) from Confluent's admin client, as <c>kafka-leader-election.sh</c> uses it, on three broker
/// processes: an unclean election on request for a partition whose only in-sync replica died (the topic does not allow
/// one by itself), then the preferred replica given leadership back once its broker returned and caught up.
/// </summary>
[Trait("Category", "Slow")]
public sealed class ElectLeadersTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task The_admin_client_elects_an_unclean_leader_and_then_the_preferred_one_with_Kafkas_answers()
    {
        await using var silos = await SiloProcesses.StartAsync(3);
        var controller = silos.Client.GetGrain<IClusterControllerGrain>(GrainKeys.Controller);
        await WaitForLiveBrokersAsync(controller, 3);
        var topic = "elect-" + Guid.NewGuid().ToString("N")[..8];
        Assert.Equal(ErrorCode.None, Assert.Single(await controller.CreateTopics([new NewTopic(topic, 1, 2)])).Error);
        var before = await PartitionAsync(controller, topic);
        Assert.Equal(0, before.Leader);
        var preferred = silos.IndexOf(before.LeaderBroker!);
        var follower = silos.IndexOf(before.Replicas[1].BrokerId);
        var tp = new Confluent.Kafka.TopicPartition(topic, 0);

        using var producer = new ProducerBuilder<Null, string>(new ProducerConfig
        {
            BootstrapServers = silos.BootstrapServers, Acks = Confluent.Kafka.Acks.All, LingerMs = 0, MessageTimeoutMs = 60_000,
        }).Build();
        await producer.ProduceAsync(topic, new Message<Null, string> { Value = "a" }, TestContext.Current.CancellationToken);

        // The follower dies and the ISR shrinks to the preferred replica, which then takes "b" alone and dies too.
        silos.Kill(follower);
        await WaitForPartitionAsync(controller, topic, p => p.Isr.Count == 1, "the ISR shrinks to the leader");
        await producer.ProduceAsync(topic, new Message<Null, string> { Value = "b" }, TestContext.Current.CancellationToken);
        silos.Kill(preferred);
        await WaitForBrokerDeadAsync(controller, SiloProcesses.BrokerId(preferred));
        await silos.StartSiloAsync(follower);
        await WaitForPartitionAsync(controller, topic, p => p.Leader < 0, "the partition has no leader");

        // Kafka's answers: the preferred replica is not available; an unclean election makes the returned follower leader.
        Assert.Equal(Confluent.Kafka.ErrorCode.PreferredLeaderNotAvailable, await ElectAsync(silos, Confluent.Kafka.ElectionType.Preferred, tp));
        Assert.Equal(Confluent.Kafka.ErrorCode.NoError, await ElectAsync(silos, Confluent.Kafka.ElectionType.Unclean, tp));
        var unclean = await PartitionAsync(controller, topic);
        Assert.Equal((1, SiloProcesses.BrokerId(follower)), (unclean.Leader, unclean.LeaderBroker));
        Assert.Equal(Confluent.Kafka.ErrorCode.ElectionNotNeeded, await ElectAsync(silos, Confluent.Kafka.ElectionType.Unclean, tp));
        await producer.ProduceAsync(topic, new Message<Null, string> { Value = "c" }, TestContext.Current.CancellationToken);

        // The preferred replica's broker returns, truncates to the new leader's log and catches up; then it leads again.
        await silos.StartSiloAsync(preferred);
        await WaitForPartitionAsync(controller, topic, p => p.Isr.Contains(0), "the preferred replica is in sync again");
        Assert.Equal(Confluent.Kafka.ErrorCode.NoError, await ElectAsync(silos, Confluent.Kafka.ElectionType.Preferred, tp));
        var back = await PartitionAsync(controller, topic);
        Assert.Equal((0, SiloProcesses.BrokerId(preferred)), (back.Leader, back.LeaderBroker));
        Assert.True(back.LeaderEpoch > unclean.LeaderEpoch);
        Assert.Equal(Confluent.Kafka.ErrorCode.ElectionNotNeeded, await ElectAsync(silos, Confluent.Kafka.ElectionType.Preferred, tp));
        await producer.ProduceAsync(topic, new Message<Null, string> { Value = "d" }, TestContext.Current.CancellationToken);

        using var consumer = new ConsumerBuilder<Null, string>(new ConsumerConfig
        {
            BootstrapServers = silos.BootstrapServers, GroupId = "elect-" + Guid.NewGuid().ToString("N")[..8], EnablePartitionEof = true,
        }).Build();
        consumer.Assign(new Confluent.Kafka.TopicPartitionOffset(tp, Offset.Beginning));
        // "b" was on the preferred replica alone when the unclean election chose the follower: it is gone, as in Kafka.
        Assert.Equal(["a", "c", "d"], Consuming.ToEnd(consumer, 1, 3).Select(r => r.Message.Value));
    }

    /// <summary>
    /// The partition's error in the answer of a new admin client, as each run of kafka-leader-election.sh makes one
    /// (an error comes as an exception). librdkafka sends ElectLeaders to the controller broker of its metadata and
    /// waits for that broker to be up: one that learned the controller before its broker died waits on.
    /// </summary>
    private static async Task<Confluent.Kafka.ErrorCode> ElectAsync(SiloProcesses silos, Confluent.Kafka.ElectionType type, Confluent.Kafka.TopicPartition tp)
    {
        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = silos.BootstrapServers }).Build();
        var options = new ElectLeadersOptions { RequestTimeout = TimeSpan.FromSeconds(30), OperationTimeout = TimeSpan.FromSeconds(30) };
        try
        {
            return Assert.Single((await admin.ElectLeadersAsync(type, [tp], options)).TopicPartitions).Error.Code;
        }
        catch (ElectLeadersException e)
        {
            return Assert.Single(e.Results.TopicPartitions).Error.Code;
        }
    }
}
