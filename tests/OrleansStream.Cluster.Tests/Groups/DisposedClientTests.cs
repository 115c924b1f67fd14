using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OrleansStream.Client;

namespace OrleansStream.Cluster.Tests.Groups;

/// <summary>One broker; the SDK's log lines of its client are kept for the test to read.</summary>
public sealed class DisposedClientFixture : ClusterFixture
{
    public override int SiloCount => 1;

    public RecordingLoggerProvider Log { get; } = new();

    protected override void ConfigureSilo(ISiloBuilder silo) => silo.AddOrleansStreamGroups(o => o.GroupInitialRebalanceDelayMs = 0);

    protected override void ConfigureClient(IClientBuilder client) =>
        client.Services.AddLogging(b => b.AddProvider(Log).AddFilter<RecordingLoggerProvider>(null, LogLevel.Debug));
}

/// <summary>Every log line of the OrleansStream SDK's categories.</summary>
public sealed class RecordingLoggerProvider : ILoggerProvider
{
    public ConcurrentQueue<(LogLevel Level, string Message)> Lines { get; } = new();

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName.StartsWith("OrleansStream", StringComparison.Ordinal));

    public void Dispose() { }

    private sealed class Logger(RecordingLoggerProvider provider, bool recorded) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => recorded;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (recorded) provider.Lines.Enqueue((logLevel, formatter(state, exception)));
        }
    }
}

/// <summary>
/// An application that disposes its Orleans client before its consumer: the consumer is closing, so its heartbeat
/// stops and its close gives up what it can no longer send, quietly (a Debug line, nothing on the console).
/// </summary>
public sealed class DisposedClientTests(DisposedClientFixture fixture) : IClassFixture<DisposedClientFixture>
{
    [Fact]
    public async Task A_consumer_whose_client_was_disposed_stops_its_heartbeat_and_closes_without_an_error()
    {
        var ct = TestContext.Current.CancellationToken;
        var topic = GroupFixture.Unique("disposed");
        var group = GroupFixture.Unique("g-disposed");
        Assert.Equal(ErrorCode.None, Assert.Single(await fixture.Controller.CreateTopics([new NewTopic(topic, 1, 1)])).Error);
        await using (var producer = new ProducerBuilder<Null, string>(fixture.Client, new ProducerConfig()).Build())
            for (var i = 0; i < 3; i++) await producer.ProduceAsync(topic, new Message<Null, string> { Value = $"r{i}" }, ct);

        var config = GroupFixture.Config(group);
        config.AutoCommitIntervalMs = 3_600_000; // the consumed offset stays stored, for the close to commit
        var consumer = new ConsumerBuilder<Null, string>(fixture.Client, config).Build();
        consumer.Subscribe(topic);
        await Eventually.WaitUntilAsync(() => consumer.Consume(TimeSpan.FromMilliseconds(100)) is not null,
            "the consumer joins the group and receives a record", TimeSpan.FromSeconds(30));

        await fixture.Cluster.StopClusterClientAsync(ct);
        await Eventually.WaitUntilAsync(() => fixture.Log.Lines.Any(l => l.Message.Contains("the heartbeat stops", StringComparison.Ordinal)),
            "the consumer's heartbeat stops", TimeSpan.FromSeconds(30));

        Assert.Null(Record.Exception(consumer.Close));
        Assert.Single(fixture.Log.Lines, l => l.Message.Contains("the heartbeat stops", StringComparison.Ordinal));
        Assert.Contains(fixture.Log.Lines, l => l.Message.Contains("the stored offsets are not committed", StringComparison.Ordinal));
        Assert.All(fixture.Log.Lines, l => Assert.Equal(LogLevel.Debug, l.Level));
    }
}
