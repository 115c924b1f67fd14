using System.Collections.Concurrent;
using System.Runtime.CompilerServices;

namespace OrleansStream.Client;

/// <summary>One partition's leader as the client last saw it, with the leader replica's grain reference ready.</summary>
internal sealed record PartitionEntry(int Partition, int Leader, int LeaderEpoch, ErrorCode Error, IPartitionReplicaGrain? LeaderGrain);

/// <summary>A topic's metadata at one controller version.</summary>
internal sealed class TopicEntry(string name, long version, ErrorCode error, string? errorMessage, PartitionEntry[] partitions, long fetchedAt)
{
    public string Name { get; } = name;
    public long Version { get; } = version;
    public ErrorCode Error { get; } = error;
    public string? ErrorMessage { get; } = errorMessage;
    public PartitionEntry[] Partitions { get; } = partitions;
    /// <summary><see cref="TimeProvider.GetTimestamp"/> when the controller answered.</summary>
    public long FetchedAt { get; } = fetchedAt;
    public int PartitionCount => Partitions.Length;
}

/// <summary>
/// Topic metadata shared by every producer, consumer and admin client of one <see cref="IClusterClient"/>.
/// Refreshes are single-flight per topic and version-aware: an answer older than what is cached is ignored, and a
/// caller that saw a stale entry does not refresh again if someone else already brought a newer one.
/// </summary>
internal sealed class MetadataCache
{
    private static readonly ConditionalWeakTable<IClusterClient, MetadataCache> s_caches = new();

    private readonly IGrainFactory _grains;
    private readonly TimeProvider _time;
    private readonly ConcurrentDictionary<string, TopicEntry> _topics = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<(string Topic, bool AutoCreate), Task<TopicEntry>> _inflight = new();
    private readonly ConcurrentDictionary<(string Topic, int Partition, int Replica), IPartitionReplicaGrain> _replicas = new();
    private long _version = -1;

    internal MetadataCache(IGrainFactory grains, TimeProvider time)
    {
        _grains = grains;
        _time = time;
        Controller = grains.GetGrain<IClusterControllerGrain>(GrainKeys.Controller);
        Calls = SiloFailureWatch.For(grains);
    }

    public static MetadataCache For(IClusterClient client) => s_caches.GetValue(client, static c => new MetadataCache(c, TimeProvider.System));

    public IClusterControllerGrain Controller { get; }

    public IGrainFactory Grains => _grains;

    /// <summary>Every grain call of the SDK goes through it, so that a silo's death ends the calls it left unanswered.</summary>
    public SiloFailureWatch Calls { get; }

    /// <summary>The highest controller metadata version seen.</summary>
    public long Version => Interlocked.Read(ref _version);

    public IPartitionReplicaGrain Replica(string topic, int partition, int replicaId) =>
        _replicas.GetOrAdd((topic, partition, replicaId),
            static (k, g) => g.GetGrain<IPartitionReplicaGrain>(GrainKeys.Replica(k.Topic, k.Partition, k.Replica)), _grains);

    /// <summary>A cached entry younger than <paramref name="maxAgeMs"/>, without a call.</summary>
    public bool TryGet(string topic, int maxAgeMs, out TopicEntry entry)
    {
        if (_topics.TryGetValue(topic, out entry!) && _time.GetElapsedTime(entry.FetchedAt).TotalMilliseconds < maxAgeMs)
            return true;
        entry = null!;
        return false;
    }

    public ValueTask<TopicEntry> GetAsync(string topic, bool allowAutoCreate, int maxAgeMs) =>
        TryGet(topic, maxAgeMs, out var entry) && entry.Error == ErrorCode.None
            ? ValueTask.FromResult(entry)
            : new ValueTask<TopicEntry>(RefreshAsync(topic, allowAutoCreate, staleVersion: long.MaxValue));

    /// <summary>
    /// Asks the controller again unless the cache already holds something newer than <paramref name="staleVersion"/>
    /// (the version the caller found wanting; <see cref="long.MaxValue"/> forces a call).
    /// </summary>
    public Task<TopicEntry> RefreshAsync(string topic, bool allowAutoCreate, long staleVersion)
    {
        if (staleVersion != long.MaxValue && _topics.TryGetValue(topic, out var cached) && cached.Version > staleVersion)
            return Task.FromResult(cached);
        var key = (topic, allowAutoCreate);
        while (true)
        {
            if (_inflight.TryGetValue(key, out var running)) return running;
            var tcs = new TaskCompletionSource<TopicEntry>(TaskCreationOptions.RunContinuationsAsynchronously);
            if (!_inflight.TryAdd(key, tcs.Task)) continue;
            // On the thread pool: the caller may block a grain's turn on it (Produce), which must not be needed to send it.
            _ = Task.Run(() => FetchAsync(topic, allowAutoCreate, key, tcs));
            return tcs.Task;
        }
    }

    private async Task FetchAsync(string topic, bool allowAutoCreate, (string, bool) key, TaskCompletionSource<TopicEntry> tcs)
    {
        try
        {
            var metadata = await Calls.Call(Controller.GetMetadata(new MetadataRequest([topic], allowAutoCreate))).ConfigureAwait(false);
            Apply(metadata);
            tcs.TrySetResult(_topics.TryGetValue(topic, out var e)
                ? e
                : new TopicEntry(topic, metadata.Version, ErrorCode.UnknownTopicOrPartition, $"Topic '{topic}' is not in the metadata.", [], _time.GetTimestamp()));
        }
        catch (Exception ex)
        {
            tcs.TrySetException(ex);
        }
        finally
        {
            _inflight.TryRemove(new KeyValuePair<(string, bool), Task<TopicEntry>>(key, tcs.Task));
        }
    }

    /// <summary>Every topic, straight from the controller (admin's GetMetadata); updates the cache on the way.</summary>
    public async Task<ClusterMetadata> FetchAsync(IReadOnlyList<string>? topics, bool allowAutoCreate = false)
    {
        var metadata = await Calls.Call(Controller.GetMetadata(new MetadataRequest(topics, allowAutoCreate))).ConfigureAwait(false);
        Apply(metadata);
        return metadata;
    }

    internal void Apply(ClusterMetadata metadata)
    {
        var now = _time.GetTimestamp();
        long seen;
        while ((seen = Interlocked.Read(ref _version)) < metadata.Version && Interlocked.CompareExchange(ref _version, metadata.Version, seen) != seen) { }
        foreach (var t in metadata.Topics)
        {
            var partitions = new PartitionEntry[t.Partitions.Count];
            var valid = true;
            foreach (var p in t.Partitions)
            {
                if ((uint)p.Partition >= (uint)partitions.Length) { valid = false; break; }
                var grain = p.Leader >= 0 ? Replica(t.Name, p.Partition, p.Leader) : null;
                var error = p.Error != ErrorCode.None ? p.Error : grain is null ? ErrorCode.LeaderNotAvailable : ErrorCode.None;
                partitions[p.Partition] = new PartitionEntry(p.Partition, p.Leader, p.LeaderEpoch, error, grain);
            }
            if (valid)
            {
                for (var i = 0; i < partitions.Length; i++)
                    partitions[i] ??= new PartitionEntry(i, -1, -1, ErrorCode.LeaderNotAvailable, null);
            }
            var entry = new TopicEntry(t.Name, metadata.Version, t.Error, t.ErrorMessage, valid ? partitions : [], now);
            _topics.AddOrUpdate(t.Name, static (_, e) => e, static (_, old, e) => e.Version >= old.Version ? e : old, entry);
        }
    }
}
