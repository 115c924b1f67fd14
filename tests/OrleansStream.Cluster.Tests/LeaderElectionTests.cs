using OrleansStream.Server;
using OrleansStream.Server.Controller;
using static OrleansStream.TestKit.PartitionTestKit;

namespace OrleansStream.Cluster.Tests;

/// <summary>
/// Kafka's leader elections on request (ElectLeaders, KIP-460) and its <c>auto.leader.rebalance.enable</c>: leadership
/// goes back to a partition's preferred replica (the first of its assignment) once that replica is live and in sync.
/// Leadership is moved off it first as a rolling restart does (its broker stops gracefully and starts again); its
/// replica then follows the new leader and rejoins the ISR. The shared fixtures run without the rebalance (ClusterFixture).
/// </summary>
public sealed class LeaderElectionTests(LeaderElectionTests.Fixture fixture) : IClassFixture<LeaderElectionTests.Fixture>
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    public sealed class Fixture : ClusterFixture
    {
        protected override void ConfigureBroker(BrokerOptions options) => ReplicationFixture.FastIsr(options);
    }

    [Fact]
    public async Task A_preferred_election_gives_leadership_back_once_the_preferred_replica_is_in_sync_again()
    {
        var topic = UniqueTopic("elect");
        var moved = await MoveLeadershipOffThePreferredReplicaAsync(fixture, topic);
        Assert.NotEqual(0, moved.Leader);
        var leader = fixture.Grains.GetGrain<IPartitionReplicaGrain>(GrainKeys.Replica(topic, 0, moved.Leader));
        await Eventually.WaitUntilAsync(async () => await leader.GetStatus() is { IsLeader: true } s && s.LeaderEpoch == moved.LeaderEpoch,
            "the new leader leads", Wait);
        Assert.Equal(ErrorCode.None, (await leader.Produce(new ProduceRequest(Acks.All, 10_000, Batch("b")))).Error);
        await Eventually.WaitUntilAsync(async () => (await fixture.Controller.Partition(topic, 0)).Isr.Contains(0), "the preferred replica is in sync again", Wait);
        moved = await fixture.Controller.Partition(topic, 0);

        var results = await fixture.Controller.ElectLeaders(ElectionType.Preferred, [new ElectionPartitions(topic, [0])]);

        Assert.Equal([new ElectionResult(topic, 0, ErrorCode.None)], results);
        var after = await fixture.Controller.Partition(topic, 0);
        Assert.Equal((0, moved.LeaderEpoch + 1), (after.Leader, after.LeaderEpoch));
        var preferred = fixture.Grains.GetGrain<IPartitionReplicaGrain>(GrainKeys.Replica(topic, 0, 0));
        await Eventually.WaitUntilAsync(async () => await preferred.GetStatus() is { IsLeader: true } s && s.LeaderEpoch == after.LeaderEpoch,
            "the preferred replica leads in the new epoch", Wait);
        Assert.Equal(ErrorCode.None, (await preferred.Produce(new ProduceRequest(Acks.All, 10_000, Batch("c")))).Error);
        Assert.Equal(["a", "b", "c"], (await ReadAll(preferred)).Select(r => r.Value));

        // Once more: not needed. For every partition, only the partitions that needed an election are reported.
        Assert.Equal(ErrorCode.ElectionNotNeeded, Assert.Single(await fixture.Controller.ElectLeaders(ElectionType.Preferred, [new ElectionPartitions(topic, [0])])).Error);
        Assert.DoesNotContain(await fixture.Controller.ElectLeaders(ElectionType.Preferred, null), r => r.Topic == topic);
    }

    /// <summary>
    /// Fetch v12's last fetched epoch (the Java consumer sends it): a client that read epoch 0 further than epoch 0 went
    /// in the new leader's log gets the diverging epoch and where it ended, and no records, as Kafka's
    /// Partition.readRecords answers; one whose epoch agrees reads on.
    /// </summary>
    [Fact]
    public async Task A_fetch_whose_last_fetched_epoch_ended_earlier_in_the_leaders_log_gets_the_diverging_epoch()
    {
        var topic = UniqueTopic("diverge");
        var moved = await MoveLeadershipOffThePreferredReplicaAsync(fixture, topic);
        var leader = fixture.Grains.GetGrain<IPartitionReplicaGrain>(GrainKeys.Replica(topic, 0, moved.Leader));
        await Eventually.WaitUntilAsync(async () => await leader.GetStatus() is { IsLeader: true } s && s.LeaderEpoch == moved.LeaderEpoch,
            "the new leader leads", Wait);
        Assert.Equal(ErrorCode.None, (await leader.Produce(new ProduceRequest(Acks.All, 10_000, Batch("b")))).Error);

        // Epoch 0 holds offset 0 only ("a"); the client thinks it read epoch 0 up to offset 3.
        var diverged = await leader.Fetch(new FetchRequest(3, 1 << 20, MaxWaitMs: 0, CurrentLeaderEpoch: moved.LeaderEpoch, LastFetchedEpoch: 0));
        Assert.Equal((ErrorCode.None, 0, 1L, 0), (diverged.Error, diverged.DivergingEpoch, diverged.DivergingEndOffset, diverged.Records.Length));
        var agrees = await leader.Fetch(new FetchRequest(1, 1 << 20, MaxWaitMs: 0, CurrentLeaderEpoch: moved.LeaderEpoch, LastFetchedEpoch: 0));
        Assert.Equal((ErrorCode.None, -1), (agrees.Error, agrees.DivergingEpoch));
        Assert.True(agrees.Records.Length > 0);
        agrees.Records.Dispose();
    }

    [Fact]
    public async Task The_SDKs_admin_client_elects_and_reports_as_Confluents_does()
    {
        var topic = UniqueTopic("sdk-elect");
        await MoveLeadershipOffThePreferredReplicaAsync(fixture, topic);
        await Eventually.WaitUntilAsync(async () => (await fixture.Controller.Partition(topic, 0)).Isr.Contains(0), "the preferred replica is in sync again", Wait);
        using var admin = new Client.AdminClientBuilder(fixture.Client).Build();
        var tp = new TopicPartition(topic, 0);

        var result = await admin.ElectLeadersAsync(ElectionType.Preferred, [tp]);

        Assert.Equal((tp, ErrorCode.None), Assert.Single(result.TopicPartitions) is var r ? (r.TopicPartition, r.Error.Code) : default);
        Assert.Equal(0, (await fixture.Controller.Partition(topic, 0)).Leader);
        var again = await Assert.ThrowsAsync<Client.Admin.ElectLeadersException>(() => admin.ElectLeadersAsync(ElectionType.Preferred, [tp, new TopicPartition(topic, 9)]));
        Assert.Equal([ErrorCode.ElectionNotNeeded, ErrorCode.UnknownTopicOrPartition], again.Results.TopicPartitions.Select(p => p.Error.Code));
        Assert.Equal(ErrorCode.ElectionNotNeeded, again.Error.Code);
    }

    [Fact]
    public async Task Elections_of_unknown_partitions_or_of_partitions_with_a_live_leader_are_refused_with_Kafkas_errors()
    {
        var topic = UniqueTopic("refuse");
        await fixture.CreateTopic(topic, replicationFactor: 3);

        var unclean = await fixture.Controller.ElectLeaders(ElectionType.Unclean, [new ElectionPartitions(topic, [0, 5]), new ElectionPartitions("no-such-topic", [0])]);
        Assert.Equal([(topic, 0, ErrorCode.ElectionNotNeeded), (topic, 5, ErrorCode.UnknownTopicOrPartition), ("no-such-topic", 0, ErrorCode.UnknownTopicOrPartition)],
            unclean.Select(r => (r.Topic, r.Partition, r.Error)));
        Assert.Equal(ErrorCode.ElectionNotNeeded, Assert.Single(await fixture.Controller.ElectLeaders(ElectionType.Preferred, [new ElectionPartitions(topic, [0])])).Error);
        Assert.Equal(0, (await fixture.Controller.Partition(topic, 0)).LeaderEpoch);
    }

    /// <summary>
    /// A broker that asked for a controlled shutdown is given no leadership and does not rejoin an ISR until it registers
    /// again (Kafka's brokers "in controlled shutdown", KIP-841): in the seconds before it stops its replica still
    /// follows, and leadership handed to it then would go down with it.
    /// </summary>
    [Fact]
    public async Task A_broker_in_controlled_shutdown_neither_rejoins_the_isr_nor_is_given_leadership_until_it_registers_again()
    {
        var topic = UniqueTopic("shutting");
        await fixture.CreateTopic(topic, replicationFactor: 3);
        var before = await fixture.Controller.Partition(topic, 0);
        var controller = fixture.Grains.GetGrain<IControllerInternalGrain>(GrainKeys.Controller);
        try
        {
            Assert.True(await controller.ControlledShutdown(before.LeaderBroker!) >= 1);
            var handedOver = (await controller.GetPartitionState(topic, 0))!;
            Assert.NotEqual(0, handedOver.Leader);
            Assert.DoesNotContain(0, handedOver.Isr);

            // The new leader proposing the caught-up replica back, as it does on its next fetch, is refused.
            var rejoin = await controller.AlterPartition(topic, 0, handedOver.Leader, handedOver.LeaderEpoch, handedOver.PartitionEpoch,
                [.. handedOver.Isr, 0]);
            Assert.Equal(ErrorCode.IneligibleReplica, rejoin.Error);
            Assert.DoesNotContain(0, (await fixture.Controller.Partition(topic, 0)).Isr);
            var refused = Assert.Single(await fixture.Controller.ElectLeaders(ElectionType.Preferred, [new ElectionPartitions(topic, [0])]));
            Assert.Equal(ErrorCode.PreferredLeaderNotAvailable, refused.Error);
        }
        finally
        {
            // A restart registers the broker again, as every start does.
            await fixture.RestartSiloAsync(before.LeaderBroker!);
        }
        await Eventually.WaitUntilAsync(async () => (await fixture.Controller.Partition(topic, 0)).Isr.Contains(0), "the preferred replica is in sync after the restart", Wait);
        Assert.Equal(ErrorCode.None, Assert.Single(await fixture.Controller.ElectLeaders(ElectionType.Preferred, [new ElectionPartitions(topic, [0])])).Error);
    }

    /// <summary>
    /// Creates an RF 3 topic with record "a" and moves its leadership off the preferred replica as a rolling restart
    /// does: its broker stops gracefully (a controlled shutdown hands leadership over) and starts again (it registers,
    /// and its replica follows). Returns the partition as the restart left it.
    /// </summary>
    internal static async Task<PartitionMetadata> MoveLeadershipOffThePreferredReplicaAsync(ClusterFixture fixture, string topic)
    {
        await fixture.CreateTopic(topic, replicationFactor: 3);
        var before = await fixture.Controller.Partition(topic, 0);
        Assert.Equal(0, before.Leader);
        Assert.Equal(ErrorCode.None, (await (await fixture.Leader(topic, 0)).Produce(new ProduceRequest(Acks.All, 10_000, Batch("a")))).Error);
        await fixture.RestartSiloAsync(before.LeaderBroker!);
        // The client may still route its first call through the stopped silo's gateway: that is "not yet".
        PartitionMetadata? moved = null;
        await Eventually.WaitUntilAsync(async () => (moved = await fixture.Controller.Partition(topic, 0)).LeaderEpoch > before.LeaderEpoch,
            "leadership moved off the restarted broker", Wait);
        return moved!;
    }
}

