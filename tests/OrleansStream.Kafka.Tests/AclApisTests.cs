using System.Text;
using Confluent.Kafka;
using Confluent.Kafka.Admin;
using OrleansStream.Protocol;
using OrleansStream.Protocol.Messages;
using M = OrleansStream.Protocol.Messages;

namespace OrleansStream.Kafka.Tests;

/// <summary>
/// CreateAcls, DescribeAcls and DeleteAcls with the authorizer on, through Confluent's admin client (what
/// kafka-acls.sh does): bindings stored by the controller, listed by filter, refused to a principal without ALTER or
/// DESCRIBE on the cluster, checked as Kafka checks them, and deleted with the bindings each filter matched.
/// </summary>
[Trait("Category", "Slow")]
public sealed class AclApisTests(AuthorizedKafkaCluster cluster) : IClassFixture<AuthorizedKafkaCluster>
{
    private static AclBinding Binding(ResourceType type, string name, ResourcePatternType pattern, string principal, AclOperation operation,
        AclPermissionType permission = AclPermissionType.Allow, string host = "*") => new()
    {
        Pattern = new ResourcePattern { Type = type, Name = name, ResourcePatternType = pattern },
        Entry = new AccessControlEntry { Principal = principal, Host = host, Operation = operation, PermissionType = permission },
    };

    private static AclBindingFilter ByName(string name) => new()
    {
        PatternFilter = new ResourcePatternFilter { Type = ResourceType.Any, Name = name, ResourcePatternType = ResourcePatternType.Any },
        EntryFilter = new AccessControlEntryFilter { Operation = AclOperation.Any, PermissionType = AclPermissionType.Any },
    };

    private static string Describe(AclBinding b) =>
        $"{b.Pattern.Type}:{b.Pattern.ResourcePatternType}:{b.Pattern.Name} {b.Entry.Principal}@{b.Entry.Host} {b.Entry.PermissionType} {b.Entry.Operation}";

    [Fact]
    public async Task Bindings_are_created_listed_by_filter_on_either_broker_and_deleted_with_what_each_filter_matched()
    {
        var topic = AuthorizedKafkaCluster.Unique("acl-topic");
        AclBinding[] bindings =
        [
            Binding(ResourceType.Topic, topic, ResourcePatternType.Literal, "User:alice", AclOperation.Read),
            Binding(ResourceType.Topic, topic, ResourcePatternType.Literal, "User:alice", AclOperation.Write, host: "10.1.2.3"),
            Binding(ResourceType.Topic, topic, ResourcePatternType.Literal, "User:bob", AclOperation.Read, AclPermissionType.Deny),
            Binding(ResourceType.Topic, topic[..8], ResourcePatternType.Prefixed, "User:carol", AclOperation.Describe),
            Binding(ResourceType.Group, topic, ResourcePatternType.Literal, "User:alice", AclOperation.Read),
        ];
        using var admin = cluster.Admin();

        await admin.CreateAclsAsync(bindings);
        // Again: an existing binding is not stored twice.
        await admin.CreateAclsAsync([bindings[0]]);
        await cluster.SyncAsync();

        var literal = await admin.DescribeAclsAsync(new AclBindingFilter
        {
            PatternFilter = new ResourcePatternFilter { Type = ResourceType.Topic, Name = topic, ResourcePatternType = ResourcePatternType.Literal },
            EntryFilter = new AccessControlEntryFilter { Operation = AclOperation.Any, PermissionType = AclPermissionType.Any },
        });
        Assert.Equal(bindings[..3].Select(Describe).Order(), literal.AclBindings.Select(Describe).Order());

        // MATCH: every binding that applies to the topic, the prefixed one too.
        var match = await admin.DescribeAclsAsync(new AclBindingFilter
        {
            PatternFilter = new ResourcePatternFilter { Type = ResourceType.Topic, Name = topic, ResourcePatternType = ResourcePatternType.Match },
            EntryFilter = new AccessControlEntryFilter { Operation = AclOperation.Any, PermissionType = AclPermissionType.Any },
        });
        Assert.Equal(bindings[..4].Select(Describe).Order(), match.AclBindings.Select(Describe).Order());

        // Asked of the other broker alone, which heard of them from the controller.
        var config = cluster.Client("admin");
        config.BootstrapServers = $"127.0.0.1:{cluster.SaslPort(1)}";
        using (var other = new AdminClientBuilder(config).Build())
        {
            var denied = await other.DescribeAclsAsync(new AclBindingFilter
            {
                PatternFilter = new ResourcePatternFilter { Type = ResourceType.Any, ResourcePatternType = ResourcePatternType.Any },
                EntryFilter = new AccessControlEntryFilter { Principal = "User:bob", Operation = AclOperation.Any, PermissionType = AclPermissionType.Deny },
            });
            Assert.Contains(Describe(bindings[2]), denied.AclBindings.Select(Describe));
        }

        var deleted = await admin.DeleteAclsAsync(
        [
            new AclBindingFilter
            {
                PatternFilter = new ResourcePatternFilter { Type = ResourceType.Topic, Name = topic, ResourcePatternType = ResourcePatternType.Literal },
                EntryFilter = new AccessControlEntryFilter { Principal = "User:alice", Operation = AclOperation.Any, PermissionType = AclPermissionType.Any },
            },
            ByName(topic),
        ]);
        Assert.Equal(bindings[..2].Select(Describe).Order(), deleted[0].AclBindings.Select(Describe).Order());
        Assert.Equal(new[] { bindings[2], bindings[4] }.Select(Describe).Order(), deleted[1].AclBindings.Select(Describe).Order());

        var left = await admin.DescribeAclsAsync(ByName(topic));
        Assert.Empty(left.AclBindings);
        var prefixed = await admin.DescribeAclsAsync(ByName(topic[..8]));
        Assert.Equal([Describe(bindings[3])], prefixed.AclBindings.Select(Describe));
        await admin.DeleteAclsAsync([ByName(topic[..8])]);
    }

