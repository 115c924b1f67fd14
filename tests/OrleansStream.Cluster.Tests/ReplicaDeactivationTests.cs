using Orleans.Core.Internal;
using OrleansStream.Storage;
using static OrleansStream.TestKit.PartitionTestKit;

namespace OrleansStream.Cluster.Tests;

/// <summary>
/// Orleans deactivates a replica (its silo's graceful stop; on a live broker, when the silo holding its grain directory
/// registration leaves, even gracefully; here DeactivateOnIdle) only once its running requests end, and holds every
/// call to it meanwhile, the followers' fetches and the controller's LeaderAndIsr included. An acks=all produce parked
/// for the followers must not hold a leader's deactivation for its request timeout, and a follower deactivated on a
/// live broker must not stay away until the leader drops it from the ISR.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class ReplicaDeactivationTests(ClusterFixture fixture)
{
    private const long ProducerId = 7_000_001;

    [Fact]
    public async Task A_deactivating_leader_answers_its_parked_acks_all_produce_NotLeaderOrFollower_and_the_retry_is_acknowledged_once()
    {
        var (state, leader, follower) = await fixture.CreateLeaderAndFollower(UniqueTopic("unload"));
        Assert.Equal(ErrorCode.None, (await leader.Produce(new ProduceRequest(Acks.All, 30_000, IdempotentBatch(ProducerId, 0, 0, "first")))).Error);

        // The follower stops fetching (told of a newer epoch with no leader, which the leader has not heard of), so the
        // next acks=all produce parks at the leader for the ISR, with a timeout longer than the caller's response timeout.
        Assert.Equal(ErrorCode.None, await follower.LeaderAndIsr(state with { Leader = -1, LeaderEpoch = state.LeaderEpoch + 1 }));
        var parked = leader.Produce(new ProduceRequest(Acks.All, 60_000, IdempotentBatch(ProducerId, 0, 1, "second")));
        await Eventually.WaitUntilAsync(async () => (await leader.GetStatus()).LogEndOffset == 2, "the second batch is appended and parked");

        await leader.Cast<IGrainManagementExtension>().DeactivateOnIdle(TestContext.Current.CancellationToken);
        var answer = await parked;

        // The next activation leads again in a newer epoch, the follower follows it, and the producer's retry of the
        // batch is recognised as a duplicate: acknowledged at the offset it was first written at, not written twice.
        var back = state with { LeaderEpoch = state.LeaderEpoch + 2 };
        Assert.Equal(ErrorCode.None, await leader.LeaderAndIsr(back));
        Assert.Equal(ErrorCode.None, await follower.LeaderAndIsr(back));
        var retry = await leader.Produce(new ProduceRequest(Acks.All, 30_000, IdempotentBatch(ProducerId, 0, 1, "second"), back.LeaderEpoch));
        var status = await leader.GetStatus();

        Assert.Equal(ErrorCode.NotLeaderOrFollower, answer.Error);
        Assert.Equal((ErrorCode.None, 1L), (retry.Error, retry.BaseOffset));
        Assert.Equal((2L, 2L), (status.LogEndOffset, status.HighWatermark));
    }

    [Fact]
    public async Task A_follower_deactivated_on_its_live_broker_comes_back_and_the_parked_produce_completes_with_the_isr_whole()
    {
        var (state, leader, follower) = await fixture.CreateLeaderAndFollower(UniqueTopic("refetch"));
        Assert.Equal(ErrorCode.None, (await leader.Produce(new ProduceRequest(Acks.All, 30_000, Batch("first")))).Error);

        // The follower stops fetching before the next produce, so only a follower that comes back can complete it.
        Assert.Equal(ErrorCode.None, await follower.LeaderAndIsr(state with { Leader = -1, LeaderEpoch = state.LeaderEpoch + 1 }));
        var parked = leader.Produce(new ProduceRequest(Acks.All, 60_000, Batch("second")));
        await Eventually.WaitUntilAsync(async () => (await leader.GetStatus()).LogEndOffset == 2, "the second batch is appended and parked");
        await follower.Cast<IGrainManagementExtension>().DeactivateOnIdle(TestContext.Current.CancellationToken);
        var second = await parked;
        var status = await leader.GetStatus();

        // Its next activation read the partition's state from the controller and fetched before the leader (30 s lag
        // here) would have dropped it from the ISR.
        Assert.Equal((ErrorCode.None, 1L), (second.Error, second.BaseOffset));
        Assert.Equal(state.Isr.Order(), status.Isr!.Order());
        Assert.Equal(2L, status.HighWatermark);
    }

    [Fact]
    public async Task A_replica_whose_log_directory_a_closing_predecessor_still_holds_opens_it_only_once_released()
    {
        // As a previous activation of the replica that Orleans has unregistered but not yet disposed: it still holds
        // the directory, on whichever broker the replica lands.
        var topic = UniqueTopic("held");
        var held = fixture.Silos.Keys.Select(i => LogDirectoryLock.Acquire(fixture.PartitionDirectory(ClusterFixture.BrokerIdOf(i), topic, 0))).ToList();
        IPartitionReplicaGrain leader;
        try
        {
            await fixture.CreateTopic(topic);
            leader = await fixture.Leader(topic, 0);
            var refused = await leader.Produce(new ProduceRequest(Acks.All, 30_000, Batch("refused")));
            var waiting = await leader.GetStatus();

            Assert.Equal(ErrorCode.KafkaStorageError, refused.Error);
            Assert.Equal(-1, waiting.LogEndOffset);
        }
        finally
        {
            foreach (var directoryLock in held)
                directoryLock.Dispose();
        }

        // Released, the replica opens on its own (no further LeaderAndIsr) and leads.
        await Eventually.WaitUntilAsync(async () => (await leader.GetStatus()).LogEndOffset == 0, "the replica opens its log once the holder released it");
        var produced = await leader.Produce(new ProduceRequest(Acks.All, 30_000, Batch("first")));
        Assert.Equal((ErrorCode.None, 0L), (produced.Error, produced.BaseOffset));
    }

    [Fact]
    public async Task Deleting_a_replica_whose_directory_another_log_holds_waits_for_it_and_deletes_nothing_under_it()
    {
        // The directory's holder is the previous activation's log, still closing, or an open under way: the replica's own
        // open is refused, so its log is not open when the topic is deleted.
        var topic = UniqueTopic("gone");
        var directories = fixture.Silos.Values.Select(s => fixture.PartitionDirectory(s.Name, topic, 0)).ToList();
        var held = directories.Select(d =>
        {
            var directoryLock = LogDirectoryLock.Acquire(d);
            File.WriteAllText(Path.Combine(d, "00000000000000000000.log"), "the holder's data");
            return directoryLock;
        }).ToList();
        try
        {
            await CreateAndDeleteWhileHeld(topic);

            Assert.All(directories, d => Assert.Equal("the holder's data", File.ReadAllText(Path.Combine(d, "00000000000000000000.log"))));
        }
        finally
        {
            foreach (var directoryLock in held)
                directoryLock.Dispose();
        }

        // Released, the deletes complete on their own.
        await Eventually.WaitUntilAsync(() => Task.FromResult(directories.All(d => !Directory.Exists(d))), "the replicas delete their directories once released",
            state: () => string.Join(", ", directories.Where(Directory.Exists)));
    }

    [Fact]
    public async Task A_topic_created_again_while_a_delete_waits_for_its_directory_opens_empty_once_released()
    {
        var topic = UniqueTopic("again");
        var directories = fixture.Silos.Values.Select(s => fixture.PartitionDirectory(s.Name, topic, 0)).ToList();
        var held = directories.Select(LogDirectoryLock.Acquire).ToList();
        IPartitionReplicaGrain leader;
        try
        {
            await CreateAndDeleteWhileHeld(topic);

            await fixture.CreateTopic(topic, replicationFactor: 3);
            leader = await fixture.Leader(topic, 0);
        }
        finally
        {
            foreach (var directoryLock in held)
                directoryLock.Dispose();
        }

        await Eventually.WaitUntilAsync(async () => (await leader.GetStatus()).LogEndOffset == 0, "the new incarnation opens once the holder released the directory");
        var produced = await leader.Produce(new ProduceRequest(Acks.All, 30_000, Batch("first")));
        Assert.Equal((ErrorCode.None, 0L), (produced.Error, produced.BaseOffset));
        // The followers of the new incarnation activated anew too, and replicate.
        await Eventually.WaitUntilAsync(async () => (await Task.WhenAll(Replicas(topic).Select(r => r.GetStatus()))).All(s => s.LogEndOffset == 1),
            "every replica has the record");
    }

    /// <summary>
    /// Creates the topic (RF 3) while every broker's directory of it is held by another log, so no replica opens its log,
    /// then deletes it: the controller's DeleteReplica, and the test's own, reach replicas whose log is not open.
    /// </summary>
    private async Task CreateAndDeleteWhileHeld(string topic)
    {
        await fixture.CreateTopic(topic, replicationFactor: 3);
        var replicas = Replicas(topic);
        foreach (var replica in replicas) Assert.Equal(-1, (await replica.GetStatus()).LogEndOffset);
        Assert.Equal(ErrorCode.None, Assert.Single(await fixture.Controller.DeleteTopics([topic])).Error);
        foreach (var replica in replicas) await replica.DeleteReplica();
    }

    private List<IPartitionReplicaGrain> Replicas(string topic) =>
        [.. Enumerable.Range(0, 3).Select(r => fixture.Grains.GetGrain<IPartitionReplicaGrain>(GrainKeys.Replica(topic, 0, r)))];
}
