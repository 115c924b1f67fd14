using static OrleansStream.TestKit.PartitionTestKit;

namespace OrleansStream.Cluster.Tests;

[Collection(ClusterCollection.Name)]
public sealed class PartitionTests(ClusterFixture fixture)
{
    [Fact]
    public async Task Produce_ThenFetch_ReturnsRecordsInOrderWithOffsets()
    {
        var topic = UniqueTopic("produce");
        await fixture.CreateTopic(topic);
        var leader = await fixture.Leader(topic, 0);

        var first = await leader.Produce(new ProduceRequest(Acks.Leader, 5000, Batch("a", "b", "c")));
        var second = await leader.Produce(new ProduceRequest(Acks.All, 5000, Batch("d")));

        Assert.Equal((ErrorCode.None, 0L), (first.Error, first.BaseOffset));
        Assert.Equal((ErrorCode.None, 3L), (second.Error, second.BaseOffset));
        var fetched = await leader.Fetch(new FetchRequest(0, 1 << 20));
        Assert.Equal(ErrorCode.None, fetched.Error);
        Assert.Equal(4, fetched.HighWatermark);
        Assert.Equal([(0L, "a"), (1L, "b"), (2L, "c"), (3L, "d")], RecordsOf(fetched.Records.Memory));
        Assert.Equal([(2L, "c"), (3L, "d")], RecordsOf((await leader.Fetch(new FetchRequest(2, 1 << 20))).Records.Memory, 2));
    }

    [Fact]
    public async Task Partitions_AreIndependentLogs_OnTheirAssignedBrokers()
    {
        var topic = UniqueTopic("independent");
        await fixture.CreateTopic(topic, partitions: 3);

        for (var p = 0; p < 3; p++)
        {
            var leader = await fixture.Leader(topic, p);
            for (var i = 0; i <= p; i++) Assert.Equal(ErrorCode.None, (await leader.Produce(new ProduceRequest(Acks.Leader, 5000, Batch($"p{p}-{i}")))).Error);
        }

        for (var p = 0; p < 3; p++)
        {
            var metadata = await fixture.Controller.Partition(topic, p);
            var status = await (await fixture.Leader(topic, p)).GetStatus();
            Assert.Equal(p + 1, status.LogEndOffset);
            Assert.True(status.IsLeader);
            Assert.True(Directory.Exists(Path.Combine(fixture.DataDirectory(metadata.LeaderBroker!), $"{topic}-{p}")));
        }
    }

    [Fact]
    public async Task NonLeader_AnswersNotLeaderOrFollower()
    {
        var topic = UniqueTopic("notleader");
        await fixture.CreateTopic(topic, replicationFactor: 2);
        var p = await fixture.Controller.Partition(topic, 0);
        var follower = fixture.Grains.GetGrain<IPartitionReplicaGrain>(GrainKeys.Replica(topic, 0, p.Leader == 0 ? 1 : 0));

        var produce = await follower.Produce(new ProduceRequest(Acks.Leader, 5000, Batch("x")));
        var fetch = await follower.Fetch(new FetchRequest(0, 1024, MaxWaitMs: 0));

        Assert.Equal(ErrorCode.NotLeaderOrFollower, produce.Error);
        Assert.Equal(ErrorCode.NotLeaderOrFollower, fetch.Error);
    }

    [Fact]
    public async Task UnknownTopicOrPartition_IsReported()
    {
        var topic = UniqueTopic("known");
        await fixture.CreateTopic(topic);

        var unknownTopic = await fixture.Grains.GetGrain<IPartitionReplicaGrain>(GrainKeys.Replica(UniqueTopic("ghost"), 0, 0))
            .Produce(new ProduceRequest(Acks.Leader, 5000, Batch("x")));
        var unknownPartition = await fixture.Grains.GetGrain<IPartitionReplicaGrain>(GrainKeys.Replica(topic, 7, 0))
            .Fetch(new FetchRequest(0, 1024, MaxWaitMs: 0));

        Assert.Equal(ErrorCode.UnknownTopicOrPartition, unknownTopic.Error);
        Assert.Equal(ErrorCode.UnknownTopicOrPartition, unknownPartition.Error);
    }

    [Fact]
    public async Task CorruptBatch_IsRejected_AndNothingIsWritten()
    {
        var topic = UniqueTopic("corrupt");
        await fixture.CreateTopic(topic);
        var leader = await fixture.Leader(topic, 0);
        await leader.Produce(new ProduceRequest(Acks.Leader, 5000, Batch("good")));
        var bad = Batch("bad", "worse");
        bad[^1] ^= 0xFF;
        var good = Batch("fine");

        var response = await leader.Produce(new ProduceRequest(Acks.Leader, 5000, good.Concat(bad).ToArray()));
        var truncated = await leader.Produce(new ProduceRequest(Acks.Leader, 5000, good[..^3]));

        Assert.Equal(ErrorCode.CorruptMessage, response.Error);
        Assert.NotEqual(ErrorCode.None, truncated.Error);
        Assert.Equal(1, (await leader.GetStatus()).LogEndOffset);
        Assert.Equal([(0L, "good")], await ReadAll(leader));
    }

