using OrleansStream.Client;

namespace OrleansStream.Cluster.Tests.Groups;

/// <summary>
/// The SDK's consumer in Kafka's consumer group protocol (KIP-848, <see cref="GroupProtocol.Consumer"/>): the coordinator
/// assigns, members apply what their heartbeats bring inside Consume, revoke (committing) before others take over, and
/// commit with their member epoch.
/// </summary>
[Collection(GroupCollection.Name)]
public sealed class ConsumerProtocolTests(GroupFixture fixture)
{
    private ConsumerConfig Config(string group)
    {
        var config = fixture.GroupConfig(group);
        config.GroupProtocol = GroupProtocol.Consumer;
        return config;
    }

    /// <summary>Polls each consumer in turn, recording what it read, until <paramref name="done"/> holds.</summary>
    private static Task PollUntilAsync(Func<bool> done, string what, List<(TopicPartition Tp, long Offset, string Value)> read, params IConsumer<string, string>[] consumers) =>
        Eventually.WaitUntilAsync(() =>
        {
            foreach (var c in consumers)
                if (c.Consume(TimeSpan.FromMilliseconds(50)) is { Message: { } m } r) read.Add((r.TopicPartition, r.Offset, m.Value));
            return Task.FromResult(done());
        }, what, TimeSpan.FromSeconds(60));

    [Fact]
    public async Task The_offsets_of_a_consumer_group_with_members_are_not_reset_and_once_it_is_empty_they_are()
    {
        var topic = GroupFixture.Unique("kip848-reset");
        var group = fixture.Client.GetGrain<IConsumerGroupGrain>(GroupFixture.Unique("g-kip848-reset"));
        await fixture.CreateTopicAsync(topic, 1);
        var member = Guid.NewGuid().ToString("N");
        var joined = await group.ConsumerGroupHeartbeat(new ConsumerGroupHeartbeatRequest(member, 0, null, null, 30_000, [topic], null, null, []));
        Assert.Equal(ErrorCode.None, joined.Error);
        OffsetToCommit[] reset = [new(new TopicPartition(topic, 0), 5)];

        var refused = await group.ResetOffsets(reset);
        Assert.Equal(ErrorCode.None, (await group.ConsumerGroupHeartbeat(new ConsumerGroupHeartbeatRequest(member, -1, null, null, -1, null, null, null, null))).Error);
        var taken = await group.ResetOffsets(reset);

        Assert.Equal(ErrorCode.NonEmptyGroup, refused.Error);
        Assert.Equal(ErrorCode.None, taken.Error);
        Assert.Equal(5, Assert.Single((await group.OffsetFetch(new OffsetFetchRequest([new TopicPartition(topic, 0)]))).Offsets).Offset);
    }

    [Fact]
    public async Task Members_split_the_partitions_the_coordinator_assigns_and_take_over_a_leaving_members_share_from_its_commits()
    {
        var topic = GroupFixture.Unique("kip848");
        var group = GroupFixture.Unique("g-kip848");
        await fixture.CreateTopicAsync(topic, 6);
        await fixture.ProduceAsync(topic, 0, 300);
        var read = new List<(TopicPartition Tp, long Offset, string Value)>();
        var revoked = new List<TopicPartitionOffset>();

        IConsumer<string, string> Member() => new ConsumerBuilder<string, string>(fixture.Client, Config(group))
            .SetPartitionsRevokedHandler((_, ps) => revoked.AddRange(ps))
            .Build();
        using var a = Member();
        using var b = Member();
        using var c = Member();
        foreach (var m in (IConsumer<string, string>[])[a, b, c]) m.Subscribe(topic);

        bool Split(params IConsumer<string, string>[] members) =>
            members.All(m => m.Assignment.Count == 6 / members.Length) && members.SelectMany(m => m.Assignment).Distinct().Count() == 6;
        await PollUntilAsync(() => Split(a, b, c) && read.Select(r => r.Value).Distinct().Count() == 300, "three members split six partitions and read the 300 records", read, a, b, c);

        var grain = fixture.Client.GetGrain<IConsumerGroupGrain>(group);
        var described = await grain.DescribeConsumerGroup();
        Assert.Equal(ErrorCode.None, described.Error);
        Assert.Equal(3, described.Members.Count);

        // One closes (commits, revokes, leaves); the other two take its partitions from what it committed.
        a.Close();
        await fixture.ProduceAsync(topic, 300, 300);
        await PollUntilAsync(() => Split(b, c) && read.Select(r => r.Value).Distinct().Count() == 600, "two members split six partitions and read every record", read, b, c);
        await Eventually.WaitUntilAsync(async () => (await grain.DescribeConsumerGroup()) is { GroupState: "Stable", Members.Count: 2 }, "the group is stable with two members");

        // At least once, and a record read twice lies at or after the offset its partition was revoked at.
        Assert.Equal(Enumerable.Range(0, 600).Select(i => i.ToString()).ToHashSet(), read.Select(r => r.Value).ToHashSet());
        foreach (var dup in read.GroupBy(r => (r.Tp, r.Offset)).Where(g => g.Count() > 1))
            Assert.Contains(revoked, r => r.TopicPartition == dup.Key.Tp && (r.Offset < 0 || r.Offset <= dup.Key.Offset));

        // The SDK's admin client shows it as a consumer group with Kafka's state name.
        using (var admin = new AdminClientBuilder(fixture.Client).Build())
        {
            var listing = Assert.Single((await admin.ListConsumerGroupsAsync()).Valid, g => g.GroupId == group);
            Assert.Equal((ConsumerGroupType.Consumer, "Stable", ConsumerGroupState.Stable), (listing.Type, listing.StateName, listing.State));
            var description = Assert.Single((await admin.DescribeConsumerGroupsAsync([group])).ConsumerGroupDescriptions);
            Assert.Equal((ConsumerGroupType.Consumer, "uniform", 2), (description.GroupType, description.PartitionAssignor, description.Members.Count));
            // Confluent.Kafka's TargetAssignment: the coordinator's target for each member, which a stable group's members hold.
            Assert.All(description.Members, m => Assert.Equal(m.Assignment.TopicPartitions.OrderBy(tp => tp.Partition), m.TargetAssignment!.TopicPartitions.OrderBy(tp => tp.Partition)));
            Assert.Equal(6, description.Members.Sum(m => m.TargetAssignment!.TopicPartitions.Count));
        }

        // Commits carry the member epoch: the group has every offset.
        b.Commit();
        c.Commit();
        var committed = b.Committed(Enumerable.Range(0, 6).Select(p => new TopicPartition(topic, p)), TimeSpan.FromSeconds(10));
        Assert.Equal(600, committed.Sum(o => o.Offset));
        b.Close();
        c.Close();
        await Eventually.WaitUntilAsync(async () => (await grain.DescribeConsumerGroup()) is { GroupState: "Empty" }, "the group is empty");
    }
}
