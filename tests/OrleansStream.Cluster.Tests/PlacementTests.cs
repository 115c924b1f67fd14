using Orleans.Runtime;
using static OrleansStream.TestKit.PartitionTestKit;

namespace OrleansStream.Cluster.Tests;

/// <summary>Placement of a replica whose broker is gone, as a client with stale metadata meets it.</summary>
public sealed class PlacementTests : IAsyncLifetime
{
    private readonly ReplicationFixture _fixture = new();

    public ValueTask InitializeAsync() => _fixture.InitializeAsync();

    public ValueTask DisposeAsync() => _fixture.DisposeAsync();

    [Fact]
    public async Task A_replica_of_a_dead_broker_answers_callers_with_a_transient_error_they_can_retry()
    {
        var topic = UniqueTopic("placement");
        await _fixture.CreateTopic(topic, replicationFactor: 2);
        var p = await _fixture.Controller.Partition(topic, 0);
        var follower = p.Replicas.Single(r => r.ReplicaId != p.Leader);
        await _fixture.KillSiloAsync(follower.BrokerId);
        await Eventually.WaitUntilAsync(async () => (await _fixture.Controller.Partition(topic, 0)).Isr.Count == 1,
            "membership declares the broker dead and the ISR shrinks", attemptTimeout: Eventually.AttemptAcrossFailover);

        var replica = _fixture.Grains.GetGrain<IPartitionReplicaGrain>(GrainKeys.Replica(topic, 0, follower.ReplicaId));
        Exception? last = null;
        await Eventually.WaitUntilAsync(async () =>
        {
            try
            {
                await replica.GetStatus();
                throw new InvalidOperationException("A replica of a dead broker answered.");
            }
            catch (SiloUnavailableException e)
            {
                // Until the directory forgets the killed activation, calls fail for that reason; then placement refuses.
                last = e;
                return e.Message.Contains(nameof(ErrorCode.ReplicaNotAvailable), StringComparison.Ordinal);
            }
        }, "placement refuses the replica with ReplicaNotAvailable", attemptTimeout: Eventually.AttemptAcrossFailover);
        Assert.Contains(follower.BrokerId, last!.Message, StringComparison.Ordinal);
    }
}
