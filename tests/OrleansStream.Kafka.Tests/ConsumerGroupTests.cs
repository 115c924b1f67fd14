using Confluent.Kafka;
using Confluent.Kafka.Admin;
using Orleans.Core.Internal;
using Sdk = OrleansStream.Client;

namespace OrleansStream.Kafka.Tests;

// Confluent's types, not the namespace's own of the same names.
using TopicPartition = Confluent.Kafka.TopicPartition;
using TopicPartitionOffset = Confluent.Kafka.TopicPartitionOffset;

/// <summary>Confluent.Kafka's group consumer against the group coordinator, and one group shared with our SDK.</summary>
[Collection(KafkaClusterCollection.Name)]
public sealed class ConsumerGroupTests(KafkaCluster cluster)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);

    private ConsumerConfig Config(string group) => new()
    {
        BootstrapServers = cluster.BootstrapServers,
        GroupId = group,
        EnableAutoCommit = false,
        AutoOffsetReset = AutoOffsetReset.Earliest,
        SessionTimeoutMs = 10_000,
        HeartbeatIntervalMs = 500,
        PartitionAssignmentStrategy = PartitionAssignmentStrategy.Range,
    };

    private async Task ProduceAsync(string topic, int count, string prefix)
    {
        using var producer = new ProducerBuilder<string, string>(new ProducerConfig
        {
            BootstrapServers = cluster.BootstrapServers,
            Partitioner = Partitioner.Murmur2Random,
            Acks = Confluent.Kafka.Acks.All,
        }).Build();
        for (var i = 0; i < count; i++)
            await producer.ProduceAsync(topic, new Message<string, string> { Key = $"{prefix}-{i}", Value = $"{i}" }, TestContext.Current.CancellationToken);
    }

    [Fact]
    public async Task A_group_consumer_commits_and_a_second_member_takes_its_share_then_gives_it_back_on_leaving()
    {
        var topic = await cluster.CreateTopicAsync("group", partitions: 4);
        var group = "g-" + Guid.NewGuid().ToString("N");
        await ProduceAsync(topic, 40, "k");

        using var first = new ConsumerBuilder<string, string>(Config(group)).Build();
        first.Subscribe(topic);
        var read = 0;
        var deadline = DateTime.UtcNow + Wait;
        while (read < 40 && DateTime.UtcNow < deadline)
            if (first.Consume(TimeSpan.FromMilliseconds(200)) is { IsPartitionEOF: false }) read++;
        Assert.Equal(40, read);
        var committed = first.Commit();
        Assert.Equal(40, committed.Sum(c => c.Offset.Value));

        var partitions = Enumerable.Range(0, 4).Select(p => new TopicPartition(topic, p)).ToList();
        Assert.Equal(committed.OrderBy(c => c.Partition.Value).Select(c => c.Offset.Value),
            first.Committed(partitions, Wait).OrderBy(c => c.Partition.Value).Select(c => c.Offset.Value));

        using (var second = new ConsumerBuilder<string, string>(Config(group)).Build())
        {
            second.Subscribe(topic);
            await Consuming.PollUntilAsync(() => first.Assignment.Count == 2 && second.Assignment.Count == 2, "the two members share the four partitions", Wait, first, second);
            Assert.Empty(first.Assignment.Intersect(second.Assignment));
            // The second member starts where the group committed: nothing left to read.
            Assert.Null(second.Consume(TimeSpan.FromMilliseconds(500)) is { IsPartitionEOF: false } r ? r : null);
            second.Close();
        }
        await Consuming.PollUntilAsync(() => first.Assignment.Count == 4, "the first member gets every partition back", Wait, first);
        first.Close();
    }

    /// <summary>
    /// The coordinator's activation deactivates (here by DeactivateOnIdle; after a silo dies, on the live silo whose
    /// directory entry the dead one held) while B and C wait in JoinGroup for A, which polls again only after it: they
    /// get NOT_COORDINATOR, find the coordinator again and rejoin, and the group shares the topic well before the 60 s
    /// rebalance timeout that their waiting joins would otherwise have held every call to the group for.
    /// </summary>
    [Fact]
    public async Task Members_waiting_in_JoinGroup_when_the_coordinator_deactivates_rejoin_and_share_the_topic()
    {
        var topic = await cluster.CreateTopicAsync("unload", partitions: 3);
        var group = "g-" + Guid.NewGuid().ToString("N");
        var config = Config(group);
        config.MaxPollIntervalMs = 60_000;
        using var a = new ConsumerBuilder<string, string>(config).Build();
        a.Subscribe(topic);
        await Consuming.PollUntilAsync(() => a.Assignment.Count == 3, "A owns the topic", Wait, a);

        using var b = new ConsumerBuilder<string, string>(config).Build();
        using var c = new ConsumerBuilder<string, string>(config).Build();
        b.Subscribe(topic);
        c.Subscribe(topic);
        var grain = cluster.Silos.Client.GetGrain<IConsumerGroupGrain>(group);
        await Eventually.WaitUntilAsync(async () => await grain.Describe() is { State: GroupState.PreparingRebalance, Members.Count: 3 },
            "B and C wait in JoinGroup for A");
        await grain.Cast<IGrainManagementExtension>().DeactivateOnIdle(TestContext.Current.CancellationToken);

        await Eventually.WaitUntilAsync(() =>
        {
            foreach (var consumer in (IConsumer<string, string>[])[a, b, c]) consumer.Consume(TimeSpan.FromMilliseconds(100));
            return a.Assignment.Count == 1 && b.Assignment.Count == 1 && c.Assignment.Count == 1
                && a.Assignment.Concat(b.Assignment).Concat(c.Assignment).Distinct().Count() == 3;
        }, "A, B and C share the topic");
        Assert.Equal(GroupState.Stable, (await grain.Describe()).State);
        foreach (var consumer in (IConsumer<string, string>[])[a, b, c]) consumer.Close();
    }

    [Fact]
    public async Task Cooperative_sticky_members_move_only_the_partitions_that_change_owner_on_join_and_leave()
    {
        var topic = await cluster.CreateTopicAsync("coop", partitions: 4);
        var group = "g-" + Guid.NewGuid().ToString("N");
        await ProduceAsync(topic, 20, "k");
        var events = new System.Collections.Concurrent.ConcurrentQueue<(string Member, string Kind, int[] Partitions)>();
        IConsumer<string, string> Member(string name)
        {
            var config = Config(group);
            config.PartitionAssignmentStrategy = PartitionAssignmentStrategy.CooperativeSticky;
            return new ConsumerBuilder<string, string>(config)
                .SetPartitionsAssignedHandler((_, ps) => events.Enqueue((name, "assigned", ps.Select(p => p.Partition.Value).Order().ToArray())))
                .SetPartitionsRevokedHandler((_, ps) => events.Enqueue((name, "revoked", ps.Select(p => p.Partition.Value).Order().ToArray())))
                .SetPartitionsLostHandler((_, ps) => events.Enqueue((name, "lost", ps.Select(p => p.Partition.Value).Order().ToArray())))
                .Build();
        }
        int[] Owned(string member) => events.Where(e => e.Member == member).Aggregate(new SortedSet<int>(), (owned, e) =>
        {
            if (e.Kind == "assigned") owned.UnionWith(e.Partitions); else owned.ExceptWith(e.Partitions);
            return owned;
        }).ToArray();

        using var first = Member("first");
        first.Subscribe(topic);
        await Consuming.PollUntilAsync(() => first.Assignment.Count == 4, "the first member gets every partition", Wait, first);
        var alone = events.ToArray();

        using (var second = Member("second"))
        {
            second.Subscribe(topic);
            await Consuming.PollUntilAsync(() => first.Assignment.Count == 2 && second.Assignment.Count == 2, "the two members share the four partitions", Wait, first, second);
            var shared = events.ToArray();

            // Incremental: the first member gave up only the two partitions that moved, and never all four.
            var firstRevoked = shared.Skip(alone.Length).Where(e => e is { Member: "first", Kind: "revoked" }).ToList();
            Assert.Equal(2, firstRevoked.Sum(e => e.Partitions.Length));
            Assert.Equal(first.Assignment.Select(p => p.Partition.Value).Order(), Owned("first"));
            Assert.Equal(second.Assignment.Select(p => p.Partition.Value).Order(), Owned("second"));
            Assert.Empty(Owned("first").Intersect(Owned("second")));
            Assert.Equal(firstRevoked.SelectMany(e => e.Partitions).Order(), Owned("second"));
            second.Close();
        }
        var beforeLeave = events.Count;
        await Consuming.PollUntilAsync(() => first.Assignment.Count == 4, "the first member gets the leaver's partitions back", Wait, first);
        var afterLeave = events.Skip(beforeLeave).ToList();
        first.Close();

        var initial = Assert.Single(alone, e => e.Member == "first");
        Assert.Equal("assigned", initial.Kind);
        Assert.Equal([0, 1, 2, 3], initial.Partitions);
        Assert.Empty(Owned("second"));
        // The leaver's two partitions come back as an incremental assignment; the two kept are never revoked.
        Assert.DoesNotContain(afterLeave, e => e is { Member: "first", Kind: "revoked" or "lost" });
        Assert.Equal(2, afterLeave.Where(e => e is { Member: "first", Kind: "assigned" }).Sum(e => e.Partitions.Length));
    }

    [Fact]
    public async Task A_restarted_static_member_gets_its_partitions_back_without_a_rebalance_and_a_duplicate_instance_fences_the_old_one()
    {
        var topic = await cluster.CreateTopicAsync("static", partitions: 4);
        var group = "g-" + Guid.NewGuid().ToString("N");
        var coordinator = cluster.Silos.Client.GetGrain<IConsumerGroupGrain>(group);
        var revokedFromA = 0;
        var fatal = new System.Collections.Concurrent.ConcurrentQueue<Error>();
        IConsumer<string, string> Member(string instance)
        {
            var config = Config(group);
            config.GroupInstanceId = instance;
            config.SessionTimeoutMs = 30_000;
            return new ConsumerBuilder<string, string>(config)
                .SetPartitionsRevokedHandler((_, ps) => { if (instance == "a") Interlocked.Add(ref revokedFromA, ps.Count); })
                .Build();
        }

        using var a = Member("a");
        a.Subscribe(topic);
        var b = Member("b");
        b.Subscribe(topic);
        await Consuming.PollUntilAsync(() => a.Assignment.Count == 2 && b.Assignment.Count == 2, "the two static members share the four partitions", Wait, a, b);
        var before = await coordinator.Describe();
        var bPartitions = b.Assignment.Select(p => p.Partition.Value).Order().ToArray();
        var revokedBefore = Volatile.Read(ref revokedFromA);
        // A static member sends no LeaveGroup when it closes: its place waits for it for the session timeout.
        b.Close();
        b.Dispose();

        using var restarted = Member("b");
        restarted.Subscribe(topic);
        await Consuming.PollUntilAsync(() => restarted.Assignment.Count == 2, "the restarted member gets its partitions", Wait, a, restarted);
        var after = await coordinator.Describe();
        var restartedPartitions = restarted.Assignment.Select(p => p.Partition.Value).Order().ToArray();

        // A second live instance with the same id takes the place; the one it replaced is fenced (FencedInstanceId, fatal).
        using var duplicate = Member("b");
        duplicate.Subscribe(topic);
        await Eventually.WaitUntilAsync(() =>
        {
            try
            {
                if (fatal.IsEmpty) restarted.Consume(TimeSpan.FromMilliseconds(100));
            }
            catch (ConsumeException e) when (e.Error.IsFatal)
            {
                fatal.Enqueue(e.Error);
            }
            duplicate.Consume(TimeSpan.FromMilliseconds(100));
            return !fatal.IsEmpty && duplicate.Assignment.Count == 2;
        }, "the older instance is fenced and the newer one holds the partitions", Wait);
        var last = await coordinator.Describe();
        var duplicatePartitions = duplicate.Assignment.Select(p => p.Partition.Value).Order().ToArray();
        var aCount = a.Assignment.Count;
        var revokedAfter = Volatile.Read(ref revokedFromA);
        duplicate.Close();
        a.Close();

        Assert.Equal(before.GenerationId, after.GenerationId);
        Assert.Equal(before.GenerationId, last.GenerationId);
        Assert.Equal(bPartitions, restartedPartitions);
        Assert.Equal(bPartitions, duplicatePartitions);
        Assert.Equal(2, aCount);
        Assert.Equal(revokedBefore, revokedAfter);
        Assert.Equal(Confluent.Kafka.ErrorCode.FencedInstanceId, Assert.Single(fatal).Code);
        Assert.Equal(2, last.Members.Count);
    }

    [Fact]
    public async Task A_member_seeks_back_commits_explicit_offsets_and_its_successor_resumes_there()
    {
        var topic = await cluster.CreateTopicAsync("seek", partitions: 1);
        var group = "g-" + Guid.NewGuid().ToString("N");
        await ProduceAsync(topic, 10, "s");
        var tp = new TopicPartition(topic, 0);

        List<long> firstPass = [], afterSeek = [];
        using (var consumer = new ConsumerBuilder<string, string>(Config(group)).Build())
        {
            consumer.Subscribe(topic);
            var deadline = DateTime.UtcNow + Wait;
            while (firstPass.Count < 10 && DateTime.UtcNow < deadline)
                if (consumer.Consume(TimeSpan.FromMilliseconds(200)) is { IsPartitionEOF: false } r) firstPass.Add(r.Offset.Value);
            consumer.Seek(new TopicPartitionOffset(tp, 4));
            while (afterSeek.Count < 6 && DateTime.UtcNow < deadline)
                if (consumer.Consume(TimeSpan.FromMilliseconds(200)) is { IsPartitionEOF: false } r) afterSeek.Add(r.Offset.Value);
            consumer.Commit([new TopicPartitionOffset(tp, 7)]);
            Assert.Equal(7, Assert.Single(consumer.Committed([tp], Wait)).Offset.Value);
            consumer.Close();
        }

        using var successor = new ConsumerBuilder<string, string>(Config(group)).Build();
        successor.Subscribe(topic);
        var resumed = new List<long>();
        var until = DateTime.UtcNow + Wait;
        while (resumed.Count < 3 && DateTime.UtcNow < until)
            if (successor.Consume(TimeSpan.FromMilliseconds(200)) is { IsPartitionEOF: false } r) resumed.Add(r.Offset.Value);
        successor.Close();

        Assert.Equal(Enumerable.Range(0, 10).Select(i => (long)i), firstPass);
        Assert.Equal(Enumerable.Range(4, 6).Select(i => (long)i), afterSeek);
        Assert.Equal([7L, 8L, 9L], resumed);
    }

    [Fact]
    public async Task A_member_commits_explicit_offsets_for_partitions_assigned_to_another_member_or_to_no_one()
    {
        var topic = await cluster.CreateTopicAsync("notmine", partitions: 2);
        var other = await cluster.CreateTopicAsync("notsubscribed", partitions: 1);
        var group = "g-" + Guid.NewGuid().ToString("N");

        using var first = new ConsumerBuilder<string, string>(Config(group)).Build();
        using var second = new ConsumerBuilder<string, string>(Config(group)).Build();
        first.Subscribe(topic);
        second.Subscribe(topic);
        await Consuming.PollUntilAsync(() => first.Assignment.Count == 1 && second.Assignment.Count == 1, "each member holds one partition", Wait, first, second);
        var secondsPartition = Assert.Single(second.Assignment);
        Assert.DoesNotContain(secondsPartition, first.Assignment);
        var unsubscribed = new TopicPartition(other, 0);

        // Kafka's group coordinator checks the member id and generation of a commit, never the assignment (a refusal would throw here).
        first.Commit([new TopicPartitionOffset(secondsPartition, 3), new TopicPartitionOffset(unsubscribed, 5)]);

        Assert.Equal([3L, 5L], second.Committed([secondsPartition, unsubscribed], Wait).Select(c => c.Offset.Value));
        first.Close();
        second.Close();
    }

    [Fact]
    public async Task An_offset_beyond_the_log_end_is_committed_as_given_and_a_consumer_starting_there_applies_auto_offset_reset()
    {
        var topic = await cluster.CreateTopicAsync("pastend", partitions: 1);
        var group = "g-" + Guid.NewGuid().ToString("N");
        await ProduceAsync(topic, 5, "p");
        var tp = new TopicPartition(topic, 0);

        List<TopicPartitionOffset> readBack;
        using (var consumer = new ConsumerBuilder<string, string>(Config(group)).Build())
        {
            consumer.Assign(tp);
            // Kafka stores a committed offset without looking at the log (a refusal would throw here).
            consumer.Commit([new TopicPartitionOffset(tp, 1_000)]);
            readBack = consumer.Committed([tp], Wait);
            consumer.Close();
        }
        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = cluster.BootstrapServers }).Build();
        var listed = (await admin.ListConsumerGroupOffsetsAsync([new ConsumerGroupTopicPartitions(group, [tp])])).Single().Partitions.Single();

        // A member starting at 1000 is out of range on fetch and resets to the earliest offset.
        using var member = new ConsumerBuilder<string, string>(Config(group)).Build();
        member.Subscribe(topic);
        var read = new List<long>();
        var deadline = DateTime.UtcNow + Wait;
        while (read.Count < 5 && DateTime.UtcNow < deadline)
            if (member.Consume(TimeSpan.FromMilliseconds(200)) is { IsPartitionEOF: false } r) read.Add(r.Offset.Value);
        member.Close();

        Assert.Equal(1_000, Assert.Single(readBack).Offset.Value);
        Assert.Equal(1_000, listed.Offset.Value);
        Assert.Equal([0L, 1L, 2L, 3L, 4L], read);
    }

    [Fact]
    public async Task Our_SDK_resumes_a_group_from_the_offsets_a_Confluent_member_committed()
    {
        var topic = await cluster.CreateTopicAsync("sharedgroup", partitions: 2);
        var group = "g-" + Guid.NewGuid().ToString("N");
        await ProduceAsync(topic, 10, "old");
        List<TopicPartitionOffset> committed;
        using (var confluent = new ConsumerBuilder<string, string>(Config(group)).Build())
        {
            confluent.Subscribe(topic);
            var read = 0;
            var deadline = DateTime.UtcNow + Wait;
            while (read < 10 && DateTime.UtcNow < deadline)
                if (confluent.Consume(TimeSpan.FromMilliseconds(200)) is { IsPartitionEOF: false }) read++;
            Assert.Equal(10, read);
            committed = confluent.Commit();
            confluent.Close();
        }
        await ProduceAsync(topic, 6, "new");

        using var sdk = new Sdk.ConsumerBuilder<string, string>(cluster.Silos.Client, new Sdk.ConsumerConfig
        {
            GroupId = group,
            EnableAutoCommit = false,
            AutoOffsetReset = Sdk.AutoOffsetReset.Earliest,
        }).Build();
        var sdkCommitted = sdk.Committed([new OrleansStream.TopicPartition(topic, 0), new OrleansStream.TopicPartition(topic, 1)], Wait);
        sdk.Subscribe(topic);
        var keys = new List<string>();
        var until = DateTime.UtcNow + Wait;
        while (keys.Count < 6 && DateTime.UtcNow < until)
            if (sdk.Consume(TimeSpan.FromMilliseconds(200)) is { } r) keys.Add(r.Message!.Key!);
        sdk.Close();

        Assert.Equal(committed.OrderBy(c => c.Partition.Value).Select(c => c.Offset.Value), sdkCommitted.OrderBy(c => c.TopicPartition.Partition).Select(c => c.Offset));
        Assert.Equal(Enumerable.Range(0, 6).Select(i => $"new-{i}").Order(), keys.Order());
    }
}

