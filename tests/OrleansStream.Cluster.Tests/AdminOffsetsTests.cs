using OrleansStream.Client;
using OrleansStream.Client.Admin;

namespace OrleansStream.Cluster.Tests;

/// <summary>The admin client's ListOffsets and DeleteRecords (Confluent.Kafka's shapes) against the three-silo cluster.</summary>
[Collection(ClusterCollection.Name)]
public sealed class AdminOffsetsTests(ClusterFixture fixture)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private async Task<string> CreateTopicAsync(IAdminClient admin, string prefix, int partitions)
    {
        var name = $"{prefix}-{Guid.NewGuid():N}"[..24];
        await admin.CreateTopicsAsync([new TopicSpecification { Name = name, NumPartitions = partitions, ReplicationFactor = 2 }]);
        return name;
    }

    private async Task ProduceAsync(TopicPartition tp, params long[] timestamps)
    {
        await using var producer = new ProducerBuilder<string?, string>(fixture.Client, new ProducerConfig { Acks = Acks.All, MessageTimeoutMs = 20000 }).Build();
        for (var i = 0; i < timestamps.Length; i++)
            await producer.ProduceAsync(tp, new Message<string?, string> { Value = $"v{i}", Timestamp = new Timestamp(timestamps[i], TimestampType.CreateTime) }, Ct);
    }

    private static TopicPartitionOffsetSpec Spec(TopicPartition tp, OffsetSpec spec) => new() { TopicPartition = tp, OffsetSpec = spec };

    [Fact]
    public async Task ListOffsets_answers_each_spec_of_each_partition_and_reports_a_failed_partition_beside_the_others()
    {
        using var admin = new AdminClientBuilder(fixture.Client).Build();
        var topic = await CreateTopicAsync(admin, "lo", 2);
        var (p0, p1) = (new TopicPartition(topic, 0), new TopicPartition(topic, 1));
        var t0 = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() - 60_000;
        // Offset 1 has the largest timestamp; the first at or after t0 + 1500 is offset 1 too, not offset 2.
        await ProduceAsync(p0, t0 + 1000, t0 + 3000, t0 + 2000);

        var result = await admin.ListOffsetsAsync([Spec(p0, OffsetSpec.Earliest()), Spec(p1, OffsetSpec.Latest())]);
        Assert.Equal([(p0, 0L), (p1, 0L)], result.ResultInfos.Select(i => (i.TopicPartitionOffsetError.TopicPartition, i.TopicPartitionOffsetError.Offset)));

        async Task<(long Offset, long Timestamp)> One(OffsetSpec spec)
        {
            var info = Assert.Single((await admin.ListOffsetsAsync([Spec(p0, spec)])).ResultInfos);
            Assert.False(info.TopicPartitionOffsetError.Error.IsError);
            return (info.TopicPartitionOffsetError.Offset, info.Timestamp);
        }
        Assert.Equal(3, (await One(OffsetSpec.Latest())).Offset);
        Assert.Equal((1L, t0 + 3000), await One(OffsetSpec.MaxTimestamp()));
        Assert.Equal((1L, t0 + 3000), await One(OffsetSpec.ForTimestamp(t0 + 1500)));
        Assert.Equal((1L, t0 + 3000), await One(OffsetSpec.ForTimestamp(t0 + 2000))); // in offset order, not the closest time
        Assert.Equal((0L, t0 + 1000), await One(OffsetSpec.ForTimestamp(t0)));
        Assert.Equal(-1, (await One(OffsetSpec.ForTimestamp(t0 + 10_000))).Offset);

        // A partition that does not exist fails alone; the exception carries every partition's outcome.
        var missing = new TopicPartition(topic, 7);
        var ex = await Assert.ThrowsAsync<ListOffsetsException>(() => admin.ListOffsetsAsync(
            [Spec(p0, OffsetSpec.Latest()), Spec(missing, OffsetSpec.Latest())], new ListOffsetsOptions { RequestTimeout = TimeSpan.FromSeconds(5) }));
        Assert.Equal(ErrorCode.UnknownTopicOrPartition, ex.Result.Error.Code);
        Assert.Equal(3, ex.Result.ResultInfos[0].TopicPartitionOffsetError.Offset);
        Assert.Equal(ErrorCode.UnknownTopicOrPartition, ex.Result.ResultInfos[1].TopicPartitionOffsetError.Error.Code);

        await Assert.ThrowsAsync<ArgumentException>(() => admin.ListOffsetsAsync([Spec(p0, OffsetSpec.Latest()), Spec(p0, OffsetSpec.Earliest())]));
    }

    [Fact]
    public async Task DeleteRecords_moves_each_log_start_and_refuses_an_offset_past_the_high_watermark_alone()
    {
        using var admin = new AdminClientBuilder(fixture.Client).Build();
        var topic = await CreateTopicAsync(admin, "dr", 2);
        var (p0, p1) = (new TopicPartition(topic, 0), new TopicPartition(topic, 1));
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        await ProduceAsync(p0, [.. Enumerable.Range(0, 10).Select(i => now + i)]);
        await ProduceAsync(p1, [.. Enumerable.Range(0, 5).Select(i => now + i)]);

        var deleted = await admin.DeleteRecordsAsync([new TopicPartitionOffset(p0, 4), new TopicPartitionOffset(p1, Offset.End)]);
        Assert.Equal([new DeleteRecordsResult(topic, 0, 4), new DeleteRecordsResult(topic, 1, 5)], deleted);
        var earliest = await admin.ListOffsetsAsync([Spec(p0, OffsetSpec.Earliest()), Spec(p1, OffsetSpec.Earliest())]);
        Assert.Equal([4L, 5L], earliest.ResultInfos.Select(i => i.TopicPartitionOffsetError.Offset));

        // Past the high watermark: Kafka's OffsetOutOfRange for that partition; the other still moves.
        var ex = await Assert.ThrowsAsync<DeleteRecordsException>(() => admin.DeleteRecordsAsync(
            [new TopicPartitionOffset(p0, 11), new TopicPartitionOffset(p1, Offset.End)]));
        Assert.Equal(ErrorCode.OffsetOutOfRange, ex.Results[0].Error.Code);
        Assert.Equal((ErrorCode.None, 5L), (ex.Results[1].Error.Code, ex.Results[1].Offset));
        Assert.Equal(4, Assert.Single((await admin.ListOffsetsAsync([Spec(p0, OffsetSpec.Earliest())])).ResultInfos).TopicPartitionOffsetError.Offset);

        await Assert.ThrowsAsync<ArgumentException>(() => admin.DeleteRecordsAsync([new TopicPartitionOffset(p0, 5), new TopicPartitionOffset(p0, 6)]));
    }
}
