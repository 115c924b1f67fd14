using OrleansStream.Client;
using OrleansStream.Client.Admin;
using OrleansStream.Records;
using static OrleansStream.TestKit.PartitionTestKit;

namespace OrleansStream.Cluster.Tests;

/// <summary>
/// Batches cross grain calls in pooled buffers (<see cref="PooledRecords"/>): the serializer's path between silos
/// (client to leader, leader to follower, leader to consumer) and the in-process path within a silo both keep every
/// byte, and no buffer is returned while a reader still holds it (debug builds throw on a second return and overwrite
/// returned arrays, so such a reader would see a batch that fails its CRC).
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class PooledRecordsTests(ClusterFixture fixture)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    private async Task<string> CreateReplicatedTopicAsync(string prefix, int partitions)
    {
        var topic = UniqueTopic(prefix);
        using var admin = new AdminClientBuilder(fixture.Client).Build();
        await admin.CreateTopicsAsync([new TopicSpecification
        {
            Name = topic, NumPartitions = partitions, ReplicationFactor = 3,
            Configs = new Dictionary<string, string> { ["min.insync.replicas"] = "3" },
        }]);
        return topic;
    }

    [Theory]
    [InlineData("none")]
    [InlineData("lz4")]
    [InlineData("zstd")]
    public async Task Batches_replicated_between_silos_are_byte_for_byte_the_leaders_and_read_back_whole(string compression)
    {
        var topic = await CreateReplicatedTopicAsync("pooled-" + compression, partitions: 2);
        var sent = new List<string>();
        using (var producer = new ProducerBuilder<string?, string>(fixture.Client,
            new ProducerConfig { Acks = Acks.All, LingerMs = 5, MessageTimeoutMs = 20_000, CompressionType = Enum.Parse<CompressionType>(compression, ignoreCase: true) }).Build())
        {
            for (var i = 0; i < 3_000; i++)
            {
                var value = $"{compression}-{i}-{new string((char)('a' + i % 26), i % 200)}";
                sent.Add(value);
                producer.Produce(topic, new Message<string?, string> { Key = $"k{i % 7}", Value = value });
            }
            Assert.Equal(0, producer.Flush(Timeout));
        }

        await AssertFollowersHoldTheLeadersBytesAsync(topic, partitions: 2);

        using var consumer = new ConsumerBuilder<string?, string>(fixture.Client,
            new ConsumerConfig { GroupId = UniqueTopic("g"), AutoOffsetReset = AutoOffsetReset.Earliest, FetchWaitMaxMs = 100 }).Build();
        consumer.Subscribe(topic);
        var received = new List<string>();
        using var cts = new CancellationTokenSource(Timeout);
        while (received.Count < sent.Count)
            received.Add(consumer.Consume(cts.Token).Message!.Value);
        Assert.Equal(sent.Order(StringComparer.Ordinal), received.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Transactional_batches_replicate_and_read_committed_sees_only_the_committed_ones()
    {
        var topic = await CreateReplicatedTopicAsync("pooled-txn", partitions: 1);
        using (var producer = new ProducerBuilder<string?, string>(fixture.Client,
            new ProducerConfig { TransactionalId = UniqueTopic("pooled-tx"), LingerMs = 0, MessageTimeoutMs = 20_000, CompressionType = CompressionType.Lz4 }).Build())
        {
            producer.InitTransactions(Timeout);
            foreach (var (name, commit) in new[] { ("first", true), ("second", false), ("third", true) })
            {
                producer.BeginTransaction();
                for (var i = 0; i < 50; i++)
                    producer.Produce(topic, new Message<string?, string> { Key = null, Value = $"{name}-{i}" });
                if (commit) producer.CommitTransaction(Timeout);
                else producer.AbortTransaction(Timeout);
            }
        }

        using var consumer = new ConsumerBuilder<string?, string>(fixture.Client, new ConsumerConfig
        {
            GroupId = UniqueTopic("g"), AutoOffsetReset = AutoOffsetReset.Earliest, FetchWaitMaxMs = 100,
            IsolationLevel = IsolationLevel.ReadCommitted, EnablePartitionEof = true,
        }).Build();
        consumer.Subscribe(topic);
        var received = new List<string>();
        using var cts = new CancellationTokenSource(Timeout);
        while (true)
        {
            var result = consumer.Consume(cts.Token);
            if (result.IsPartitionEOF) break;
            received.Add(result.Message!.Value);
        }
        var expected = Enumerable.Range(0, 50).Select(i => $"first-{i}").Concat(Enumerable.Range(0, 50).Select(i => $"third-{i}"));
        Assert.Equal(expected, received);
        await AssertFollowersHoldTheLeadersBytesAsync(topic, partitions: 1);
    }

    [Fact]
    public async Task Owned_records_handed_to_leaders_within_and_between_silos_come_back_whole()
    {
        // One partition per silo: the relay grain's silo holds one leader (the call within a silo, no serializer) and
        // calls the others' leaders through it.
        var topic = UniqueTopic("pooled-relay");
        await fixture.CreateTopic(topic, partitions: 3);
        var relay = fixture.Grains.GetGrain<IRecordsRelayGrain>(Guid.NewGuid());
        var leaders = new List<string>();
        for (var p = 0; p < 3; p++)
        {
            var metadata = await fixture.Controller.Partition(topic, p);
            leaders.Add(GrainKeys.Replica(topic, p, metadata.Leader));
        }

        for (var round = 0; round < 20; round++)
            foreach (var leader in leaders)
                Assert.Equal($"{leader}:{round}", await relay.ProduceOwnedAndFetch(leader, round));

        for (var p = 0; p < 3; p++)
        {
            var values = (await ReadAll(await fixture.Leader(topic, p))).Select(r => r.Value).ToList();
            Assert.Equal(Enumerable.Range(0, 20).Select(round => $"{leaders[p]}:{round}"), values);
        }
    }

    /// <summary>min.insync.replicas=3 and acks=all: every follower appended every batch (checking each CRC); its segments match the leader's.</summary>
    private async Task AssertFollowersHoldTheLeadersBytesAsync(string topic, int partitions)
    {
        for (var p = 0; p < partitions; p++)
        {
            var metadata = await fixture.Controller.Partition(topic, p);
            var leaderBroker = metadata.Replicas.Single(r => r.ReplicaId == metadata.Leader).BrokerId;
            var leaderLog = SegmentBytes(fixture.PartitionDirectory(leaderBroker, topic, p));
            Assert.NotEmpty(leaderLog);
            foreach (var replica in metadata.Replicas.Where(r => r.ReplicaId != metadata.Leader))
            {
                var directory = fixture.PartitionDirectory(replica.BrokerId, topic, p);
                await Eventually.WaitUntilAsync(() => SegmentBytes(directory).AsSpan().SequenceEqual(leaderLog),
                    $"the follower of {topic}-{p} on {replica.BrokerId} holds the leader's bytes", Timeout);
            }
        }
    }

    private static byte[] SegmentBytes(string directory)
    {
        using var output = new MemoryStream();
        foreach (var file in Directory.GetFiles(directory, "*.log").Order(StringComparer.Ordinal))
        {
            using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            stream.CopyTo(output);
        }
        return output.ToArray();
    }
}

public interface IRecordsRelayGrain : IGrainWithGuidKey
{
    /// <summary>
    /// Produces one record, "{leader}:{round}", in a buffer the grain rents and hands over with the call, then fetches it
    /// back and answers its value.
    /// </summary>
    Task<string> ProduceOwnedAndFetch(string leaderKey, int round);
}

internal sealed class RecordsRelayGrain : Grain, IRecordsRelayGrain
{
    public async Task<string> ProduceOwnedAndFetch(string leaderKey, int round)
    {
        var leader = GrainFactory.GetGrain<IPartitionReplicaGrain>(leaderKey);
        var batch = Batch($"{leaderKey}:{round}");
        var owned = PooledRecords.Rent(batch.Length);
        batch.CopyTo(owned.WritableSpan);
        var produced = await leader.Produce(new ProduceRequest(Acks.Leader, 10_000, owned));
        if (produced.Error != ErrorCode.None) throw new InvalidOperationException($"{leaderKey}: {produced.Error} {produced.ErrorMessage}");

        var fetched = await leader.Fetch(new FetchRequest(produced.BaseOffset, 1 << 20, MinBytes: 0, MaxWaitMs: 0));
        using (fetched.Records)
        {
            if (fetched.Error != ErrorCode.None) throw new InvalidOperationException($"{leaderKey}: {fetched.Error} {fetched.ErrorMessage}");
            Assert.True(fetched.Records.IsOwned);
            Assert.Equal(ErrorCode.None, RecordBatchHeader.Validate(fetched.Records.Span, out _));
            return RecordsOf(fetched.Records.Memory, produced.BaseOffset)[0].Value;
        }
    }
}
