using System.Text;
using OrleansStream.Storage.Tiering;

namespace OrleansStream.Tiering.Tests;

/// <summary>The <see cref="ITierStore"/> contract, run against every implementation.</summary>
public abstract class TierStoreContractTests
{
    protected static CancellationToken Ct => TestContext.Current.CancellationToken;

    protected abstract ITierStore CreateStore();

    [Fact]
    public async Task Upload_is_create_only_and_keeps_the_first_object()
    {
        var store = CreateStore();
        Assert.True(await store.UploadAsync("t/0/00000000000000000000-a.log", Bytes("first"), Ct));
        Assert.False(await store.UploadAsync("t/0/00000000000000000000-a.log", Bytes("second"), Ct));

        var got = await store.GetAsync("t/0/00000000000000000000-a.log", Ct);
        Assert.Equal("first", Encoding.UTF8.GetString(got!.Content.Span));
    }

    [Fact]
    public async Task Ranged_reads_return_the_requested_bytes()
    {
        var store = CreateStore();
        var data = new byte[300_000];
        new Random(7).NextBytes(data);
        await store.UploadAsync("r/1/seg.log", new MemoryStream(data), Ct);

        var buffer = new byte[1000];
        Assert.Equal(1000, await store.ReadAsync("r/1/seg.log", 123_456, buffer, Ct));
        Assert.Equal(data.AsSpan(123_456, 1000).ToArray(), buffer);

        Assert.Equal(100, await store.ReadAsync("r/1/seg.log", data.Length - 100, buffer, Ct));
        Assert.Equal(data.AsSpan(data.Length - 100).ToArray(), buffer.AsSpan(0, 100).ToArray());
        await Assert.ThrowsAsync<TierObjectNotFoundException>(() => store.ReadAsync("r/1/missing.log", 0, buffer, Ct));
    }

