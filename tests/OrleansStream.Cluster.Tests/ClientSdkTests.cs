using System.Text;
using OrleansStream.Client;
using OrleansStream.Client.Admin;
using OrleansStream.Records;

namespace OrleansStream.Cluster.Tests;

/// <summary>The client SDK against the three-silo cluster: producer, consumer and admin client end to end.</summary>
[Collection(ClusterCollection.Name)]
public sealed class ClientSdkTests(ClusterFixture fixture)
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static string Unique(string prefix) => $"{prefix}-{Guid.NewGuid():N}"[..24];

    private async Task<string> CreateTopicAsync(string prefix, int partitions, short replicationFactor = 1, Dictionary<string, string>? configs = null)
    {
        var name = Unique(prefix);
        using var admin = new AdminClientBuilder(fixture.Client).Build();
        await admin.CreateTopicsAsync([new TopicSpecification { Name = name, NumPartitions = partitions, ReplicationFactor = replicationFactor, Configs = configs }]);
        return name;
    }

    private IProducer<string?, string> Producer(Acks acks, Action<ProducerConfig>? configure = null)
    {
        var config = new ProducerConfig { Acks = acks, LingerMs = 2, MessageTimeoutMs = 20000 };
        configure?.Invoke(config);
        return new ProducerBuilder<string?, string>(fixture.Client, config).Build();
    }

    private IConsumer<string?, string> Consumer(Action<ConsumerConfig>? configure = null)
    {
        var config = new ConsumerConfig { AutoOffsetReset = AutoOffsetReset.Earliest, FetchWaitMaxMs = 100 };
        configure?.Invoke(config);
        return new ConsumerBuilder<string?, string>(fixture.Client, config).Build();
    }

    /// <summary>Consumes until <paramref name="count"/> messages arrived; fails if they do not within the deadline.</summary>
    private static List<ConsumeResult<string?, string>> ConsumeExactly(IConsumer<string?, string> consumer, int count)
    {
        var results = new List<ConsumeResult<string?, string>>(count);
        using var cts = new CancellationTokenSource(Deadline);
        while (results.Count < count)
        {
            ConsumeResult<string?, string> r;
            try
            {
                r = consumer.Consume(cts.Token);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"Consumed {results.Count} of {count} messages before the deadline.");
            }
            if (!r.IsPartitionEOF) results.Add(r);
        }
        return results;
    }

    [Theory]
    [InlineData(CompressionType.Gzip)]
    [InlineData(CompressionType.Snappy)]
    [InlineData(CompressionType.Lz4)]
    [InlineData(CompressionType.Zstd)]
    public async Task Compressed_batches_are_stored_as_sent_replicated_and_consumed_transparently(CompressionType codec)
    {
        const int count = 300;
        var topic = await CreateTopicAsync("codec", 1, replicationFactor: 3);
        await using (var producer = Producer(Acks.All, c => { c.CompressionType = codec; c.LingerMs = 20; }))
        {
            var deliveries = new List<Task<DeliveryResult<string?, string>>>(count);
            for (var i = 0; i < count; i++)
            {
                var headers = new Headers { { "n", Encoding.UTF8.GetBytes(i.ToString(System.Globalization.CultureInfo.InvariantCulture)) } };
                deliveries.Add(producer.ProduceAsync(topic, new Message<string?, string> { Key = $"key-{i % 13}", Value = $"compressed value {i} {new string('x', i % 50)}", Headers = headers }, Ct));
            }
            await Task.WhenAll(deliveries);
        }

        // The leader holds the producer's batches with their codec; the records inside are the ones produced.
        var leader = await fixture.Leader(topic, 0);
        var fetched = await leader.Fetch(new FetchRequest(0, 1 << 20, MinBytes: 0, MaxWaitMs: 0));
        Assert.Equal(ErrorCode.None, fetched.Error);
        var batches = 0;
        foreach (var batch in RecordBatchReader.Batches(fetched.Records.Span))
        {
            Assert.Equal(codec, batch.Compression);
            Assert.Equal(ErrorCode.None, batch.Validate());
            batches++;
        }
        Assert.True(batches > 0);

        using var consumer = Consumer();
        consumer.Assign(new TopicPartitionOffset(new TopicPartition(topic, 0), Offset.Beginning));
        var results = ConsumeExactly(consumer, count);
        for (var i = 0; i < count; i++)
        {
            var message = results[i].Message!;
            Assert.Equal(i, results[i].Offset);
            Assert.Equal($"key-{i % 13}", message.Key);
            Assert.Equal($"compressed value {i} {new string('x', i % 50)}", message.Value);
            Assert.Equal(i.ToString(System.Globalization.CultureInfo.InvariantCulture), Encoding.UTF8.GetString(message.Headers!.GetLastBytes("n")!));
        }
    }

    [Theory]
    [InlineData(Acks.None)]
    [InlineData(Acks.Leader)]
    [InlineData(Acks.All)]
    public async Task Keyed_and_unkeyed_records_are_consumed_exactly_once_in_order_per_partition(Acks acks)
    {
        const int partitions = 3, perKind = 200;
        var topic = await CreateTopicAsync("roundtrip", partitions, replicationFactor: 3);

        var deliveries = new List<Task<DeliveryResult<string?, string>>>();
        // Small batches: many of them, several in flight per partition, and the sticky partitioner moves on often.
        await using (var producer = Producer(acks, c => c.BatchSize = 1024))
        {
            for (var i = 0; i < perKind; i++)
            {
                deliveries.Add(producer.ProduceAsync(topic, new Message<string?, string> { Key = $"key-{i % 17}", Value = $"keyed-{i}" }, Ct));
                deliveries.Add(producer.ProduceAsync(topic, new Message<string?, string> { Key = null, Value = $"unkeyed-{i}" }, Ct));
            }
            await producer.FlushAsync(Ct);
        }
        var results = await Task.WhenAll(deliveries);

        foreach (var r in results)
        {
            Assert.Equal(topic, r.Topic);
            if (acks == Acks.None)
            {
                Assert.Equal(-1, r.Offset);
                Assert.Equal(PersistenceStatus.PossiblyPersisted, r.Status);
            }
            else
            {
                Assert.True(r.Offset >= 0);
                Assert.Equal(PersistenceStatus.Persisted, r.Status);
            }
            if (r.Key is { } key)
                Assert.Equal(Partitioners.Murmur2(Encoding.UTF8.GetBytes(key), partitions), r.Partition);
        }
        // Unkeyed records spread over the partitions (sticky per batch, round-robin between batches).
        var unkeyedPartitions = new HashSet<int>();
        foreach (var r in results) if (r.Key is null) unkeyedPartitions.Add(r.Partition);
        Assert.True(unkeyedPartitions.Count > 1 || perKind < 2);

        using var consumer = Consumer();
        consumer.Assign(Enumerable.Range(0, partitions).Select(p => new TopicPartitionOffset(new TopicPartition(topic, p), Offset.Beginning)));
        var consumed = ConsumeExactly(consumer, 2 * perKind);

        Assert.Equal(2 * perKind, consumed.Select(c => c.Message!.Value).Distinct().Count());
        Assert.Null(consumer.Consume(TimeSpan.FromMilliseconds(200)));
        var lastOffset = new Dictionary<int, long>();
        var lastKeyed = new Dictionary<string, int>();
        foreach (var c in consumed)
        {
            Assert.True(c.Offset > lastOffset.GetValueOrDefault(c.Partition, -1), "offsets increase within a partition");
            lastOffset[c.Partition] = c.Offset;
            if (c.Message!.Key is { } key)
            {
                // Per key (one partition), records arrive in the order they were produced.
                var i = int.Parse(c.Message.Value.AsSpan("keyed-".Length));
                Assert.True(i > lastKeyed.GetValueOrDefault(key, -1));
                lastKeyed[key] = i;
                Assert.Equal(Partitioners.Murmur2(Encoding.UTF8.GetBytes(key), partitions), c.Partition);
            }
        }
        if (acks != Acks.None)
        {
            var byValue = results.ToDictionary(r => r.Value, r => r.TopicPartitionOffset);
            foreach (var c in consumed) Assert.Equal(byValue[c.Message!.Value], c.TopicPartitionOffset);
        }
    }

    [Fact]
    public async Task Key_to_partition_matches_a_Java_producer()
    {
        // Java's Utils.murmur2 of these keys (Kafka's UtilsTest); a Java producer uses toPositive(hash) % partitions.
        var vectors = new Dictionary<string, int>
        {
            ["21"] = -973932308, ["foobar"] = -790332482, ["a-little-bit-long-string"] = -985981536,
            ["a-little-bit-longer-string"] = -1486304829, ["lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8"] = -58897971,
            ["abc"] = 479470107,
        };
        var topic = await CreateTopicAsync("murmur", 7);
        await using var producer = Producer(Acks.Leader);
        foreach (var (key, hash) in vectors)
        {
            var result = await producer.ProduceAsync(topic, new Message<string?, string> { Key = key, Value = "v" }, Ct);
            Assert.Equal((hash & 0x7fffffff) % 7, result.Partition);
        }
    }

    [Fact]
    public async Task Produce_with_a_handler_then_flush_reports_every_message()
    {
        var topic = await CreateTopicAsync("handler", 2);
        var reports = new List<DeliveryReport<string?, string>>();
        using (var producer = Producer(Acks.Leader))
        {
            for (var i = 0; i < 50; i++)
                producer.Produce(topic, new Message<string?, string> { Key = $"k{i}", Value = $"v{i}" }, r => { lock (reports) reports.Add(r); });
            Assert.Equal(0, producer.Flush(Deadline));
        }
        Assert.Equal(50, reports.Count);
        Assert.All(reports, r => Assert.False(r.Error.IsError));
        Assert.Equal(50, reports.Select(r => r.TopicPartitionOffset).Distinct().Count());
    }

    [Fact]
    public async Task Unknown_topic_with_auto_create_off_is_UnknownTopicOrPartition()
    {
        var topic = Unique("missing");
        await using var producer = Producer(Acks.Leader, c => c.AllowAutoCreateTopics = false);

        var e = await Assert.ThrowsAsync<ProduceException<string?, string>>(() =>
            producer.ProduceAsync(topic, new Message<string?, string> { Value = "x" }, Ct));

        Assert.Equal(ErrorCode.UnknownTopicOrPartition, e.Error.Code);
        Assert.Equal(PersistenceStatus.NotPersisted, e.DeliveryResult.Status);
        var metadata = await fixture.Controller.GetMetadata(new MetadataRequest([topic]));
        Assert.Equal(ErrorCode.UnknownTopicOrPartition, Assert.Single(metadata.Topics).Error);

        using var consumer = Consumer();
        consumer.Assign(new TopicPartition(topic, 0));
        using var cts = new CancellationTokenSource(Deadline);
        var ce = Assert.Throws<ConsumeException>(() => consumer.Consume(cts.Token));
        Assert.Equal(ErrorCode.UnknownTopicOrPartition, ce.Error.Code);
    }

    [Fact]
    public async Task Producing_to_a_new_topic_creates_it_through_metadata()
    {
        var topic = Unique("auto");
        await using var producer = Producer(Acks.Leader);

        var result = await producer.ProduceAsync(topic, new Message<string?, string> { Key = "k", Value = "v" }, Ct);

        Assert.Equal(0, result.Offset);
        var metadata = await fixture.Controller.GetMetadata(new MetadataRequest([topic]));
        Assert.Equal(ErrorCode.None, Assert.Single(metadata.Topics).Error);
    }

    [Fact]
    public async Task A_record_too_large_fails_alone_and_the_log_keeps_only_the_good_records()
    {
        var topic = await CreateTopicAsync("toolarge", 1, configs: new() { ["max.message.bytes"] = "2000" });
        var tp = new TopicPartition(topic, 0);
        await using var producer = Producer(Acks.Leader, c => c.LingerMs = 50);

        // Over the client's own limit: refused before anything is sent.
        var local = await Assert.ThrowsAsync<ProduceException<string?, string>>(() =>
            producer.ProduceAsync(tp, new Message<string?, string> { Value = new string('x', 1_100_000) }, Ct));
        Assert.Equal(ErrorCode.RecordTooLarge, local.Error.Code);

        // Over the topic's max.message.bytes: the broker refuses that batch; the small ones around it still land.
        var before = producer.ProduceAsync(tp, new Message<string?, string> { Value = "small-1" }, Ct);
        var big = producer.ProduceAsync(tp, new Message<string?, string> { Value = new string('y', 5000) }, Ct);
        var after = producer.ProduceAsync(tp, new Message<string?, string> { Value = "small-2" }, Ct);
        var e = await Assert.ThrowsAsync<ProduceException<string?, string>>(() => big);
        Assert.Equal(ErrorCode.RecordTooLarge, e.Error.Code);
        Assert.Equal(PersistenceStatus.NotPersisted, e.DeliveryResult.Status);
        var ok1 = await before;
        var ok2 = await after;
        Assert.True(ok2.Offset > ok1.Offset);

        using var consumer = Consumer();
        var watermarks = consumer.QueryWatermarkOffsets(tp, Deadline);
        Assert.Equal(new WatermarkOffsets(0, 2), watermarks);
    }

    [Fact]
    public async Task Offsets_out_of_range_follow_auto_offset_reset()
    {
        var topic = await CreateTopicAsync("offsets", 1);
        var tp = new TopicPartition(topic, 0);
        await using (var producer = Producer(Acks.Leader))
        {
            for (var i = 0; i < 10; i++) producer.Produce(tp, new Message<string?, string> { Value = $"v{i}" });
            await producer.FlushAsync(Ct);
        }

        using (var strict = Consumer(c => c.AutoOffsetReset = AutoOffsetReset.Error))
        {
            strict.Assign(new TopicPartitionOffset(tp, 1000));
            using var cts = new CancellationTokenSource(Deadline);
            var e = Assert.Throws<ConsumeException>(() => strict.Consume(cts.Token));
            Assert.Equal(ErrorCode.OffsetOutOfRange, e.Error.Code);
            Assert.Equal(new TopicPartitionOffset(tp, 1000), e.TopicPartitionOffset);

            // Seeking to a valid offset recovers; a nonsense offset is refused at once.
            strict.Seek(new TopicPartitionOffset(tp, 7));
            Assert.Equal(7, ConsumeExactly(strict, 1)[0].Offset);
            var bad = Assert.Throws<KafkaException>(() => strict.Seek(new TopicPartitionOffset(tp, -7)));
            Assert.Equal(ErrorCode.OffsetOutOfRange, bad.Error.Code);
        }

        using (var earliest = Consumer(c => c.AutoOffsetReset = AutoOffsetReset.Earliest))
        {
            earliest.Assign(new TopicPartitionOffset(tp, 1000));
            Assert.Equal(0, ConsumeExactly(earliest, 1)[0].Offset);
        }

        using (var latest = Consumer(c => { c.AutoOffsetReset = AutoOffsetReset.Latest; c.EnablePartitionEof = true; }))
        {
            latest.Assign(new TopicPartitionOffset(tp, 1000));
            using var cts = new CancellationTokenSource(Deadline);
            var eof = latest.Consume(cts.Token);
            Assert.True(eof.IsPartitionEOF);
            Assert.Equal(10, eof.Offset);
            Assert.Equal(10, latest.Position(tp));
        }
    }

    [Fact]
    public async Task Watermarks_and_offsets_for_times()
    {
        var topic = await CreateTopicAsync("times", 1);
        var tp = new TopicPartition(topic, 0);
        var t0 = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() - 100_000;
        await using (var producer = Producer(Acks.Leader))
        {
            for (var i = 0; i < 5; i++)
            {
                await producer.ProduceAsync(tp, new Message<string?, string>
                {
                    Value = $"v{i}",
                    Timestamp = new Timestamp(t0 + i * 1000, TimestampType.CreateTime),
                }, Ct);
            }
        }

        using var consumer = Consumer();
        Assert.Equal(new WatermarkOffsets(0, 5), consumer.QueryWatermarkOffsets(tp, Deadline));
        var found = consumer.OffsetsForTimes(
            [new TopicPartitionTimestamp(tp, new Timestamp(t0 + 2500, TimestampType.CreateTime)),
             new TopicPartitionTimestamp(tp, new Timestamp(t0 + 99_000, TimestampType.CreateTime))], Deadline);
        Assert.Equal(3, found[0].Offset);
        Assert.Equal(Offset.End, found[1].Offset);

        consumer.Assign(new TopicPartitionOffset(tp, found[0].Offset));
        var r = ConsumeExactly(consumer, 2);
        Assert.Equal(["v3", "v4"], r.Select(x => x.Message!.Value));
        Assert.Equal(new Timestamp(t0 + 3000, TimestampType.CreateTime), r[0].Message!.Timestamp);
        Assert.Equal(new WatermarkOffsets(0, 5), consumer.GetWatermarkOffsets(tp));
    }

    [Fact]
    public async Task Admin_creates_describes_grows_and_deletes_topics()
    {
        using var admin = new AdminClientBuilder(fixture.Client).Build();
        var topic = Unique("admin");

        await admin.CreateTopicsAsync([new TopicSpecification { Name = topic, NumPartitions = 3, ReplicationFactor = 2, Configs = new() { ["retention.ms"] = "60000" } }]);

        var description = Assert.Single((await admin.DescribeTopicsAsync([topic])).TopicDescriptions);
        Assert.Equal(topic, description.Name);
        Assert.False(description.Error.IsError);
        Assert.Equal("60000", description.Configs["retention.ms"]);
        Assert.Equal([0, 1, 2], description.Partitions.Select(p => p.Partition));
        foreach (var p in description.Partitions)
        {
            Assert.Equal(2, p.Replicas.Count);
            Assert.NotNull(p.LeaderBroker);
            Assert.Contains(p.Leader, p.Isr);
            Assert.Equal(0, p.LogStartOffset);
            Assert.Equal(0, p.LogEndOffset);
        }

        var duplicate = await Assert.ThrowsAsync<CreateTopicsException>(() =>
            admin.CreateTopicsAsync([new TopicSpecification { Name = topic, NumPartitions = 1 }, new TopicSpecification { Name = "bad name", NumPartitions = 1 }]));
        Assert.Equal(ErrorCode.TopicAlreadyExists, duplicate.Results[0].Error.Code);
        Assert.Equal(ErrorCode.InvalidTopic, duplicate.Results[1].Error.Code);

        await admin.CreatePartitionsAsync([new PartitionsSpecification { Topic = topic, IncreaseTo = 4 }]);
        Assert.Equal(4, Assert.Single(admin.GetMetadata(topic, Deadline).Topics).Partitions.Count);
        var shrink = await Assert.ThrowsAsync<CreatePartitionsException>(() =>
            admin.CreatePartitionsAsync([new PartitionsSpecification { Topic = topic, IncreaseTo = 2 }]));
        Assert.Equal(ErrorCode.InvalidPartitions, Assert.Single(shrink.Results).Error.Code);

        // acks=all: the high watermark (what ListOffsets latest reports) has moved when the produce returns.
        await using (var producer = Producer(Acks.All))
            await producer.ProduceAsync(new TopicPartition(topic, 3), new Message<string?, string> { Value = "in the new partition" }, Ct);
        var grown = Assert.Single((await admin.DescribeTopicsAsync([topic])).TopicDescriptions);
        Assert.Equal(1, grown.Partitions[3].LogEndOffset);

        await admin.DeleteTopicsAsync([topic]);
        var gone = await Assert.ThrowsAsync<DescribeTopicsException>(() => admin.DescribeTopicsAsync([topic]));
        Assert.Equal(ErrorCode.UnknownTopicOrPartition, gone.Error.Code);
        var again = await Assert.ThrowsAsync<DeleteTopicsException>(() => admin.DeleteTopicsAsync([topic]));
        Assert.Equal(ErrorCode.UnknownTopicOrPartition, Assert.Single(again.Results).Error.Code);
    }
}
