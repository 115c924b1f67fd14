using Confluent.Kafka;
using Confluent.Kafka.Admin;
using OrleansStream.Protocol;
using OrleansStream.Protocol.Messages;

namespace OrleansStream.Kafka.Tests;

/// <summary>Confluent.Kafka's admin client and idempotent producer against the brokers.</summary>
[Collection(KafkaClusterCollection.Name)]
public sealed class AdminTests(KafkaCluster cluster)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task The_admin_client_creates_grows_and_deletes_topics_and_gets_Kafkas_errors()
    {
        var name = "admin-" + Guid.NewGuid().ToString("N")[..8];
        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = cluster.BootstrapServers }).Build();

        await admin.CreateTopicsAsync([new TopicSpecification { Name = name, NumPartitions = 2, ReplicationFactor = 2, Configs = new() { ["retention.ms"] = "3600000" } }]);
        var again = await Assert.ThrowsAsync<CreateTopicsException>(() => admin.CreateTopicsAsync([new TopicSpecification { Name = name, NumPartitions = 1, ReplicationFactor = 1 }]));
        var tooMany = await Assert.ThrowsAsync<CreateTopicsException>(() =>
            admin.CreateTopicsAsync([new TopicSpecification { Name = name + "-rf", NumPartitions = 1, ReplicationFactor = 3 }]));
        var created = admin.GetMetadata(name, Wait).Topics.Single();
        await admin.CreatePartitionsAsync([new PartitionsSpecification { Topic = name, IncreaseTo = 3 }]);
        var grown = admin.GetMetadata(name, Wait).Topics.Single();
        await admin.DeleteTopicsAsync([name]);
        var missing = await Assert.ThrowsAsync<DeleteTopicsException>(() => admin.DeleteTopicsAsync([name]));
        // Kafka's offsets log is the group grains' here: no topic of its name is made (see docs/kafka-protocol.md).
        var internalTopic = await Assert.ThrowsAsync<CreateTopicsException>(() =>
            admin.CreateTopicsAsync([new TopicSpecification { Name = "__consumer_offsets", NumPartitions = 1, ReplicationFactor = 1 }]));

        Assert.Equal(Confluent.Kafka.ErrorCode.TopicAlreadyExists, again.Results.Single().Error.Code);
        Assert.Equal(Confluent.Kafka.ErrorCode.InvalidReplicationFactor, tooMany.Results.Single().Error.Code);
        Assert.Equal(Confluent.Kafka.ErrorCode.InvalidRequest, internalTopic.Results.Single().Error.Code);
        Assert.Equal(2, created.Partitions.Count);
        Assert.All(created.Partitions, p => Assert.Equal(2, p.Replicas.Length));
        Assert.Equal(3, grown.Partitions.Count);
        Assert.Equal(Confluent.Kafka.ErrorCode.UnknownTopicOrPart, missing.Results.Single().Error.Code);
        var state = await cluster.Controller.GetMetadata(new MetadataRequest([name]));
        Assert.Equal(OrleansStream.ErrorCode.UnknownTopicOrPartition, state.Topics.Single().Error);
    }

    /// <summary>
    /// The broker authorizes nothing, so the ACL APIs answer as Kafka without an authorizer: SecurityDisabled for each
    /// binding of CreateAcls and each filter of DeleteAcls; nothing is created, and there is nothing to describe.
    /// </summary>
    [Fact]
    public async Task The_ACL_APIs_answer_SecurityDisabled_as_Kafka_without_an_authorizer()
    {
        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = cluster.BootstrapServers }).Build();
        var binding = new AclBinding
        {
            Pattern = new ResourcePattern { Type = ResourceType.Topic, Name = "t", ResourcePatternType = ResourcePatternType.Literal },
            Entry = new AccessControlEntry { Principal = "User:alice", Host = "*", Operation = AclOperation.Read, PermissionType = AclPermissionType.Allow },
        };

        // librdkafka reads DescribeAcls' error code and drops it, against Kafka too: an empty list (WireTests checks the code).
        var described = await admin.DescribeAclsAsync(binding.ToFilter());
        var created = await Assert.ThrowsAsync<CreateAclsException>(() => admin.CreateAclsAsync([binding, binding]));
        var deleted = await Assert.ThrowsAsync<DeleteAclsException>(() => admin.DeleteAclsAsync([binding.ToFilter()]));

        Assert.Empty(described.AclBindings);
        Assert.Equal(2, created.Results.Count);
        Assert.All(created.Results, r => Assert.Equal(Confluent.Kafka.ErrorCode.SecurityDisabled, r.Error.Code));
        Assert.Equal(Confluent.Kafka.ErrorCode.SecurityDisabled, Assert.Single(deleted.Results).Error.Code);
    }

    [Fact]
    public async Task An_idempotent_producer_gets_a_producer_id_and_stores_each_record_once_in_order()
    {
        var topic = await cluster.CreateTopicAsync("idem", partitions: 1);
        using (var producer = new ProducerBuilder<Null, string>(new ProducerConfig
        {
            BootstrapServers = cluster.BootstrapServers,
            EnableIdempotence = true,
            LingerMs = 2,
        }).Build())
        {
            for (var i = 0; i < 200; i++) producer.Produce(topic, new Message<Null, string> { Value = $"m{i}" });
            Assert.Equal(0, producer.Flush(Wait));
        }

        using var consumer = new ConsumerBuilder<Null, string>(new ConsumerConfig
        {
            BootstrapServers = cluster.BootstrapServers,
            GroupId = "unused",
            EnableAutoCommit = false,
        }).Build();
        consumer.Assign(new Confluent.Kafka.TopicPartitionOffset(topic, 0, Offset.Beginning));
        var read = new List<ConsumeResult<Null, string>>();
        var deadline = DateTime.UtcNow + Wait;
        while (read.Count < 200 && DateTime.UtcNow < deadline)
            if (consumer.Consume(TimeSpan.FromSeconds(1)) is { } r) read.Add(r);

        Assert.Equal(Enumerable.Range(0, 200).Select(i => $"m{i}"), read.Select(r => r.Message.Value));
        var status = await cluster.Silos.Client.GetGrain<IPartitionReplicaGrain>(GrainKeys.Replica(topic, 0, 0)).GetStatus();
        Assert.Equal(200, status.LogEndOffset);
        // The batches carry the producer id InitProducerId handed out (not -1).
        var batches = await cluster.Silos.Client.GetGrain<IPartitionReplicaGrain>(GrainKeys.Replica(topic, 0, 0)).Fetch(new FetchRequest(0, 1 << 20, MaxWaitMs: 0));
        Assert.True(OrleansStream.Records.RecordBatchHeader.Read(batches.Records.Span).ProducerId >= 0);
    }

    [Fact]
    public async Task An_idempotent_producer_bumps_its_epoch_after_a_refused_batch_and_the_replica_takes_the_new_epoch_from_sequence_0()
    {
        var topic = $"idembump-{Guid.NewGuid():N}"[..20];
        Assert.Equal(OrleansStream.ErrorCode.None, Assert.Single(await cluster.Controller.CreateTopics(
            [new NewTopic(topic, 1, 1, new Dictionary<string, string> { ["max.message.bytes"] = "2000" })])).Error);
        var log = new System.Collections.Concurrent.ConcurrentQueue<string>();
        using (var producer = new ProducerBuilder<Null, string>(new ProducerConfig
        {
            BootstrapServers = cluster.BootstrapServers,
            EnableIdempotence = true,
            Debug = "eos",
        }).SetLogHandler((_, m) => log.Enqueue(m.Message)).Build())
        {
            await producer.ProduceAsync(topic, new Message<Null, string> { Value = "before" }, TestContext.Current.CancellationToken);
            // The broker refuses the batch (MESSAGE_TOO_LARGE): a gap in the sequence, which librdkafka closes by
            // bumping its own epoch and starting again at sequence 0.
            var refused = await Assert.ThrowsAsync<ProduceException<Null, string>>(() =>
                producer.ProduceAsync(topic, new Message<Null, string> { Value = new string('x', 4000) }, TestContext.Current.CancellationToken));
            Assert.Equal(Confluent.Kafka.ErrorCode.MsgSizeTooLarge, refused.Error.Code);
            for (var i = 0; i < 3; i++)
                await producer.ProduceAsync(topic, new Message<Null, string> { Value = $"after{i}" }, TestContext.Current.CancellationToken);
        }

        var fetched = await cluster.Silos.Client.GetGrain<IPartitionReplicaGrain>(GrainKeys.Replica(topic, 0, 0)).Fetch(new FetchRequest(0, 1 << 20, MaxWaitMs: 0));
        var batches = new List<(long ProducerId, short Epoch, int BaseSequence)>();
        foreach (var batch in OrleansStream.Records.RecordBatchReader.Batches(fetched.Records.Span))
            batches.Add((batch.Header.ProducerId, batch.Header.ProducerEpoch, batch.Header.BaseSequence));
        var producerId = batches[0].ProducerId;
        Assert.Equal([(producerId, (short)0, 0), (producerId, (short)1, 0), (producerId, (short)1, 1), (producerId, (short)1, 2)], batches);
        Assert.Contains(log, m => m.Contains("bumped epoch", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    public async Task DescribeCluster_answers_the_brokers_controller_and_cluster_id_that_Metadata_gives(short version)
    {
        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = cluster.BootstrapServers }).Build();
        // librdkafka's describeCluster asks Metadata; the Java admin client and Kafka's tools ask DescribeCluster.
        var viaMetadata = await admin.DescribeClusterAsync();
        var answer = await DescribeClusterAsync(version, new DescribeClusterRequest(IncludeClusterAuthorizedOperations: true));

        Assert.Equal((OrleansStream.ErrorCode.None, (string?)null), (answer.Error, answer.Message));
        Assert.Equal(DescribeClusterRequest.Brokers, answer.EndpointType);
        Assert.Equal(viaMetadata.ClusterId, answer.ClusterId);
        Assert.Equal(viaMetadata.Controller.Id, answer.ControllerId);
        Assert.Equal(2, answer.Brokers.Count);
        Assert.Equal(viaMetadata.Nodes.Select(n => (n.Id, n.Host, n.Port)).Order(), answer.Brokers.Order());
        // No ACLs: every operation Kafka defines on a cluster (CREATE, ALTER, DESCRIBE, CLUSTER_ACTION, DESCRIBE_CONFIGS,
        // ALTER_CONFIGS, IDEMPOTENT_WRITE), as a broker without an authorizer answers.
        Assert.Equal(new[] { 5, 7, 8, 9, 10, 11, 12 }, Enumerable.Range(0, 32).Where(bit => (answer.Operations & (1 << bit)) != 0));
    }

    /// <summary>Our SDK's DescribeClusterAsync (through the gateway, Confluent.Kafka's shape) names what Confluent's does over the Kafka listener.</summary>
    [Fact]
    public async Task The_SDKs_DescribeCluster_names_the_cluster_id_controller_and_brokers_Confluents_does()
    {
        using var confluent = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = cluster.BootstrapServers }).Build();
        using var sdk = new OrleansStream.Client.AdminClientBuilder(cluster.Silos.Client).Build();

        var viaListener = await confluent.DescribeClusterAsync();
        var viaSdk = await sdk.DescribeClusterAsync(new OrleansStream.Client.Admin.DescribeClusterOptions { IncludeAuthorizedOperations = true });

        Assert.False(string.IsNullOrEmpty(viaSdk.ClusterId));
        Assert.Equal(viaListener.ClusterId, viaSdk.ClusterId);
        Assert.Equal(viaListener.Controller.Id, viaSdk.Controller?.Id);
        Assert.Equal(viaListener.Nodes.Select(n => (n.Id, n.Host, n.Port)).Order(), viaSdk.Nodes.Select(n => (n.Id, n.Host, n.Port)).Order());
        Assert.Equal(2, viaSdk.Nodes.Count);
        Assert.Equal([5, 7, 8, 9, 10, 11, 12], viaSdk.AuthorizedOperations!.Select(o => (int)o).Order());
    }

    /// <summary>
    /// KIP-1073: v2 says of each broker whether it is fenced, and may ask for the fenced ones too. Every broker listed is a
    /// live one, unfenced, and there is no fenced broker to add (docs/kafka-protocol.md, DescribeCluster).
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task DescribeCluster_v2_answers_the_live_brokers_unfenced_with_or_without_IncludeFencedBrokers(bool includeFenced)
    {
        var answer = await DescribeClusterAsync(2, new DescribeClusterRequest(false, DescribeClusterRequest.Brokers, includeFenced));

        Assert.Equal(OrleansStream.ErrorCode.None, answer.Error);
        Assert.Equal([false, false], answer.Fenced);
        Assert.Equal(new[] { cluster.Silos.KafkaPort(0), cluster.Silos.KafkaPort(1) }.Order(), answer.Brokers.Select(b => b.Item3).Order());
    }

    [Fact]
    public async Task DescribeCluster_v1_asking_a_broker_for_controllers_is_MismatchedEndpointType_and_for_an_unknown_type_UnsupportedEndpointType()
    {
        // KIP-919: a broker is no controller endpoint (the Java admin client asks controllers with bootstrap.controllers).
        var controllers = await DescribeClusterAsync(1, new DescribeClusterRequest(false, DescribeClusterRequest.Controllers));
        var unknown = await DescribeClusterAsync(1, new DescribeClusterRequest(false, 7));

        Assert.Equal((OrleansStream.ErrorCode.MismatchedEndpointType, "The request was sent to an endpoint of type BROKER, but we wanted an endpoint of type CONTROLLER"),
            (controllers.Error, controllers.Message));
        Assert.Equal((OrleansStream.ErrorCode.UnsupportedEndpointType, "Unsupported endpoint type 7"), (unknown.Error, unknown.Message));
        // Kafka's refusal carries the schema's defaults: endpoint type 1, no cluster id, controller -1, no brokers.
        foreach (var refused in new[] { controllers, unknown })
            Assert.Equal((DescribeClusterRequest.Brokers, "", -1, 0, int.MinValue),
                (refused.EndpointType, refused.ClusterId, refused.ControllerId, refused.Brokers.Count, refused.Operations));
    }

    private sealed record DescribeClusterAnswer(
        OrleansStream.ErrorCode Error, string? Message, sbyte EndpointType, string ClusterId, int ControllerId, List<(int, string, int)> Brokers, int Operations,
        List<bool> Fenced);

    private async Task<DescribeClusterAnswer> DescribeClusterAsync(short version, DescribeClusterRequest request)
    {
        await using var wire = await KafkaWire.ConnectAsync(cluster.Silos.KafkaPort(1));
        await wire.SendAsync(ApiKey.DescribeCluster, version, w => request.Write(w, version));
        var r = new KafkaReader(await wire.ReadFrameAsync() is { } frame ? frame.AsSpan(5) : []);
        r.ReadInt32();
        var error = (OrleansStream.ErrorCode)r.ReadInt16();
        var message = r.ReadNullableString(true);
        var endpointType = version >= 1 ? r.ReadInt8() : DescribeClusterRequest.Brokers;
        var clusterId = r.ReadString(true);
        var controllerId = r.ReadInt32();
        var brokers = new List<(int, string, int)>();
        var fenced = new List<bool>();
        for (var count = r.ReadArrayLength(true); count > 0; count--)
        {
            brokers.Add((r.ReadInt32(), r.ReadString(true), r.ReadInt32()));
            r.ReadNullableString(true);
            if (version >= 2) fenced.Add(r.ReadBoolean());
            r.SkipTaggedFields();
        }
        var operations = r.ReadInt32();
        r.SkipTaggedFields();
        Assert.Equal(0, r.Remaining);
        return new DescribeClusterAnswer(error, message, endpointType, clusterId, controllerId, brokers, operations, fenced);
    }
}
