using OrleansStream.Storage.Tiering;

namespace OrleansStream.Kafka.Tests;

/// <summary>Two broker processes, each with its own Kafka listener, shared by the tests of the collection.</summary>
public sealed class KafkaCluster : IAsyncLifetime
{
    private SiloProcesses? _silos;

    public SiloProcesses Silos => _silos ?? throw new InvalidOperationException("Not started.");

    public string BootstrapServers => Silos.BootstrapServers;

    public IClusterControllerGrain Controller => Silos.Client.GetGrain<IClusterControllerGrain>(GrainKeys.Controller);

    // Groups form at once instead of waiting 3 s (group.initial.rebalance.delay.ms) for more members; a transaction
    // its producer left open is aborted within a second of its timeout, not ten; a tiered topic's closed segments go
    // to the tier within 100 ms, not 30 s; consumer group (KIP-848) members heartbeat every 500 ms, not 5 s, so a
    // reconciliation's steps follow each other quickly.
    public async ValueTask InitializeAsync() =>
        _silos = await SiloProcesses.StartAsync(2, static (_, env) =>
        {
            env["OrleansStream__Groups__GroupInitialRebalanceDelayMs"] = "0";
            env["OrleansStream__Groups__ConsumerMinHeartbeatIntervalMs"] = "500";
            env["OrleansStream__Groups__ConsumerHeartbeatIntervalMs"] = "500";
            env["OrleansStream__Transactions__TransactionAbortTimedOutTransactionCleanupIntervalMs"] = "1000";
            env["OrleansStream__TierStore__TaskIntervalMs"] = "100";
        });

    public async ValueTask DisposeAsync()
    {
        if (_silos is not null) await _silos.DisposeAsync();
    }

    /// <summary>Creates a topic through the controller (as our SDK's admin does) and returns its name.</summary>
    public async Task<string> CreateTopicAsync(string prefix, int partitions, short replicationFactor = 1)
    {
        var name = $"{prefix}-{Guid.NewGuid():N}"[..Math.Min(prefix.Length + 9, 60)];
        var result = Assert.Single(await Controller.CreateTopics([new NewTopic(name, partitions, replicationFactor)]));
        Assert.Equal(ErrorCode.None, result.Error);
        return name;
    }

    /// <summary>The partition's tier manifest in the folder tier store of the broker at <paramref name="index"/> (the embedded default).</summary>
    public async Task<RemoteLogManifest> ManifestAsync(int index, string topic, int partition) =>
        (await VersionedManifest.LoadAsync(new FolderTierStore(Path.Combine(Silos.DataDirectory(index), "tier")), topic, partition,
            TestContext.Current.CancellationToken)).Manifest;

    /// <summary>The index of the silo whose broker leads the partition.</summary>
    public async Task<int> LeaderIndexAsync(string topic, int partition)
    {
        var metadata = await Controller.GetMetadata(new MetadataRequest([topic]));
        return Silos.IndexOf(metadata.Topics[0].Partitions[partition].LeaderBroker!);
    }
}

[CollectionDefinition(Name)]
public sealed class KafkaClusterCollection : ICollectionFixture<KafkaCluster>
{
    public const string Name = "kafka-cluster";
}
