using static OrleansStream.TestKit.PartitionTestKit;

namespace OrleansStream.Cluster.Tests;

/// <summary>Brokers that stop or crash come back with their data directory and serve their partitions again.</summary>
public sealed class RestartTests(ClusterFixture fixture) : IClassFixture<ClusterFixture>
{
    [Fact]
    public async Task RestartedBrokers_KeepTheirPartitionsData()
    {
        var topic = UniqueTopic("restart");
        await fixture.CreateTopic(topic, partitions: 3);
        for (var p = 0; p < 3; p++)
        {
            var leader = await fixture.Leader(topic, p);
            Assert.Equal(ErrorCode.None, (await leader.Produce(new ProduceRequest(Acks.Leader, 5000, Batch($"p{p}-a", $"p{p}-b")))).Error);
        }
        var brokers = new HashSet<string>();
        for (var p = 0; p < 3; p++) brokers.Add((await fixture.Controller.Partition(topic, p)).LeaderBroker!);
        Assert.Equal(3, brokers.Count);

        // One graceful restart (logs closed cleanly) and one crash (recovery from the segment files).
        await fixture.RestartSiloAsync(ClusterFixture.BrokerIdOf(1));
        await fixture.KillSiloAsync(ClusterFixture.BrokerIdOf(2));
        await fixture.StartSiloAsync(ClusterFixture.BrokerIdOf(2));

        for (var p = 0; p < 3; p++)
        {
            var records = await ReadAllEventually(topic, p, expected: 2);
            Assert.Equal([(0L, $"p{p}-a"), (1L, $"p{p}-b")], records);
            var leader = await fixture.Leader(topic, p);
            Assert.Equal((ErrorCode.None, 2L), await Produce(leader, $"p{p}-c"));
        }
    }

    private static async Task<(ErrorCode, long)> Produce(IPartitionReplicaGrain leader, string value)
    {
        var r = await leader.Produce(new ProduceRequest(Acks.Leader, 5000, Batch(value)));
        return (r.Error, r.BaseOffset);
    }

    /// <summary>A restarted silo takes a moment to be seen alive by placement; retry until the data is readable.</summary>
    private async Task<List<(long, string)>> ReadAllEventually(string topic, int partition, int expected)
    {
        List<(long, string)> records = [];
        await Eventually.WaitUntilAsync(async () =>
        {
            try
            {
                records = await ReadAll(await fixture.Leader(topic, partition));
                return records.Count >= expected;
            }
            catch (Exception e) when (e is not Xunit.Sdk.XunitException)
            {
                return false;
            }
        }, $"{topic}-{partition} is readable again", attemptTimeout: Eventually.AttemptAcrossFailover);
        return records;
    }
}
