using OrleansStream.Client;
using OrleansStream.Client.Admin;

namespace OrleansStream.Cluster.Tests.Groups;

[Collection(GroupCollection.Name)]
public sealed class GroupAdminTests(GroupFixture fixture)
{
    /// <summary>A member of <paramref name="group"/> that read ten records of <paramref name="topic"/> and committed them; it stays in the group.</summary>
    private async Task<IConsumer<string, string>> MemberThatCommittedTenAsync(string group, string topic)
    {
        var config = fixture.GroupConfig(group);
        config.EnableAutoCommit = false;
        var consumer = new ConsumerBuilder<string, string>(fixture.Client, config).Build();
        consumer.Subscribe(topic);
        var seen = 0;
        await Eventually.WaitUntilAsync(() =>
        {
            if (consumer.Consume(TimeSpan.FromMilliseconds(100))?.Message is not null) seen++;
            return Task.FromResult(seen == 10);
        }, "ten records");
        consumer.Commit();
        return consumer;
    }

    [Fact]
    public async Task List_describe_lag_reset_and_delete()
    {
        var topic = GroupFixture.Unique("admin");
        var group = GroupFixture.Unique("g-admin");
        await fixture.CreateTopicAsync(topic, 2);
        await fixture.ProduceAsync(topic, 0, 40);
        using var admin = new AdminClientBuilder(fixture.Client).Build();

        var missing = await Assert.ThrowsAsync<DescribeConsumerGroupsException>(() => admin.DescribeConsumerGroupsAsync([group]));
        Assert.Equal(ErrorCode.GroupIdNotFound, missing.Error.Code);
        Assert.Equal(ErrorCode.GroupIdNotFound, Assert.Single(missing.Results.ConsumerGroupDescriptions).Error.Code);

        using var consumer = await MemberThatCommittedTenAsync(group, topic);

        Assert.Contains(group, (await admin.ListConsumerGroupsAsync()).Valid.Select(g => g.GroupId));
        // Confluent.Kafka's MatchStates and MatchTypes: this group is a classic one, Stable.
        Assert.Contains(group, (await admin.ListConsumerGroupsAsync(new ListConsumerGroupsOptions { MatchStates = [ConsumerGroupState.Stable, ConsumerGroupState.Empty], MatchTypes = [ConsumerGroupType.Classic] })).Valid.Select(g => g.GroupId));
        Assert.DoesNotContain(group, (await admin.ListConsumerGroupsAsync(new ListConsumerGroupsOptions { MatchStates = [ConsumerGroupState.Empty] })).Valid.Select(g => g.GroupId));
        Assert.DoesNotContain(group, (await admin.ListConsumerGroupsAsync(new ListConsumerGroupsOptions { MatchTypes = [ConsumerGroupType.Consumer] })).Valid.Select(g => g.GroupId));
        var d = Assert.Single((await admin.DescribeConsumerGroupsAsync([group])).ConsumerGroupDescriptions);
        Assert.Equal(ConsumerGroupState.Stable, d.State);
        Assert.Equal("range", d.PartitionAssignor);
        Assert.Equal(2, Assert.Single(d.Members).Assignment.TopicPartitions.Count);

        var offsets = await admin.ListConsumerGroupOffsetsAsync(group);
        Assert.Equal(2, offsets.Partitions.Count);
        Assert.Equal(40, offsets.Partitions.Sum(p => p.LogEndOffset));
        Assert.Equal(30, offsets.Partitions.Sum(p => p.Lag < 0 ? p.LogEndOffset : p.Lag));
        Assert.All(offsets.Partitions, p => Assert.Equal(consumer.MemberId, p.ConsumerId));

        var busy = await Assert.ThrowsAsync<ConsumerGroupException>(() => admin.ResetConsumerGroupOffsetsAsync(group, topic, Offset.End));
        Assert.Equal(ErrorCode.NonEmptyGroup, busy.Error.Code);
        Assert.Equal(ErrorCode.NonEmptyGroup, (await Assert.ThrowsAsync<ConsumerGroupException>(() => admin.DeleteConsumerGroupsAsync([group]))).Error.Code);

        consumer.Close();
        var reset = await admin.ResetConsumerGroupOffsetsAsync(group, topic, Offset.End);
        Assert.Equal(40, reset.Sum(o => o.Offset));
        Assert.All((await admin.ListConsumerGroupOffsetsAsync(group)).Partitions, p => Assert.Equal(0, p.Lag));
        var early = await admin.ResetConsumerGroupOffsetsAsync(group, topic, 1_000_000);
        Assert.Equal(40, early.Sum(o => o.Offset)); // clamped to the log end

        await admin.DeleteConsumerGroupsAsync([group]);
        Assert.DoesNotContain(group, (await admin.ListConsumerGroupsAsync()).Valid.Select(g => g.GroupId));
    }

