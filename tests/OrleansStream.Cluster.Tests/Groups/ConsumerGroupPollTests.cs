using OrleansStream.Client;

namespace OrleansStream.Cluster.Tests.Groups;

/// <summary>Group members reading with Poll: auto commit, a rebalance in the middle and the committed offsets at the end.</summary>
[Collection(GroupCollection.Name)]
public sealed class ConsumerGroupPollTests(GroupFixture fixture)
{
    [Fact]
    public async Task Members_reading_with_Poll_rebalance_midway_miss_nothing_and_commit_every_partition_to_its_end()
    {
        var topic = GroupFixture.Unique("gpoll");
        var group = GroupFixture.Unique("g-gpoll");
        await fixture.CreateTopicAsync(topic, 4);
        await fixture.ProduceAsync(topic, 0, 2000);
        var revocations = new List<TopicPartitionOffset>();
        var read = new List<(TopicPartition Tp, long Offset, string Value, string Member)>();
        IConsumer<string, string> Member() => new ConsumerBuilder<string, string>(fixture.Client, fixture.GroupConfig(group))
            .SetPartitionsRevokedHandler((_, revoked) => revocations.AddRange(revoked))
            .Build();
        void PollOnce(IConsumer<string, string> consumer, string name)
        {
            foreach (var record in consumer.Poll(50))
                read.Add((record.TopicPartition, record.Offset, System.Text.Encoding.UTF8.GetString(record.Value), name));
        }
        int Distinct() => read.Select(r => r.Value).Distinct().Count();

        using var a = Member();
        a.Subscribe(topic);
        await Eventually.WaitUntilAsync(() =>
        {
            PollOnce(a, "a");
            return read.Count >= 500;
        }, "a reads 500 records alone", TimeSpan.FromSeconds(60));
        Assert.Equal(4, a.Assignment.Count);

        // b joins while a is midway: the group rebalances (eager: a commits what it handed out and gives everything back).
        using var b = Member();
        b.Subscribe(topic);
        var producing = fixture.ProduceAsync(topic, 2000, 1000);
        await Eventually.WaitUntilAsync(() =>
        {
            PollOnce(a, "a");
            PollOnce(b, "b");
            return producing.IsCompleted && a.Assignment.Count == 2 && b.Assignment.Count == 2;
        }, "a and b split the partitions", TimeSpan.FromSeconds(60));
        await producing;
        // On a slow machine a may have read everything before the rebalance ended: what is produced after it is read
        // by both, each from its own partitions.
        producing = fixture.ProduceAsync(topic, 3000, 400);
        await Eventually.WaitUntilAsync(() =>
        {
            PollOnce(a, "a");
            PollOnce(b, "b");
            return producing.IsCompleted && Distinct() == 3400;
        }, "a and b read all 3400 records", TimeSpan.FromSeconds(60));
        await producing;
        Assert.Contains(read, r => r.Member == "b");

        // Closing commits what each handed out: every partition's committed offset is its end.
        a.Close();
        b.Close();
        using var check = new ConsumerBuilder<string, string>(fixture.Client, fixture.GroupConfig(group)).Build();
        var partitions = Enumerable.Range(0, 4).Select(p => new TopicPartition(topic, p)).ToList();
        var committed = check.Committed(partitions, TimeSpan.FromSeconds(10));
        foreach (var c in committed)
            Assert.Equal(check.QueryWatermarkOffsets(c.TopicPartition, TimeSpan.FromSeconds(10)).High, c.Offset);

        // A record handed out twice lies at or after the offset committed when its partition was revoked; within one
        // member a partition's records come once each, in order.
        foreach (var dup in read.GroupBy(r => (r.Tp, r.Offset)).Where(g => g.Count() > 1))
            Assert.Contains(revocations, r => r.TopicPartition == dup.Key.Tp && (r.Offset < 0 || r.Offset <= dup.Key.Offset));
        foreach (var byMember in read.GroupBy(r => (r.Member, r.Tp)))
        {
            var offsets = byMember.Select(r => r.Offset).ToList();
            Assert.Equal(offsets.Order().Distinct().ToList(), offsets);
        }
    }

    [Fact]
    public async Task Auto_commits_and_commits_of_one_member_go_one_at_a_time_so_the_last_commit_stands()
    {
        // Two grain calls in flight to one group are not ordered: an auto commit taken at the start of a Poll and a
        // commit of what that Poll returned, both in flight, could reach the group in either order and leave the older
        // offset committed. The consumer sends one at a time.
        var topic = GroupFixture.Unique("gorder");
        var group = GroupFixture.Unique("g-gorder");
        await fixture.CreateTopicAsync(topic, 2);
        var produced = 300;
        await fixture.ProduceAsync(topic, 0, produced);
        var config = fixture.GroupConfig(group);
        config.AutoCommitIntervalMs = 1;
        using var consumer = new ConsumerBuilder<string, string>(fixture.Client, config).Build();
        consumer.Subscribe(topic);
        var read = 0;
        var commits = 0;
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(120);
        while (true)
        {
            await Eventually.WaitUntilAsync(() =>
            {
                if (consumer.Consume(TimeSpan.FromMilliseconds(200)) is null) return false;
                // Every second record: the Consume that returned it started an auto commit of the one before, which is on
                // its way as this commit is sent.
                if (++read % 2 == 0 && consumer.Commit().Count > 0) commits++;
                return read == produced;
            }, $"the consumer reads {produced} records, committing every second one", TimeSpan.FromSeconds(60));
            // An auto commit runs on the thread pool and sends what is still uncommitted when it runs: on a loaded
            // machine every one of a round may find the next commit already sent it. Without one sent the round proved
            // nothing, so more records make another round.
            if (fixture.Commits.Of(group).Sent > commits) break;
            Assert.True(DateTime.UtcNow < deadline, $"no auto commit was sent beside the {commits} commits");
            await fixture.ProduceAsync(topic, produced, 100);
            produced += 100;
        }

        var (mostInFlight, sent) = fixture.Commits.Of(group);
        Assert.True(sent > commits, $"auto commits were sent beside the {commits} commits ({sent} in all)");
        Assert.Equal(1, mostInFlight);
        var partitions = new[] { new TopicPartition(topic, 0), new TopicPartition(topic, 1) };
        foreach (var c in consumer.Committed(partitions, TimeSpan.FromSeconds(10)))
            Assert.Equal(consumer.QueryWatermarkOffsets(c.TopicPartition, TimeSpan.FromSeconds(10)).High, c.Offset);
    }
}