    [Fact]
    public async Task OversizeBatch_IsRecordTooLarge()
    {
        var topic = UniqueTopic("oversize");
        await fixture.CreateTopic(topic, configs: new() { ["max.message.bytes"] = "1000" });
        var leader = await fixture.Leader(topic, 0);

        var response = await leader.Produce(new ProduceRequest(Acks.Leader, 5000, Batch(new string('x', 2000))));
        var small = await leader.Produce(new ProduceRequest(Acks.Leader, 5000, Batch("small")));

        Assert.Equal(ErrorCode.RecordTooLarge, response.Error);
        Assert.Equal((ErrorCode.None, 0L), (small.Error, small.BaseOffset));
    }

    /// <summary>
    /// Kafka's OffsetForLeaderEpoch at the leader (KIP-320, LeaderEpochFileCache.endOffsetFor): the latest epoch ends at
    /// the log end offset, an older one where the next began, and one newer than any is unknown (-1, -1); the current leader epoch fences the answer, and a follower does not answer.
    /// </summary>
    [Fact]
    public async Task OffsetForLeaderEpoch_answers_where_each_epoch_ended_in_the_leaders_log()
    {
        var topic = UniqueTopic("epochend");
        var (state, leader, follower) = await fixture.CreateLeaderAndFollower(topic);
        var e = state.LeaderEpoch;
        Assert.Equal(ErrorCode.None, (await leader.Produce(new ProduceRequest(Acks.Leader, 5000, Batch("a", "b", "c")))).Error);
        Assert.Equal((ErrorCode.None, e, 3L), Answer(await leader.OffsetForLeaderEpoch(e, -1)));

        // A new leader epoch for the same leader (the controller's LeaderAndIsr, sent here directly): records written
        // from now on begin epoch e + 1 at offset 3.
        Assert.Equal(ErrorCode.None, await leader.LeaderAndIsr(state with { LeaderEpoch = e + 1, PartitionEpoch = state.PartitionEpoch + 1 }));
        Assert.Equal(ErrorCode.None, (await leader.Produce(new ProduceRequest(Acks.Leader, 5000, Batch("d", "e")))).Error);

        Assert.Equal((ErrorCode.None, e, 3L), Answer(await leader.OffsetForLeaderEpoch(e, -1)));
        Assert.Equal((ErrorCode.None, e + 1, 5L), Answer(await leader.OffsetForLeaderEpoch(e + 1, e + 1)));
        Assert.Equal((ErrorCode.None, -1, -1L), Answer(await leader.OffsetForLeaderEpoch(e + 7, -1)));
        Assert.Equal((ErrorCode.None, -1, -1L), Answer(await leader.OffsetForLeaderEpoch(-1, -1)));
        Assert.Equal(ErrorCode.FencedLeaderEpoch, (await leader.OffsetForLeaderEpoch(e, e)).Error);
        Assert.Equal(ErrorCode.UnknownLeaderEpoch, (await leader.OffsetForLeaderEpoch(e, e + 2)).Error);
        Assert.Equal(ErrorCode.NotLeaderOrFollower, (await follower.OffsetForLeaderEpoch(e, -1)).Error);

        static (ErrorCode, int, long) Answer(EpochEndOffsetResponse r) => (r.Error, r.LeaderEpoch, r.EndOffset);
    }

    [Fact]
    public async Task BadAcksAndStaleEpoch_AreRejected()
    {
        var topic = UniqueTopic("epoch");
        await fixture.CreateTopic(topic);
        var leader = await fixture.Leader(topic, 0);

        var badAcks = await leader.Produce(new ProduceRequest((Acks)2, 5000, Batch("x")));
        var newer = await leader.Produce(new ProduceRequest(Acks.Leader, 5000, Batch("x"), CurrentLeaderEpoch: 5));
        var current = await leader.Produce(new ProduceRequest(Acks.Leader, 5000, Batch("x"), CurrentLeaderEpoch: 0));

        Assert.Equal(ErrorCode.InvalidRequiredAcks, badAcks.Error);
        Assert.Equal(ErrorCode.UnknownLeaderEpoch, newer.Error);
        Assert.Equal(ErrorCode.None, current.Error);
        Assert.Equal(1, (await leader.GetStatus()).LogEndOffset);
    }

    [Fact]
    public async Task FetchOutOfRange_IsOffsetOutOfRange()
    {
        var topic = UniqueTopic("range");
        await fixture.CreateTopic(topic);
        var leader = await fixture.Leader(topic, 0);
        await leader.Produce(new ProduceRequest(Acks.Leader, 5000, Batch("a", "b")));

        var beyond = await leader.Fetch(new FetchRequest(3, 1024, MaxWaitMs: 0));
        var negative = await leader.Fetch(new FetchRequest(-1, 1024, MaxWaitMs: 0));
        var atEnd = await leader.Fetch(new FetchRequest(2, 1024, MaxWaitMs: 0));

        Assert.Equal(ErrorCode.OffsetOutOfRange, beyond.Error);
        Assert.Equal(ErrorCode.OffsetOutOfRange, negative.Error);
        Assert.Equal(ErrorCode.None, atEnd.Error);
        Assert.True(atEnd.Records.IsEmpty);
    }

