using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using Orleans.TestingHost;
using OrleansStream.Server.Cluster;
using OrleansStream.Server.Controller;
using OrleansStream.Server.Persistence;

namespace OrleansStream.Cluster.Tests;

/// <summary>
/// Three brokers whose retries with the controller (registration, membership reports, the wake-up of their replicas)
/// run on a fake clock the test advances, with every broker's log events recorded, and two ways to make the controller
/// fail: its grain storage refusing writes, and a broker's reads of it failing as if it did not answer.
/// </summary>
public class BrokerLifecycleFixture : ClusterFixture
{
    /// <summary>Longer than the broker's longest backoff, so each advance lets every waiting retry run.</summary>
    private static readonly TimeSpan Step = TimeSpan.FromSeconds(5);

    public FakeTimeProvider Time { get; } = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));

    public LogRecorder Logs { get; } = new();

    public UnansweredControllerReads UnansweredReads { get; } = new();

    protected override void ConfigureSilo(string brokerId, ISiloBuilder silo)
    {
        silo.Services.AddKeyedSingleton<TimeProvider>(BrokerRegistration.TimeProviderKey, Time);
        silo.Services.AddLogging(b => b.AddProvider(Logs.For(brokerId))
            .AddFilter<LogRecorder.Provider>(null, LogLevel.None)
            .AddFilter<LogRecorder.Provider>("OrleansStream", LogLevel.Debug));
        silo.Services.AddSingleton<IOutgoingGrainCallFilter>(new UnansweredControllerReads.Filter(UnansweredReads, brokerId));
    }

    public override async ValueTask InitializeAsync()
    {
        await base.InitializeAsync();
        foreach (var (_, silo) in Silos)
        {
            var directory = DataDirectory(silo.Name);
            await AdvanceUntilAsync(() => Task.FromResult(MetaProperties.Read(directory).ClusterId is not null), $"{silo.Name} registers");
        }
    }

    /// <summary>Waits until <paramref name="condition"/> holds, advancing the brokers' clock a backoff step before each check.</summary>
    public Task AdvanceUntilAsync(Func<Task<bool>> condition, string what, TimeSpan? timeout = null) =>
        Eventually.WaitUntilAsync(() =>
        {
            Time.Advance(Step);
            return condition();
        }, what, timeout);

    /// <summary>Creates a topic of its own for a test; returns its name and the broker whose silo hosts the controller.</summary>
    public async Task<(string Topic, string ControllerBroker)> CreateTopicAsync(string prefix, int partitions, short replicationFactor)
    {
        var topic = PartitionTestKit.UniqueTopic(prefix);
        await this.CreateTopic(topic, partitions, replicationFactor);
        var host = await Client.GetGrain<IManagementGrain>(0).GetActivationAddress(Controller, TestContext.Current.CancellationToken);
        return (topic, Silos.Values.Single(s => s.SiloAddress.Equals(host)).Name);
    }

    /// <summary>
    /// The silo sees <paramref name="victim"/> dead and its latest report covers the membership it sees now: taken by
    /// the controller, or when <paramref name="taken"/> is false, made whether taken or failed.
    /// </summary>
    public bool ReportedDeath(InProcessSiloHandle silo, string victim, bool taken)
    {
        var snapshot = silo.ServiceProvider.GetRequiredService<IClusterMembershipService>().CurrentSnapshot;
        if (snapshot.Members.Values.Any(m => m.Name == victim && m.Status != SiloStatus.Dead)) return false;
        var reports = Logs.Of(silo.Name, "LogReported");
        if (!taken) reports.AddRange(Logs.Of(silo.Name, "LogReportFailed"));
        return reports.Any(r => (long)r.Values["Version"]! >= snapshot.Version.Value);
    }

    /// <summary>
    /// Until disposed, every write of the controller's record fails at once and reads succeed: a directory stands where
    /// the grain storage takes its per-record lock file.
    /// </summary>
    public IDisposable RefuseControllerWrites()
    {
        var storage = (AtomicFileGrainStorage)ProducerIdLedger.Storage(this);
        var lockPath = storage.RecordPath("controller", ProducerIdLedger.ControllerId) + ".lock";
        File.Delete(lockPath);
        Directory.CreateDirectory(lockPath);
        return new Restore(() => Directory.Delete(lockPath));
    }

    private sealed class Restore(Action restore) : IDisposable
    {
        public void Dispose() => restore();
    }
}

/// <summary>Each broker's OrleansStream log events, with their structured values, for tests that wait on what a broker did.</summary>
public sealed class LogRecorder
{
    private readonly ConcurrentQueue<Event> _events = new();

    public sealed record Event(string Broker, string Name, IReadOnlyDictionary<string, object?> Values);

    /// <summary>The events named <paramref name="name"/> (the logging method's name) that <paramref name="broker"/> logged.</summary>
    public List<Event> Of(string broker, string name) => _events.Where(e => e.Broker == broker && e.Name == name).ToList();

    internal ILoggerProvider For(string broker) => new Provider(this, broker);

    internal sealed class Provider(LogRecorder recorder, string broker) : ILoggerProvider, ILogger
    {
        public ILogger CreateLogger(string categoryName) => this;

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (eventId.Name is not { } name) return;
            var values = new Dictionary<string, object?>(StringComparer.Ordinal);
            if (state is IReadOnlyList<KeyValuePair<string, object?>> pairs)
                foreach (var (key, value) in pairs) values[key] = value;
            recorder._events.Enqueue(new Event(broker, name, values));
        }

        public void Dispose() { }
    }
}

/// <summary>
/// Makes the controller's reads fail for one broker, as a controller that does not answer would (its activation unable
/// to load its state, or its silo gone): the reads its replicas' activation and its wake-up make. Registration still
/// reaches the controller, so the broker is registered while its replicas cannot start.
/// </summary>
public sealed class UnansweredControllerReads
{
    private volatile string? _broker;

    /// <summary>The broker whose reads fail, none when null.</summary>
    public string? Broker
    {
        get => _broker;
        set => _broker = value;
    }

    internal sealed class Filter(UnansweredControllerReads reads, string broker) : IOutgoingGrainCallFilter
    {
        public Task Invoke(IOutgoingGrainCallContext context)
        {
            if (reads.Broker == broker && context.InterfaceMethod?.DeclaringType == typeof(IControllerInternalGrain)
                && context.InterfaceMethod.Name is nameof(IControllerInternalGrain.GetPartitionState) or nameof(IControllerInternalGrain.GetBrokerReplicas)
                    or nameof(IControllerInternalGrain.FindStrayPartitions) or nameof(IControllerInternalGrain.GetReplicaBroker))
                throw new TimeoutException($"The controller did not answer {context.InterfaceMethod.Name} from broker {broker}.");
            return context.Invoke();
        }
    }
}
