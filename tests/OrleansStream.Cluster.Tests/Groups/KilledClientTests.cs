using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using OrleansStream.Client;

namespace OrleansStream.Cluster.Tests.Groups;

/// <summary>The fake-clock broker; its external client is the one a test kills.</summary>
public sealed class KilledClientFixture : FakeTimeGroupFixture
{
    /// <summary>The client hosted in the silo: it outlives the external client, so survivors use it.</summary>
    public IClusterClient SiloClient => Cluster.Silos[0].ServiceProvider.GetRequiredService<IClusterClient>();

    /// <summary>Kills the external client as a crashed process would: its connection drops, nothing is said.</summary>
    public Task KillClientAsync() => Cluster.KillClientAsync();

    public Task RestartClientAsync() => Cluster.InitializeClientAsync();
}

/// <summary>
/// A member whose process dies (its Orleans client gone, no LeaveGroup) is evicted once its session passes on the
/// coordinator's fake clock, and the survivor resumes its partitions from their committed offsets.
/// </summary>
public sealed class KilledClientTests(KilledClientFixture fixture) : IClassFixture<KilledClientFixture>
{
    private const int VictimSessionMs = 6000;
    private const int SurvivorSessionMs = 60000;

    private sealed record Processed(TopicPartition Tp, long Offset, string Value, string Member);

    private static ConsumerConfig Config(string group, int sessionMs) => new()
    {
        GroupId = group,
        AutoOffsetReset = AutoOffsetReset.Earliest,
        EnableAutoCommit = false,
        SessionTimeoutMs = sessionMs,
        HeartbeatIntervalMs = 200,
        MaxPollIntervalMs = 30000,
        FetchWaitMaxMs = 100,
    };

    /// <summary>Consumes on its own thread, committing each record after processing it (at-least-once), up to <paramref name="limit"/> records.</summary>
    private static Thread ConsumeLoop(IConsumer<string, string> consumer, string name, ConcurrentQueue<Processed> sink, int limit, CancellationToken stop,
        ConcurrentQueue<Exception> failures) =>
        new(() =>
        {
            try
            {
                var count = 0;
                while (!stop.IsCancellationRequested && count < limit)
                {
                    var r = consumer.Consume(TimeSpan.FromMilliseconds(50));
                    if (r?.Message is not { } m) continue;
                    sink.Enqueue(new Processed(r.TopicPartition, r.Offset, m.Value, name));
                    consumer.Commit(r);
                    count++;
                }
            }
            catch (Exception ex)
            {
                failures.Enqueue(ex);
            }
        }) { IsBackground = true, Name = name };

    [Fact]
    public async Task A_killed_client_is_evicted_after_its_session_and_the_survivor_resumes_from_its_commits()
    {
        var topic = $"killed-{Guid.NewGuid():N}"[..20];
        var group = $"g-killed-{Guid.NewGuid():N}"[..20];
        Assert.Equal(ErrorCode.None, Assert.Single(await fixture.Controller.CreateTopics([new NewTopic(topic, 4, 1)])).Error);
        var coordinator = fixture.SiloClient.GetGrain<IConsumerGroupGrain>(group);
        var sink = new ConcurrentQueue<Processed>();
        var failures = new ConcurrentQueue<Exception>();
        using var stop = new CancellationTokenSource();

        var victim = new ConsumerBuilder<string, string>(fixture.Client, Config(group, VictimSessionMs)).Build();
        using var survivor = new ConsumerBuilder<string, string>(fixture.SiloClient, Config(group, SurvivorSessionMs)).Build();
        victim.Subscribe(topic);
        survivor.Subscribe(topic);
        const int victimLimit = 30;
        var victimThread = ConsumeLoop(victim, "victim", sink, victimLimit, stop.Token, failures);
        var survivorThread = ConsumeLoop(survivor, "survivor", sink, int.MaxValue, stop.Token, failures);
        victimThread.Start();
        survivorThread.Start();

        try
        {
            await Eventually.WaitUntilAsync(async () =>
            {
                var d = await coordinator.Describe();
                return d.State == GroupState.Stable && d.Members.Count == 2 && victim.Assignment.Count == 2 && survivor.Assignment.Count == 2;
            }, "both members hold two partitions", TimeSpan.FromSeconds(60));
            var victimPartitions = victim.Assignment.ToHashSet();

            // Records arrive only once the split is settled: the victim reads and commits 30 of them, then its process dies.
            using (var producer = new ProducerBuilder<string, string>(fixture.SiloClient, new ProducerConfig { Acks = Acks.Leader, LingerMs = 2 }).Build())
                await Task.WhenAll(Enumerable.Range(0, 200).Select(i =>
                    producer.ProduceAsync(topic, new Message<string, string> { Key = $"k{i}", Value = i.ToString() })));
            Assert.True(victimThread.Join(TimeSpan.FromSeconds(60)), "the victim did not consume its 30 records");
            Assert.Empty(failures);
            var committed = victim.Committed(victimPartitions, TimeSpan.FromSeconds(10)).ToDictionary(c => c.TopicPartition, c => c.Offset);
            Assert.Equal(victimLimit, committed.Values.Sum(o => Math.Max(0, o)));
            await fixture.KillClientAsync();

            // Nothing happens until the victim's session passes on the coordinator's clock; the survivor's is ten times longer.
            Assert.Equal(2, (await coordinator.Describe()).Members.Count);
            fixture.Time.Advance(TimeSpan.FromMilliseconds(VictimSessionMs + 1000));
            await Eventually.WaitUntilAsync(async () =>
            {
                var d = await coordinator.Describe();
                return d.State == GroupState.Stable && d.Members.Count == 1 && survivor.Assignment.Count == 4;
            }, "the victim is evicted and the survivor holds all four partitions", TimeSpan.FromSeconds(60));
            await Eventually.WaitUntilAsync(() => Task.FromResult(sink.Select(p => p.Value).Distinct().Count() == 200),
                "every record is processed", TimeSpan.FromSeconds(60));
        }
        finally
        {
            stop.Cancel();
            survivorThread.Join(TimeSpan.FromSeconds(30));
            victim.Dispose();
            await fixture.RestartClientAsync();
        }
        Assert.Empty(failures);

        // Exactly once here: the victim committed each record it processed, and the survivor started at those commits.
        var processed = sink.ToList();
        Assert.Equal(200, processed.Count);
        var victimCommits = processed.Where(p => p.Member == "victim")
            .GroupBy(p => p.Tp).ToDictionary(g => g.Key, g => g.Max(p => p.Offset) + 1);
        foreach (var (tp, next) in victimCommits)
            Assert.All(processed.Where(p => p.Member == "survivor" && p.Tp == tp), p => Assert.True(p.Offset >= next, $"{tp}@{p.Offset} read again"));
        survivor.Close();
    }
}
