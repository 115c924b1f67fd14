using static OrleansStream.TestKit.PartitionTestKit;

namespace OrleansStream.Cluster.Tests;

/// <summary>The follower's fetch loop (Replication/ReplicaFetcher) across quick LeaderAndIsr changes.</summary>
public sealed class ReplicaFetcherTests(ReplicationFixture fixture) : IClassFixture<ReplicationFixture>
{
    [Fact]
    public async Task A_follower_told_to_stop_and_then_to_follow_again_while_its_fetch_is_out_keeps_fetching()
    {
        var (state, leader, follower) = await CreateWithOneRecordAsync("refollow");

        // The follower is caught up, so its fetch is parked at the leader. While it is out, the partition loses its
        // leader (the follower stops fetching) and gets it back in a newer epoch (the follower must fetch again).
        var leaderless = state with { Leader = -1, LeaderEpoch = state.LeaderEpoch + 1 };
        var back = state with { LeaderEpoch = state.LeaderEpoch + 2 };
        Assert.Equal(ErrorCode.None, await follower.LeaderAndIsr(leaderless));
        Assert.Equal(ErrorCode.None, await follower.LeaderAndIsr(back));
        Assert.Equal(ErrorCode.None, await leader.LeaderAndIsr(back));

        await AssertTheFollowerFetchesTheNextRecordAsync(leader, follower, back);
    }

    /// <summary>
    /// A follower that led an epoch without appending in it (its epoch starts at its log end) and follows again is told
    /// that it diverged at its log end: it must drop that epoch, or it is told so on every fetch and never fetches again.
    /// </summary>
    [Fact]
    public async Task A_follower_that_led_an_epoch_without_appending_follows_the_next_leader()
    {
        var (state, leader, follower) = await CreateWithOneRecordAsync("empty-epoch");

        // The follower leads one epoch and appends nothing; then the old leader leads again in the next one.
        var followerLeads = state with { Leader = 1 - state.Leader, LeaderEpoch = state.LeaderEpoch + 1 };
        var leaderBack = state with { LeaderEpoch = state.LeaderEpoch + 2 };
        foreach (var (replica, next) in new[] { (leader, followerLeads), (follower, followerLeads), (follower, leaderBack), (leader, leaderBack) })
            Assert.Equal(ErrorCode.None, await replica.LeaderAndIsr(next));

        await AssertTheFollowerFetchesTheNextRecordAsync(leader, follower, leaderBack);
    }

    /// <summary>A two-replica partition whose follower has fetched its first record.</summary>
    private async Task<(PartitionState State, IPartitionReplicaGrain Leader, IPartitionReplicaGrain Follower)> CreateWithOneRecordAsync(string prefix)
    {
        var created = await fixture.CreateLeaderAndFollower(UniqueTopic(prefix));
        Assert.Equal(ErrorCode.None, (await created.Leader.Produce(new ProduceRequest(Acks.Leader, 10_000, Batch("first")))).Error);
        await Eventually.WaitUntilAsync(async () => (await created.Follower.GetStatus()).LogEndOffset == 1, "the follower has the first record");
        return created;
    }

    private static async Task AssertTheFollowerFetchesTheNextRecordAsync(IPartitionReplicaGrain leader, IPartitionReplicaGrain follower, PartitionState state)
    {
        var second = await leader.Produce(new ProduceRequest(Acks.Leader, 10_000, Batch("second"), CurrentLeaderEpoch: state.LeaderEpoch));
        Assert.Equal((ErrorCode.None, 1L), (second.Error, second.BaseOffset));
        await Eventually.WaitUntilAsync(async () => (await follower.GetStatus()).LogEndOffset == 2,
            "the follower fetches the record appended in the new epoch");
    }
}
