using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Orleans.TestingHost;
using OrleansStream.Client;
using OrleansStream.Server;

namespace OrleansStream.Benchmarks;

/// <summary>
/// Consumer groups on one in-process broker (Orleans' InProcessTestCluster, the broker's default file grain storage)
/// with a 100-partition topic. <c>group.initial.rebalance.delay.ms</c> is 0, so the figures are the protocol's.
/// Run: dotnet run -c Release --project tests/OrleansStream.Benchmarks -- --filter '*Group*Benchmarks*'
/// </summary>
[Config(typeof(Config))]
public abstract class GroupBenchmarkBase
{
    protected const int Partitions = 100;
    protected const string Topic = "bench-groups";

    private sealed class Config : ManualConfig
    {
        public Config() => AddJob(Job.ShortRun.WithInvocationCount(1).WithUnrollFactor(1).WithWarmupCount(2).WithIterationCount(8)
            .WithToolchain(InProcessEmitToolchain.Instance));
    }

    private readonly string _root = Path.Combine(Path.GetTempPath(), "os-bench-groups-" + Guid.NewGuid().ToString("N"));

    protected InProcessTestCluster Cluster { get; private set; } = null!;

    [GlobalSetup]
    public async Task GlobalSetup()
    {
        var builder = new InProcessTestClusterBuilder(1);
        builder.Options.ConfigureFileLogging = false;
        builder.ConfigureSilo((_, silo) =>
        {
            silo.Services.AddLogging(l => l.SetMinimumLevel(LogLevel.Warning));
            silo.AddOrleansStream(o =>
            {
                o.DataDirectory = Path.Combine(_root, "data");
                o.GrainStateDirectory = Path.Combine(_root, "grain-state");
            });
            silo.AddOrleansStreamGroups(o => o.GroupInitialRebalanceDelayMs = 0);
        });
        Cluster = builder.Build();
        await Cluster.DeployAsync();
        var created = await Cluster.Client.GetGrain<IClusterControllerGrain>(GrainKeys.Controller).CreateTopics([new NewTopic(Topic, Partitions, 1)]);
        if (created[0].Error != ErrorCode.None) throw new InvalidOperationException($"topic: {created[0].Error}");
        Started();
    }

    protected virtual void Started() { }

    protected virtual void Stopping() { }

    [GlobalCleanup]
    public async Task GlobalCleanup()
    {
        Stopping();
        await Cluster.DisposeAsync();
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
            // A file still held by the stopping silo; the temp directory is cleaned later.
        }
    }
}

/// <summary>
/// One group of 10 members over 100 partitions, from the first Subscribe until every member holds its 10 partitions
/// (roundrobin, heartbeats every 200 ms as in the cluster tests; the members join one after another, so the group
/// goes through several generations). One op = one whole rebalance.
/// </summary>
public class GroupRebalanceBenchmarks : GroupBenchmarkBase
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
public class GroupCommitBenchmarks : GroupBenchmarkBase
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