    [Fact]
    public async Task A_binding_Kafka_would_refuse_is_InvalidRequest_and_the_valid_ones_beside_it_are_stored()
    {
        var topic = AuthorizedKafkaCluster.Unique("acl-invalid");
        using var admin = cluster.Admin();
        var valid = Binding(ResourceType.Topic, topic, ResourcePatternType.Literal, "User:alice", AclOperation.Read);

        var refused = await Assert.ThrowsAsync<CreateAclsException>(() => admin.CreateAclsAsync(
        [
            Binding(ResourceType.Broker, "my-cluster", ResourcePatternType.Literal, "User:alice", AclOperation.Alter),
            valid,
            Binding(ResourceType.Topic, topic, ResourcePatternType.Literal, "alice", AclOperation.Read),
        ]));

        Assert.Equal(Confluent.Kafka.ErrorCode.InvalidRequest, refused.Results[0].Error.Code);
        Assert.Contains("The only valid name for the CLUSTER resource is kafka-cluster", refused.Results[0].Error.Reason, StringComparison.Ordinal);
        Assert.Equal(Confluent.Kafka.ErrorCode.NoError, refused.Results[1].Error.Code);
        Assert.Equal(Confluent.Kafka.ErrorCode.InvalidRequest, refused.Results[2].Error.Code);
        Assert.Contains("Could not parse principal", refused.Results[2].Error.Reason, StringComparison.Ordinal);
        Assert.Equal([Describe(valid)], (await admin.DescribeAclsAsync(ByName(topic))).AclBindings.Select(Describe));
        await admin.DeleteAclsAsync([ByName(topic)]);
    }

    [Fact]
    public async Task A_principal_without_ALTER_on_the_cluster_changes_no_binding_and_one_given_it_may()
    {
        var topic = AuthorizedKafkaCluster.Unique("acl-alter");
        var binding = Binding(ResourceType.Topic, topic, ResourcePatternType.Literal, "User:carol", AclOperation.All);
        using (var carol = new AdminClientBuilder(cluster.Client("carol")).Build())
        {
            var created = await Assert.ThrowsAsync<CreateAclsException>(() => carol.CreateAclsAsync([binding]));
            Assert.Equal(Confluent.Kafka.ErrorCode.ClusterAuthorizationFailed, Assert.Single(created.Results).Error.Code);
            var deleted = await Assert.ThrowsAsync<DeleteAclsException>(() => carol.DeleteAclsAsync([ByName(topic)]));
            Assert.Equal(Confluent.Kafka.ErrorCode.ClusterAuthorizationFailed, Assert.Single(deleted.Results).Error.Code);
        }
        using var admin = cluster.Admin();
        Assert.Empty((await admin.DescribeAclsAsync(ByName(topic))).AclBindings);

        await cluster.AllowAsync("carol", ResourceType.Broker, "kafka-cluster", AclOperation.Alter);
        try
        {
            using var carol = new AdminClientBuilder(cluster.Client("carol")).Build();
            await carol.CreateAclsAsync([binding]);
            Assert.Equal([Describe(binding)], (await admin.DescribeAclsAsync(ByName(topic))).AclBindings.Select(Describe));
            await carol.DeleteAclsAsync([ByName(topic)]);
            Assert.Empty((await admin.DescribeAclsAsync(ByName(topic))).AclBindings);
        }
        finally
        {
            await cluster.DeleteAsync(ByName("kafka-cluster"));
        }
    }

