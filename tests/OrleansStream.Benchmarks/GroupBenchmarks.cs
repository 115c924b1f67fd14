using BenchmarkDotNet.Attributes;
using OrleansStream.Client;

namespace OrleansStream.Benchmarks;

/// <summary>
/// One group of 10 members over 100 partitions, from the first Subscribe until every member holds its 10 partitions
/// (roundrobin, heartbeats every 200 ms as in the cluster tests; the members join one after another, so the group
/// goes through several generations). One op = one whole rebalance.
/// </summary>
public class GroupRebalanceBenchmarks : InProcessBrokerBenchmark
{
    private const int Members = 10;
    private List<IConsumer<string, string>> _members = [];
    private List<Thread> _threads = [];
    private CancellationTokenSource _stop = new();

    [IterationSetup]
    public void CreateMembers()
    {
        var config = new ConsumerConfig
        {
            GroupId = $"bench-rebalance-{Guid.NewGuid():N}",
            AutoOffsetReset = AutoOffsetReset.Earliest,
            EnableAutoCommit = false,
            SessionTimeoutMs = 6000,
            HeartbeatIntervalMs = 200,
            MaxPollIntervalMs = 60000,
            FetchWaitMaxMs = 100,
            PartitionAssignmentStrategy = "roundrobin",
        };
        _stop = new CancellationTokenSource();
        _members = [.. Enumerable.Range(0, Members).Select(_ => new ConsumerBuilder<string, string>(Cluster.Client, config).Build())];
        _threads = [.. _members.Select(c => new Thread(() =>
        {
            while (!_stop.IsCancellationRequested) c.Consume(TimeSpan.FromMilliseconds(20));
        }) { IsBackground = true })];
    }

    [Benchmark(Description = "rebalance: 10 members x 100 partitions, join to all assigned")]
    public void Rebalance()
    {
        foreach (var c in _members) c.Subscribe(Topic);
        foreach (var t in _threads) t.Start();
        var deadline = DateTime.UtcNow.AddMinutes(2);
        while (!_members.TrueForAll(c => c.Assignment.Count == Partitions / Members))
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException("the group did not settle within 2 minutes");
            Thread.Yield();
        }
    }

    [IterationCleanup]
    public void CloseMembers()
    {
        _stop.Cancel();
        foreach (var t in _threads) if (t.IsAlive) t.Join();
        foreach (var c in _members) c.Dispose();
    }
}

/// <summary>
/// One consumer's synchronous <c>Commit</c> calls of one partition's offset: one at a time, or <see cref="InFlight"/>
/// at once from as many threads (each its own partition). One op = one commit, so commits/s = 1 / mean.
/// <see cref="Committed"/> makes the same round trip without a write, to show what the write itself costs.
/// The consumer assigns its partitions and commits as a simple consumer of an empty group, so no rebalance (a session
/// lost on a loaded machine) can fence a commit in the middle of a measurement.
/// </summary>
public class GroupCommitBenchmarks : InProcessBrokerBenchmark
{
    private const int CommitsPerInvocation = 400;
    private IConsumer<string, string> _consumer = null!;

    [Params(1, 8)]
    public int InFlight { get; set; }

    protected override void Started()
    {
        _consumer = new ConsumerBuilder<string, string>(Cluster.Client, new ConsumerConfig { GroupId = "bench-commits", EnableAutoCommit = false }).Build();
        _consumer.Assign(Enumerable.Range(0, Partitions).Select(p => new TopicPartitionOffset(new TopicPartition(Topic, p), Offset.Beginning)));
        _consumer.Commit([new TopicPartitionOffset(new TopicPartition(Topic, 0), 0)]);
    }

    protected override void Stopping() => _consumer.Dispose();

    [Benchmark(OperationsPerInvoke = CommitsPerInvocation, Description = "commit: one consumer's synchronous commits")]
    public void Commit() => OnThreads(tp => _consumer.Commit([new TopicPartitionOffset(tp, 0)]));

    /// <summary>The same round trip to the group without a storage write (OffsetFetch): what a commit costs besides the write.</summary>
    [Benchmark(OperationsPerInvoke = CommitsPerInvocation, Description = "committed: one consumer's OffsetFetch calls")]
    public void Committed() => OnThreads(tp => _consumer.Committed([tp], TimeSpan.FromSeconds(30)));

    private void OnThreads(Action<TopicPartition> call)
    {
        var threads = new Thread[InFlight];
        for (var t = 0; t < InFlight; t++)
        {
            var tp = new TopicPartition(Topic, t);
            threads[t] = new Thread(() =>
            {
                for (var i = 0; i < CommitsPerInvocation / InFlight; i++) call(tp);
            });
            threads[t].Start();
        }
        foreach (var t in threads) t.Join();
    }
}