    [Fact]
    public async Task A_local_file_uploads_whole_and_create_only_and_stays_readable_locally()
    {
        // Segments go up as FileStreams (the folder store copies them in the kernel): same bytes, same create-only rule.
        var store = CreateStore();
        var path = Path.Combine(Path.GetTempPath(), "os-tier-src-" + Guid.NewGuid().ToString("N"));
        var data = new byte[3 << 20];
        new Random(11).NextBytes(data);
        await File.WriteAllBytesAsync(path, data, Ct);
        try
        {
            await using (var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1 << 16, FileOptions.Asynchronous))
                Assert.True(await store.UploadAsync("f/0/00000000000000000000-b.log", file, Ct));
            await using (var again = File.OpenRead(path))
                Assert.False(await store.UploadAsync("f/0/00000000000000000000-b.log", again, Ct));

            var got = await store.GetAsync("f/0/00000000000000000000-b.log", Ct);
            Assert.Equal(data, got!.Content.ToArray());
            Assert.Equal(data, await File.ReadAllBytesAsync(path, Ct));
            var listed = new List<TierObjectInfo>();
            await foreach (var o in store.ListAsync("f/", Ct)) listed.Add(o);
            Assert.Equal(data.Length, Assert.Single(listed).Size);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public async Task Conditional_writes_follow_etags()
    {
        var store = CreateStore();
        const string key = "c/0/manifest.json";
        Assert.Null(await store.GetAsync(key, Ct));

        var e1 = await store.WriteConditionalAsync(key, Encoding.UTF8.GetBytes("v1"), ifMatch: null, Ct);
        await Assert.ThrowsAsync<TierConditionFailedException>(() => store.WriteConditionalAsync(key, Encoding.UTF8.GetBytes("again"), ifMatch: null, Ct));

        var e2 = await store.WriteConditionalAsync(key, Encoding.UTF8.GetBytes("v2"), e1, Ct);
        Assert.NotEqual(e1, e2);
        await Assert.ThrowsAsync<TierConditionFailedException>(() => store.WriteConditionalAsync(key, Encoding.UTF8.GetBytes("stale"), e1, Ct));

        var got = await store.GetAsync(key, Ct);
        Assert.Equal("v2", Encoding.UTF8.GetString(got!.Content.Span));
        Assert.Equal(e2, got.ETag);
    }

    [Fact]
    public async Task Of_concurrent_conditional_writers_exactly_one_wins()
    {
        var store = CreateStore();
        const string key = "w/0/manifest.json";
        var etag = await store.WriteConditionalAsync(key, Encoding.UTF8.GetBytes("base"), null, Ct);

        var attempts = Enumerable.Range(0, 8).Select(i => Task.Run(async () =>
        {
            try
            {
                await store.WriteConditionalAsync(key, Encoding.UTF8.GetBytes("writer" + i), etag, Ct);
                return true;
            }
            catch (TierConditionFailedException)
            {
                return false;
            }
        })).ToArray();
        var results = await Task.WhenAll(attempts);

        Assert.Equal(1, results.Count(r => r));
    }

    [Fact]
    public async Task List_and_delete_by_prefix()
    {
        var store = CreateStore();
        await store.UploadAsync("l/0/00000000000000000000-a.log", Bytes("aa"), Ct);
        await store.UploadAsync("l/0/00000000000000000000-a.index", Bytes("i"), Ct);
        await store.UploadAsync("l/0/00000000000000000010-b.log", Bytes("bbb"), Ct);
        await store.UploadAsync("l/1/00000000000000000000-c.log", Bytes("c"), Ct);

        var keys = new List<TierObjectInfo>();
        await foreach (var o in store.ListAsync("l/0/", Ct)) keys.Add(o);
        Assert.Equal(["l/0/00000000000000000000-a.index", "l/0/00000000000000000000-a.log", "l/0/00000000000000000010-b.log"], keys.Select(k => k.Key));
        Assert.Equal(3, keys[2].Size);

        var prefixed = new List<string>();
        await foreach (var o in store.ListAsync("l/0/00000000000000000000-", Ct)) prefixed.Add(o.Key);
        Assert.Equal(2, prefixed.Count);

        Assert.True(await store.DeleteAsync("l/0/00000000000000000000-a.log", Ct));
        Assert.False(await store.DeleteAsync("l/0/00000000000000000000-a.log", Ct));
        Assert.Null(await store.GetAsync("l/0/00000000000000000000-a.log", Ct));
    }

    private static MemoryStream Bytes(string s) => new(Encoding.UTF8.GetBytes(s));
}

public sealed class FolderTierStoreTests : TierStoreContractTests, IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "os-tier-" + Guid.NewGuid().ToString("N"));

    protected override ITierStore CreateStore() => new FolderTierStore(_root);

    [Fact]
    public async Task Tiered_segments_share_their_files_by_hard_link_and_keep_their_bytes_when_the_log_truncates_into_them()
    {
        // The log lives next to the tier (one file system, as {data}/tier is), and keeps its local copies.
        var store = new FolderTierStore(_root);
        using var t = new TieredLog(store, TieredLog.SmallSegments(localRetentionBytes: long.MaxValue), directory: _root + "-log");
        t.Produce(200);
        TieringPassResult pass;
        do pass = await t.Manager.RunOnceAsync(leaderEpoch: 0, Ct);
        while (pass.SegmentsCopied > 0 && !pass.Failed);
        Assert.Null(pass.Error);
        var tiered = t.Manager.Manifest!.Segments;
        Assert.True(tiered.Count >= 3, $"only {tiered.Count} segments tiered");
        var before = new Dictionary<string, byte[]>();
        await foreach (var o in store.ListAsync("orders/0/", Ct))
            before[o.Key] = (await store.GetAsync(o.Key, Ct))!.Content.ToArray();

        var victim = t.Log.Segments.First(s => s.BaseOffset == tiered[1].BaseOffset);
        if (!OperatingSystem.IsWindows())
            Assert.Equal("2", await LinkCountAsync(victim.LogPath));   // the local name and the tier's: no bytes copied

        // A divergence (say, after an unclean election) truncates into a tiered, closed segment.
        t.Log.TruncateTo(victim.BaseOffset + 3);
        Assert.True(t.Log.LogEndOffset <= victim.BaseOffset + 3);
        Assert.True(new FileInfo(victim.LogPath).Length < before.Single(kv => kv.Key.EndsWith($"{victim.BaseOffset:D20}-{tiered[1].SegmentId}.log", StringComparison.Ordinal)).Value.Length);
        if (!OperatingSystem.IsWindows())
            Assert.Equal("1", await LinkCountAsync(victim.LogPath));   // the truncated segment has files of its own

        foreach (var (key, bytes) in before)
            Assert.Equal(bytes, (await store.GetAsync(key, Ct))!.Content.ToArray());
        t.Produce(10);   // and the log goes on from its new end
        Assert.Equal(10, await t.ConsumeAndVerifyAsync(t.Log.LogEndOffset - 10));
    }

    private static async Task<string> LinkCountAsync(string path)
    {
        using var stat = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("stat", ["-c", "%h", path]) { RedirectStandardOutput = true })!;
        var output = await stat.StandardOutput.ReadToEndAsync(Ct);
        await stat.WaitForExitAsync(Ct);
        return output.Trim();
    }

    [Fact]
    public async Task Keys_cannot_escape_the_root()
    {
        var store = CreateStore();
        await Assert.ThrowsAsync<ArgumentException>(() => store.UploadAsync("../x", new MemoryStream([1]), Ct));
    }

    public void Dispose()
    {
        if (Directory.Exists(_root)) Directory.Delete(_root, recursive: true);
        if (Directory.Exists(_root + "-log")) Directory.Delete(_root + "-log", recursive: true);
    }
}

[Trait("Category", "Slow")]
public sealed class AzureBlobTierStoreTests(AzuriteFixture azurite) : TierStoreContractTests, IClassFixture<AzuriteFixture>
{
    protected override ITierStore CreateStore()
        => new AzureBlobTierStore(new AzureBlobTierStoreSettings
        {
            ConnectionString = azurite.Azurite.ConnectionString,
            Container = AzuriteFixture.NewContainerName(),
            UploadBlockBytes = 64 * 1024,
        });

    [Fact]
    public void Settings_need_exactly_one_way_to_connect()
    {
        var both = new AzureBlobTierStoreSettings { ConnectionString = "UseDevelopmentStorage=true", ServiceUri = new Uri("https://a.blob.core.windows.net") };
        Assert.Equal(ErrorCode.InvalidConfig, Assert.Throws<OrleansStreamException>(both.Validate).Code);
        Assert.Equal(ErrorCode.InvalidConfig, Assert.Throws<OrleansStreamException>(new AzureBlobTierStoreSettings().Validate).Code);
    }
}