    /// <summary>librdkafka drops DescribeAcls' error code (an empty list), so the refusal is read off the wire.</summary>
    [Fact]
    public async Task DescribeAcls_needs_DESCRIBE_on_the_cluster_and_answers_ClusterAuthorizationFailed_without_it()
    {
        await using var wire = await cluster.ConnectAsync("bob");

        await wire.SendAsync(ApiKey.DescribeAcls, 3, w => new DescribeAclsRequest(new AclSpec(1, null, 1, null, null, 1, 1)).Write(w, 3));
        var frame = await wire.ReadFrameAsync();

        Assert.NotNull(frame);
        var r = new KafkaReader(frame.AsSpan(4));
        r.SkipTaggedFields();
        Assert.Equal(0, r.ReadInt32());
        Assert.Equal((short)OrleansStream.ErrorCode.ClusterAuthorizationFailed, r.ReadInt16());
        Assert.Equal("Request requires authorization on cluster for operation DESCRIBE", r.ReadNullableString(flexible: true));
        Assert.Equal(0, r.ReadArrayLength(flexible: true));
    }

    /// <summary>
    /// The refusals librdkafka does not show by code, each read off the wire at its place in Kafka's layout, for a
    /// principal granted nothing (carol): every transactional id, group, topic and cluster operation refused with
    /// Kafka's error, and ListTransactions listing none of the transactions another principal has open.
    /// </summary>
    [Fact]
    public async Task A_principal_granted_nothing_gets_Kafka_s_authorization_error_from_each_api()
    {
        var topic = AuthorizedKafkaCluster.Unique("refuse");
        var txn = AuthorizedKafkaCluster.Unique("txn");
        using (var admin = cluster.Admin())
            await admin.CreateTopicsAsync([new TopicSpecification { Name = topic, NumPartitions = 1, ReplicationFactor = 1 }]);
        var config = new ProducerConfig(cluster.Client("admin")) { TransactionalId = txn };
        using var open = new ProducerBuilder<Null, string>(config).Build();
        open.InitTransactions(TimeSpan.FromSeconds(30));
        open.BeginTransaction();
        await open.ProduceAsync(topic, new Message<Null, string> { Value = "open" }, TestContext.Current.CancellationToken);
        await using var wire = await cluster.ConnectAsync("carol");
        var l = topic.Length;
        TopicPartitions[] partitions = [new(topic, [0])];

        async Task<short> ErrorAt(ApiKey key, short version, Action<KafkaWriter, short> body, int offset)
        {
            await wire.SendAsync(key, version, w => body(w, version));
            var frame = await wire.ReadFrameAsync();
            Assert.NotNull(frame);
            return (short)((frame[offset] << 8) | frame[offset + 1]);
        }

        const short Topic = (short)OrleansStream.ErrorCode.TopicAuthorizationFailed;
        const short Group = (short)OrleansStream.ErrorCode.GroupAuthorizationFailed;
        const short Cluster = (short)OrleansStream.ErrorCode.ClusterAuthorizationFailed;
        const short TransactionalId = (short)OrleansStream.ErrorCode.TransactionalIdAuthorizationFailed;
        // Non-flexible answers: correlation id, throttle, then the first field; flexible ones have a tagged-field byte after the id.
        Assert.Equal(TransactionalId, await ErrorAt(ApiKey.EndTxn, 1, new M.EndTxnRequest(txn, 1, 0, true).Write, 8));
        Assert.Equal(TransactionalId, await ErrorAt(ApiKey.AddOffsetsToTxn, 1, new M.AddOffsetsToTxnRequest(txn, 1, 0, "g").Write, 8));
        Assert.Equal(TransactionalId, await ErrorAt(ApiKey.AddPartitionsToTxn, 1, new M.AddPartitionsToTxnRequest(txn, 1, 0, partitions).Write, 22 + l));
        Assert.Equal(TransactionalId, await ErrorAt(ApiKey.TxnOffsetCommit, 3,
            new M.TxnOffsetCommitRequest(txn, "g", 1, 0, [new M.OffsetCommitTopic(topic, [new M.OffsetCommitPartition(0, 1, -1, null)])]).Write, 16 + l));
        Assert.Equal(TransactionalId, await ErrorAt(ApiKey.DescribeTransactions, 0, new M.DescribeTransactionsRequest([txn]).Write, 10));
        Assert.Equal(Group, await ErrorAt(ApiKey.SyncGroup, 3, new M.SyncGroupRequest("g", 1, "m", null, []).Write, 8));
        Assert.Equal(Group, await ErrorAt(ApiKey.LeaveGroup, 3, new M.LeaveGroupRequest("g", [new M.LeaveGroupMember("m", null)]).Write, 8));
        Assert.Equal(Group, await ErrorAt(ApiKey.ConsumerGroupDescribe, 0, new M.ConsumerGroupDescribeRequest(["g"], false).Write, 10));
        Assert.Equal(Topic, await ErrorAt(ApiKey.CreatePartitions, 2, new M.CreatePartitionsRequest([new M.CreatePartitionsTopic(topic, 2, false)], 10_000, false).Write, 11 + l));
        Assert.Equal(Topic, await ErrorAt(ApiKey.OffsetForLeaderEpoch, 4,
            new M.OffsetForLeaderEpochRequest(-1, [new M.OffsetForLeaderTopic(topic, [new M.OffsetForLeaderPartition(0, -1, 0)])]).Write, 12 + l));
        Assert.Equal(Topic, await ErrorAt(ApiKey.DescribeProducers, 0, new M.DescribeProducersRequest(partitions).Write, 16 + l));
        Assert.Equal(Cluster, await ErrorAt(ApiKey.ElectLeaders, 2, new M.ElectLeadersRequest(0, partitions, 10_000).Write, 9));
        Assert.Equal(Cluster, await ErrorAt(ApiKey.AlterPartitionReassignments, 0,
            new M.AlterPartitionReassignmentsRequest(10_000, [new M.ReassignableTopic(topic, [new M.ReassignablePartition(0, null)])]).Write, 9));
        Assert.Equal(Cluster, await ErrorAt(ApiKey.ListPartitionReassignments, 0, new M.ListPartitionReassignmentsRequest(10_000, null).Write, 9));
        Assert.Equal(Cluster, await ErrorAt(ApiKey.DescribeLogDirs, 4, new M.DescribeLogDirsRequest(null).Write, 9));
        Assert.Equal(Cluster, await ErrorAt(ApiKey.AlterReplicaLogDirs, 1, new M.AlterReplicaLogDirsRequest([new M.AlterReplicaLogDir("/any", partitions)]).Write, 22 + l));
        Assert.Equal(Cluster, await ErrorAt(ApiKey.DescribeClientQuotas, 1, new M.DescribeClientQuotasRequest([], false).Write, 9));
        Assert.Equal(Cluster, await ErrorAt(ApiKey.AlterClientQuotas, 1,
            new M.AlterClientQuotasRequest([new M.ClientQuotaAlteration([new M.ClientQuotaEntity("user", "carol")], [new M.ClientQuotaOp("producer_byte_rate", 1, false)])], false).Write, 10));
        Assert.Equal(Cluster, await ErrorAt(ApiKey.UpdateFeatures, 1,
            new M.UpdateFeaturesRequest(60_000, [new M.FeatureUpdate("transaction.version", 1, M.FeatureUpgradeType.SafeDowngrade)], false).Write, 9));

        // ListTransactions: no error, and none of the open transaction (admin's answer holds it).
        async Task<int> ListedTransactions(KafkaWire on)
        {
            await on.SendAsync(ApiKey.ListTransactions, 0, w => new M.ListTransactionsRequest([], []).Write(w, 0));
            var frame = await on.ReadFrameAsync();
            Assert.NotNull(frame);
            var r = new KafkaReader(frame.AsSpan(4));
            r.SkipTaggedFields();
            r.ReadInt32();
            Assert.Equal(0, r.ReadInt16());
            r.ReadArrayLength(flexible: true);
            return r.ReadArrayLength(flexible: true);
        }
        Assert.Equal(0, await ListedTransactions(wire));
        await using (var admin = await cluster.ConnectAsync("admin"))
            Assert.True(await ListedTransactions(admin) >= 1);
        open.AbortTransaction(TimeSpan.FromSeconds(30));
    }
}
