using Confluent.Kafka;
using Confluent.Kafka.Admin;
using OrleansStream.TestKit;

namespace OrleansStream.Kafka.Tests;

/// <summary>Confluent.Kafka's DescribeConfigs, IncrementalAlterConfigs and DeleteRecords against the brokers.</summary>
[Collection(KafkaClusterCollection.Name)]
public sealed class ConfigAndDeleteRecordsTests(KafkaCluster cluster)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    private IAdminClient Admin() => new AdminClientBuilder(new AdminClientConfig { BootstrapServers = cluster.BootstrapServers }).Build();

    [Fact]
    public async Task Topic_configs_are_described_with_Kafkas_sources_and_altered_incrementally()
    {
        var name = "cfg-" + Guid.NewGuid().ToString("N")[..8];
        using var admin = Admin();
        await admin.CreateTopicsAsync([new TopicSpecification { Name = name, NumPartitions = 1, ReplicationFactor = 2, Configs = new() { ["retention.ms"] = "3600000" } }]);
        var topic = new ConfigResource { Type = ResourceType.Topic, Name = name };

        var before = (await admin.DescribeConfigsAsync([topic])).Single().Entries;
        await admin.IncrementalAlterConfigsAsync(new Dictionary<ConfigResource, List<ConfigEntry>>
        {
            [topic] =
            [
                new ConfigEntry { Name = "retention.ms", Value = "7200000", IncrementalOperation = AlterConfigOpType.Set },
                new ConfigEntry { Name = "cleanup.policy", Value = "compact", IncrementalOperation = AlterConfigOpType.Append },
            ],
        });
        var after = (await admin.DescribeConfigsAsync([topic])).Single().Entries;
        var invalid = await Assert.ThrowsAsync<IncrementalAlterConfigsException>(() => admin.IncrementalAlterConfigsAsync(new Dictionary<ConfigResource, List<ConfigEntry>>
        {
            [topic] = [new ConfigEntry { Name = "retention.ms", Value = "soon", IncrementalOperation = AlterConfigOpType.Set }],
        }));
        var notList = await Assert.ThrowsAsync<IncrementalAlterConfigsException>(() => admin.IncrementalAlterConfigsAsync(new Dictionary<ConfigResource, List<ConfigEntry>>
        {
            [topic] = [new ConfigEntry { Name = "retention.ms", Value = "1", IncrementalOperation = AlterConfigOpType.Append }],
        }));
        var unknown = await Assert.ThrowsAsync<IncrementalAlterConfigsException>(() => admin.IncrementalAlterConfigsAsync(new Dictionary<ConfigResource, List<ConfigEntry>>
        {
            [new ConfigResource { Type = ResourceType.Topic, Name = name + "-missing" }] =
                [new ConfigEntry { Name = "retention.ms", Value = "1", IncrementalOperation = AlterConfigOpType.Set }],
        }));
        var described = await cluster.Controller.GetMetadata(new MetadataRequest([name]));
        // The replicas apply an altered config: the leader refuses a batch over a lowered max.message.bytes.
        await admin.IncrementalAlterConfigsAsync(new Dictionary<ConfigResource, List<ConfigEntry>>
        {
            [topic] = [new ConfigEntry { Name = "max.message.bytes", Value = "1000", IncrementalOperation = AlterConfigOpType.Set }],
        });
        using var producer = new ProducerBuilder<Null, string>(new ProducerConfig { BootstrapServers = cluster.BootstrapServers, MessageSendMaxRetries = 0 }).Build();
        var tooLarge = await Assert.ThrowsAsync<ProduceException<Null, string>>(() => producer.ProduceAsync(name, new Message<Null, string> { Value = new string('x', 5000) }, TestContext.Current.CancellationToken));

        Assert.Equal("3600000", before["retention.ms"].Value);
        Assert.Equal(Confluent.Kafka.Admin.ConfigSource.DynamicTopicConfig, before["retention.ms"].Source);
        Assert.False(before["retention.ms"].IsDefault);
        Assert.Equal("delete", before["cleanup.policy"].Value);
        Assert.Equal(Confluent.Kafka.Admin.ConfigSource.DefaultConfig, before["cleanup.policy"].Source);
        Assert.Equal("1", before["min.insync.replicas"].Value);
        Assert.All(before.Values, e => Assert.False(e.IsReadOnly || e.IsSensitive));
        Assert.Equal("7200000", after["retention.ms"].Value);
        Assert.Equal("delete,compact", after["cleanup.policy"].Value);
        Assert.Equal(Confluent.Kafka.ErrorCode.InvalidConfig, invalid.Results.Single().Error.Code);
        Assert.Equal(Confluent.Kafka.ErrorCode.InvalidConfig, notList.Results.Single().Error.Code);
        Assert.Equal(Confluent.Kafka.ErrorCode.UnknownTopicOrPart, unknown.Results.Single().Error.Code);
        Assert.Equal("7200000", described.Topics.Single().Configs["retention.ms"]);
        Assert.Equal(Confluent.Kafka.ErrorCode.MsgSizeTooLarge, tooLarge.Error.Code);
    }

    [Fact]
    public async Task Broker_configs_are_described_read_only_and_refused_to_alter()
    {
        using var admin = Admin();
        var nodeId = admin.GetMetadata(Wait).Brokers[0].BrokerId.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var broker = new ConfigResource { Type = ResourceType.Broker, Name = nodeId };

        var entries = (await admin.DescribeConfigsAsync([broker])).Single().Entries;
        var refused = await Assert.ThrowsAsync<IncrementalAlterConfigsException>(() => admin.IncrementalAlterConfigsAsync(new Dictionary<ConfigResource, List<ConfigEntry>>
        {
            [broker] = [new ConfigEntry { Name = "log.retention.ms", Value = "1", IncrementalOperation = AlterConfigOpType.Set }],
        }));

        Assert.Equal(nodeId, entries["node.id"].Value);
        Assert.Equal("604800000", entries["log.retention.ms"].Value);
        Assert.Equal(("2000", ConfigSource.DefaultConfig), (entries["max.request.partition.size.limit"].Value, entries["max.request.partition.size.limit"].Source));
        // No authorizer: Kafka's empty default, which tools read beside DescribeAcls (whose error librdkafka drops).
        Assert.True(string.IsNullOrEmpty(entries["authorizer.class.name"].Value));
        Assert.Equal(ConfigSource.DefaultConfig, entries["authorizer.class.name"].Source);
        Assert.All(entries.Values, e => Assert.True(e.IsReadOnly));
        Assert.Equal(Confluent.Kafka.ErrorCode.InvalidRequest, refused.Results.Single().Error.Code);
    }

    /// <summary>
    /// DescribeConfigs v3-4 as the Java admin client sends them (no client here speaks them: librdkafka stops at v1,
    /// kafkajs and kafka-python at v2): each config's type, and its documentation only when asked.
    /// </summary>
    [Theory]
    [InlineData(3, true)]
    [InlineData(4, true)]
    [InlineData(4, false)]
    public async Task DescribeConfigs_v3_and_v4_answer_each_configs_type_and_its_documentation_when_asked(short version, bool documentation)
    {
        var name = "cfg-doc-" + Guid.NewGuid().ToString("N")[..8];
        using (var admin = Admin())
            await admin.CreateTopicsAsync([new TopicSpecification { Name = name, NumPartitions = 1, ReplicationFactor = 1, Configs = new() { ["retention.ms"] = "3600000" } }]);
        await using var wire = await KafkaWire.ConnectAsync(cluster.Silos.KafkaPort(0));

        await wire.SendAsync(Protocol.ApiKey.DescribeConfigs, version, w => new Protocol.Messages.DescribeConfigsRequest(
        [
            new(Protocol.Messages.ConfigResourceType.Topic, name, ["retention.ms", "cleanup.policy"]),
            new(Protocol.Messages.ConfigResourceType.Broker, "", ["sasl.enabled.mechanisms"]),
        ], IncludeSynonyms: true, IncludeDocumentation: documentation).Write(w, version));
        var configs = ReadDescribedConfigs(await wire.ReadFrameAsync(), version);

        Assert.Equal(["cleanup.policy", "retention.ms", "sasl.enabled.mechanisms"], configs.Select(c => c.Name).Order(StringComparer.Ordinal));
        var retention = configs.Single(c => c.Name == "retention.ms");
        Assert.Equal(("3600000", (sbyte)Protocol.Messages.ConfigType.Long), (retention.Value, retention.Type));
        Assert.Equal((sbyte)Protocol.Messages.ConfigType.List, configs.Single(c => c.Name == "cleanup.policy").Type);
        Assert.Equal((sbyte)Protocol.Messages.ConfigType.List, configs.Single(c => c.Name == "sasl.enabled.mechanisms").Type);
        Assert.All(configs, c => Assert.Equal(documentation, !string.IsNullOrWhiteSpace(c.Documentation)));
    }

    /// <summary>Every config of a DescribeConfigs v3-4 answer whose resources have no error.</summary>
    private static List<(string Name, string? Value, sbyte Type, string? Documentation)> ReadDescribedConfigs(byte[]? frame, short version)
    {
        var flexible = version >= 4;
        Assert.NotNull(frame);
        var r = new Protocol.KafkaReader(frame.AsSpan(flexible ? 5 : 4));
        r.ReadInt32();
        var configs = new List<(string, string?, sbyte, string?)>();
        var results = r.ReadArrayLength(flexible);
        for (var i = 0; i < results; i++)
        {
            Assert.Equal(0, r.ReadInt16());
            r.ReadNullableString(flexible);
            r.ReadInt8();
            r.ReadString(flexible);
            var count = r.ReadArrayLength(flexible);
            for (var c = 0; c < count; c++)
            {
                var name = r.ReadString(flexible);
                var value = r.ReadNullableString(flexible);
                r.ReadBoolean();
                r.ReadInt8();
                r.ReadBoolean();
                var synonyms = r.ReadArrayLength(flexible);
                for (var s = 0; s < synonyms; s++)
                {
                    r.ReadString(flexible);
                    r.ReadNullableString(flexible);
                    r.ReadInt8();
                    if (flexible) r.SkipTaggedFields();
                }
                var type = r.ReadInt8();
                var documentation = r.ReadNullableString(flexible);
                if (flexible) r.SkipTaggedFields();
                configs.Add((name, value, type, documentation));
            }
            if (flexible) r.SkipTaggedFields();
        }
        if (flexible) r.SkipTaggedFields();
        Assert.Equal(0, r.Remaining);
        return configs;
    }

    [Fact]
    public async Task DeleteRecords_moves_the_log_start_on_the_leader_and_its_follower()
    {
        var topic = await cluster.CreateTopicAsync("delrec", partitions: 1, replicationFactor: 2);
        using (var producer = new ProducerBuilder<Null, string>(new ProducerConfig { BootstrapServers = cluster.BootstrapServers, Acks = Confluent.Kafka.Acks.All }).Build())
        {
            for (var i = 0; i < 100; i++) producer.Produce(topic, new Message<Null, string> { Value = $"m{i}" });
            Assert.Equal(0, producer.Flush(Wait));
        }
        using var admin = Admin();

        var deleted = await admin.DeleteRecordsAsync([new Confluent.Kafka.TopicPartitionOffset(topic, 0, 40)]);
        var pastEnd = await Assert.ThrowsAsync<DeleteRecordsException>(() => admin.DeleteRecordsAsync([new Confluent.Kafka.TopicPartitionOffset(topic, 0, 101)]));
        var compacted = topic + "-c";
        Assert.Equal(ErrorCode.None, (await cluster.Controller.CreateTopics([new NewTopic(compacted, 1, 1, new Dictionary<string, string> { ["cleanup.policy"] = "compact" })])).Single().Error);
        var policy = await Assert.ThrowsAsync<DeleteRecordsException>(() => admin.DeleteRecordsAsync([new Confluent.Kafka.TopicPartitionOffset(compacted, 0, 0)]));
        using var consumer = new ConsumerBuilder<Null, string>(new ConsumerConfig { BootstrapServers = cluster.BootstrapServers, GroupId = "unused-" + topic, EnableAutoCommit = false }).Build();
        var watermarks = consumer.QueryWatermarkOffsets(new Confluent.Kafka.TopicPartition(topic, 0), Wait);
        consumer.Assign(new Confluent.Kafka.TopicPartitionOffset(topic, 0, Offset.Beginning));
        var first = consumer.Consume(Wait);
        var follower = cluster.Silos.Client.GetGrain<IPartitionReplicaGrain>(GrainKeys.Replica(topic, 0, 1));
        await Eventually.WaitUntilAsync(async () => (await follower.GetStatus()).LogStartOffset == 40, "the follower's log start is the leader's");

        Assert.Equal(40, deleted.Single().Offset.Value);
        Assert.Equal(Confluent.Kafka.ErrorCode.OffsetOutOfRange, pastEnd.Results.Single().Error.Code);
        Assert.Equal(Confluent.Kafka.ErrorCode.PolicyViolation, policy.Results.Single().Error.Code);
        Assert.Equal(40, watermarks.Low.Value);
        Assert.Equal(100, watermarks.High.Value);
        Assert.Equal(40, first.Offset.Value);
        Assert.Equal("m40", first.Message.Value);
    }
}
