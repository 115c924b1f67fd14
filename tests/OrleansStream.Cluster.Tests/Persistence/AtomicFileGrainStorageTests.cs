using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Persistence.FileStorage;
using Orleans.Runtime;
using Orleans.Serialization;
using Orleans.Serialization.Serializers;
using Orleans.Storage;
using OrleansStream.Server.Persistence;

namespace OrleansStream.Cluster.Tests.Persistence;

/// <summary>
/// The broker's default grain storage, shared by every silo process through one directory: each instance here plays
/// one silo (its own file handles, so the lock is contended exactly as across processes).
/// </summary>
public sealed class AtomicFileGrainStorageTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "orleansstream-tests", "grain-state-" + Guid.NewGuid().ToString("N"));
    private readonly ServiceProvider _services = new ServiceCollection().AddSerializer().BuildServiceProvider();
    private static readonly GrainId Controller = GrainId.Create("os-controller", "controller");

    public sealed class Doc
    {
        public long Version { get; set; }

        public string Text { get; set; } = "";
    }

    private sealed class JsonStorageSerializer : IGrainStorageSerializer
    {
        public BinaryData Serialize<T>(T? input) => new(JsonSerializer.SerializeToUtf8Bytes(input));

        public T Deserialize<T>(BinaryData input) => JsonSerializer.Deserialize<T>(input.ToMemory().Span)!;
    }

    private FileGrainStorageOptions Options() => new() { RootDirectory = _root, GrainStorageSerializer = new JsonStorageSerializer() };

    private static IOptions<ClusterOptions> Cluster() => Microsoft.Extensions.Options.Options.Create(new ClusterOptions { ServiceId = "svc", ClusterId = "c" });

    private AtomicFileGrainStorage Silo() =>
        new("orleansstream", Options(), Cluster(), _services.GetRequiredService<IActivatorProvider>(), NullLogger<AtomicFileGrainStorage>.Instance);

    private static GrainState<Doc> Empty() => new() { State = new Doc() };

    private static async Task<GrainState<Doc>> ReadAsync(IGrainStorage storage)
    {
        var state = Empty();
        await storage.ReadStateAsync("controller", Controller, state);
        return state;
    }

    [Fact]
    public async Task Of_two_writers_holding_the_same_etag_exactly_one_wins_every_round()
    {
        var a = Silo();
        var b = Silo();
        for (var round = 0; round < 40; round++)
        {
            var seenByA = await ReadAsync(a);
            var seenByB = await ReadAsync(b);
            Assert.Equal(seenByA.ETag, seenByB.ETag);
            seenByA.State!.Version = seenByB.State!.Version = round + 1;
            seenByA.State!.Text = "a";
            seenByB.State!.Text = "b";

            var writes = new[] { a.WriteStateAsync("controller", Controller, seenByA), b.WriteStateAsync("controller", Controller, seenByB) };
            await Task.WhenAll(writes).ContinueWith(static _ => { }, TestContext.Current.CancellationToken);

            var won = writes.Count(w => w.IsCompletedSuccessfully);
            Assert.Equal(1, won);
            var lost = writes.Single(w => w.IsFaulted);
            Assert.IsType<InconsistentStateException>(lost.Exception!.GetBaseException());
            var stored = await ReadAsync(Silo());
            Assert.Equal(round + 1, stored.State!.Version);
            Assert.Equal(writes[0].IsCompletedSuccessfully ? "a" : "b", stored.State!.Text);
            Assert.Equal(writes[0].IsCompletedSuccessfully ? seenByA.ETag : seenByB.ETag, stored.ETag);
        }
    }

    [Fact]
    public async Task Readers_never_see_a_half_written_record()
    {
        // Sizes cycle through 50..15000 bytes (the first record is empty), so a torn record would be short and fail to parse or to match its version.
        static int SizeOf(long version) => (int)((version - 1) % 300 + 1) * 50;

        var writer = Silo();
        var state = Empty();
        await writer.WriteStateAsync("controller", Controller, state);
        using var done = new CancellationTokenSource();
        var reads = new int[2];
        var readers = Enumerable.Range(0, reads.Length).Select(r => Task.Run(async () =>
        {
            var reader = Silo();
            while (!done.IsCancellationRequested)
            {
                var seen = await ReadAsync(reader);
                Assert.True(seen.RecordExists);
                Assert.Equal(SizeOf(seen.State!.Version), seen.State.Text.Length);
                Interlocked.Increment(ref reads[r]);
            }
        })).ToArray();

        // At least 300 writes, and on until every reader has read many times while writes went on: on a loaded machine a
        // reader's task may start only after the first 300 are done.
        var deadline = DateTime.UtcNow.AddSeconds(60);
        long version = 0;
        while ((version < 300 || !ReadersBusy()) && !Array.Exists(readers, static t => t.IsCompleted))   // a failed reader ends the run
        {
            Assert.True(DateTime.UtcNow < deadline, $"readers made {reads[0]} and {reads[1]} reads before the deadline");
            version++;
            state.State!.Version = version;
            state.State!.Text = new string('x', SizeOf(version));
            await writer.WriteStateAsync("controller", Controller, state);
        }
        done.Cancel();
        await Task.WhenAll(readers);
        Assert.Equal(version, (await ReadAsync(writer)).State!.Version);

        bool ReadersBusy() => Volatile.Read(ref reads[0]) >= 50 && Volatile.Read(ref reads[1]) >= 50;
    }

    [Fact]
    public async Task Records_are_compatible_with_orleans_file_grain_storage_both_ways()
    {
        Directory.CreateDirectory(_root);   // Orleans' provider creates it only when its silo starts.
        var orleans = new FileGrainStorage("orleansstream", Options(), Cluster(), _services.GetRequiredService<IActivatorProvider>());
        var ours = Silo();

        var written = Empty();
        written.State = new Doc { Version = 7, Text = "from orleans" };
        await ((IGrainStorage)orleans).WriteStateAsync("controller", Controller, written);
        var read = await ReadAsync(ours);
        Assert.Equal(7, read.State!.Version);
        Assert.Equal(written.ETag, read.ETag);

        read.State!.Text = "from us";
        await ours.WriteStateAsync("controller", Controller, read);
        var back = await ReadAsync(orleans);
        Assert.Equal("from us", back.State!.Text);
        Assert.Equal(read.ETag, back.ETag);
    }

    [Fact]
    public async Task A_temp_file_left_by_a_crash_changes_nothing_and_stale_clears_are_refused()
    {
        var storage = Silo();
        var state = Empty();
        state.State!.Text = "kept";
        await storage.WriteStateAsync("controller", Controller, state);
        var path = storage.RecordPath("controller", Controller);
        await File.WriteAllBytesAsync($"{path}.{Guid.NewGuid():N}.tmp", [1, 2, 3], TestContext.Current.CancellationToken);

        var read = await ReadAsync(Silo());
        Assert.Equal("kept", read.State!.Text);

        var stale = await ReadAsync(storage);
        await storage.WriteStateAsync("controller", Controller, read);
        await Assert.ThrowsAsync<InconsistentStateException>(() => storage.ClearStateAsync("controller", Controller, stale));
        await Assert.ThrowsAsync<InconsistentStateException>(() => storage.WriteStateAsync("controller", Controller, Empty()));
        await storage.ClearStateAsync("controller", Controller, read);
        Assert.False((await ReadAsync(storage)).RecordExists);
        Assert.False(File.Exists(path));
    }

    public void Dispose()
    {
        _services.Dispose();
        try { Directory.Delete(_root, recursive: true); } catch (DirectoryNotFoundException) { }
    }
}