    [Fact]
    public async Task DeleteGroups_tries_every_group_and_reports_each_as_Confluent_does()
    {
        var topic = GroupFixture.Unique("delgroups");
        var (empty, missing, busy) = (GroupFixture.Unique("g-empty"), GroupFixture.Unique("g-missing"), GroupFixture.Unique("g-busy"));
        await fixture.CreateTopicAsync(topic, 1);
        await fixture.ProduceAsync(topic, 0, 5);
        using var admin = new AdminClientBuilder(fixture.Client).Build();
        // A group with offsets and no member; another with a member.
        await admin.AlterConsumerGroupOffsetsAsync([new ConsumerGroupTopicPartitionOffsets(empty, [new TopicPartitionOffset(new TopicPartition(topic, 0), 2)])]);
        using var consumer = new ConsumerBuilder<string, string>(fixture.Client, fixture.GroupConfig(busy)).Build();
        consumer.Subscribe(topic);
        await Eventually.WaitUntilAsync(() =>
        {
            consumer.Consume(TimeSpan.FromMilliseconds(100));
            return Task.FromResult(consumer.Assignment.Count == 1);
        }, "the busy group's member has its partition");

        var refused = await Assert.ThrowsAsync<DeleteGroupsException>(() => admin.DeleteGroupsAsync([empty, missing, busy]));

        Assert.Equal([(empty, ErrorCode.None), (missing, ErrorCode.GroupIdNotFound), (busy, ErrorCode.NonEmptyGroup)],
            refused.Results.Select(static r => (r.Group, r.Error.Code)));
        Assert.Equal(ErrorCode.GroupIdNotFound, refused.Error.Code);
        var listed = (await admin.ListConsumerGroupsAsync()).Valid.Select(static g => g.GroupId).ToList();
        Assert.DoesNotContain(empty, listed);
        Assert.Contains(busy, listed);

        consumer.Close();
        await admin.DeleteGroupsAsync([busy]);
        Assert.DoesNotContain(busy, (await admin.ListConsumerGroupsAsync()).Valid.Select(static g => g.GroupId));
    }

