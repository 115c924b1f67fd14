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
/// One in-process broker (Orleans' InProcessTestCluster, the broker's default file grain storage) with a 100-partition
/// topic, for the consumer-group and client benchmarks. <c>group.initial.rebalance.delay.ms</c> is 0, so the group
/// figures are the protocol's. Run: dotnet run -c Release --project tests/OrleansStream.Benchmarks -- --filter '*Group*Benchmarks*'
/// </summary>
[Config(typeof(Config))]
public abstract class InProcessBrokerBenchmark
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
