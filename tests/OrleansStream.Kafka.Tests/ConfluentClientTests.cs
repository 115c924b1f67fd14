using System.Text;
using Confluent.Kafka;
using OrleansStream.Records;
using Sdk = OrleansStream.Client;

namespace OrleansStream.Kafka.Tests;

// Confluent's types, not the namespace's own of the same names.
using TopicPartition = Confluent.Kafka.TopicPartition;
using TopicPartitionOffset = Confluent.Kafka.TopicPartitionOffset;
using CompressionType = Confluent.Kafka.CompressionType;

/// <summary>Confluent.Kafka (librdkafka) against the brokers' Kafka listeners, nothing changed but bootstrap.servers.</summary>
[Collection(KafkaClusterCollection.Name)]
public sealed class ConfluentClientTests(KafkaCluster cluster)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    private ProducerConfig Producer(Confluent.Kafka.Acks acks) => new()
    {
        BootstrapServers = cluster.BootstrapServers,
        Acks = acks,
        // Java's partitioner, which our SDK uses too: same key, same partition.
        Partitioner = Partitioner.Murmur2Random,
        LingerMs = 5,
        EnableIdempotence = false,
        MessageTimeoutMs = 30_000,
    };

    private ConsumerConfig Consumer() => new()
    {
        BootstrapServers = cluster.BootstrapServers,
        GroupId = "unused-" + Guid.NewGuid().ToString("N"),
        EnableAutoCommit = false,
        AutoOffsetReset = AutoOffsetReset.Earliest,
    };

    [Fact]
    public async Task Keyed_records_go_to_murmur2_partitions_across_both_brokers_and_read_back_by_assign()
    {
        var topic = await cluster.CreateTopicAsync("keys", partitions: 4);
        var leaders = new HashSet<int>();
        for (var p = 0; p < 4; p++) leaders.Add(await cluster.LeaderIndexAsync(topic, p));
        Assert.Equal(2, leaders.Count);

        var sent = new List<DeliveryResult<string, string>>();
        using (var producer = new ProducerBuilder<string, string>(Producer(Confluent.Kafka.Acks.All)).Build())
        {
            for (var i = 0; i < 40; i++)
                sent.Add(await producer.ProduceAsync(topic, new Message<string, string> { Key = $"key-{i}", Value = $"value-{i}" }, TestContext.Current.CancellationToken));
        }
        foreach (var d in sent)
        {
            Assert.Equal(PersistenceStatus.Persisted, d.Status);
            Assert.Equal(Murmur2.Partition(Encoding.UTF8.GetBytes(d.Message.Key), 4), d.Partition.Value);
        }

        using var consumer = new ConsumerBuilder<string, string>(Consumer()).Build();
        consumer.Assign(Enumerable.Range(0, 4).Select(p => new TopicPartitionOffset(topic, p, Offset.Beginning)));
        var read = ConsumeAll(consumer, sent.Count);
        Assert.Equal(
            sent.Select(d => (d.Partition.Value, d.Offset.Value, d.Message.Key, d.Message.Value)).OrderBy(x => x),
            read.Select(r => (r.Partition.Value, r.Offset.Value, r.Message.Key, r.Message.Value)).OrderBy(x => x));
    }

    [Theory]
    [InlineData(Confluent.Kafka.Acks.None)]
    [InlineData(Confluent.Kafka.Acks.Leader)]
    [InlineData(Confluent.Kafka.Acks.All)]
    public async Task Every_acks_setting_stores_every_record(Confluent.Kafka.Acks acks)
    {
        var topic = await cluster.CreateTopicAsync("acks", partitions: 1);
        using (var producer = new ProducerBuilder<Null, string>(Producer(acks)).Build())
        {
            for (var i = 0; i < 50; i++) producer.Produce(topic, new Message<Null, string> { Value = $"r{i}" });
            Assert.Equal(0, producer.Flush(Wait));
        }

        using var consumer = new ConsumerBuilder<Null, string>(Consumer()).Build();
        await Eventually.WaitUntilAsync(() => consumer.QueryWatermarkOffsets(new TopicPartition(topic, 0), Wait).High.Value == 50,
            $"the high watermark of {topic} reaches 50");
        consumer.Assign(new TopicPartitionOffset(topic, 0, Offset.Beginning));
        var read = ConsumeAll(consumer, 50);
        Assert.Equal(Enumerable.Range(0, 50).Select(i => $"r{i}"), read.Select(r => r.Message.Value));
        Assert.Equal(Enumerable.Range(0, 50).Select(i => (long)i), read.Select(r => r.Offset.Value));
    }

    [Theory]
    [InlineData(CompressionType.Gzip)]
    [InlineData(CompressionType.Snappy)]
    [InlineData(CompressionType.Lz4)]
    [InlineData(CompressionType.Zstd)]
    public async Task Every_compression_codec_round_trips_through_Confluent_and_our_SDK(CompressionType codec)
    {
        var topic = await cluster.CreateTopicAsync("codec", partitions: 1);
        var config = Producer(Confluent.Kafka.Acks.All);
        config.CompressionType = codec;
        config.LingerMs = 50;
        // Repetitive values, so that each codec has something to compress, in batches of many records.
        var values = Enumerable.Range(0, 300).Select(i => $"{codec}-{i}-" + new string((char)('a' + i % 26), 100)).ToList();
        using (var producer = new ProducerBuilder<Null, string>(config).Build())
        {
            foreach (var v in values) producer.Produce(topic, new Message<Null, string> { Value = v });
            Assert.Equal(0, producer.Flush(Wait));
        }

        using var consumer = new ConsumerBuilder<Null, string>(Consumer()).Build();
        consumer.Assign(new TopicPartitionOffset(topic, 0, Offset.Beginning));
        var read = ConsumeAll(consumer, values.Count);

        using var sdk = new Sdk.ConsumerBuilder<Sdk.Null, string>(cluster.Silos.Client, new Sdk.ConsumerConfig { AutoOffsetReset = Sdk.AutoOffsetReset.Earliest }).Build();
        sdk.Assign([new OrleansStream.TopicPartitionOffset(new OrleansStream.TopicPartition(topic, 0), Sdk.Offset.Beginning)]);
        var readBySdk = new List<string>();
        var deadline = DateTime.UtcNow + Wait;
        while (readBySdk.Count < values.Count && DateTime.UtcNow < deadline)
            if (sdk.Consume(TimeSpan.FromSeconds(1)) is { } r) readBySdk.Add(r.Message!.Value!);

        Assert.Equal(values, read.Select(r => r.Message.Value));
        Assert.Equal(Enumerable.Range(0, values.Count).Select(i => (long)i), read.Select(r => r.Offset.Value));
        Assert.Equal(values, readBySdk);
    }

    [Fact]
    public async Task Offsets_for_times_max_timestamp_and_watermarks_come_from_ListOffsets()
    {
        var topic = await cluster.CreateTopicAsync("times", partitions: 1);
        var t0 = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() - 60_000;
        // The largest timestamp is on the middle record (KIP-734 answers it, not the last).
        long[] stamps = [t0, t0 + 2000, t0 + 1000];
        using (var producer = new ProducerBuilder<Null, string>(Producer(Confluent.Kafka.Acks.Leader)).Build())
        {
            foreach (var stamp in stamps)
                await producer.ProduceAsync(topic, new Message<Null, string> { Value = $"t{stamp}", Timestamp = new Timestamp(stamp, TimestampType.CreateTime) },
                    TestContext.Current.CancellationToken);
        }
        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = cluster.BootstrapServers }).Build();
        var max = await admin.ListOffsetsAsync([new Confluent.Kafka.Admin.TopicPartitionOffsetSpec
        {
            TopicPartition = new TopicPartition(topic, 0),
            OffsetSpec = Confluent.Kafka.Admin.OffsetSpec.MaxTimestamp(),
        }]);

        using var consumer = new ConsumerBuilder<Null, string>(Consumer()).Build();
        var tp = new TopicPartition(topic, 0);
        var found = consumer.OffsetsForTimes([new TopicPartitionTimestamp(tp, new Timestamp(t0 + 500, TimestampType.CreateTime))], Wait);
        var none = consumer.OffsetsForTimes([new TopicPartitionTimestamp(tp, new Timestamp(t0 + 5000, TimestampType.CreateTime))], Wait);
        var watermarks = consumer.QueryWatermarkOffsets(tp, Wait);

        Assert.Equal(1, Assert.Single(found).Offset.Value);
        Assert.Equal(Offset.End, Assert.Single(none).Offset);
        var maxInfo = Assert.Single(max.ResultInfos);
        Assert.Equal((1L, t0 + 2000), (maxInfo.TopicPartitionOffsetError.Offset.Value, maxInfo.Timestamp));
        Assert.Equal((0L, 3L), (watermarks.Low.Value, watermarks.High.Value));
    }

    [Fact]
    public async Task Our_SDK_and_Confluent_see_the_same_partitions_offsets_and_records()
    {
        var topic = await cluster.CreateTopicAsync("shared", partitions: 3);
        var fromSdk = new List<(int, long, string)>();
        await using (var producer = new Sdk.ProducerBuilder<string, string>(cluster.Silos.Client, new Sdk.ProducerConfig { Acks = OrleansStream.Acks.All }).Build())
        {
            for (var i = 0; i < 15; i++)
            {
                var r = await producer.ProduceAsync(topic, new Sdk.Message<string, string> { Key = $"sdk-{i}", Value = $"v{i}" }, TestContext.Current.CancellationToken);
                fromSdk.Add((r.Partition, r.Offset, r.Message.Key));
            }
        }
        var fromConfluent = new List<(int, long, string)>();
        using (var producer = new ProducerBuilder<string, string>(Producer(Confluent.Kafka.Acks.All)).Build())
        {
            for (var i = 0; i < 15; i++)
            {
                var r = await producer.ProduceAsync(topic, new Message<string, string> { Key = $"ck-{i}", Value = $"v{i}" }, TestContext.Current.CancellationToken);
                fromConfluent.Add((r.Partition.Value, r.Offset.Value, r.Message.Key));
            }
        }
        var all = fromSdk.Concat(fromConfluent).OrderBy(x => x).ToList();

        using var confluent = new ConsumerBuilder<string, string>(Consumer()).Build();
        confluent.Assign(Enumerable.Range(0, 3).Select(p => new TopicPartitionOffset(topic, p, Offset.Beginning)));
        var readByConfluent = ConsumeAll(confluent, all.Count).Select(r => (r.Partition.Value, r.Offset.Value, r.Message.Key)).OrderBy(x => x);

        using var sdk = new Sdk.ConsumerBuilder<string, string>(cluster.Silos.Client, new Sdk.ConsumerConfig { AutoOffsetReset = Sdk.AutoOffsetReset.Earliest }).Build();
        sdk.Assign(Enumerable.Range(0, 3).Select(p => new OrleansStream.TopicPartitionOffset(new OrleansStream.TopicPartition(topic, p), Sdk.Offset.Beginning)));
        var readBySdk = new List<(int, long, string)>();
        var deadline = DateTime.UtcNow + Wait;
        while (readBySdk.Count < all.Count && DateTime.UtcNow < deadline)
            if (sdk.Consume(TimeSpan.FromSeconds(1)) is { } r) readBySdk.Add((r.Partition, r.Offset, r.Message!.Key!));

        Assert.Equal(all, readByConfluent);
        Assert.Equal(all, readBySdk.OrderBy(x => x));
        foreach (var (partition, _, key) in all)
            Assert.Equal(Murmur2.Partition(Encoding.UTF8.GetBytes(key), 3), partition);
    }

    private static List<ConsumeResult<TKey, string>> ConsumeAll<TKey>(IConsumer<TKey, string> consumer, int count)
    {
        var read = new List<ConsumeResult<TKey, string>>();
        var deadline = DateTime.UtcNow + Wait;
        while (read.Count < count && DateTime.UtcNow < deadline)
            if (consumer.Consume(TimeSpan.FromSeconds(1)) is { IsPartitionEOF: false } r) read.Add(r);
        Assert.True(read.Count == count, $"read {read.Count} of {count} records");
        return read;
    }
}
