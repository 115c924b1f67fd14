using Orleans.Core.Internal;
using OrleansStream.Server.Controller;
using static OrleansStream.Cluster.Tests.PartitionTestKit;

namespace OrleansStream.Cluster.Tests;

/// <summary>
/// Orleans deactivates a partition's leader (its silo's graceful stop, the death of the silo holding its directory
/// entry, here DeactivateOnIdle) only once its running requests end, and holds every call to it meanwhile, the
/// followers' fetches and the controller's LeaderAndIsr included. An acks=all produce parked for its followers must not
/// hold the deactivation for its request timeout.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class LeaderDeactivationTests(ClusterFixture fixture)
{
    private const long ProducerId = 7_000_001;

    [Fact]
    public async Task A_deactivating_leader_answers_its_parked_acks_all_produce_NotLeaderOrFollower_and_the_retry_is_acknowledged_once()
    {
        var topic = UniqueTopic("unload");
        await fixture.CreateTopic(topic, replicationFactor: 2);
        var controller = fixture.Grains.GetGrain<IControllerInternalGrain>(GrainKeys.Controller);
        var state = (await controller.GetPartitionState(topic, 0))!;
        var leader = fixture.Grains.GetGrain<IPartitionReplicaGrain>(GrainKeys.Replica(topic, 0, state.Leader));
        var follower = fixture.Grains.GetGrain<IPartitionReplicaGrain>(GrainKeys.Replica(topic, 0, 1 - state.Leader));
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
}