    [Fact]
    public async Task Confluents_offset_calls_list_alter_and_delete_a_consumer_groups_committed_offsets()
    {
        var (topic, other) = (GroupFixture.Unique("cgo"), GroupFixture.Unique("cgo-other"));
        var group = GroupFixture.Unique("g-cgo");
        await fixture.CreateTopicAsync(topic, 2);
        await fixture.CreateTopicAsync(other, 1);
        await fixture.ProduceAsync(topic, 0, 40);
        await fixture.ProduceAsync(other, 0, 5);
        var (t0, t1, o0) = (new TopicPartition(topic, 0), new TopicPartition(topic, 1), new TopicPartition(other, 0));
        using var admin = new AdminClientBuilder(fixture.Client).Build();

        // A group with no members takes offsets; a partition that does not exist is refused alone.
        var refused = await Assert.ThrowsAsync<AlterConsumerGroupOffsetsException>(() => admin.AlterConsumerGroupOffsetsAsync(
            [new ConsumerGroupTopicPartitionOffsets(group, [new TopicPartitionOffset(o0, 3), new TopicPartitionOffset(new TopicPartition(other, 7), 1)])]));
        Assert.Equal([(o0, ErrorCode.None), (new TopicPartition(other, 7), ErrorCode.UnknownTopicOrPartition)],
            Assert.Single(refused.Results).Partitions.Select(static p => (p.TopicPartition, p.Error.Code)));
        Assert.Equal(ErrorCode.UnknownTopicOrPartition, refused.Error.Code);

        using var consumer = await MemberThatCommittedTenAsync(group, topic);
        var committed = consumer.Committed([t0, t1], TimeSpan.FromSeconds(10));

        var all = Assert.Single(await admin.ListConsumerGroupOffsetsAsync([new ConsumerGroupTopicPartitions(group, null)]));
        var named = Assert.Single(await admin.ListConsumerGroupOffsetsAsync([new ConsumerGroupTopicPartitions(group, [o0, t1, t0])]));
        var busy = await Assert.ThrowsAsync<AlterConsumerGroupOffsetsException>(() =>
            admin.AlterConsumerGroupOffsetsAsync([new ConsumerGroupTopicPartitionOffsets(group, [new TopicPartitionOffset(t0, 0), new TopicPartitionOffset(o0, 0)])]));
        var subscribed = await Assert.ThrowsAsync<DeleteConsumerGroupOffsetsException>(() => admin.DeleteConsumerGroupOffsetsAsync(group, [t0, o0]));
        var afterRefusal = Assert.Single(await admin.ListConsumerGroupOffsetsAsync([new ConsumerGroupTopicPartitions(group, [t0, o0])]));

        Assert.Equal(group, all.Group);
        var byPartition = all.Partitions.ToDictionary(static p => p.TopicPartition, static p => p.Offset);
        Assert.Equal(10, byPartition.Where(p => p.Key.Topic == topic).Sum(static p => p.Value));
        Assert.Equal(3, byPartition[o0]);
        Assert.Equal([o0, t1, t0], named.Partitions.Select(static p => p.TopicPartition));
        Assert.All(named.Partitions, static p => Assert.False(p.Error.IsError));
        foreach (var c in committed)
            Assert.Equal(c.Offset, named.Partitions.Single(p => p.TopicPartition == c.TopicPartition).Offset);
        Assert.All(Assert.Single(busy.Results).Partitions, static p => Assert.Equal(ErrorCode.NonEmptyGroup, p.Error.Code));
        Assert.Equal([(t0, ErrorCode.GroupSubscribedToTopic), (o0, ErrorCode.None)], subscribed.Result.Partitions.Select(static p => (p.TopicPartition, p.Error.Code)));
        Assert.Equal(ErrorCode.GroupSubscribedToTopic, subscribed.Error.Code);
        // The unsubscribed topic's offset went; the subscribed one's stayed.
        Assert.Equal([named.Partitions[2].Offset, Offset.Unset], afterRefusal.Partitions.Select(static p => p.Offset));

        consumer.Close();
        var deleted = await admin.DeleteConsumerGroupOffsetsAsync(group, [t0]);
        var altered = Assert.Single(await admin.AlterConsumerGroupOffsetsAsync([new ConsumerGroupTopicPartitionOffsets(group, [new TopicPartitionOffset(t1, 1)])]));
        var final = Assert.Single(await admin.ListConsumerGroupOffsetsAsync([new ConsumerGroupTopicPartitions(group, [t0, t1])]));

        Assert.Equal(group, deleted.Group);
        Assert.Equal([t0], deleted.Partitions);
        Assert.Equal((group, t1, 1L), (altered.Group, Assert.Single(altered.Partitions).TopicPartition, altered.Partitions[0].Offset));
        Assert.Equal([Offset.Unset, 1L], final.Partitions.Select(static p => p.Offset));
    }

    [Fact]
    public async Task Confluents_offset_calls_refuse_what_librdkafka_refuses_and_answer_an_unknown_group_as_Kafka_does()
    {
        var topic = GroupFixture.Unique("cgo-bad");
        var missing = GroupFixture.Unique("g-none");
        await fixture.CreateTopicAsync(topic, 1);
        var tp = new TopicPartition(topic, 0);
        using var admin = new AdminClientBuilder(fixture.Client).Build();

        // Exactly one group, a partition once, a non-empty list, offsets >= 0 (librdkafka's checks).
        await Assert.ThrowsAsync<ArgumentException>(() => admin.ListConsumerGroupOffsetsAsync(
            [new ConsumerGroupTopicPartitions(missing, [tp]), new ConsumerGroupTopicPartitions(missing + "2", [tp])]));
        await Assert.ThrowsAsync<ArgumentException>(() => admin.ListConsumerGroupOffsetsAsync([new ConsumerGroupTopicPartitions(missing, [tp, tp])]));
        await Assert.ThrowsAsync<ArgumentException>(() => admin.ListConsumerGroupOffsetsAsync([new ConsumerGroupTopicPartitions(missing, [])]));
        await Assert.ThrowsAsync<ArgumentException>(() => admin.AlterConsumerGroupOffsetsAsync([]));
        await Assert.ThrowsAsync<ArgumentException>(() => admin.AlterConsumerGroupOffsetsAsync(
            [new ConsumerGroupTopicPartitionOffsets(missing, [new TopicPartitionOffset(tp, 1), new TopicPartitionOffset(tp, 2)])]));
        await Assert.ThrowsAsync<ArgumentException>(() => admin.AlterConsumerGroupOffsetsAsync(
            [new ConsumerGroupTopicPartitionOffsets(missing, [new TopicPartitionOffset(tp, Offset.End)])]));
        await Assert.ThrowsAsync<ArgumentException>(() => admin.DescribeConsumerGroupsAsync([]));
        await Assert.ThrowsAsync<ArgumentException>(() => admin.DescribeConsumerGroupsAsync([missing, missing]));

        // Kafka answers a group that does not exist with no offsets and no error; OffsetDelete fails the call on it.
        var none = Assert.Single(await admin.ListConsumerGroupOffsetsAsync([new ConsumerGroupTopicPartitions(missing, null)]));
        var unset = Assert.Single(await admin.ListConsumerGroupOffsetsAsync([new ConsumerGroupTopicPartitions(missing, [tp])]));
        var unknown = await Assert.ThrowsAsync<KafkaException>(() => admin.DeleteConsumerGroupOffsetsAsync(missing, [tp]));
        var invalid = await Assert.ThrowsAsync<KafkaException>(() => admin.ListConsumerGroupOffsetsAsync([new ConsumerGroupTopicPartitions(" ", [tp])]));

        Assert.Empty(none.Partitions);
        Assert.Equal((tp, Offset.Unset, false), (Assert.Single(unset.Partitions).TopicPartition, unset.Partitions[0].Offset, unset.Partitions[0].Error.IsError));
        Assert.Equal(ErrorCode.GroupIdNotFound, unknown.Error.Code);
        Assert.Equal(ErrorCode.InvalidGroupId, invalid.Error.Code);
    }

