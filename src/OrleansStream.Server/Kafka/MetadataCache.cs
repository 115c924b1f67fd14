using System.Collections.Concurrent;
using OrleansStream.Server.Cluster;
using OrleansStream.Server.Controller;
using OrleansStream.Server.Kafka.Quotas;
using OrleansStream.Server.Kafka.Security;
using OrleansStream.Server.Security.Authorization;

namespace OrleansStream.Server.Kafka;

/// <summary>What the controller said, or what this broker last heard from it when it could not say.</summary>
public readonly record struct ControllerTopics(IReadOnlyList<TopicMetadata> Topics, bool FromCache);

/// <summary>
/// Kafka's broker metadata cache in the one role it has here. A Kafka broker answers Metadata from its own cache, kept
/// current by the metadata log, so a client sees no gap while the controller moves. Here every answer comes from the
/// controller grain; while its silo is dead and not yet declared so (seconds), or hung, that call fails or waits, and a
/// Metadata request that fails closes its client's connection. So each broker keeps the topics and broker nodes the
/// controller last gave it and answers from them, stale as a Kafka broker's cache is during a controller change, when
/// the controller cannot answer within <see cref="ControllerWait"/>. Every answer from the controller updates it, and
/// so that a broker no client has asked has it too, the broker reloads every topic whenever the controller's metadata
/// version moved (one small call each <see cref="PollInterval"/>, one for every topic after each change).
/// </summary>
/// <remarks>
/// The same poll keeps the broker's <see cref="KafkaAuthorizer"/>, <see cref="SaslCredentialStore"/>,
/// <see cref="ClientQuotaManager"/> and <see cref="FinalizedFeatures"/> current: when the controller's ACL, SCRAM, client
/// quota version or finalized features epoch moved, the broker loads every ACL binding, stored SCRAM credential, client
/// quota or finalized feature level.
/// </remarks>
public sealed partial class MetadataCache(IGrainFactory grains, KafkaAuthorizer authorizer, SaslCredentialStore credentials, ClientQuotaManager quotas,
    FinalizedFeatures features, ClientMetrics.ClientMetricsManager clientMetrics, TimeProvider time, ILogger<MetadataCache> logger)
    : ILifecycleParticipant<ISiloLifecycle>
{
    /// <summary>
    /// How long a request waits for the controller before the cache answers it. A call in flight to a silo that dies is
    /// not failed (dotnet/orleans#10165): it would wait the 30 s call timeout, as long as a Java client waits for any
    /// request (<c>request.timeout.ms</c>).
    /// </summary>
    public static readonly TimeSpan ControllerWait = TimeSpan.FromSeconds(5);

    /// <summary>How often the broker asks the controller whether its metadata moved.</summary>
    public static readonly TimeSpan PollInterval = TimeSpan.FromSeconds(1);

    private readonly TopicMetadataImage _image = new();
    private readonly CancellationTokenSource _stopping = new();
    private BrokerNodes? _nodes;
    private int _fallingBack;
    private Task? _refreshing;
    private readonly Lock _catchUpLock = new();
    private Task? _catchingUp;

    private IClusterControllerGrain Controller => grains.GetGrain<IClusterControllerGrain>(GrainKeys.Controller);

    private IControllerInternalGrain ControllerInternal => grains.GetGrain<IControllerInternalGrain>(GrainKeys.Controller);

    /// <summary>The controller's metadata of <paramref name="topics"/> (null: every topic), or this broker's cached image of them.</summary>
    public async Task<ControllerTopics> TopicsAsync(IReadOnlyList<string>? topics, bool allowAutoTopicCreation)
    {
        var call = Controller.GetMetadata(new OrleansStream.MetadataRequest(topics, allowAutoTopicCreation));
        try
        {
            var metadata = await AskAsync(call);
            _image.Store(topics, metadata);
            Answered();
            return new ControllerTopics(metadata.Topics, FromCache: false);
        }
        catch (Exception e) when (IsUnreachable(e))
        {
            // A late answer still brings the image up to date; its version decides whether it is newer than what came since.
            if (!call.IsCompleted) _ = StoreLateAsync(call, topics);
            if (_image.Describe(topics) is not { } cached) throw;
            FellBack(e);
            return new ControllerTopics(cached, FromCache: true);
        }
    }

    /// <summary>
    /// The names of the topics with the ids in <paramref name="ids"/> (KIP-516: Metadata v12 by id), from the image, as a
    /// Kafka broker resolves them from its cache. An id the image does not hold (a topic created since the last poll)
    /// first brings the image up to date (<see cref="CatchUpAsync"/>); one still not found has no entry.
    /// </summary>
    public async Task<Dictionary<Guid, string>> TopicNamesAsync(IReadOnlySet<Guid> ids)
    {
        var names = _image.NamesOf(ids);
        if (names.Count == ids.Count) return names;
        await CatchUpAsync();
        return _image.NamesOf(ids);
    }

    /// <summary>
    /// The name of the topic with id <paramref name="topicId"/> (Fetch v13+ by id), null when no topic has it: from the
    /// image, which holds every topic this broker loaded, as a Kafka broker resolves a fetch's ids from its metadata
    /// cache; an id the image lacks first brings it up to date (<see cref="CatchUpAsync"/>).
    /// </summary>
    public async ValueTask<string?> TopicNameAsync(Guid topicId)
    {
        if (topicId == Guid.Empty) return null;
        if (_image.NameOf(topicId) is { } name) return name;
        await CatchUpAsync();
        return _image.NameOf(topicId);
    }

    /// <summary>
    /// The poll's work now: asks the controller whether its metadata moved and reloads every topic if it did, so a topic
    /// created since the last poll is known (a fetch naming its id). Concurrent callers share one; an unreachable
    /// controller leaves the image as it is.
    /// </summary>
    public Task CatchUpAsync()
    {
        lock (_catchUpLock)
            return _catchingUp is { IsCompleted: false } running ? running : _catchingUp = CatchUpOnceAsync();
    }

    private async Task CatchUpOnceAsync()
    {
        try
        {
            await FollowControllerAsync(CancellationToken.None);
        }
        catch (Exception e) when (IsUnreachable(e))
        {
            // The next poll tries again.
        }
    }

    /// <summary>One step of following the controller: its broker nodes and metadata version, and every topic when the version moved.</summary>
    private async Task FollowControllerAsync(CancellationToken cancellation)
    {
        var nodes = await AskAsync(ControllerInternal.GetBrokerNodes(), cancellation);
        _nodes = nodes;
        if (authorizer.IsEnabled && nodes.AclVersion > authorizer.Version)
            authorizer.Apply(await AskAsync(ControllerInternal.GetAcls(), cancellation));
        if (nodes.ScramVersion > credentials.Version) credentials.Apply(await AskAsync(ControllerInternal.GetScramCredentials(), cancellation));
        else credentials.MarkLoaded();
        if (nodes.ClientQuotaVersion > quotas.Version) quotas.Apply(await AskAsync(ControllerInternal.GetClientQuotas(), cancellation));
        if (nodes.FinalizedFeaturesEpoch > features.Epoch) features.Apply(await AskAsync(ControllerInternal.GetFinalizedFeatures(), cancellation));
        if (nodes.ClientMetricsVersion > clientMetrics.Stored.Version) clientMetrics.Apply(await AskAsync(ControllerInternal.GetClientMetrics(), cancellation));
        if (nodes.MetadataVersion > _image.CompleteVersion)
            _image.Store(null, await AskAsync(Controller.GetMetadata(new OrleansStream.MetadataRequest(null)), cancellation));
    }

    /// <summary>The brokers' node ids and the controller's broker, from the controller or as it last gave them.</summary>
    public async Task<BrokerNodes> BrokerNodesAsync()
    {
        try
        {
            var nodes = await AskAsync(ControllerInternal.GetBrokerNodes());
            _nodes = nodes;
            return nodes;
        }
        catch (Exception e) when (IsUnreachable(e) && _nodes is { } cached)
        {
            FellBack(e);
            return cached;
        }
    }

    /// <summary>What this broker would answer for <paramref name="topics"/> (null: every topic) while the controller cannot: null when it could not.</summary>
    public IReadOnlyList<TopicMetadata>? Cached(IReadOnlyList<string>? topics) => _image.Describe(topics);

    /// <summary>
    /// The controller's answer within <see cref="ControllerWait"/>. A call given up on may still end later: its failure
    /// is observed then, so it is not reported as an unobserved task exception.
    /// </summary>
    private async Task<T> AskAsync<T>(Task<T> call, CancellationToken cancellation = default)
    {
        try
        {
            return await call.WaitAsync(ControllerWait, time, cancellation);
        }
        catch (Exception e) when (e is TimeoutException or OperationCanceledException && !call.IsCompleted)
        {
            _ = call.ContinueWith(static t => t.Exception, CancellationToken.None,
                TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            throw;
        }
    }

    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(MetadataCache), ServiceLifecycleStage.Active, OnStart, OnStop);

    private Task OnStart(CancellationToken ct)
    {
        _refreshing = Task.Run(RefreshAsync);
        return Task.CompletedTask;
    }

    private async Task OnStop(CancellationToken ct)
    {
        await _stopping.CancelAsync();
        if (_refreshing is { } refreshing) await refreshing.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    /// <summary>
    /// Kafka's brokers follow the controller's metadata log; this broker asks the controller for its broker nodes and
    /// metadata version every <see cref="PollInterval"/>, and reloads every topic when the version moved.
    /// </summary>
    private async Task RefreshAsync()
    {
        while (!_stopping.IsCancellationRequested)
        {
            try
            {
                await FollowControllerAsync(_stopping.Token);
            }
            catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                // The controller is not there yet, is moving, or cannot serve (a cluster whose state was lost): next time.
                LogRefreshFailed(e);
            }
            await Task.Delay(PollInterval, time, _stopping.Token).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    // Anything else the controller throws (InconsistentClusterId for every topic) is its answer, not a reason to serve the cache.
    private static bool IsUnreachable(Exception e) => KafkaErrors.IsControllerUnreachable(e);

    private async Task StoreLateAsync(Task<ClusterMetadata> call, IReadOnlyList<string>? topics)
    {
        try
        {
            _image.Store(topics, await call);
        }
        catch (Exception)
        {
            // It never came, or was a refusal: the next request asks again.
        }
    }

    private void FellBack(Exception e)
    {
        if (Interlocked.Exchange(ref _fallingBack, 1) == 0) LogFallingBack(e);
    }

    private void Answered()
    {
        if (Volatile.Read(ref _fallingBack) == 1 && Interlocked.Exchange(ref _fallingBack, 0) == 1) LogAnsweringAgain();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "The controller did not answer; Metadata is answered from this broker's cache until it does")]
    private partial void LogFallingBack(Exception e);

    [LoggerMessage(Level = LogLevel.Debug, Message = "The broker's metadata cache could not follow the controller; it asks again")]
    private partial void LogRefreshFailed(Exception e);

    [LoggerMessage(Level = LogLevel.Information, Message = "The controller answers again; Metadata comes from it")]
    private partial void LogAnsweringAgain();
}

/// <summary>
/// The topics as the controller last described them to this broker, each with the metadata version of that answer:
/// answers to concurrent calls arrive in any order, and an older one never replaces a newer one.
/// </summary>
internal sealed class TopicMetadataImage
{
    private static readonly IReadOnlyDictionary<string, string> NoConfigs = new Dictionary<string, string>();
    private readonly ConcurrentDictionary<string, Entry> _topics = new(StringComparer.Ordinal);

    // Topic ids to names (KIP-516's requests by id).
    private readonly ConcurrentDictionary<Guid, string> _ids = new();
    private long _completeVersion = -1;

    /// <summary>Whether the image holds every topic: an answer for every topic was stored (deletions and creations since are stored too).</summary>
    public bool Complete => CompleteVersion >= 0;

    /// <summary>The metadata version of the last answer for every topic stored, -1 when none was.</summary>
    public long CompleteVersion => Volatile.Read(ref _completeVersion);

    /// <summary>Stores the controller's answer to a request for <paramref name="requested"/> (null: every topic).</summary>
    public void Store(IReadOnlyList<string>? requested, ClusterMetadata metadata)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        foreach (var t in metadata.Topics)
        {
            if (t.Error == ErrorCode.None) Set(t.Name, new Entry(metadata.Version, t));
            else if (t.Error == ErrorCode.UnknownTopicOrPartition) Remove(t.Name, metadata.Version);
        }
        if (requested is not null) return;
        // Every topic the controller knew at that version is in the answer: any older entry missing from it was deleted.
        var listed = new HashSet<string>(metadata.Topics.Count, StringComparer.Ordinal);
        foreach (var t in metadata.Topics) listed.Add(t.Name);
        foreach (var (name, _) in _topics)
            if (!listed.Contains(name)) Remove(name, metadata.Version - 1);
        long seen;
        while ((seen = Volatile.Read(ref _completeVersion)) < metadata.Version && Interlocked.CompareExchange(ref _completeVersion, metadata.Version, seen) != seen)
        {
        }
    }

    /// <summary>
    /// The cached answer to a request for <paramref name="requested"/>: each topic as last described; a topic never
    /// described is LeaderNotAvailable (retriable: the client asks again), an invalid name InvalidTopic, as the controller
    /// answers. Null for every topic while the image is not <see cref="Complete"/>: a partial list would tell a client
    /// that subscribed by pattern that the missing topics are gone.
    /// </summary>
    public List<TopicMetadata>? Describe(IReadOnlyList<string>? requested)
    {
        List<TopicMetadata> topics;
        if (requested is null)
        {
            if (!Complete) return null;
            topics = new List<TopicMetadata>(_topics.Count);
            foreach (var (_, entry) in _topics) topics.Add(entry.Topic);
            topics.Sort(static (a, b) => string.CompareOrdinal(a.Name, b.Name));
            return topics;
        }
        topics = new List<TopicMetadata>(requested.Count);
        foreach (var name in requested)
        {
            if (name is not null && _topics.TryGetValue(name, out var entry)) topics.Add(entry.Topic);
            else if (TopicRules.ValidateName(name) is { } invalid) topics.Add(new TopicMetadata(name ?? "", Guid.Empty, ErrorCode.InvalidTopic, [], NoConfigs, invalid));
            else topics.Add(new TopicMetadata(name!, Guid.Empty, ErrorCode.LeaderNotAvailable, [], NoConfigs));
        }
        return topics;
    }

    /// <summary>The names of the topics in the image whose ids are in <paramref name="ids"/>.</summary>
    public Dictionary<Guid, string> NamesOf(IReadOnlySet<Guid> ids)
    {
        var names = new Dictionary<Guid, string>(ids.Count);
        foreach (var id in ids)
            if (NameOf(id) is { } name) names[id] = name;
        return names;
    }

    /// <summary>The name of the topic in the image with id <paramref name="id"/>, null when none has it.</summary>
    public string? NameOf(Guid id) =>
        _ids.TryGetValue(id, out var name) && _topics.TryGetValue(name, out var entry) && entry.Topic.TopicId == id ? name : null;

    private void Set(string name, Entry entry)
    {
        while (true)
        {
            if (!_topics.TryGetValue(name, out var current))
            {
                if (_topics.TryAdd(name, entry)) break;
            }
            else if (current.Version > entry.Version) return;
            else if (_topics.TryUpdate(name, entry, current)) break;
        }
        // An index entry is checked against the topic on every lookup, so one left by a race names nothing.
        _ids[entry.Topic.TopicId] = name;
    }

    /// <summary>Drops the topic unless an answer newer than <paramref name="version"/> described it.</summary>
    private void Remove(string name, long version)
    {
        if (_topics.TryGetValue(name, out var current) && current.Version <= version && _topics.TryRemove(new KeyValuePair<string, Entry>(name, current)))
            _ids.TryRemove(new KeyValuePair<Guid, string>(current.Topic.TopicId, name));
    }

    private sealed record Entry(long Version, TopicMetadata Topic);
}
