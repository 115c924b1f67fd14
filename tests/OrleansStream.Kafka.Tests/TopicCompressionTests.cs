using Confluent.Kafka;
using Confluent.Kafka.Admin;
using OrleansStream.Records;
using Sdk = OrleansStream.Client;

namespace OrleansStream.Kafka.Tests;

using CompressionType = Confluent.Kafka.CompressionType;

/// <summary>A topic's <c>compression.type</c>: set by our SDK's admin and Confluent's, described, and applied by the leader.</summary>
[Collection(KafkaClusterCollection.Name)]
public sealed class TopicCompressionTests(KafkaCluster cluster)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task The_leader_stores_every_batch_in_the_topics_codec_whatever_the_producer_sent_until_it_is_altered()
    {
        var name = "ctype-" + Guid.NewGuid().ToString("N")[..8];
        using (var sdkAdmin = new Sdk.AdminClientBuilder(cluster.Silos.Client).Build())
            await sdkAdmin.CreateTopicsAsync([new Sdk.Admin.TopicSpecification { Name = name, NumPartitions = 1, ReplicationFactor = 1, Configs = new() { ["compression.type"] = "zstd" } }]);
        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = cluster.BootstrapServers }).Build();
        var resource = new ConfigResource { Type = ResourceType.Topic, Name = name };
        var described = (await admin.DescribeConfigsAsync([resource])).Single().Entries["compression.type"];

        // An idempotent gzip producer with several batches in flight: rewritten, still in sequence.
        Produce(name, CompressionType.Gzip, "gzip", 400);
        await using (var sdk = new Sdk.ProducerBuilder<Sdk.Null, string>(cluster.Silos.Client, new Sdk.ProducerConfig()).Build())
            for (var i = 0; i < 20; i++) await sdk.ProduceAsync(name, new Sdk.Message<Sdk.Null, string> { Value = $"sdk-{i}" }, TestContext.Current.CancellationToken);
        var zstdCodecs = await StoredCodecsAsync(name, 0);

        await admin.IncrementalAlterConfigsAsync(new Dictionary<ConfigResource, List<ConfigEntry>>
        {
            [resource] = [new ConfigEntry { Name = "compression.type", Value = "uncompressed", IncrementalOperation = AlterConfigOpType.Set }],
        });
        var altered = (await admin.DescribeConfigsAsync([resource])).Single().Entries["compression.type"];
        await Eventually.WaitUntilAsync(async () =>
        {
            Produce(name, CompressionType.Lz4, "probe", 1);
            var codecs = await StoredCodecsAsync(name, 0);
            return codecs[^1] == Records.CompressionType.None;
        }, "the leader applies the altered compression.type");
        var from = (await StoredCodecsAsync(name, 0)).Count;
        Produce(name, CompressionType.Lz4, "lz4", 200);
        var uncompressedCodecs = (await StoredCodecsAsync(name, 0)).Skip(from).ToList();
        var invalid = await Assert.ThrowsAsync<IncrementalAlterConfigsException>(() => admin.IncrementalAlterConfigsAsync(new Dictionary<ConfigResource, List<ConfigEntry>>
        {
            [resource] = [new ConfigEntry { Name = "compression.type", Value = "brotli", IncrementalOperation = AlterConfigOpType.Set }],
        }));

        using var consumer = new ConsumerBuilder<Null, string>(new ConsumerConfig { BootstrapServers = cluster.BootstrapServers, GroupId = "unused-" + name, EnableAutoCommit = false }).Build();
        consumer.Assign(new Confluent.Kafka.TopicPartitionOffset(name, 0, Offset.Beginning));
        var end = (await cluster.Silos.Client.GetGrain<IPartitionReplicaGrain>(GrainKeys.Replica(name, 0, 0)).GetStatus()).LogEndOffset;
        var values = new List<string>();
        var deadline = DateTime.UtcNow + Wait;
        while (values.Count < end && DateTime.UtcNow < deadline)
            if (consumer.Consume(TimeSpan.FromSeconds(1)) is { IsPartitionEOF: false } r) values.Add(r.Message.Value);

        Assert.Equal(("zstd", Confluent.Kafka.Admin.ConfigSource.DynamicTopicConfig), (described.Value, described.Source));
        Assert.Equal("uncompressed", altered.Value);
        Assert.True(zstdCodecs.Count > 1, $"{zstdCodecs.Count} batches");
        Assert.All(zstdCodecs, c => Assert.Equal(Records.CompressionType.Zstd, c));
        Assert.All(uncompressedCodecs, c => Assert.Equal(Records.CompressionType.None, c));
        Assert.Equal(Confluent.Kafka.ErrorCode.InvalidConfig, invalid.Results.Single().Error.Code);
        Assert.Equal(Enumerable.Range(0, 400).Select(i => $"gzip-{i}"), values.Take(400));
        Assert.Equal(Enumerable.Range(0, 20).Select(i => $"sdk-{i}"), values.Skip(400).Take(20));
        Assert.Equal(Enumerable.Range(0, 200).Select(i => $"lz4-{i}"), values.Where(v => v.StartsWith("lz4-", StringComparison.Ordinal)));
    }

    private void Produce(string topic, CompressionType codec, string prefix, int count)
    {
        using var producer = new ProducerBuilder<Null, string>(new ProducerConfig
        {
            BootstrapServers = cluster.BootstrapServers,
            CompressionType = codec,
            EnableIdempotence = true,
            LingerMs = 20,
            BatchNumMessages = 50,
        }).Build();
        for (var i = 0; i < count; i++) producer.Produce(topic, new Message<Null, string> { Value = $"{prefix}-{i}" });
        Assert.Equal(0, producer.Flush(Wait));
    }

    /// <summary>The codec of every batch the leader stores, in offset order.</summary>
    private Task<List<Records.CompressionType>> StoredCodecsAsync(string topic, int partition) => StoredCodecsAsync(cluster.Silos.Client, topic, partition);

    /// <summary>The codec of each batch the partition's leader (replica 0) stores, in offset order.</summary>
    internal static async Task<List<Records.CompressionType>> StoredCodecsAsync(IClusterClient client, string topic, int partition)
    {
        var leader = client.GetGrain<IPartitionReplicaGrain>(GrainKeys.Replica(topic, partition, 0));
        var codecs = new List<Records.CompressionType>();
        for (var offset = 0L; ;)
        {
            var fetched = await leader.Fetch(new FetchRequest(offset, 1 << 20, MaxWaitMs: 0));
            var bytes = fetched.Records;
            if (bytes.IsEmpty) return codecs;
            for (var position = 0; bytes.Length - position >= RecordBatchHeader.Size;)
            {
                var header = RecordBatchHeader.Read(bytes.Span[position..]);
                if (header.TotalSize > bytes.Length - position) break;
                codecs.Add(header.Compression);
                offset = header.LastOffset + 1;
                position += header.TotalSize;
            }
        }
    }
}