    [Fact]
    public async Task DescribeConsumerGroups_describes_each_member_and_reports_a_missing_group_beside_the_others()
    {
        var topic = GroupFixture.Unique("dcg");
        var (group, simple, missing) = (GroupFixture.Unique("g-dcg"), GroupFixture.Unique("g-simple"), GroupFixture.Unique("g-none"));
        await fixture.CreateTopicAsync(topic, 2);
        using var admin = new AdminClientBuilder(fixture.Client).Build();
        await admin.AlterConsumerGroupOffsetsAsync([new ConsumerGroupTopicPartitionOffsets(simple, [new TopicPartitionOffset(new TopicPartition(topic, 0), 0)])]);
        var config = fixture.GroupConfig(group);
        config.ClientId = "dcg-client";
        using var consumer = new ConsumerBuilder<string, string>(fixture.Client, config).Build();
        consumer.Subscribe(topic);
        await Eventually.WaitUntilAsync(() =>
        {
            consumer.Consume(TimeSpan.FromMilliseconds(100));
            return Task.FromResult(consumer.Assignment.Count == 2);
        }, "the member has both partitions");

        var described = await admin.DescribeConsumerGroupsAsync([group, simple], new DescribeConsumerGroupsOptions { IncludeAuthorizedOperations = true });
        var failed = await Assert.ThrowsAsync<DescribeConsumerGroupsException>(() => admin.DescribeConsumerGroupsAsync([group, missing]));
        var listed = (await admin.ListConsumerGroupsAsync(new ListConsumerGroupsOptions { MatchStates = [ConsumerGroupState.Empty] })).Valid;

        var (d, s) = (described.ConsumerGroupDescriptions[0], described.ConsumerGroupDescriptions[1]);
        Assert.Equal((group, ConsumerGroupState.Stable, ConsumerGroupType.Classic, false, "range"), (d.GroupId, d.State, d.GroupType, d.IsSimpleConsumerGroup, d.PartitionAssignor));
        var member = Assert.Single(d.Members);
        Assert.Equal(("dcg-client", consumer.MemberId, (string?)null, ""), (member.ClientId, member.ConsumerId, member.GroupInstanceId, member.Host));
        Assert.Equal([0, 1], member.Assignment.TopicPartitions.Select(static tp => tp.Partition).Order());
        Assert.Null(member.TargetAssignment);
        Assert.Equal([AclOperation.Read, AclOperation.Delete, AclOperation.Describe, AclOperation.DescribeConfigs, AclOperation.AlterConfigs], d.AuthorizedOperations);
        Assert.Equal((simple, ConsumerGroupState.Empty, true), (s.GroupId, s.State, s.IsSimpleConsumerGroup));
        Assert.Contains(listed, g => g.GroupId == simple && g.IsSimpleConsumerGroup);
        Assert.Equal([(group, ErrorCode.None), (missing, ErrorCode.GroupIdNotFound)],
            failed.Results.ConsumerGroupDescriptions.Select(static g => (g.GroupId, g.Error.Code)));
        Assert.Equal(ErrorCode.GroupIdNotFound, failed.Error.Code);
        Assert.Null((await admin.DescribeConsumerGroupsAsync([group])).ConsumerGroupDescriptions[0].AuthorizedOperations);
        consumer.Close();
    }
}