    [Fact]
    public async Task LongPollFetch_ReturnsWhenDataArrives()
    {
        var topic = UniqueTopic("longpoll");
        await fixture.CreateTopic(topic);
        var leader = await fixture.Leader(topic, 0);

        var waiting = leader.Fetch(new FetchRequest(0, 1 << 20, MinBytes: 1, MaxWaitMs: 60_000));
        Assert.False(waiting.IsCompleted);
        await leader.Produce(new ProduceRequest(Acks.Leader, 5000, Batch("wake")));
        var response = await waiting;

        Assert.Equal(ErrorCode.None, response.Error);
        Assert.Equal([(0L, "wake")], RecordsOf(response.Records.Memory));
    }

    [Fact]
    public async Task ListOffsets_EarliestLatestAndByTimestamp()
    {
        var topic = UniqueTopic("offsets");
        await fixture.CreateTopic(topic);
        var leader = await fixture.Leader(topic, 0);
        await leader.Produce(new ProduceRequest(Acks.Leader, 5000, Batch(1_000, "a", "b")));
        await leader.Produce(new ProduceRequest(Acks.Leader, 5000, Batch(2_000, "c")));

        var earliest = await leader.ListOffsets(new ListOffsetsRequest(ListOffsetsTimestamp.Earliest));
        var latest = await leader.ListOffsets(new ListOffsetsRequest(ListOffsetsTimestamp.Latest));
        var byTime = await leader.ListOffsets(new ListOffsetsRequest(1_500));
        var future = await leader.ListOffsets(new ListOffsetsRequest(9_000));

        Assert.Equal(0, earliest.Offset);
        Assert.Equal(3, latest.Offset);
        Assert.Equal((2L, 2_000L), (byTime.Offset, byTime.Timestamp));
        Assert.Equal(-1, future.Offset);
    }

    /// <summary>KIP-734: the first record with the largest timestamp, wherever it stands; KIP-405's earliest local is the log start without a tier.</summary>
    [Fact]
    public async Task ListOffsets_MaxTimestamp_is_the_first_record_with_the_largest_timestamp()
    {
        var topic = UniqueTopic("maxts");
        await fixture.CreateTopic(topic);
        var leader = await fixture.Leader(topic, 0);
        var empty = await leader.ListOffsets(new ListOffsetsRequest(ListOffsetsTimestamp.MaxTimestamp));
        await leader.Produce(new ProduceRequest(Acks.Leader, 5000, Batch(1_000, "a", "b")));
        await leader.Produce(new ProduceRequest(Acks.Leader, 5000, Batch(3_000, "c", "d")));
        await leader.Produce(new ProduceRequest(Acks.Leader, 5000, Batch(2_000, "e")));
        await leader.Produce(new ProduceRequest(Acks.Leader, 5000, Batch(3_000, "f")));

        var max = await leader.ListOffsets(new ListOffsetsRequest(ListOffsetsTimestamp.MaxTimestamp));
        var earliestLocal = await leader.ListOffsets(new ListOffsetsRequest(ListOffsetsTimestamp.EarliestLocal));

        Assert.Equal((ErrorCode.None, -1L), (empty.Error, empty.Offset));
        Assert.Equal((ErrorCode.None, 2L, 3_000L), (max.Error, max.Offset, max.Timestamp));
        Assert.Equal((ErrorCode.None, 0L), (earliestLocal.Error, earliestLocal.Offset));
    }

    [Fact]
    public async Task UnknownOrBadLogConfig_IsInvalidConfig()
    {
        var results = await fixture.Controller.CreateTopics(
        [
            new NewTopic(UniqueTopic("cfg"), 1, 1, new Dictionary<string, string> { ["no.such.key"] = "1" }),
            new NewTopic(UniqueTopic("cfg"), 1, 1, new Dictionary<string, string> { ["retention.ms"] = "soon" }),
            new NewTopic(UniqueTopic("cfg"), 1, 1, new Dictionary<string, string> { ["cleanup.policy"] = "compact", ["min.insync.replicas"] = "1" }),
        ]);

        Assert.Equal([ErrorCode.InvalidConfig, ErrorCode.InvalidConfig, ErrorCode.None], results.Select(r => r.Error));
    }

    [Fact]
    public async Task DeleteTopic_RemovesPartitionDirectories()
    {
        var topic = UniqueTopic("gone");
        await fixture.CreateTopic(topic, partitions: 2);
        var brokers = new List<string>();
        for (var p = 0; p < 2; p++)
        {
            await (await fixture.Leader(topic, p)).Produce(new ProduceRequest(Acks.Leader, 5000, Batch("x")));
            brokers.Add((await fixture.Controller.Partition(topic, p)).LeaderBroker!);
        }

        await fixture.Controller.DeleteTopics([topic]);

        for (var p = 0; p < 2; p++) Assert.False(Directory.Exists(Path.Combine(fixture.DataDirectory(brokers[p]), $"{topic}-{p}")));
    }
}