/// <summary>Confluent's admin client on groups: list, describe, delete.</summary>
[Collection(KafkaClusterCollection.Name)]
public sealed class GroupAdminTests(KafkaCluster cluster)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Groups_are_listed_described_with_their_members_and_deleted_once_empty()
    {
        var topic = await cluster.CreateTopicAsync("groupadmin", partitions: 2);
        var group = "ga-" + Guid.NewGuid().ToString("N");
        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = cluster.BootstrapServers }).Build();
        using var consumer = await SubscribedAsync(group, topic, partitions: 2, c => c.ClientId = "describe-me");

        var listed = await admin.ListConsumerGroupsAsync();
        var described = (await admin.DescribeConsumerGroupsAsync([group])).ConsumerGroupDescriptions.Single();
        var busy = await Assert.ThrowsAsync<DeleteGroupsException>(() => admin.DeleteGroupsAsync([group]));
        consumer.Close();
        await admin.DeleteGroupsAsync([group]);
        var after = await admin.ListConsumerGroupsAsync();

        Assert.Contains(listed.Valid, g => g.GroupId == group);
        Assert.Equal(ConsumerGroupState.Stable, described.State);
        var member = Assert.Single(described.Members);
        Assert.Equal("describe-me", member.ClientId);
        Assert.Equal([0, 1], member.Assignment.TopicPartitions.Select(tp => tp.Partition.Value).Order());
        Assert.Equal(Confluent.Kafka.ErrorCode.NonEmptyGroup, busy.Results.Single().Error.Code);
        Assert.DoesNotContain(after.Valid, g => g.GroupId == group);
    }

    /// <summary>
    /// The versions librdkafka 2.16 asks: ListGroups v5 (KIP-518's state filter, KIP-848's type filter), DescribeGroups v5
    /// (v3's authorized operations, v4's members' group instance ids) and DeleteGroups v2, whose second delete of a group
    /// is GroupIdNotFound.
    /// </summary>
    [Fact]
    public async Task Groups_are_listed_by_state_and_type_described_with_authorized_operations_and_instance_ids()
    {
        var topic = await cluster.CreateTopicAsync("groupstate", partitions: 1);
        var group = "gs-" + Guid.NewGuid().ToString("N");
        var simple = "gs-simple-" + Guid.NewGuid().ToString("N");
        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = cluster.BootstrapServers }).Build();
        using (var committer = new ConsumerBuilder<Ignore, Ignore>(new ConsumerConfig { BootstrapServers = cluster.BootstrapServers, GroupId = simple }).Build())
            committer.Commit([new TopicPartitionOffset(topic, 0, 3)]);
        using var consumer = await SubscribedAsync(group, topic, partitions: 1, c => c.GroupInstanceId = "instance-1");

        var stable = await admin.ListConsumerGroupsAsync(new ListConsumerGroupsOptions { MatchStates = [ConsumerGroupState.Stable] });
        var empty = await admin.ListConsumerGroupsAsync(new ListConsumerGroupsOptions { MatchStates = [ConsumerGroupState.Empty] });
        var classic = await admin.ListConsumerGroupsAsync(new ListConsumerGroupsOptions { MatchTypes = [ConsumerGroupType.Classic] });
        var consumerType = await admin.ListConsumerGroupsAsync(new ListConsumerGroupsOptions { MatchTypes = [ConsumerGroupType.Consumer] });
        var described = (await admin.DescribeConsumerGroupsAsync([group], new DescribeConsumerGroupsOptions { IncludeAuthorizedOperations = true }))
            .ConsumerGroupDescriptions.Single();
        await admin.DeleteGroupsAsync([simple]);
        var again = await Assert.ThrowsAsync<DeleteGroupsException>(() => admin.DeleteGroupsAsync([simple]));

        var listed = Assert.Single(stable.Valid, g => g.GroupId == group);
        Assert.Equal((ConsumerGroupState.Stable, ConsumerGroupType.Classic, false), (listed.State, listed.Type, listed.IsSimpleConsumerGroup));
        Assert.DoesNotContain(stable.Valid, g => g.GroupId == simple);
        var listedSimple = Assert.Single(empty.Valid, g => g.GroupId == simple);
        Assert.True(listedSimple.IsSimpleConsumerGroup);
        Assert.DoesNotContain(empty.Valid, g => g.GroupId == group);
        Assert.Contains(classic.Valid, g => g.GroupId == group);
        Assert.DoesNotContain(consumerType.Valid, g => g.GroupId == group);
        Assert.Equal("instance-1", Assert.Single(described.Members).GroupInstanceId);
        Assert.Equal(
            [AclOperation.Read, AclOperation.Delete, AclOperation.Describe, AclOperation.DescribeConfigs, AclOperation.AlterConfigs],
            described.AuthorizedOperations.Order());
        Assert.Equal(Confluent.Kafka.ErrorCode.GroupIdNotFound, again.Results.Single().Error.Code);
    }

    [Fact]
    public async Task DeleteConsumerGroupOffsets_removes_offsets_of_topics_no_member_subscribes_to_and_refuses_the_others()
    {
        var consumed = await cluster.CreateTopicAsync("offdel-consumed", partitions: 1);
        var other = await cluster.CreateTopicAsync("offdel-other", partitions: 2);
        using (var producer = new ProducerBuilder<Null, string>(new ProducerConfig { BootstrapServers = cluster.BootstrapServers }).Build())
            foreach (var tp in new[] { new TopicPartition(consumed, 0), new TopicPartition(other, 0), new TopicPartition(other, 1) })
                for (var i = 0; i < 3; i++)
                    await producer.ProduceAsync(tp, new Message<Null, string> { Value = "v" }, TestContext.Current.CancellationToken);
        var group = "od-" + Guid.NewGuid().ToString("N");
        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = cluster.BootstrapServers }).Build();
        await admin.AlterConsumerGroupOffsetsAsync([new ConsumerGroupTopicPartitionOffsets(group,
            [new TopicPartitionOffset(consumed, 0, 1), new TopicPartitionOffset(other, 0, 2), new TopicPartitionOffset(other, 1, 3)])]);
        using var consumer = new ConsumerBuilder<Ignore, Ignore>(new ConsumerConfig
        {
            BootstrapServers = cluster.BootstrapServers,
            GroupId = group,
            EnableAutoCommit = false,
        }).Build();
        await SubscribeAsync(consumer, consumed, partitions: 1);

        var refused = await Assert.ThrowsAsync<DeleteConsumerGroupOffsetsException>(() =>
            admin.DeleteConsumerGroupOffsetsAsync(group, [new TopicPartition(consumed, 0), new TopicPartition(other, 0)]));
        var left = await CommittedAsync(admin, group, consumed, other);
        consumer.Close();
        var deleted = await admin.DeleteConsumerGroupOffsetsAsync(group, [new TopicPartition(consumed, 0)]);
        // librdkafka fails the whole call on the group's error.
        var unknown = await Assert.ThrowsAsync<KafkaException>(() =>
            admin.DeleteConsumerGroupOffsetsAsync("no-such-" + group, [new TopicPartition(other, 0)]));

        var byTopic = refused.Result.Partitions.ToDictionary(p => p.Topic, p => p.Error.Code);
        Assert.Equal(Confluent.Kafka.ErrorCode.GroupSubscribedToTopic, byTopic[consumed]);
        Assert.Equal(Confluent.Kafka.ErrorCode.NoError, byTopic[other]);
        var none = Offset.Unset.Value;
        Assert.Equal([1L, none, 3L], left);
        Assert.Equal(new TopicPartition(consumed, 0), Assert.Single(deleted.Partitions));
        var after = await CommittedAsync(admin, group, consumed, other);
        Assert.Equal([none, none, 3L], after);
        Assert.Equal(Confluent.Kafka.ErrorCode.GroupIdNotFound, unknown.Error.Code);
    }

    /// <summary>
    /// Our SDK's calls of Confluent.Kafka's shapes beside Confluent's own, on one group: offsets one client alters the
    /// other lists, a simple group is described alike, and a group that does not exist is answered alike (no offsets,
    /// GroupIdNotFound from OffsetDelete); describing it is our documented departure (librdkafka's DescribeGroups v5 says
    /// Dead without error).
    /// </summary>
    [Fact]
    public async Task Group_offsets_altered_by_our_SDK_are_listed_by_Confluent_and_the_other_way_round()
    {
        var topic = await cluster.CreateTopicAsync("sdkgroupoffsets", partitions: 2);
        var group = "so-" + Guid.NewGuid().ToString("N");
        var missing = "so-none-" + Guid.NewGuid().ToString("N");
        var (p0, p1) = (new OrleansStream.TopicPartition(topic, 0), new OrleansStream.TopicPartition(topic, 1));
        using var confluent = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = cluster.BootstrapServers }).Build();
        using var sdk = new Sdk.AdminClientBuilder(cluster.Silos.Client).Build();

        await sdk.AlterConsumerGroupOffsetsAsync([new Sdk.ConsumerGroupTopicPartitionOffsets(group,
            [new OrleansStream.TopicPartitionOffset(p0, 3), new OrleansStream.TopicPartitionOffset(p1, 4)])]);
        var listedByConfluent = Assert.Single(await confluent.ListConsumerGroupOffsetsAsync([new ConsumerGroupTopicPartitions(group, null)]));
        await confluent.AlterConsumerGroupOffsetsAsync([new ConsumerGroupTopicPartitionOffsets(group, [new TopicPartitionOffset(topic, 1, 9)])]);
        var listedBySdk = Assert.Single(await sdk.ListConsumerGroupOffsetsAsync([new Sdk.ConsumerGroupTopicPartitions(group, [p0, p1])]));
        var describedByConfluent = Assert.Single((await confluent.DescribeConsumerGroupsAsync([group])).ConsumerGroupDescriptions);
        var describedBySdk = Assert.Single((await sdk.DescribeConsumerGroupsAsync([group])).ConsumerGroupDescriptions);
        var noneForConfluent = Assert.Single(await confluent.ListConsumerGroupOffsetsAsync([new ConsumerGroupTopicPartitions(missing, [new TopicPartition(topic, 0)])]));
        var noneForSdk = Assert.Single(await sdk.ListConsumerGroupOffsetsAsync([new Sdk.ConsumerGroupTopicPartitions(missing, [p0])]));
        var deleteByConfluent = await Assert.ThrowsAsync<KafkaException>(() => confluent.DeleteConsumerGroupOffsetsAsync(missing, [new TopicPartition(topic, 0)]));
        var deleteBySdk = await Assert.ThrowsAsync<Sdk.KafkaException>(() => sdk.DeleteConsumerGroupOffsetsAsync(missing, [p0]));
        var deadForConfluent = Assert.Single((await confluent.DescribeConsumerGroupsAsync([missing])).ConsumerGroupDescriptions);
        var notFoundForSdk = await Assert.ThrowsAsync<Sdk.Admin.DescribeConsumerGroupsException>(() => sdk.DescribeConsumerGroupsAsync([missing]));

        Assert.Equal([(0, 3L), (1, 4L)], listedByConfluent.Partitions.Select(p => (p.Partition.Value, p.Offset.Value)).Order());
        Assert.Equal([3L, 9L], listedBySdk.Partitions.Select(p => p.Offset));
        Assert.Equal((ConsumerGroupState.Empty, true), (describedByConfluent.State, describedByConfluent.IsSimpleConsumerGroup));
        Assert.Equal((Sdk.ConsumerGroupState.Empty, true), (describedBySdk.State, describedBySdk.IsSimpleConsumerGroup));
        Assert.Equal(Offset.Unset.Value, Assert.Single(noneForConfluent.Partitions).Offset.Value);
        Assert.Equal(Sdk.Offset.Unset, Assert.Single(noneForSdk.Partitions).Offset);
        Assert.Equal(Confluent.Kafka.ErrorCode.GroupIdNotFound, deleteByConfluent.Error.Code);
        Assert.Equal(OrleansStream.ErrorCode.GroupIdNotFound, deleteBySdk.Error.Code);
        Assert.Equal((ConsumerGroupState.Dead, false), (deadForConfluent.State, deadForConfluent.Error.IsError));
        Assert.Equal(OrleansStream.ErrorCode.GroupIdNotFound, notFoundForSdk.Error.Code);
    }

    /// <summary>Subscribes and polls until the consumer owns the topic's <paramref name="partitions"/>.</summary>
    /// <summary>A consumer of <paramref name="group"/> from the earliest offsets, once it holds its <paramref name="partitions"/> of <paramref name="topic"/>.</summary>
    private async Task<IConsumer<Ignore, Ignore>> SubscribedAsync(string group, string topic, int partitions, Action<ConsumerConfig> configure)
    {
        var config = new ConsumerConfig { BootstrapServers = cluster.BootstrapServers, GroupId = group, AutoOffsetReset = AutoOffsetReset.Earliest };
        configure(config);
        var consumer = new ConsumerBuilder<Ignore, Ignore>(config).Build();
        await SubscribeAsync(consumer, topic, partitions);
        return consumer;
    }

    private static async Task SubscribeAsync(IConsumer<Ignore, Ignore> consumer, string topic, int partitions)
    {
        consumer.Subscribe(topic);
        await Eventually.WaitUntilAsync(() =>
        {
            consumer.Consume(TimeSpan.FromMilliseconds(100));
            return consumer.Assignment.Count == partitions;
        }, $"the consumer gets {partitions} partitions of {topic}", Wait);
    }

    /// <summary>The group's committed offsets of consumed:0, other:0 and other:1 (<see cref="Offset.Unset"/> where none).</summary>
    private static async Task<long[]> CommittedAsync(IAdminClient admin, string group, string consumed, string other)
    {
        var result = await admin.ListConsumerGroupOffsetsAsync([new ConsumerGroupTopicPartitions(group,
            [new TopicPartition(consumed, 0), new TopicPartition(other, 0), new TopicPartition(other, 1)])]);
        return [.. result.Single().Partitions.Select(p => p.Offset.Value)];
    }
}
