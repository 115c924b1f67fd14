using OrleansStream.Client;
using OrleansStream.Client.Admin;

namespace OrleansStream.Cluster.Tests.Groups;

[Collection(GroupCollection.Name)]
public sealed class GroupAdminTests(GroupFixture fixture)
{
    [Fact]
    public async Task List_describe_lag_reset_and_delete()
    {
        var topic = GroupFixture.Unique("admin");
        var group = GroupFixture.Unique("g-admin");
        await fixture.CreateTopicAsync(topic, 2);
        await fixture.ProduceAsync(topic, 0, 40);
        using var admin = new AdminClientBuilder(fixture.Client).Build();

        var missing = await Assert.ThrowsAsync<ConsumerGroupException>(() => admin.DescribeConsumerGroupsAsync([group]));
        Assert.Equal(ErrorCode.GroupIdNotFound, missing.Error.Code);

        var config = fixture.GroupConfig(group);
        config.EnableAutoCommit = false;
        using var consumer = new ConsumerBuilder<string, string>(fixture.Client, config).Build();
        consumer.Subscribe(topic);
        var seen = 0;
        await Eventually.WaitUntilAsync(() =>
        {
            if (consumer.Consume(TimeSpan.FromMilliseconds(100))?.Message is not null) seen++;
            return Task.FromResult(seen == 10);
        }, "ten records");
        consumer.Commit();

        Assert.Contains(group, (await admin.ListConsumerGroupsAsync()).Valid.Select(g => g.GroupId));
        // Confluent.Kafka's MatchStates and MatchTypes: this group is a classic one, Stable.
        Assert.Contains(group, (await admin.ListConsumerGroupsAsync(new ListConsumerGroupsOptions { MatchStates = [GroupState.Stable, GroupState.Empty], MatchTypes = [ConsumerGroupType.Classic] })).Valid.Select(g => g.GroupId));
        Assert.DoesNotContain(group, (await admin.ListConsumerGroupsAsync(new ListConsumerGroupsOptions { MatchStates = [GroupState.Empty] })).Valid.Select(g => g.GroupId));
        Assert.DoesNotContain(group, (await admin.ListConsumerGroupsAsync(new ListConsumerGroupsOptions { MatchTypes = [ConsumerGroupType.Consumer] })).Valid.Select(g => g.GroupId));
        var d = Assert.Single((await admin.DescribeConsumerGroupsAsync([group])).ConsumerGroupDescriptions);
        Assert.Equal(GroupState.Stable, d.State);
        Assert.Equal("range", d.PartitionAssignor);
        Assert.Equal(2, Assert.Single(d.Members).Assignment.Count);

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
        await admin.AlterConsumerGroupOffsetsAsync(empty, [new TopicPartitionOffset(new TopicPartition(topic, 0), 2)]);
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
}
