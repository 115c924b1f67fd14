using System.Text;
using Confluent.Kafka;
using Confluent.Kafka.Admin;
using OrleansStream.Protocol;
using M = OrleansStream.Protocol.Messages;
using WireError = OrleansStream.ErrorCode;

namespace OrleansStream.Kafka.Tests;

using ErrorCode = Confluent.Kafka.ErrorCode;
using IsolationLevel = Confluent.Kafka.IsolationLevel;
using TopicPartition = Confluent.Kafka.TopicPartition;
using TopicPartitionOffset = Confluent.Kafka.TopicPartitionOffset;

/// <summary>
/// Kafka's ACL checks of the group and transaction APIs with real clients (librdkafka) of users that may do only what a
/// test grants: group membership and commits need READ on the group, its offsets, descriptions and listing DESCRIBE,
/// its deletion DELETE; a transactional producer WRITE on its transactional id, an idempotent one WRITE on some topic
/// (KIP-679). Bare requests check the codes a client hides. Every test grants topic READ or WRITE where it consumes or
/// produces, so it holds whether or not Produce and Fetch are authorized too.
/// </summary>
[Trait("Category", "Slow")]
public sealed class GroupAuthorizationTests(AuthorizedKafkaCluster cluster) : IClassFixture<AuthorizedKafkaCluster>
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    /// <summary>Kafka's TRANSACTIONAL_ID resource type (5), which Confluent.Kafka's enum does not name.</summary>
    private const ResourceType TransactionalId = (ResourceType)5;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static TopicPartitionOffset Tpo(string topic, long offset) => new(new TopicPartition(topic, 0), new Offset(offset));

    private async Task<string> CreateTopicAsync(string prefix)
    {
        var topic = AuthorizedKafkaCluster.Unique(prefix);
        using var admin = cluster.Admin();
        await admin.CreateTopicsAsync([new TopicSpecification { Name = topic, NumPartitions = 1, ReplicationFactor = 2 }]);
        return topic;
    }

    private async Task ProduceAsAdminAsync(string topic, int count)
    {
        using var producer = new ProducerBuilder<Null, string>(new ProducerConfig(cluster.Client("admin"))).Build();
        for (var i = 0; i < count; i++) await producer.ProduceAsync(topic, new Message<Null, string> { Value = "v" + i }, Ct);
    }

    private ConsumerConfig Consumer(string user, string group, GroupProtocol protocol = GroupProtocol.Classic)
    {
        var config = new ConsumerConfig(cluster.Client(user))
        {
            GroupId = group,
            AutoOffsetReset = AutoOffsetReset.Earliest,
            EnableAutoCommit = false,
            GroupProtocol = protocol,
        };
        if (protocol == GroupProtocol.Classic) config.SessionTimeoutMs = 6000;
        return config;
    }

    /// <summary>Polls until the consumer reports <paramref name="expected"/>, by its error handler or a consume error.</summary>
    private static async Task ExpectConsumerErrorAsync(ConsumerConfig config, string topic, ErrorCode expected)
    {
        var seen = new List<ErrorCode>();
        using var consumer = new ConsumerBuilder<Ignore, string>(config).SetErrorHandler((_, e) => { lock (seen) seen.Add(e.Code); }).Build();
        consumer.Subscribe(topic);
        await Eventually.WaitUntilAsync(() =>
        {
            try
            {
                Assert.Null(consumer.Consume(TimeSpan.FromMilliseconds(100)));
            }
            catch (ConsumeException e)
            {
                lock (seen) seen.Add(e.Error.Code);
            }
            lock (seen) return Task.FromResult(seen.Contains(expected));
        }, $"the consumer reports {expected}", Wait, () => { lock (seen) return string.Join(", ", seen); });
        try
        {
            consumer.Close();
        }
        catch (KafkaException)
        {
            // A fatal error (the consumer group protocol's GroupAuthorizationFailed) fails the close as well.
        }
    }

    private async Task<long> CommittedAsync(string group, string topic)
    {
        using var admin = cluster.Admin();
        var result = await admin.ListConsumerGroupOffsetsAsync([new ConsumerGroupTopicPartitions(group, [new TopicPartition(topic, 0)])]);
        return result[0].Partitions[0].Offset.Value;
    }

    [Fact]
    public async Task A_group_member_without_read_on_the_group_is_refused_and_commits_nothing_and_with_it_consumes_and_commits()
    {
        var topic = await CreateTopicAsync("gread");
        await ProduceAsAdminAsync(topic, 3);
        var group = AuthorizedKafkaCluster.Unique("gread");
        await cluster.AllowAsync("alice", ResourceType.Topic, topic, AclOperation.Read);
        // DESCRIBE finds the coordinator; JoinGroup wants READ.
        await cluster.AllowAsync("alice", ResourceType.Group, group, AclOperation.Describe);

        await ExpectConsumerErrorAsync(Consumer("alice", group), topic, ErrorCode.GroupAuthorizationFailed);
        await using (var wire = await ConnectAsync("alice"))
        {
            Assert.Equal(30, await OffsetCommitAsync(wire, group, topic, 2));
            Assert.Equal(30, await HeartbeatAsync(wire, group));
        }
        Assert.Equal(Offset.Unset.Value, await CommittedAsync(group, topic));

        await cluster.AllowAsync("alice", ResourceType.Group, group, AclOperation.Read);
        using (var consumer = new ConsumerBuilder<Ignore, string>(Consumer("alice", group)).Build())
        {
            consumer.Subscribe(topic);
            var read = 0;
            await Eventually.WaitUntilAsync(() =>
            {
                if (consumer.Consume(TimeSpan.FromMilliseconds(100)) is not null) read++;
                return Task.FromResult(read == 3);
            }, "alice reads the three records", Wait);
            consumer.Commit();
            consumer.Close();
        }
        Assert.Equal(3, await CommittedAsync(group, topic));
    }

    [Fact]
    public async Task Offsets_descriptions_and_listings_show_only_the_groups_and_topics_the_principal_may_describe()
    {
        var described = await CreateTopicAsync("gdesc");
        var hidden = await CreateTopicAsync("ghide");
        var mine = AuthorizedKafkaCluster.Unique("gmine");
        var other = AuthorizedKafkaCluster.Unique("gother");
        using (var admin = cluster.Admin())
        {
            foreach (var group in new[] { mine, other })
                await admin.AlterConsumerGroupOffsetsAsync([new ConsumerGroupTopicPartitionOffsets(group,
                    [Tpo(described, 1), Tpo(hidden, 2)])]);
        }
        await cluster.AllowAsync("bob", ResourceType.Group, mine, AclOperation.Describe);
        await cluster.AllowAsync("bob", ResourceType.Topic, described, AclOperation.Describe);

        using var bob = new AdminClientBuilder(cluster.Client("bob")).Build();
        // All offsets: the topic bob may not describe is left out; named: it is TopicAuthorizationFailed.
        var all = (await bob.ListConsumerGroupOffsetsAsync([new ConsumerGroupTopicPartitions(mine, null)]))[0].Partitions;
        Assert.Equal([(described, 1L)], all.Select(p => (p.Topic, p.Offset.Value)));
        await using (var wire = await ConnectAsync("bob"))
        {
            Assert.Equal([(described, 0), (hidden, 29)], await OffsetFetchAsync(wire, mine, described, hidden));
            Assert.Equal(30, await OffsetFetchGroupErrorAsync(wire, other, described));
            // DescribeGroups: the other group refused, bob's own with the one operation he may do.
            Assert.Equal([(30, int.MinValue), (0, 1 << 8)], await DescribeGroupsAsync(wire, other, mine));
        }
        // librdkafka's FindCoordinator is refused first and fails the call.
        var refused = await Assert.ThrowsAnyAsync<KafkaException>(() =>
            bob.ListConsumerGroupOffsetsAsync([new ConsumerGroupTopicPartitions(other, null)]));
        Assert.Contains("Group authorization failed", refused.Message, StringComparison.Ordinal);

        var listed = (await bob.ListConsumerGroupsAsync()).Valid.Select(g => g.GroupId).ToList();
        Assert.Contains(mine, listed);
        Assert.DoesNotContain(other, listed);
        using (var admin = cluster.Admin())
        {
            var everything = (await admin.ListConsumerGroupsAsync()).Valid.Select(g => g.GroupId).ToList();
            Assert.Contains(other, everything);
        }

        var description = await bob.DescribeConsumerGroupsAsync([mine], new DescribeConsumerGroupsOptions { IncludeAuthorizedOperations = true });
        Assert.Equal([AclOperation.Describe], description.ConsumerGroupDescriptions[0].AuthorizedOperations);
        var notMine = await Assert.ThrowsAsync<DescribeConsumerGroupsException>(() => bob.DescribeConsumerGroupsAsync([other]));
        Assert.Equal(ErrorCode.GroupAuthorizationFailed, notMine.Results.ConsumerGroupDescriptions[0].Error.Code);
    }

    [Fact]
    public async Task A_group_and_its_offsets_are_deleted_only_with_delete_on_the_group_and_read_on_the_topic()
    {
        var topic = await CreateTopicAsync("gdel");
        var group = AuthorizedKafkaCluster.Unique("gdel");
        using (var admin = cluster.Admin())
            await admin.AlterConsumerGroupOffsetsAsync([new ConsumerGroupTopicPartitionOffsets(group, [Tpo(topic, 5)])]);
        await cluster.AllowAsync("carol", ResourceType.Group, group, AclOperation.Describe);
        using var carol = new AdminClientBuilder(cluster.Client("carol")).Build();

        var refused = await Assert.ThrowsAsync<DeleteGroupsException>(() => carol.DeleteGroupsAsync([group]));
        Assert.Equal(ErrorCode.GroupAuthorizationFailed, refused.Results[0].Error.Code);
        // librdkafka fails the whole call on OffsetDelete's group error.
        var offsetsRefused = await Assert.ThrowsAnyAsync<KafkaException>(() =>
            carol.DeleteConsumerGroupOffsetsAsync(group, [new TopicPartition(topic, 0)]));
        Assert.Contains("Group authorization failed", offsetsRefused.Message, StringComparison.Ordinal);
        Assert.Equal(5, await CommittedAsync(group, topic));

        await cluster.AllowAsync("carol", ResourceType.Group, group, AclOperation.Delete);
        // DELETE on the group but not READ on the topic: that partition's offset stays.
        var topicRefused = await Assert.ThrowsAsync<DeleteConsumerGroupOffsetsException>(() =>
            carol.DeleteConsumerGroupOffsetsAsync(group, [new TopicPartition(topic, 0)]));
        Assert.Equal(ErrorCode.TopicAuthorizationFailed, topicRefused.Result.Partitions[0].Error.Code);
        Assert.Equal(5, await CommittedAsync(group, topic));

        await carol.DeleteGroupsAsync([group]);
        Assert.Equal(Offset.Unset.Value, await CommittedAsync(group, topic));
    }

    [Fact]
    public async Task A_transactional_producer_needs_write_on_its_transactional_id_and_read_on_the_group_it_commits_to()
    {
        var topic = await CreateTopicAsync("gtxn");
        var transactionalId = AuthorizedKafkaCluster.Unique("gtxn");
        var group = AuthorizedKafkaCluster.Unique("gtxn");
        await cluster.AllowAsync("alice", ResourceType.Topic, topic, AclOperation.Write, AclOperation.Read);
        var config = new ProducerConfig(cluster.Client("alice")) { TransactionalId = transactionalId };
        await using (var wire = await ConnectAsync("alice"))
            Assert.Equal(53, await FindCoordinatorAsync(wire, transactionalId, M.FindCoordinatorRequest.Transaction));

        // DESCRIBE finds the coordinator; InitProducerId wants WRITE.
        await cluster.AllowAsync("alice", TransactionalId, transactionalId, AclOperation.Describe);
        using (var refused = new ProducerBuilder<Null, string>(config).Build())
        {
            var e = Assert.ThrowsAny<KafkaException>(() => refused.InitTransactions(Wait));
            Assert.Equal(ErrorCode.TransactionalIdAuthorizationFailed, e.Error.Code);
        }

        await cluster.AllowAsync("alice", TransactionalId, transactionalId, AclOperation.Write);
        await cluster.AllowAsync("alice", ResourceType.Group, group, AclOperation.Describe);
        using (var producer = new ProducerBuilder<Null, string>(config).Build())
        {
            producer.InitTransactions(Wait);
            producer.BeginTransaction();
            await producer.ProduceAsync(topic, new Message<Null, string> { Value = "aborted" }, Ct);
            var offsets = new[] { Tpo(topic, 1) };
            // The group's offsets want READ on it.
            var groupRefused = Assert.ThrowsAny<KafkaException>(() =>
                producer.SendOffsetsToTransaction(offsets, GroupMetadata(group), Wait));
            Assert.Equal(ErrorCode.GroupAuthorizationFailed, groupRefused.Error.Code);
            producer.AbortTransaction(Wait);

            await cluster.AllowAsync("alice", ResourceType.Group, group, AclOperation.Read);
            producer.BeginTransaction();
            await producer.ProduceAsync(topic, new Message<Null, string> { Value = "committed" }, Ct);
            producer.SendOffsetsToTransaction(offsets, GroupMetadata(group), Wait);
            producer.CommitTransaction(Wait);
        }
        Assert.Equal(1, await CommittedAsync(group, topic));
        using var reader = new ConsumerBuilder<Ignore, string>(new ConsumerConfig(cluster.Client("admin"))
        {
            GroupId = AuthorizedKafkaCluster.Unique("gtxn-read"),
            AutoOffsetReset = AutoOffsetReset.Earliest,
            IsolationLevel = IsolationLevel.ReadCommitted,
        }).Build();
        reader.Assign(new TopicPartitionOffset(new TopicPartition(topic, 0), Offset.Beginning));
        string? value = null;
        await Eventually.WaitUntilAsync(() =>
        {
            value ??= reader.Consume(TimeSpan.FromMilliseconds(100))?.Message.Value;
            return Task.FromResult(value is not null);
        }, "the committed record", Wait);
        Assert.Equal("committed", value);
    }

    [Fact]
    public async Task An_idempotent_producer_needs_write_on_some_topic_or_idempotent_write_on_the_cluster()
    {
        var topic = await CreateTopicAsync("gidem");
        // bob may write this one topic and nothing on the cluster (KIP-679): InitProducerId is allowed.
        await cluster.AllowAsync("bob", ResourceType.Topic, topic, AclOperation.Write);
        using (var producer = new ProducerBuilder<Null, string>(new ProducerConfig(cluster.Client("bob")) { EnableIdempotence = true }).Build())
        {
            var delivered = await producer.ProduceAsync(topic, new Message<Null, string> { Value = "idempotent" }, Ct);
            Assert.Equal(PersistenceStatus.Persisted, delivered.Status);
        }

        // carol may write nothing anywhere (no test grants her topic WRITE or the cluster's IDEMPOTENT_WRITE).
        var seen = new List<Error>();
        using var refused = new ProducerBuilder<Null, string>(new ProducerConfig(cluster.Client("carol")) { EnableIdempotence = true, MessageTimeoutMs = 5000 })
            .SetErrorHandler((_, e) => { lock (seen) seen.Add(e); }).Build();
        refused.Produce(topic, new Message<Null, string> { Value = "refused" });
        await Eventually.WaitUntilAsync(() =>
        {
            refused.Poll(TimeSpan.FromMilliseconds(100));
            lock (seen) return Task.FromResult(seen.Exists(e => e.Code == ErrorCode.ClusterAuthorizationFailed));
        }, "carol's InitProducerId is ClusterAuthorizationFailed", Wait, () => { lock (seen) return string.Join("; ", seen.Select(e => $"{e.Code}: {e.Reason}")); });
    }

    [Fact]
    public async Task A_consumer_group_protocol_member_needs_read_on_the_group_and_describe_on_its_topics()
    {
        var topic = await CreateTopicAsync("gkip848");
        var group = AuthorizedKafkaCluster.Unique("gkip848");
        await cluster.AllowAsync("bob", ResourceType.Topic, topic, AclOperation.Read);
        await cluster.AllowAsync("bob", ResourceType.Group, group, AclOperation.Describe);
        await ExpectConsumerErrorAsync(Consumer("bob", group, GroupProtocol.Consumer), topic, ErrorCode.GroupAuthorizationFailed);

        await cluster.AllowAsync("bob", ResourceType.Group, group, AclOperation.Read);
        var hidden = await CreateTopicAsync("gkip848-hidden");
        await using var wire = await ConnectAsync("bob");
        Assert.Equal(29, await ConsumerGroupHeartbeatAsync(wire, group, hidden));
        Assert.Equal(0, await ConsumerGroupHeartbeatAsync(wire, group, topic));
    }

    /// <summary>
    /// A consumer group member's regex (KIP-848) is resolved for its principal: librdkafka subscribed to a pattern that
    /// matches two topics is assigned only the one its user may describe, and the other once it is granted.
    /// </summary>
    [Fact]
    public async Task A_consumer_group_protocol_regex_matches_only_the_topics_the_member_may_describe()
    {
        var prefix = AuthorizedKafkaCluster.Unique("rx");
        var group = AuthorizedKafkaCluster.Unique("grx");
        using (var admin = cluster.Admin())
            await admin.CreateTopicsAsync([
                new TopicSpecification { Name = prefix + "-seen", NumPartitions = 1, ReplicationFactor = 1 },
                new TopicSpecification { Name = prefix + "-hidden", NumPartitions = 1, ReplicationFactor = 1 }]);
        await cluster.AllowAsync("carol", ResourceType.Group, group, AclOperation.Read);
        await cluster.AllowAsync("carol", ResourceType.Topic, prefix + "-seen", AclOperation.Read);
        await ProduceAsAdminAsync(prefix + "-seen", 1);
        await ProduceAsAdminAsync(prefix + "-hidden", 1);

        using var consumer = new ConsumerBuilder<Ignore, string>(Consumer("carol", group, GroupProtocol.Consumer)).Build();
        consumer.Subscribe($"^{prefix}-.*");
        var read = new List<string>();
        await Eventually.WaitUntilAsync(() =>
        {
            if (consumer.Consume(TimeSpan.FromMilliseconds(100)) is { } r) read.Add(r.Topic);
            return Task.FromResult(read.Count > 0);
        }, "carol reads the topic she may describe", Wait);
        Assert.Equal([prefix + "-seen"], read);
        // The coordinator's assignment itself (librdkafka would skip a topic id its metadata cannot name).
        using (var admin = cluster.Admin())
        {
            var described = Assert.Single((await admin.DescribeConsumerGroupsAsync([group])).ConsumerGroupDescriptions);
            Assert.Equal([prefix + "-seen"], Assert.Single(described.Members).Assignment.TopicPartitions.Select(static p => p.Topic).Distinct());
        }

        await cluster.AllowAsync("carol", ResourceType.Topic, prefix + "-hidden", AclOperation.Read);
        await Eventually.WaitUntilAsync(() =>
        {
            if (consumer.Consume(TimeSpan.FromMilliseconds(100)) is { } r) read.Add(r.Topic);
            return Task.FromResult(read.Contains(prefix + "-hidden"));
        }, "carol is assigned the topic once granted", Wait, () => string.Join(", ", consumer.Assignment));
        consumer.Close();
    }

    [Fact]
    public async Task A_groups_configs_are_described_with_DESCRIBE_CONFIGS_and_altered_with_ALTER_CONFIGS_on_the_group()
    {
        var group = "g-cfg-" + Guid.NewGuid().ToString("N")[..8];
        var resource = new ConfigResource { Type = ResourceType.Group, Name = group };
        var change = new Dictionary<ConfigResource, List<ConfigEntry>>
        {
            [resource] = [new ConfigEntry { Name = "consumer.heartbeat.interval.ms", Value = "6000", IncrementalOperation = AlterConfigOpType.Set }],
        };
        using var bob = new AdminClientBuilder(cluster.Client("bob")).Build();

        var describeRefused = await Assert.ThrowsAsync<DescribeConfigsException>(() => bob.DescribeConfigsAsync([resource]));
        var alterRefused = await Assert.ThrowsAsync<IncrementalAlterConfigsException>(() => bob.IncrementalAlterConfigsAsync(change));
        // ALTER_CONFIGS implies DESCRIBE_CONFIGS, as in Kafka.
        await cluster.AllowAsync("bob", ResourceType.Group, group, AclOperation.AlterConfigs);
        await bob.IncrementalAlterConfigsAsync(change);
        var described = (await bob.DescribeConfigsAsync([resource])).Single().Entries;

        Assert.Equal(ErrorCode.GroupAuthorizationFailed, Assert.Single(describeRefused.Results).Error.Code);
        Assert.Equal(ErrorCode.GroupAuthorizationFailed, Assert.Single(alterRefused.Results).Error.Code);
        Assert.Equal(("6000", Confluent.Kafka.Admin.ConfigSource.GroupConfig), (described["consumer.heartbeat.interval.ms"].Value, described["consumer.heartbeat.interval.ms"].Source));
    }

    [Fact]
    public async Task FindCoordinator_wants_describe_on_the_group()
    {
        var group = AuthorizedKafkaCluster.Unique("gfind");
        await using var wire = await ConnectAsync("carol");
        Assert.Equal(30, await FindCoordinatorAsync(wire, group, M.FindCoordinatorRequest.Group));
        await cluster.AllowAsync("carol", ResourceType.Group, group, AclOperation.Describe);
        Assert.Equal(0, await FindCoordinatorAsync(wire, group, M.FindCoordinatorRequest.Group));

        // v4's batch is authorized key by key (Kafka's getCoordinator per key): the group carol may describe is found.
        var other = AuthorizedKafkaCluster.Unique("gfind");
        var batch = await FindCoordinatorsAsync(wire, 4, new M.FindCoordinatorRequest("", M.FindCoordinatorRequest.Group, [other, group]));
        Assert.Equal([(other, WireError.GroupAuthorizationFailed, -1), (group, WireError.None, batch[1].NodeId)], batch.Select(c => (c.Key, c.Error, c.NodeId)));
        Assert.True(batch[1].NodeId >= 0);
        // A share key (v6) wants CLUSTER_ACTION first, as Kafka's authorizeClusterOperation: every key of the request is refused.
        var share = await FindCoordinatorsAsync(wire, 6, new M.FindCoordinatorRequest("", M.FindCoordinatorRequest.Share, [$"{group}:{Guid.NewGuid()}:0", "x"]));
        Assert.Equal([WireError.ClusterAuthorizationFailed, WireError.ClusterAuthorizationFailed], share.Select(c => c.Error));
    }

    private static async Task<IReadOnlyList<M.FindCoordinatorResult>> FindCoordinatorsAsync(KafkaWire wire, short version, M.FindCoordinatorRequest request)
    {
        var r = new KafkaReader(await AskAsync(wire, ApiKey.FindCoordinator, version, w => request.Write(w, version)));
        r.ReadInt32();   // correlation id
        r.SkipTaggedFields();
        return M.FindCoordinatorResponse.Read(ref r, version).Coordinators;
    }

    /// <summary>Confluent.Kafka's group metadata of a group id alone (as a consumer's, without a member).</summary>
    private static IConsumerGroupMetadata GroupMetadata(string group)
    {
        using var consumer = new ConsumerBuilder<Ignore, Ignore>(new ConsumerConfig { GroupId = group, BootstrapServers = "127.0.0.1:1" }).Build();
        return consumer.ConsumerGroupMetadata;
    }

    private Task<KafkaWire> ConnectAsync(string user) => cluster.ConnectAsync(user);

    private static async Task<byte[]> AskAsync(KafkaWire wire, ApiKey key, short version, Action<KafkaWriter> body)
    {
        await wire.SendAsync(key, version, body);
        var frame = await wire.ReadFrameAsync();
        Assert.NotNull(frame);
        return frame;
    }

    private static short Int16At(byte[] frame, int offset) => (short)((frame[offset] << 8) | frame[offset + 1]);

    private static async Task<short> FindCoordinatorAsync(KafkaWire wire, string key, sbyte type) =>
        // v1: correlation id, throttle, error.
        Int16At(await AskAsync(wire, ApiKey.FindCoordinator, 1, w => new M.FindCoordinatorRequest(key, type).Write(w, 1)), 8);

    private static async Task<short> HeartbeatAsync(KafkaWire wire, string group) =>
        // v0: correlation id, error.
        Int16At(await AskAsync(wire, ApiKey.Heartbeat, 0, w => new M.HeartbeatRequest(group, 1, "member", null).Write(w, 0)), 4);

    /// <summary>An OffsetCommit v7 of one partition; its error.</summary>
    private static async Task<short> OffsetCommitAsync(KafkaWire wire, string group, string topic, long offset)
    {
        var frame = await AskAsync(wire, ApiKey.OffsetCommit, 7, w =>
            new M.OffsetCommitRequest(group, -1, "", null, [new M.OffsetCommitTopic(topic, [new M.OffsetCommitPartition(0, offset, -1, null)])]).Write(w, 7));
        var r = new KafkaReader(frame.AsSpan(8));
        KafkaWire.FirstPartition(ref r);
        return r.ReadInt16();
    }

    /// <summary>An OffsetFetch v5 of partition 0 of each topic: each topic's error.</summary>
    private static async Task<List<(string, int)>> OffsetFetchAsync(KafkaWire wire, string group, params string[] topics)
    {
        var frame = await AskAsync(wire, ApiKey.OffsetFetch, 5, w =>
            new M.OffsetFetchRequest([new M.OffsetFetchRequestGroup(group, [.. topics.Select(t => new M.TopicPartitions(t, [0]))])], false).Write(w, 5));
        var r = new KafkaReader(frame.AsSpan(8));
        var errors = new List<(string, int)>();
        var count = r.ReadArrayLength(false);
        for (var i = 0; i < count; i++)
        {
            var name = r.ReadString(false);
            Assert.Equal(1, r.ReadArrayLength(false));
            r.ReadInt32();
            r.ReadInt64();
            r.ReadInt32();
            r.ReadNullableString(false);
            errors.Add((name, r.ReadInt16()));
        }
        Assert.Equal(0, r.ReadInt16());
        return errors;
    }

    /// <summary>An OffsetFetch v5 of one topic: the group's error.</summary>
    private static async Task<short> OffsetFetchGroupErrorAsync(KafkaWire wire, string group, string topic)
    {
        var frame = await AskAsync(wire, ApiKey.OffsetFetch, 5, w =>
            new M.OffsetFetchRequest([new M.OffsetFetchRequestGroup(group, [new M.TopicPartitions(topic, [0])])], false).Write(w, 5));
        // correlation id, throttle, an empty topic array, the error.
        Assert.Equal(0, Int16At(frame, 10));
        return Int16At(frame, 12);
    }

    /// <summary>A DescribeGroups v3 with authorized operations of groups without members: each one's error and operations.</summary>
    private static async Task<List<(int, int)>> DescribeGroupsAsync(KafkaWire wire, params string[] groups)
    {
        var frame = await AskAsync(wire, ApiKey.DescribeGroups, 3, w =>
        {
            w.WriteArrayLength(groups.Length, false);
            foreach (var g in groups) w.WriteString(g, false);
            w.WriteBoolean(true);
        });
        var r = new KafkaReader(frame.AsSpan(8));
        var results = new List<(int, int)>();
        var count = r.ReadArrayLength(false);
        for (var i = 0; i < count; i++)
        {
            var error = r.ReadInt16();
            for (var s = 0; s < 4; s++) r.ReadString(false);
            Assert.Equal(0, r.ReadArrayLength(false));
            results.Add((error, r.ReadInt32()));
        }
        return results;
    }

    /// <summary>A ConsumerGroupHeartbeat v0 join subscribed to <paramref name="topic"/>; its error (then the member leaves).</summary>
    private static async Task<short> ConsumerGroupHeartbeatAsync(KafkaWire wire, string group, string topic)
    {
        var frame = await AskAsync(wire, ApiKey.ConsumerGroupHeartbeat, 0, w =>
            new M.ConsumerGroupHeartbeatRequest(group, "", 0, null, null, 30_000, [topic], null, null, []).Write(w, 0));
        var r = new KafkaReader(frame.AsSpan(4));
        r.SkipTaggedFields();
        var response = M.ConsumerGroupHeartbeatResponse.Read(ref r, 0);
        if (response.MemberId is { } member)
            await AskAsync(wire, ApiKey.ConsumerGroupHeartbeat, 0, w =>
                new M.ConsumerGroupHeartbeatRequest(group, member, -1, null, null, 30_000, null, null, null, null).Write(w, 0));
        return (short)response.Error;
    }
}
