using System.Diagnostics;
using OrleansStream.Client;

namespace OrleansStream.Cluster.Tests.Groups;

/// <summary>
/// The figures in docs/performance.md (consumer groups): rebalance time of 10 members over 100 partitions and the
/// commit rate of one consumer. They only report; correctness is asserted, time is not.
/// </summary>
[Collection(GroupCollection.Name)]
public sealed class GroupPerformanceTests(GroupFixture fixture)
{
    [Fact]
    public async Task Ten_members_over_a_hundred_partitions_rebalance_and_one_consumer_commits()
    {
        var topic = GroupFixture.Unique("perf");
        var group = GroupFixture.Unique("g-perf");
        await fixture.CreateTopicAsync(topic, 100);
        var config = fixture.GroupConfig(group, "roundrobin");
        config.EnableAutoCommit = false;

        var consumers = new List<IConsumer<string, string>>();
        using var stop = new CancellationTokenSource();
        var threads = new List<Thread>();
        var clock = Stopwatch.StartNew();
        for (var i = 0; i < 10; i++)
        {
            var c = new ConsumerBuilder<string, string>(fixture.Client, config).Build();
            consumers.Add(c);
            c.Subscribe(topic);
            var t = new Thread(() =>
            {
                while (!stop.IsCancellationRequested) c.Consume(TimeSpan.FromMilliseconds(50));
            }) { IsBackground = true };
            threads.Add(t);
            t.Start();
        }
        await ClusterFixture.WaitUntilAsync(() => Task.FromResult(
            consumers.Sum(c => c.Assignment.Count) == 100 && consumers.All(c => c.Assignment.Count == 10)),
            "ten members hold ten partitions each", TimeSpan.FromSeconds(60));
        var rebalance = clock.Elapsed;
        stop.Cancel();
        foreach (var t in threads) t.Join();

        // Then the group empties and one consumer commits, one synchronous Commit after another, so no rebalance
        // (a session lost on a loaded machine) can interfere with the measurement.
        foreach (var c in consumers) c.Close();
        foreach (var c in consumers) c.Dispose();
        using var member = new ConsumerBuilder<string, string>(fixture.Client, config).Build();
        var partitions = Enumerable.Range(0, 10).Select(p => new TopicPartition(topic, p)).ToList();
        member.Assign(partitions);
        var tp = partitions[0];
        const int commits = 1000;
        clock.Restart();
        for (var i = 0; i < commits; i++) member.Commit([new TopicPartitionOffset(tp, 0)]);
        var single = clock.Elapsed;

        var batch = partitions.Select(p => new TopicPartitionOffset(p, 0)).ToList();
        clock.Restart();
        for (var i = 0; i < commits; i++) member.Commit(batch);
        var batched = clock.Elapsed;

        TestContext.Current.SendDiagnosticMessage(
            $"groups perf: rebalance 10 members x 100 partitions {rebalance.TotalMilliseconds:0} ms; " +
            $"commits {commits / single.TotalSeconds:0}/s (1 partition), {commits / batched.TotalSeconds:0}/s (10 partitions)");
        Console.WriteLine($"groups perf: rebalance {rebalance.TotalMilliseconds:0} ms; commits {commits / single.TotalSeconds:0}/s single, {commits / batched.TotalSeconds:0}/s x10");
        Assert.Equal(0, Assert.Single(member.Committed([tp], TimeSpan.FromSeconds(10))).Offset);
        member.Close();
    }
}
