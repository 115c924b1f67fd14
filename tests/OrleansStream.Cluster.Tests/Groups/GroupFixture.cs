using OrleansStream.Client;

namespace OrleansStream.Cluster.Tests.Groups;

/// <summary>Three brokers whose groups rebalance at once (no initial delay; consumer group members heartbeat every 200 ms); shared by the real-time group tests.</summary>
public sealed class GroupFixture : ClusterFixture
{
    /// <summary>The OffsetCommit calls the fixture's client sends, per group.</summary>
    public OffsetCommitWatch Commits { get; } = new();

    protected override void ConfigureClient(IClientBuilder client) => client.AddOutgoingGrainCallFilter(Commits);

    protected override void ConfigureSilo(ISiloBuilder silo) =>
        silo.AddOrleansStreamGroups(static o =>
        {
            o.GroupInitialRebalanceDelayMs = 0;
            // Kafka's bounds hold the broker's own interval too (group.consumer.min.heartbeat.interval.ms).
            o.ConsumerMinHeartbeatIntervalMs = 100;
            o.ConsumerHeartbeatIntervalMs = 200;
        });

    public static string Unique(string prefix) => $"{prefix}-{Guid.NewGuid():N}"[..24];

    public async Task CreateTopicAsync(string topic, int partitions)
    {
        var result = Assert.Single(await Controller.CreateTopics([new NewTopic(topic, partitions, 1)]));
        Assert.Equal(ErrorCode.None, result.Error);
    }

    /// <summary>Produces "0".."count-1" offset by <paramref name="first"/> as keyed string messages and waits for delivery.</summary>
    public async Task ProduceAsync(string topic, int first, int count)
    {
        // A delivery that cannot complete fails within the message timeout instead of librdkafka's five minutes.
        using var producer = new ProducerBuilder<string, string>(Client, new ProducerConfig { Acks = Acks.Leader, LingerMs = 2, MessageTimeoutMs = 20000 }).Build();
        var tasks = new List<Task>(count);
        for (var i = first; i < first + count; i++)
            tasks.Add(producer.ProduceAsync(topic, new Message<string, string> { Key = $"k{i}", Value = i.ToString() }));
        await Task.WhenAll(tasks).WaitAsync(TimeSpan.FromSeconds(60));
    }

    public ConsumerConfig GroupConfig(string group, string? strategy = null) => Config(group, strategy);

    /// <summary>A group member's settings for real-time tests: short sessions, heartbeats and waits.</summary>
    public static ConsumerConfig Config(string group, string? strategy = null) => new()
    {
        GroupId = group,
        AutoOffsetReset = AutoOffsetReset.Earliest,
        SessionTimeoutMs = 6000,
        HeartbeatIntervalMs = 200,
        MaxPollIntervalMs = 15000,
        AutoCommitIntervalMs = 100,
        FetchWaitMaxMs = 100,
        PartitionAssignmentStrategy = strategy,
    };
}

[CollectionDefinition(Name)]
public sealed class GroupCollection : ICollectionFixture<GroupFixture>
{
    public const string Name = "groups";
}

/// <summary>Counts, per group, the OffsetCommit calls sent and the most of them in flight at once.</summary>
public sealed class OffsetCommitWatch : IOutgoingGrainCallFilter
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, (int InFlight, int MostInFlight, int Sent)> _groups = new(StringComparer.Ordinal);

    public (int MostInFlight, int Sent) Of(string group)
    {
        lock (_lock) return _groups.TryGetValue(group, out var g) ? (g.MostInFlight, g.Sent) : (0, 0);
    }

    public async Task Invoke(IOutgoingGrainCallContext context)
    {
        if (context.InterfaceMethod is not { Name: nameof(IConsumerGroupGrain.OffsetCommit) } method || method.DeclaringType != typeof(IConsumerGroupGrain))
        {
            await context.Invoke();
            return;
        }
        var group = context.TargetId.Key.ToString()!;
        lock (_lock)
        {
            var g = _groups.GetValueOrDefault(group);
            _groups[group] = (g.InFlight + 1, Math.Max(g.MostInFlight, g.InFlight + 1), g.Sent + 1);
        }
        try
        {
            await context.Invoke();
        }
        finally
        {
            lock (_lock)
            {
                var g = _groups[group];
                _groups[group] = g with { InFlight = g.InFlight - 1 };
            }
        }
    }
}
