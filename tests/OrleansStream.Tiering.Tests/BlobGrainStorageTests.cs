using Azure.Storage.Blobs;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Runtime;
using Orleans.Storage;
using Orleans.TestingHost;
using OrleansStream.Server.Groups;

namespace OrleansStream.Tiering.Tests;

public interface ICounterGrain : IGrainWithStringKey
{
    Task<int> Increment();

    Task<int> Get();
}

[GenerateSerializer]
public sealed class CounterState
{
    [Id(0)]
    public int Value { get; set; }
}

public sealed class CounterGrain([PersistentState("counter", "blob")] IPersistentState<CounterState> state) : Grain, ICounterGrain
{
    public async Task<int> Increment()
    {
        state.State.Value++;
        await state.WriteStateAsync();
        return state.State.Value;
    }

    public Task<int> Get() => Task.FromResult(state.State.Value);
}

[Trait("Category", "Slow")]
public sealed class BlobGrainStorageTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private async Task<InProcessTestCluster> StartClusterAsync(string container, bool fromConfiguration = false)
    {
        var builder = new InProcessTestClusterBuilder(1);
        builder.Options.ConfigureFileLogging = false;
        if (fromConfiguration)
        {
            // Selected the way a deployment does it: Orleans' provider model reads Orleans:GrainStorage:{name}.
            builder.ConfigureSiloHost((_, host) => host.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["Orleans:GrainStorage:blob:ProviderType"] = "AzureBlobStorage",
                ["Orleans:GrainStorage:blob:ConnectionString"] = azurite.Azurite.ConnectionString,
                ["Orleans:GrainStorage:blob:ContainerName"] = container,
            }));
            builder.ConfigureSilo((_, _) => { });
        }
        else
        {
            builder.ConfigureSilo((_, silo) => silo.AddAzureBlobGrainStorage("blob", o =>
            {
                o.BlobServiceClient = new BlobServiceClient(azurite.Azurite.ConnectionString);
                o.ContainerName = container;
            }));
        }
        var cluster = builder.Build();
        await cluster.DeployAsync(Ct);
        return cluster;
    }

    [Fact]
    public async Task Of_two_writers_with_the_same_etag_one_wins_and_the_other_gets_InconsistentStateException()
    {
        var container = AzuriteFixture.NewContainerName();
        await using var cluster = await StartClusterAsync(container);
        var storage = cluster.GetSiloServiceProvider().GetRequiredKeyedService<IGrainStorage>("blob");
        var grainId = GrainId.Create("test", "race");

        // Two first writers (no ETag: create-only) race: exactly one creates the blob.
        var first = await Task.WhenAll(Enumerable.Range(0, 2).Select(async i =>
        {
            var state = new GrainState<CounterState>(new CounterState { Value = 100 + i });
            try { await storage.WriteStateAsync("counter", grainId, state); return true; }
            catch (InconsistentStateException) { return false; }
        }));
        Assert.Single(first, won => won);

        // Two writers that read the same version: the second write is rejected.
        var a = new GrainState<CounterState>(new CounterState());
        var b = new GrainState<CounterState>(new CounterState());
        await storage.ReadStateAsync("counter", grainId, a);
        await storage.ReadStateAsync("counter", grainId, b);
        Assert.Equal(a.ETag, b.ETag);
        Assert.True(a.RecordExists);

        a.State!.Value = 1;
        await storage.WriteStateAsync("counter", grainId, a);
        b.State!.Value = 2;
        await Assert.ThrowsAsync<InconsistentStateException>(() => storage.WriteStateAsync("counter", grainId, b));
        await Assert.ThrowsAsync<InconsistentStateException>(() => storage.ClearStateAsync("counter", grainId, b));

        var check = new GrainState<CounterState>(new CounterState());
        await storage.ReadStateAsync("counter", grainId, check);
        Assert.Equal(1, check.State!.Value);
        Assert.Equal(a.ETag, check.ETag);
    }

    [Fact]
    public async Task State_survives_a_silo_restart_under_Orleans_blob_naming()
    {
        var container = AzuriteFixture.NewContainerName();
        await using (var cluster = await StartClusterAsync(container))
        {
            var grain = cluster.Client.GetGrain<ICounterGrain>("survivor");
            for (var i = 0; i < 3; i++) await grain.Increment();
            await cluster.StopAllSilosAsync(Ct);
        }

        await using (var cluster = await StartClusterAsync(container, fromConfiguration: true))
        {
            var grain = cluster.Client.GetGrain<ICounterGrain>("survivor");
            Assert.Equal(3, await grain.Get());
            Assert.Equal(4, await grain.Increment());
        }

        var names = new List<string>();
        await foreach (var blob in azurite.Azurite.Container(container).GetBlobsAsync(cancellationToken: Ct)) names.Add(blob.Name);
        var name = Assert.Single(names);
        Assert.StartsWith("counter-", name);
        Assert.EndsWith("/survivor.json", name);
    }

    /// <summary>
    /// Blobs exactly as our hand-written provider (Server/Persistence/AzureBlobGrainStorage, removed for Orleans' own)
    /// wrote them, captured from it against Azurite: name, content type and bytes. Both used the silo's default
    /// IGrainStorageSerializer (Orleans' JSON with $type), so Orleans' provider reads them with no serializer setting.
    /// </summary>
    private static readonly (string Name, string Content)[] LegacyBlobs =
    [
        ("counter-counter/survivor.json",
            """{"$id":"1","$type":"OrleansStream.Tiering.Tests.CounterState, OrleansStream.Tiering.Tests","Value":3}"""),
        ("group-consumergroup/billing.json",
            """{"$id":"1","$type":"OrleansStream.Server.Groups.ConsumerGroupState, OrleansStream.Server","GenerationId":7,"Offsets":{"$type":"System.Collections.Generic.List`1[[OrleansStream.Server.Groups.StoredOffset, OrleansStream.Server]], System.Private.CoreLib","$values":[{"$id":"2","$type":"OrleansStream.Server.Groups.StoredOffset, OrleansStream.Server","Topic":"orders","Partition":2,"Offset":4242,"Metadata":"meta","LeaderEpoch":5,"CommitTimestampMs":1700000000001},{"$id":"3","$type":"OrleansStream.Server.Groups.StoredOffset, OrleansStream.Server","Topic":"orders","Offset":17,"LeaderEpoch":-1,"CommitTimestampMs":1700000000002}]},"EmptySinceMs":1700000000123,"Registered":true,"ProtocolName":"range"}"""),
        // ClearStateAsync without DeleteStateOnClear left an empty blob.
        ("counter-counter/cleared.json", ""),
    ];

    [Fact]
    public async Task State_written_by_the_former_hand_written_provider_loads_through_Orleans_blob_provider()
    {
        var container = AzuriteFixture.NewContainerName();
        var blobs = azurite.Azurite.Container(container);
        await blobs.CreateAsync(cancellationToken: Ct);
        foreach (var (name, content) in LegacyBlobs)
            await blobs.GetBlobClient(name).UploadAsync(BinaryData.FromString(content), new Azure.Storage.Blobs.Models.BlobUploadOptions
            {
                HttpHeaders = new Azure.Storage.Blobs.Models.BlobHttpHeaders { ContentType = "application/json" },
            }, Ct);

        await using var cluster = await StartClusterAsync(container, fromConfiguration: true);
        var storage = cluster.GetSiloServiceProvider().GetRequiredKeyedService<IGrainStorage>("blob");

        var group = new GrainState<ConsumerGroupState>(new ConsumerGroupState());
        await storage.ReadStateAsync("group", GrainId.Create("consumergroup", "billing"), group);
        Assert.True(group.RecordExists);
        Assert.Equal(7, group.State!.GenerationId);
        Assert.Equal(1700000000123, group.State.EmptySinceMs);
        Assert.True(group.State.Registered);
        Assert.Equal("range", group.State.ProtocolName);
        Assert.Equal(
            [new StoredOffset("orders", 2, 4242, "meta", 5, 1700000000001), new StoredOffset("orders", 0, 17, null, -1, 1700000000002)],
            group.State.Offsets);

        var cleared = new GrainState<CounterState>(new CounterState { Value = 9 });
        await storage.ReadStateAsync("counter", GrainId.Create("counter", "cleared"), cleared);
        Assert.False(cleared.RecordExists);
        Assert.Equal(0, cleared.State!.Value);

        // The grain carries on from the old blob and its ETag: the next write replaces it.
        var grain = cluster.Client.GetGrain<ICounterGrain>("survivor");
        Assert.Equal(3, await grain.Get());
        Assert.Equal(4, await grain.Increment());
        var reread = new GrainState<CounterState>(new CounterState());
        await storage.ReadStateAsync("counter", GrainId.Create("counter", "survivor"), reread);
        Assert.Equal(4, reread.State!.Value);
    }

    [Fact]
    public async Task A_bad_configuration_fails_silo_start()
    {
        var builder = new InProcessTestClusterBuilder(1);
        builder.Options.ConfigureFileLogging = false;
        builder.ConfigureSilo((_, silo) => silo.AddAzureBlobGrainStorage("blob", o =>
        {
            o.BlobServiceClient = new BlobServiceClient(azurite.Azurite.ConnectionString);
            o.ContainerName = "Bad_Name";
        }));
        await using var cluster = builder.Build();
        await Assert.ThrowsAnyAsync<Exception>(() => cluster.DeployAsync(Ct));
    }
}
