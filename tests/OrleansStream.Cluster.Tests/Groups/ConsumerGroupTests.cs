using System.Collections.Concurrent;
using OrleansStream.Client;

namespace OrleansStream.Cluster.Tests.Groups;

/// <summary>Consumers in a group through the SDK: partitions split, rebalances, at-least-once delivery.</summary>
[Collection(GroupCollection.Name)]
public sealed class ConsumerGroupTests(GroupFixture fixture)
{
    /// <summary>One consumer on its own thread, recording what it processed and what it gave back.</summary>
    private sealed class Member : IDisposable
    {
        private readonly CancellationTokenSource _stop = new();
        private readonly Thread _thread;
        private volatile Exception? _failure;

        public Member(string name, IClusterClient client, ConsumerConfig config, Sink sink)
        {
            Name = name;
            Consumer = new ConsumerBuilder<string, string>(client, config)
                .SetPartitionsRevokedHandler((_, revoked) =>
                {
                    foreach (var tpo in revoked) sink.Revocations.Add(tpo);
                })
                .Build();
            Consumer.Subscribe(sink.Topic);
            _thread = new Thread(() =>
            {
                try
                {
                    while (!_stop.IsCancellationRequested)
                    {
                        var result = Consumer.Consume(TimeSpan.FromMilliseconds(100));
                        if (result?.Message is { } message)
                            sink.Processed.Add((result.TopicPartition, result.Offset, message.Value, name));
                    }
                    Consumer.Close();
                }
                catch (Exception ex)
                {
                    _failure = ex;
                }
            }) { IsBackground = true, Name = name };
            _thread.Start();
        }

        public string Name { get; }

        public IConsumer<string, string> Consumer { get; }

        /// <summary>Stops consuming and closes (commit, revoke, leave) on the consumer's own thread.</summary>
        public void Stop()
        {
            _stop.Cancel();
            Assert.True(_thread.Join(TimeSpan.FromSeconds(30)), $"{Name} did not stop");
            if (_failure is not null) throw new InvalidOperationException($"{Name} failed", _failure);
        }

        public void Dispose()
        {
            if (!_stop.IsCancellationRequested) Stop();
            Consumer.Dispose();
        }
    }

    private sealed class Sink(string topic)
    {
        public string Topic { get; } = topic;
        public ConcurrentBag<(TopicPartition Tp, long Offset, string Value, string Member)> Processed { get; } = [];
        public ConcurrentBag<TopicPartitionOffset> Revocations { get; } = [];
    }

    /// <summary>Waits until the group is stable with every partition owned by exactly one of <paramref name="members"/>.</summary>
    private async Task WaitForSplitAsync(string group, int partitions, params Member[] members)
    {
        var grain = fixture.Client.GetGrain<IConsumerGroupGrain>(group);
        await Eventually.WaitUntilAsync(async () =>
        {
            var d = await grain.Describe();
            if (d.State != GroupState.Stable || d.Members.Count != members.Length) return false;
            var owned = new List<TopicPartition>();
            foreach (var m in members) owned.AddRange(m.Consumer.Assignment);
            return owned.Count == partitions && owned.Distinct().Count() == partitions
                && members.All(m => m.Consumer.Assignment.Count > 0);
        }, $"{members.Length} members split {partitions} partitions", TimeSpan.FromSeconds(60));
    }

    private static async Task WaitForValuesAsync(Sink sink, int count) =>
        await Eventually.WaitUntilAsync(
            () => Task.FromResult(sink.Processed.Select(p => p.Value).Distinct().Count() >= count),
            $"{count} distinct records processed", TimeSpan.FromSeconds(60));

    [Fact]
    public async Task Six_partitions_three_then_four_then_three_members_process_every_record_at_least_once()
    {
        var topic = GroupFixture.Unique("split");
        var group = GroupFixture.Unique("g-split");
        await fixture.CreateTopicAsync(topic, 6);
        await fixture.ProduceAsync(topic, 0, 300);
        var sink = new Sink(topic);
        var config = fixture.GroupConfig(group);

        using var a = new Member("a", fixture.Client, config, sink);
        using var b = new Member("b", fixture.Client, config, sink);
        using var c = new Member("c", fixture.Client, config, sink);
        await WaitForSplitAsync(group, 6, a, b, c);
        Assert.All([a, b, c], m => Assert.Equal(2, m.Consumer.Assignment.Count));
        await WaitForValuesAsync(sink, 300);

        // A fourth member: the group rebalances over four; production continues meanwhile.
        var producing = fixture.ProduceAsync(topic, 300, 300);
        using var d = new Member("d", fixture.Client, config, sink);
        await WaitForSplitAsync(group, 6, a, b, c, d);
        await producing;
        await WaitForValuesAsync(sink, 600);

        // One leaves cleanly (commits, revokes, leaves): the other three take its partitions.
        a.Stop();
        await fixture.ProduceAsync(topic, 600, 300);
        await WaitForSplitAsync(group, 6, b, c, d);
        await WaitForValuesAsync(sink, 900);

        // Nothing lost; a record seen twice lies at or after the offset committed when its partition was revoked.
        var processed = sink.Processed.ToList();
        Assert.Equal(Enumerable.Range(0, 900).Select(i => i.ToString()).ToHashSet(), processed.Select(p => p.Value).ToHashSet());
        var revocations = sink.Revocations.ToList();
        foreach (var dup in processed.GroupBy(p => (p.Tp, p.Offset)).Where(g => g.Count() > 1))
            Assert.Contains(revocations, r => r.TopicPartition == dup.Key.Tp && (r.Offset < 0 || r.Offset <= dup.Key.Offset));

        // Each partition was read by one member at a time: per member, offsets within a partition only grow.
        foreach (var byMember in processed.GroupBy(p => (p.Member, p.Tp)))
        {
            var offsets = byMember.Select(p => p.Offset).ToList();
            Assert.Equal(offsets.Count, offsets.Distinct().Count());
        }
    }

    [Fact]
    public async Task Committed_offsets_resume_a_new_member_where_the_old_one_stopped()
    {
        var topic = GroupFixture.Unique("resume");
        var group = GroupFixture.Unique("g-resume");
        await fixture.CreateTopicAsync(topic, 2);
        await fixture.ProduceAsync(topic, 0, 100);
        var config = fixture.GroupConfig(group);
        config.EnableAutoCommit = false;

        using (var first = new ConsumerBuilder<string, string>(fixture.Client, config).Build())
        {
            first.Subscribe(topic);
            var seen = 0;
            await Eventually.WaitUntilAsync(() =>
            {
                var r = first.Consume(TimeSpan.FromMilliseconds(100));
                if (r?.Message is not null)
                {
                    seen++;
                    first.Commit(r); // at-least-once: commit after processing
                }
                return Task.FromResult(seen == 60);
            }, "60 records consumed and committed");
            var committed = first.Committed(TimeSpan.FromSeconds(10));
            Assert.Equal(60, committed.Sum(c => Math.Max(0, c.Offset)));
            first.Close();
        }

        using var second = new ConsumerBuilder<string, string>(fixture.Client, config).Build();
        second.Subscribe(topic);
        var rest = new List<string>();
        await Eventually.WaitUntilAsync(() =>
        {
            var r = second.Consume(TimeSpan.FromMilliseconds(100));
            if (r?.Message is { } m) rest.Add(m.Value);
            return Task.FromResult(rest.Count >= 40);
        }, "the remaining 40 records");
        Assert.Equal(40, rest.Distinct().Count());
        Assert.Null(second.Consume(TimeSpan.FromMilliseconds(300))?.Message);
        second.Close();
    }
}