/// <summary><c>auto.leader.rebalance.enable</c> with a one-second <c>leader.imbalance.check.interval.seconds</c>.</summary>
public sealed class LeaderRebalanceTests(LeaderRebalanceTests.Fixture fixture) : IClassFixture<LeaderRebalanceTests.Fixture>
{
    public sealed class Fixture : ClusterFixture
    {
        protected override void ConfigureBroker(BrokerOptions options)
        {
            ReplicationFixture.FastIsr(options);
            options.AutoLeaderRebalanceEnable = true;
            options.LeaderImbalanceCheckIntervalSeconds = 1;
        }
    }

    [Fact]
    public async Task The_controller_gives_leadership_back_to_the_preferred_replica_by_itself()
    {
        var topic = UniqueTopic("rebalance");
        var moved = await LeaderElectionTests.MoveLeadershipOffThePreferredReplicaAsync(fixture, topic);

        await Eventually.WaitUntilAsync(async () => (await fixture.Controller.Partition(topic, 0)).Leader == 0, "the preferred replica leads again", TimeSpan.FromSeconds(30));
        var after = await fixture.Controller.Partition(topic, 0);
        // Created in epoch 0, handed over by the controlled shutdown, given back: at least two elections.
        Assert.True(after.LeaderEpoch >= 2 && after.LeaderEpoch >= moved.LeaderEpoch, $"leader epoch {after.LeaderEpoch}");
        var preferred = fixture.Grains.GetGrain<IPartitionReplicaGrain>(GrainKeys.Replica(topic, 0, 0));
        await Eventually.WaitUntilAsync(async () => await preferred.GetStatus() is { IsLeader: true } s && s.LeaderEpoch == after.LeaderEpoch,
            "the preferred replica leads in the new epoch", TimeSpan.FromSeconds(30));
        Assert.Equal(["a"], (await PartitionTestKit.ReadAll(preferred)).Select(r => r.Value));
    }
}
