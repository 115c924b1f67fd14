using System.Globalization;
using System.Text;
using Confluent.Kafka;
using Confluent.Kafka.Admin;
using OrleansStream.Protocol;
using OrleansStream.Protocol.Messages;
using KafkaErrorCode = Confluent.Kafka.ErrorCode;
using ProtocolError = OrleansStream.ErrorCode;

namespace OrleansStream.Kafka.Tests;

using TopicPartition = Confluent.Kafka.TopicPartition;
using TopicPartitionOffset = Confluent.Kafka.TopicPartitionOffset;

/// <summary>
/// Kafka's ACL checks on the topic APIs (KafkaApis and ControllerApis), with librdkafka clients of users who may do only
/// what each test grants: alice produces and looks at metadata, bob consumes and creates topics, carol alters configs
/// and deletes. Topics are made by the super user, and every check is read back as the super user.
/// </summary>
[Trait("Category", "Slow")]
public sealed class TopicAuthorizationTests(AuthorizedKafkaCluster cluster) : IClassFixture<AuthorizedKafkaCluster>
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_producer_without_WRITE_is_refused_and_writes_nothing()
    {
        var topic = await CreateTopicAsync("nowrite");
        await cluster.AllowAsync("alice", ResourceType.Topic, topic, AclOperation.Describe);

        using var producer = Producer("alice");
        var refused = await Assert.ThrowsAsync<ProduceException<Null, string>>(() => producer.ProduceAsync(topic, new Message<Null, string> { Value = "no" }, Ct));

        Assert.Equal(KafkaErrorCode.TopicAuthorizationFailed, refused.Error.Code);
        Assert.Equal(0, HighWatermark(topic));
    }

    [Fact]
    public async Task A_prefixed_WRITE_grant_lets_a_producer_write()
    {
        var prefix = AuthorizedKafkaCluster.Unique("pfx") + "-";
        var topic = await CreateTopicAsync(prefix + "orders", exact: true);
        await cluster.AllowPrefixedAsync("alice", ResourceType.Topic, prefix, AclOperation.Describe, AclOperation.Write);

        using var producer = Producer("alice");
        var delivered = await producer.ProduceAsync(topic, new Message<Null, string> { Value = "yes" }, Ct);

        Assert.Equal(PersistenceStatus.Persisted, delivered.Status);
        Assert.Equal(1, HighWatermark(topic));
    }

    [Fact]
    public async Task A_DENY_overrides_an_ALLOW()
    {
        var prefix = AuthorizedKafkaCluster.Unique("deny") + "-";
        var allowed = await CreateTopicAsync(prefix + "open", exact: true);
        var denied = await CreateTopicAsync(prefix + "closed", exact: true);
        await cluster.AllowPrefixedAsync("carol", ResourceType.Topic, prefix, AclOperation.Describe, AclOperation.Write);
        await cluster.DenyAsync("carol", ResourceType.Topic, denied, AclOperation.Write);

        using var producer = Producer("carol");
        var delivered = await producer.ProduceAsync(allowed, new Message<Null, string> { Value = "yes" }, Ct);
        var refused = await Assert.ThrowsAsync<ProduceException<Null, string>>(() => producer.ProduceAsync(denied, new Message<Null, string> { Value = "no" }, Ct));

        Assert.Equal(PersistenceStatus.Persisted, delivered.Status);
        Assert.Equal(KafkaErrorCode.TopicAuthorizationFailed, refused.Error.Code);
        Assert.Equal(0, HighWatermark(denied));
    }

    [Fact]
    public async Task A_consumer_reads_only_with_READ()
    {
        var topic = await CreateTopicAsync("read");
        using (var producer = new ProducerBuilder<Null, string>(cluster.Client("admin")).Build())
            await producer.ProduceAsync(topic, new Message<Null, string> { Value = "secret" }, Ct);
        await cluster.AllowAsync("bob", ResourceType.Topic, topic, AclOperation.Describe);
        // librdkafka looks up the coordinator of the consumer's group even for assigned partitions (FindCoordinator: DESCRIBE).
        await cluster.AllowAsync("bob", ResourceType.Group, "unused", AclOperation.Describe);

        using (var consumer = Consumer("bob"))
        {
            consumer.Assign(new TopicPartitionOffset(topic, 0, 0));
            var refused = ConsumeError(consumer);
            Assert.Equal(KafkaErrorCode.TopicAuthorizationFailed, refused);
        }

        await cluster.AllowAsync("bob", ResourceType.Topic, topic, AclOperation.Read);
        using (var consumer = Consumer("bob"))
        {
            consumer.Assign(new TopicPartitionOffset(topic, 0, 0));
            var read = Consuming.ToEnd(consumer, 1, 1);
            Assert.Equal("secret", Assert.Single(read).Message.Value);
        }
    }

    [Fact]
    public async Task Metadata_lists_only_the_topics_the_principal_may_describe()
    {
        var described = await CreateTopicAsync("seen");
        var hidden = await CreateTopicAsync("hidden");
        await cluster.AllowAsync("alice", ResourceType.Topic, described, AclOperation.Describe);

        using var admin = new AdminClientBuilder(cluster.Client("alice")).Build();
        var all = admin.GetMetadata(Wait);
        var named = admin.GetMetadata(hidden, Wait);

        Assert.Contains(all.Topics, t => t.Topic == described);
        Assert.DoesNotContain(all.Topics, t => t.Topic == hidden);
        Assert.Equal(KafkaErrorCode.TopicAuthorizationFailed, Assert.Single(named.Topics).Error.Code);
    }

    [Fact]
    public async Task Creating_a_topic_needs_CREATE()
    {
        var refusedName = AuthorizedKafkaCluster.Unique("mk");
        var madeName = AuthorizedKafkaCluster.Unique("mk");
        using var admin = new AdminClientBuilder(cluster.Client("bob")).Build();

        var refused = await Assert.ThrowsAsync<CreateTopicsException>(() => admin.CreateTopicsAsync([new TopicSpecification { Name = refusedName, NumPartitions = 1 }]));
        await cluster.AllowAsync("bob", ResourceType.Broker, "kafka-cluster", AclOperation.Create);
        await admin.CreateTopicsAsync([new TopicSpecification { Name = madeName, NumPartitions = 1 }]);

        Assert.Equal(KafkaErrorCode.TopicAuthorizationFailed, Assert.Single(refused.Results).Error.Code);
        using var super = cluster.Admin();
        var topics = super.GetMetadata(Wait).Topics;
        Assert.DoesNotContain(topics, t => t.Topic == refusedName);
        Assert.Contains(topics, t => t.Topic == madeName);
    }

    [Fact]
    public async Task Describing_and_altering_configs_need_DESCRIBE_CONFIGS_and_ALTER_CONFIGS()
    {
        var topic = await CreateTopicAsync("cfg");
        var resource = new ConfigResource { Type = ResourceType.Topic, Name = topic };
        var change = new Dictionary<ConfigResource, List<ConfigEntry>>
        {
            [resource] = [new ConfigEntry { Name = "retention.ms", Value = "7200000", IncrementalOperation = AlterConfigOpType.Set }],
        };
        using var admin = new AdminClientBuilder(cluster.Client("carol")).Build();

        var describeRefused = await Assert.ThrowsAsync<DescribeConfigsException>(() => admin.DescribeConfigsAsync([resource]));
        using var super = cluster.Admin();
        var broker = new ConfigResource { Type = ResourceType.Broker, Name = super.GetMetadata(Wait).Brokers[0].BrokerId.ToString(CultureInfo.InvariantCulture) };
        var brokerRefused = await Assert.ThrowsAsync<DescribeConfigsException>(() => admin.DescribeConfigsAsync([broker]));
        var alterRefused = await Assert.ThrowsAsync<IncrementalAlterConfigsException>(() => admin.IncrementalAlterConfigsAsync(change));
        await cluster.AllowAsync("carol", ResourceType.Topic, topic, AclOperation.DescribeConfigs, AclOperation.AlterConfigs);
        await admin.IncrementalAlterConfigsAsync(change);
        var described = (await admin.DescribeConfigsAsync([resource])).Single().Entries;

        Assert.Equal(KafkaErrorCode.TopicAuthorizationFailed, Assert.Single(describeRefused.Results).Error.Code);
        Assert.Equal(KafkaErrorCode.ClusterAuthorizationFailed, Assert.Single(brokerRefused.Results).Error.Code);
        Assert.Equal(KafkaErrorCode.TopicAuthorizationFailed, Assert.Single(alterRefused.Results).Error.Code);
        Assert.Equal("7200000", described["retention.ms"].Value);
    }

    /// <summary>
    /// KIP-714's admin requests, as Kafka's: ListClientMetricsResources and DescribeConfigs of a client metrics
    /// subscription need DESCRIBE_CONFIGS on the cluster, IncrementalAlterConfigs of one ALTER_CONFIGS
    /// (ClusterAuthorizationFailed); the telemetry requests themselves need nothing.
    /// </summary>
    [Fact]
    public async Task Client_metrics_subscriptions_need_the_cluster_and_telemetry_needs_nothing()
    {
        await using var carol = await AuthenticatedAsync("carol");
        await using var admin = await AuthenticatedAsync("admin");

        await carol.SendAsync(ApiKey.ListClientMetricsResources, 0, w => new ListClientMetricsResourcesRequest().Write(w, 0));
        var refusedList = ReadFlexible(await carol.ReadFrameAsync(), ListClientMetricsResourcesResponse.Read);
        await admin.SendAsync(ApiKey.ListClientMetricsResources, 0, w => new ListClientMetricsResourcesRequest().Write(w, 0));
        var list = ReadFlexible(await admin.ReadFrameAsync(), ListClientMetricsResourcesResponse.Read);
        await carol.SendAsync(ApiKey.DescribeConfigs, 4, w => new DescribeConfigsRequest([new DescribeConfigsResource(ConfigResourceType.ClientMetrics, "cm", null)], false).Write(w, 4));
        var describe = await carol.ReadFrameAsync();
        await carol.SendAsync(ApiKey.IncrementalAlterConfigs, 1, w => new AlterConfigsRequest(
            [new AlterConfigsResource(ConfigResourceType.ClientMetrics, "cm", [new AlterConfigsEntry("metrics", 0, "*")])], false).Write(w, incremental: true, flexible: true));
        var alter = await carol.ReadFrameAsync();
        await carol.SendAsync(ApiKey.GetTelemetrySubscriptions, 0, w => new GetTelemetrySubscriptionsRequest(Guid.Empty).Write(w, 0));
        var telemetry = ReadFlexible(await carol.ReadFrameAsync(), GetTelemetrySubscriptionsResponse.Read);

        Assert.Equal((ProtocolError.ClusterAuthorizationFailed, 0), (refusedList.Error, refusedList.Names.Count));
        Assert.Equal(ProtocolError.None, list.Error);
        // Each answers one resource: throttle, count, then its error.
        Assert.Equal((short)ProtocolError.ClusterAuthorizationFailed, System.Buffers.Binary.BinaryPrimitives.ReadInt16BigEndian(describe.AsSpan(5 + 4 + 1)));
        Assert.Equal((short)ProtocolError.ClusterAuthorizationFailed, System.Buffers.Binary.BinaryPrimitives.ReadInt16BigEndian(alter.AsSpan(5 + 4 + 1)));
        Assert.Equal(ProtocolError.None, telemetry.Error);
        Assert.NotEqual(Guid.Empty, telemetry.ClientInstanceId);
    }

    private static T ReadFlexible<T>(byte[]? frame, PartitionReader<T> read)
    {
        var r = new KafkaReader(frame.AsSpan(5));
        return read(ref r, 0);
    }

    [Fact]
    public async Task Deleting_records_or_a_topic_needs_DELETE()
    {
        var topic = await CreateTopicAsync("del");
        using (var producer = new ProducerBuilder<Null, string>(cluster.Client("admin")).Build())
            await producer.ProduceAsync(topic, new Message<Null, string> { Value = "kept" }, Ct);
        await cluster.AllowAsync("carol", ResourceType.Topic, topic, AclOperation.Describe);
        using var admin = new AdminClientBuilder(cluster.Client("carol")).Build();

        var recordsRefused = await Assert.ThrowsAsync<DeleteRecordsException>(() => admin.DeleteRecordsAsync([new TopicPartitionOffset(topic, 0, Offset.End)]));
        var topicRefused = await Assert.ThrowsAsync<DeleteTopicsException>(() => admin.DeleteTopicsAsync([topic]));

        Assert.Equal(KafkaErrorCode.TopicAuthorizationFailed, Assert.Single(recordsRefused.Results).Error.Code);
        Assert.Equal(KafkaErrorCode.TopicAuthorizationFailed, Assert.Single(topicRefused.Results).Error.Code);
        using var super = cluster.Admin();
        Assert.Contains(super.GetMetadata(topic, Wait).Topics, t => t.Topic == topic && t.Error.Code == KafkaErrorCode.NoError);
        using var consumer = Consumer("admin");
        Assert.Equal(0, consumer.QueryWatermarkOffsets(new TopicPartition(topic, 0), Wait).Low.Value);
    }

    /// <summary>
    /// What librdkafka does not show: a topic named without DESCRIBE has the zero id in Metadata v12, one the principal
    /// may describe but not create is not auto-created, and a topic whose existence the principal may not learn is
    /// refused the same whether it exists or not (ListOffsets).
    /// </summary>
    [Fact]
    public async Task On_the_wire_a_refused_topic_tells_nothing_of_itself()
    {
        var topic = await CreateTopicAsync("wire");
        var missing = AuthorizedKafkaCluster.Unique("missing");
        var uncreatable = AuthorizedKafkaCluster.Unique("auto");
        await cluster.AllowAsync("alice", ResourceType.Topic, uncreatable, AclOperation.Describe);

        await using var wire = await AuthenticatedAsync("alice");
        await wire.SendAsync(ApiKey.Metadata, 12, w => new Protocol.Messages.MetadataRequest([topic, missing, uncreatable], AllowAutoTopicCreation: true).Write(w, 12));
        var metadata = ReadMetadataTopics(await wire.ReadFrameAsync());
        await wire.SendAsync(ApiKey.ListOffsets, 7, w => new Protocol.Messages.ListOffsetsRequest(-1, 0,
            [new ListOffsetsTopic(topic, [new ListOffsetsPartition(0, -1, -1)]), new ListOffsetsTopic(missing, [new ListOffsetsPartition(0, -1, -1)])]).Write(w, 7));
        var offsets = await wire.ReadFrameAsync();

        Assert.Equal([(topic, (short)29, Guid.Empty), (missing, (short)29, Guid.Empty), (uncreatable, (short)29, Guid.Empty)], metadata);
        Assert.NotNull(offsets);
        Assert.Equal(2, CountErrors(offsets, 29));
        using var super = cluster.Admin();
        var topics = super.GetMetadata(Wait).Topics;
        Assert.DoesNotContain(topics, t => t.Topic == missing || t.Topic == uncreatable);
    }

    /// <summary>
    /// DescribeTopicPartitions (the Java admin client's describeTopics) checks DESCRIBE as Metadata does: a topic named
    /// without it is TopicAuthorizationFailed after the others, with the zero id and nothing of itself, whether it exists
    /// or not; with every topic asked it is left out; a topic described carries the principal's operations on it.
    /// </summary>
    [Fact]
    public async Task DescribeTopicPartitions_answers_a_topic_without_DESCRIBE_TopicAuthorizationFailed_and_lists_only_those_with_it()
    {
        var seen = await CreateTopicAsync("dtp-seen");
        var hidden = await CreateTopicAsync("dtp-hidden");
        var missing = AuthorizedKafkaCluster.Unique("dtp-missing");
        await cluster.AllowAsync("alice", ResourceType.Topic, seen, AclOperation.Describe);

        await using var wire = await AuthenticatedAsync("alice");
        var named = await DescribeTopicPartitionsAsync(wire, new DescribeTopicPartitionsRequest([missing, hidden, seen]));
        var all = await DescribeTopicPartitionsAsync(wire, new DescribeTopicPartitionsRequest([]));

        Assert.Equal((ProtocolError.None, seen, 1, 1 << 8), (named.Topics[0].Error, named.Topics[0].Name, named.Topics[0].Partitions.Count, named.Topics[0].AuthorizedOperations));
        Assert.Equal(new[] { hidden, missing }.Order(StringComparer.Ordinal), named.Topics.Skip(1).Select(t => t.Name));
        Assert.All(named.Topics.Skip(1), t => Assert.Equal((ProtocolError.TopicAuthorizationFailed, Guid.Empty, 0, int.MinValue),
            (t.Error, t.TopicId, t.Partitions.Count, t.AuthorizedOperations)));
        Assert.Contains(all.Topics, t => t.Name == seen);
        Assert.DoesNotContain(all.Topics, t => t.Name == hidden);
        Assert.All(all.Topics, t => Assert.Equal(ProtocolError.None, t.Error));
    }

    /// <summary>
    /// Kafka checks DescribeTopicPartitions' topics as its page reaches them: a refused topic after the one where a page
    /// stops is answered by the page that reaches it, not by both.
    /// </summary>
    [Fact]
    public async Task DescribeTopicPartitions_answers_a_refused_topic_in_the_page_that_reaches_it()
    {
        var prefix = AuthorizedKafkaCluster.Unique("dtp-page");
        var (seen, hidden) = (prefix + "-a", prefix + "-b");
        using (var admin = cluster.Admin())
            await admin.CreateTopicsAsync([new TopicSpecification { Name = seen, NumPartitions = 2, ReplicationFactor = 2 }]);
        await cluster.AllowAsync("alice", ResourceType.Topic, seen, AclOperation.Describe);

        await using var wire = await AuthenticatedAsync("alice");
        var first = await DescribeTopicPartitionsAsync(wire, new DescribeTopicPartitionsRequest([hidden, seen], 1));
        var second = await DescribeTopicPartitionsAsync(wire, new DescribeTopicPartitionsRequest([hidden, seen], 1, first.NextCursor));

        Assert.Equal([(seen, ProtocolError.None, 1)], first.Topics.Select(t => (t.Name, t.Error, t.Partitions.Count)));
        Assert.Equal(new DescribeTopicPartitionsCursor(seen, 1), first.NextCursor);
        Assert.Equal([(seen, ProtocolError.None, 1), (hidden, ProtocolError.TopicAuthorizationFailed, 0)], second.Topics.Select(t => (t.Name, t.Error, t.Partitions.Count)));
        Assert.Equal(1, second.Topics[0].Partitions[0].PartitionIndex);
        Assert.Null(second.NextCursor);
    }

    /// <summary>DescribeTopicPartitions v0 on the wire, its answer read to the end.</summary>
    internal static async Task<DescribeTopicPartitionsResponse> DescribeTopicPartitionsAsync(KafkaWire wire, DescribeTopicPartitionsRequest request)
    {
        await wire.SendAsync(ApiKey.DescribeTopicPartitions, 0, w => request.Write(w, 0));
        var frame = await wire.ReadFrameAsync();
        Assert.NotNull(frame);
        var r = new KafkaReader(frame.AsSpan(4));
        r.SkipTaggedFields();
        var answer = DescribeTopicPartitionsResponse.Read(ref r, 0);
        Assert.Equal(0, r.Remaining);
        return answer;
    }

    private async Task<string> CreateTopicAsync(string name, bool exact = false)
    {
        var topic = exact ? name : AuthorizedKafkaCluster.Unique(name);
        using var admin = cluster.Admin();
        await admin.CreateTopicsAsync([new TopicSpecification { Name = topic, NumPartitions = 1, ReplicationFactor = 2 }]);
        return topic;
    }

    private IProducer<Null, string> Producer(string user) =>
        new ProducerBuilder<Null, string>(new ProducerConfig(cluster.Client(user)) { MessageTimeoutMs = 10_000 }).Build();

    private IConsumer<Null, string> Consumer(string user) =>
        new ConsumerBuilder<Null, string>(new ConsumerConfig(cluster.Client(user)) { GroupId = "unused", EnablePartitionEof = true, EnableAutoCommit = false }).Build();

    /// <summary>The first error the consumer reports while it fetches (librdkafka's permanent fetch errors reach Consume).</summary>
    private static KafkaErrorCode ConsumeError(IConsumer<Null, string> consumer)
    {
        var deadline = DateTime.UtcNow + Wait;
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                if (consumer.Consume(TimeSpan.FromMilliseconds(200)) is { IsPartitionEOF: false } read)
                    Assert.Fail($"read '{read.Message.Value}' without READ");
            }
            catch (ConsumeException e)
            {
                return e.Error.Code;
            }
        }
        Assert.Fail("the consumer reported no error");
        return KafkaErrorCode.NoError;
    }

    private long HighWatermark(string topic)
    {
        using var consumer = Consumer("admin");
        return consumer.QueryWatermarkOffsets(new TopicPartition(topic, 0), Wait).High.Value;
    }

    private Task<KafkaWire> AuthenticatedAsync(string user) => cluster.ConnectAsync(user);

    /// <summary>Each topic of a Metadata v12 answer: name, error, id; a refused topic has no partitions.</summary>
    private static List<(string?, short, Guid)> ReadMetadataTopics(byte[]? frame)
    {
        var topics = new List<(string?, short, Guid)>();
        foreach (var (error, name, id, partitions) in KafkaWire.ReadMetadataTopics(frame, 12))
        {
            Assert.Equal(0, partitions);
            topics.Add((name, (short)error, id));
        }
        return topics;
    }

    /// <summary>How many partitions of a ListOffsets v7 answer have <paramref name="error"/>.</summary>
    private static int CountErrors(byte[] frame, short error)
    {
        var r = new KafkaReader(frame.AsSpan(4));
        r.SkipTaggedFields();
        r.ReadInt32();
        var found = 0;
        var topics = r.ReadArrayLength(true);
        for (var t = 0; t < topics; t++)
        {
            r.ReadString(true);
            var partitions = r.ReadArrayLength(true);
            for (var p = 0; p < partitions; p++)
            {
                r.ReadInt32();
                if (r.ReadInt16() == error) found++;
                r.ReadInt64();
                r.ReadInt64();
                r.ReadInt32();
                r.SkipTaggedFields();
            }
            r.SkipTaggedFields();
        }
        return found;
    }
}
