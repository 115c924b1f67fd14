using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Orleans.Configuration;
using Orleans.Core;
using Orleans.Persistence.FileStorage;
using Orleans.Runtime;
using Orleans.Serialization;
using Orleans.Serialization.Serializers;
using Orleans.Storage;
using OrleansStream.Server.Cluster;
using OrleansStream.Server.Controller;
using OrleansStream.Server.Persistence;

namespace OrleansStream.Server.Tests.Controller;

/// <summary>
/// A controller activation's judgement of the state it read, against the broker's own grain storage: each
/// <see cref="AtomicFileGrainStorage"/> instance plays one silo of a cluster sharing the state directory.
/// </summary>
public sealed class ControllerStateCheckTests : IDisposable
{
    private static readonly GrainId Controller = GrainId.Create("os-controller", GrainKeys.Controller);
    private readonly string _root = Path.Combine(Path.GetTempPath(), "orleansstream-tests", "controller-state-" + Guid.NewGuid().ToString("N"));
    private readonly ServiceProvider _services = new ServiceCollection().AddSerializer().BuildServiceProvider();

    public void Dispose()
    {
        _services.Dispose();
        if (Directory.Exists(_root)) Directory.Delete(_root, recursive: true);
    }

    [Fact]
    public async Task A_second_activation_that_read_before_the_first_ones_first_write_adopts_that_state_instead_of_declaring_it_lost()
    {
        var first = Activation();
        var second = Activation();
        await first.ReadStateAsync();
        await second.ReadStateAsync();
        Assert.Equal((ControllerStateCheck.Outcome.NeedsClusterId, null), await ControllerStateCheck.JudgeAsync(first, NoData));

        // The first activation's write commits, and a broker records its cluster id, after the second one read.
        string? clusterId = null;
        var outcome = await ControllerStateCheck.JudgeAsync(second, async () =>
        {
            first.State.ClusterId = clusterId = MetaProperties.NewClusterId();
            await first.WriteStateAsync();
            return [new BrokerDescription("b0", clusterId, 0, 1), new BrokerDescription("b1", null, null, 0)];
        });

        Assert.Equal((ControllerStateCheck.Outcome.Loaded, null), outcome);
        Assert.Equal(clusterId, second.State.ClusterId);
        // Fenced as every controller write is: the second activation writes on top of the first one's record.
        second.State.MetadataVersion++;
        await second.WriteStateAsync();
        await Assert.ThrowsAsync<InconsistentStateException>(() => first.WriteStateAsync());
    }

    [Fact]
    public async Task An_empty_state_that_stays_empty_facing_a_brokers_cluster_id_is_lost()
    {
        var activation = Activation();
        await activation.ReadStateAsync();

        var (outcome, reason) = await ControllerStateCheck.JudgeAsync(activation,
            () => Task.FromResult<IReadOnlyList<BrokerDescription?>>([new BrokerDescription("b0", "their-cluster", 0, 2), null]));

        Assert.Equal(ControllerStateCheck.Outcome.StateLost, outcome);
        Assert.Contains("their-cluster", reason, StringComparison.Ordinal);
        Assert.False(activation.RecordExists);
    }

    [Fact]
    public async Task An_empty_state_is_not_judged_while_a_live_broker_has_not_answered()
    {
        var activation = Activation();
        await activation.ReadStateAsync();

        await Assert.ThrowsAsync<InvalidOperationException>(() => ControllerStateCheck.JudgeAsync(activation,
            () => Task.FromResult<IReadOnlyList<BrokerDescription?>>([new BrokerDescription("b0", null, null, 0), null])));
    }

    private static Task<IReadOnlyList<BrokerDescription?>> NoData() =>
        Task.FromResult<IReadOnlyList<BrokerDescription?>>([new BrokerDescription("b0", null, null, 0)]);

    /// <summary>One activation's view of the controller's record, through its own silo's storage instance.</summary>
    private StoredState Activation() =>
        new(new AtomicFileGrainStorage("orleansstream", new FileGrainStorageOptions
        {
            RootDirectory = _root,
            GrainStorageSerializer = new OrleansGrainStorageSerializer(_services.GetRequiredService<Serializer>()),
        }, Microsoft.Extensions.Options.Options.Create(new ClusterOptions { ServiceId = "svc", ClusterId = "c" }),
            _services.GetRequiredService<IActivatorProvider>(), NullLogger<AtomicFileGrainStorage>.Instance));

    /// <summary>The controller's record as Orleans' persistent state bridge presents it to a grain.</summary>
    private sealed class StoredState(IGrainStorage storage) : IStorage<ControllerState>
    {
        private readonly GrainState<ControllerState> _state = new() { State = new ControllerState() };

        public ControllerState State
        {
            get => _state.State!;
            set => _state.State = value;
        }

        public string? Etag => _state.ETag;

        public bool RecordExists => _state.RecordExists;

        public Task ClearStateAsync() => storage.ClearStateAsync("controller", Controller, _state);

        public Task WriteStateAsync() => storage.WriteStateAsync("controller", Controller, _state);

        public Task ReadStateAsync() => storage.ReadStateAsync("controller", Controller, _state);
    }
}
