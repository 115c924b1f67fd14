using Orleans.Runtime;
using static OrleansStream.TestKit.PartitionTestKit;

namespace OrleansStream.Cluster.Tests;

/// <summary>Idempotent produce through the replica grains: Kafka's duplicate, sequence and epoch rules, also across a failover.</summary>
[Collection(SiloKillCollection.Name)]
public sealed class IdempotentProduceTests(ReplicationFixture fixture) : IClassFixture<ReplicationFixture>
{
    private const long ProducerId = 4242;
    private static readonly Dictionary<string, string> MinIsr2 = new() { ["min.insync.replicas"] = "2" };

    [Fact]
    public async Task A_retried_batch_is_written_once_and_answered_with_its_original_offset()
    {
        var topic = UniqueTopic("idem");
        await fixture.CreateTopic(topic, replicationFactor: 3, configs: MinIsr2);
        var leader = await fixture.Leader(topic, 0);
        var batch = IdempotentBatch(ProducerId, 1, 0, "a", "b");

        var first = await leader.Produce(new ProduceRequest(Acks.All, 10_000, batch));
        var other = await leader.Produce(new ProduceRequest(Acks.All, 10_000, Batch("plain")));
        var retry = await leader.Produce(new ProduceRequest(Acks.All, 10_000, batch));
        var gap = await leader.Produce(new ProduceRequest(Acks.All, 10_000, IdempotentBatch(ProducerId, 1, 5, "gap")));
        var fenced = await leader.Produce(new ProduceRequest(Acks.All, 10_000, IdempotentBatch(ProducerId, 0, 2, "old epoch")));
        var next = await leader.Produce(new ProduceRequest(Acks.Leader, 10_000, IdempotentBatch(ProducerId, 1, 2, "c")));

        Assert.Equal((ErrorCode.None, 0L), (first.Error, first.BaseOffset));
        Assert.Equal((ErrorCode.None, 2L), (other.Error, other.BaseOffset));
        Assert.Equal((ErrorCode.None, 0L), (retry.Error, retry.BaseOffset));
        Assert.Equal(ErrorCode.OutOfOrderSequenceNumber, gap.Error);
        Assert.Equal(ErrorCode.InvalidProducerEpoch, fenced.Error);
        Assert.Equal((ErrorCode.None, 3L), (next.Error, next.BaseOffset));
        await Eventually.WaitUntilAsync(async () => (await leader.GetStatus()).HighWatermark == 4, "the ISR has every record");
        Assert.Equal([(0L, "a"), (1L, "b"), (2L, "plain"), (3L, "c")], await ReadAll(leader));
    }

    [Fact]
    public async Task A_new_leader_answers_a_retry_of_what_the_old_leader_wrote_with_the_original_offset()
    {
        var topic = UniqueTopic("idem-failover");
        await fixture.CreateTopic(topic, replicationFactor: 3, configs: MinIsr2);
        var leader = await fixture.Leader(topic, 0);
        Assert.Equal(ErrorCode.None, (await leader.Produce(new ProduceRequest(Acks.All, 10_000, IdempotentBatch(ProducerId, 0, 0, "a0")))).Error);
        // The old leader writes and replicates this one, then dies: the producer never hears and retries it.
        var unanswered = IdempotentBatch(ProducerId, 0, 1, "during");
        var written = await leader.Produce(new ProduceRequest(Acks.All, 10_000, unanswered));
        Assert.Equal((ErrorCode.None, 1L), (written.Error, written.BaseOffset));
        var before = await fixture.Controller.Partition(topic, 0);

        ProduceResponse retry, after, gap;
        IPartitionReplicaGrain newLeader;
        await fixture.KillSiloAsync(before.LeaderBroker!);
        try
        {
            await Eventually.WaitUntilAsync(async () => (await GiveUpAfter5s(fixture.Controller.Partition(topic, 0)))?.LeaderEpoch > before.LeaderEpoch,
                "a new leader is elected");
            retry = await ProduceWithRetry(topic, unanswered);
            after = await ProduceWithRetry(topic, IdempotentBatch(ProducerId, 0, 2, "after"));
            newLeader = await fixture.Leader(topic, 0);
            gap = await newLeader.Produce(new ProduceRequest(Acks.All, 10_000, IdempotentBatch(ProducerId, 0, 9, "gap")));
        }
        finally
        {
            // Restarted even when the failover fails, so the class's other tests still find three brokers.
            await fixture.StartSiloAsync(before.LeaderBroker!);
        }

        Assert.Equal(1, retry.BaseOffset);
        Assert.Equal(2, after.BaseOffset);
        Assert.Equal(ErrorCode.OutOfOrderSequenceNumber, gap.Error);
        Assert.Equal([(0L, "a0"), (1L, "during"), (2L, "after")], await ReadAll(newLeader));
    }

    /// <summary>
    /// A call that reached the killed silo (the controller's, or a leader's) is never answered: Orleans waits its 30 s
    /// response timeout. Such an attempt counts as "not yet" after 5 s, so the wait tries again.
    /// </summary>
    private static async Task<T?> GiveUpAfter5s<T>(Task<T> call) where T : class
    {
        try
        {
            return await call.WaitAsync(TimeSpan.FromSeconds(5));
        }
        catch (Exception e) when (e is TimeoutException or OrleansMessageRejectionException)
        {
            return null;
        }
    }

    private async Task<ProduceResponse> ProduceWithRetry(string topic, byte[] batch)
    {
        ProduceResponse response = null!;
        var seen = "nothing yet";
        await Eventually.WaitUntilAsync(async () =>
        {
            try
            {
                // An attempt the killed silo never answers is given up and the batch sent again, as a producer
                // retries an unanswered one.
                var leader = await fixture.Leader(topic, 0).WaitAsync(TimeSpan.FromSeconds(5));
                response = await leader.Produce(new ProduceRequest(Acks.All, 2_000, batch)).WaitAsync(TimeSpan.FromSeconds(5));
                seen = $"{response.Error} ({response.ErrorMessage}) at {DateTime.UtcNow:HH:mm:ss.fff}";
                return response.Error == ErrorCode.None;
            }
            catch (Exception e) when (e is not Xunit.Sdk.XunitException)
            {
                seen = $"{e.GetType().Name}: {e.Message} at {DateTime.UtcNow:HH:mm:ss.fff}";
                return false;
            }
        }, "the batch is acknowledged", state: () => seen);
        return response;
    }
}
