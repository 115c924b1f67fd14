namespace OrleansStream.Storage.Tiering;

/// <summary>
/// A partition's <see cref="RemoteLogManifest"/> as this broker last read or wrote it (Kafka's RemoteLogMetadataManager,
/// for one partition): the tiering pass, the <see cref="RemoteLogReader"/> and the <see cref="RemoteLogCleaner"/> share
/// it, so what one writes is what the others read next. Writes are conditional on the version last read.
/// </summary>
internal sealed class RemoteLogMetadataManager(ITierStore store, RemoteReadCache cache, string topic, int partition)
{
    private readonly ITierStore _store = store;
    private readonly RemoteReadCache _cache = cache;
    private readonly string _topic = topic;
    private readonly int _partition = partition;
    private VersionedManifest? _current;

    /// <summary>The manifest as last read or written (null before the first read).</summary>
    public RemoteLogManifest? Manifest => _current?.Manifest;

    /// <summary>The manifest once read (<see cref="GetAsync"/> or <see cref="ReloadAsync"/> first).</summary>
    public RemoteLogManifest Current => _current!.Manifest;

    /// <summary>The manifest, read from the tier the first time.</summary>
    public async Task<RemoteLogManifest> GetAsync(CancellationToken cancellationToken)
    {
        _current ??= await VersionedManifest.LoadAsync(_store, _topic, _partition, cancellationToken);
        return _current.Manifest;
    }

    /// <summary>Reads the manifest from the tier again (another leader may have written it).</summary>
    public async Task<RemoteLogManifest> ReloadAsync(CancellationToken cancellationToken)
    {
        _current = await VersionedManifest.LoadAsync(_store, _topic, _partition, cancellationToken);
        return _current.Manifest;
    }

    /// <summary>Drops the cached manifest: someone else wrote it, the next use reads it again.</summary>
    public void Forget() => _current = null;

    /// <summary>Deletes segments from the tier: marked DeleteSegmentStarted, their objects removed, then DeleteSegmentFinished.</summary>
    public async Task DeleteSegmentsAsync(IReadOnlyList<RemoteLogSegmentMetadata> segments, int leaderEpoch, CancellationToken cancellationToken)
    {
        var marked = Current;
        var changed = false;
        foreach (var s in segments)
        {
            if (s.State != RemoteLogSegmentState.DeleteSegmentStarted)
            {
                marked = marked.With(s with { State = RemoteLogSegmentState.DeleteSegmentStarted });
                changed = true;
            }
        }
        if (changed) await SaveAsync(marked, leaderEpoch, cancellationToken);
        foreach (var s in segments)
        {
            var prefix = s.KeyPrefix(_topic, _partition);
            foreach (var suffix in RemoteLogManager.SegmentSuffixes)
                await _store.DeleteAsync(prefix + suffix, cancellationToken);
            _cache.Invalidate(prefix);
        }
        var done = Current;
        foreach (var s in segments)
            done = done.With(s with { State = RemoteLogSegmentState.DeleteSegmentFinished });
        await SaveAsync(done, leaderEpoch, cancellationToken);
    }

    /// <summary>Writes <paramref name="next"/> as leader of <paramref name="leaderEpoch"/>, conditional on the version last read.</summary>
    public async Task SaveAsync(RemoteLogManifest next, int leaderEpoch, CancellationToken cancellationToken)
    {
        _current = await _current!.SaveAsync(_store, _topic, _partition, next with { WriterLeaderEpoch = leaderEpoch }, cancellationToken);
    }
}
