using OrleansStream.Protocol;
using OrleansStream.Protocol.Messages;
using OrleansStream.Server.Kafka.Quotas;
using OrleansStream.Server.Security.Authorization;

namespace OrleansStream.Server.Kafka.Handlers;

/// <summary>
/// Fetch v4-17: every partition asks its leader replica grain at once without waiting; when the answers hold less than
/// <c>min_bytes</c>, the empty partitions ask again, each long-polling up to the request's max wait, and the answer goes
/// back as soon as the partitions answered so far hold <c>min_bytes</c> (or all have answered); partitions still
/// waiting are left out of it (the client asks again). Records are the stored batches unchanged;
/// <c>max_bytes</c> bounds the response after its first non-empty partition, as in Kafka. No fetch session is kept.
/// From v12 a partition's last fetched epoch is checked against the leader's log (the diverging epoch); from v13 topics
/// are named by id (an id this broker cannot resolve is UnknownTopicId); from v16 a partition answered
/// NotLeaderOrFollower or FencedLeaderEpoch carries its current leader and that leader's endpoint (KIP-951), so the
/// client moves without asking for metadata. v17 (KIP-853) is answered as v16: it adds only a KRaft voter's directory
/// id, tagged, which a consumer does not send and the request reader skips. With the authorizer on, as Kafka's
/// handleFetchRequest: a consumer needs READ on each topic (TopicAuthorizationFailed, checked after an id is resolved
/// and before the topic is looked up), and a fetch naming a replica id (v14 and before) CLUSTER_ACTION on the cluster,
/// without which every partition is TopicAuthorizationFailed. A consumer's <c>consumer_byte_rate</c> quota, as Kafka's:
/// it bounds the response (<see cref="ClientQuotaManager.MaxValueInQuotaWindow"/>), the response's record bytes count
/// against it, and a consumer over it gets an empty answer with the time to wait, its records not counted.
/// </summary>
internal sealed partial class FetchHandler(
    PartitionLeaders leaders, MetadataCache metadataCache, LeaderHints hints, KafkaAuthorizer authorizer, ClientQuotaManager quotas, ILogger<FetchHandler> logger)
    : KafkaApiHandler<Protocol.Messages.FetchRequest>(ApiKey.Fetch, Protocol.Messages.FetchRequest.Read)
{
    /// <summary>The first version whose answer carries the current leader of a partition that moved (KIP-951).</summary>
    private const short LeaderHintsVersion = 16;

    protected override async ValueTask<bool> AnswerAsync(Protocol.Messages.FetchRequest body, KafkaRequest request, KafkaWriter response)
    {
        var topics = request.Version >= Protocol.Messages.FetchRequest.TopicIdsVersion ? await ResolveAsync(body.Topics) : body.Topics;
        var denied = authorizer.IsEnabled ? Denied(body, topics, request) : null;
        await leaders.EnsureAsync(denied is null ? topics : TopicAuthorization.Allowed(topics, denied), static t => t.Topic);
        var consumer = body.ReplicaId < 0;
        var quotaBytes = consumer ? quotas.MaxValueInQuotaWindow(ClientQuotaType.Fetch, request) : int.MaxValue;

        // Kafka's fetch: read every partition at once without waiting; only when that holds less than min_bytes do
        // the empty partitions long-poll (Kafka's DelayedFetch). Long-polling all at once would answer with the first
        // partition to complete and drop the reads of the others.
        var slots = new List<Slot>();
        for (var t = 0; t < topics.Length; t++)
        {
            var topic = topics[t];
            foreach (var p in topic.Partitions)
            {
                var leader = topic.Topic.Length == 0 && topic.TopicId != Guid.Empty ? new LocalLeader(ErrorCode.UnknownTopicId, null)
                    : denied.IsDenied(t) ? new LocalLeader(ErrorCode.TopicAuthorizationFailed, null)
                    : leaders.Find(topic.Topic, p.Partition, topic.TopicId);
                slots.Add(new Slot(topic.Topic, p, leader.Error, leader.Replica, Fetch(leader.Replica, p, body, maxWaitMs: 0, quotaBytes)));
            }
        }
        await WhenAll(slots);
        var minBytes = Math.Max(body.MinBytes, 1);
        if (AnsweredBytes(slots) < minBytes && body.MaxWaitMs > 0)
        {
            for (var i = 0; i < slots.Count; i++)
                if (slots[i] is { Call.IsCompletedSuccessfully: true } s && s.Call.Result is { Error: ErrorCode.None, Records.IsEmpty: true, DivergingEpoch: < 0 })
                    slots[i] = s with { Call = Fetch(s.Replica, s.Request, body, body.MaxWaitMs, quotaBytes) };
            await WaitAsync(slots, minBytes);
        }
        var answer = Answer(topics, Math.Min(body.MaxBytes, quotaBytes), slots);
        var throttle = 0;
        if (consumer && quotas.IsEnabled(ClientQuotaType.Fetch))
        {
            var bytes = RecordBytes(answer);
            throttle = quotas.RecordAndGetThrottleTimeMs(ClientQuotaType.Fetch, request, bytes);
            if (throttle > 0)
            {
                // Kafka's throttled fetch: an empty answer, whose bytes are not counted, and the time to wait.
                quotas.Unrecord(ClientQuotaType.Fetch, request, bytes);
                answer = [];
            }
            request.Connection.ThrottleTimeMs = throttle;
        }
        var nodes = request.Version >= LeaderHintsVersion ? await AddLeaderHintsAsync(answer, request.Connection.ListenerName) : null;
        new Protocol.Messages.FetchResponse(ErrorCode.None, answer, nodes, throttle).Write(response, request.Version);
        Release(slots, response);
        return true;
    }

    /// <summary>
    /// The topics refused (null when none): a follower's fetch (a replica id) needs CLUSTER_ACTION on the cluster for all,
    /// a consumer's READ on each topic. A topic whose id is unknown is not checked: it is UnknownTopicId, as in Kafka.
    /// </summary>
    private bool[]? Denied(Protocol.Messages.FetchRequest body, FetchTopic[] topics, KafkaRequest request)
    {
        if (body.ReplicaId < 0)
            return request.Denied(authorizer, AclOperation.Read, topics, static t => t.Topic.Length == 0 && t.TopicId != Guid.Empty ? null : t.Topic) is { } denied
                ? Unresolved(topics, denied) : null;
        if (request.IsAllowedOnCluster(authorizer, AclOperation.ClusterAction)) return null;
        var all = new bool[topics.Length];
        Array.Fill(all, true);
        return Unresolved(topics, all);
    }

    // A topic whose id is unknown stays UnknownTopicId, whatever the check said of its empty name.
    private static bool[] Unresolved(FetchTopic[] topics, bool[] denied)
    {
        for (var i = 0; i < topics.Length; i++)
            if (topics[i].Topic.Length == 0 && topics[i].TopicId != Guid.Empty) denied[i] = false;
        return denied;
    }

    /// <summary>The request's topics with their names (v13+ names them by id); a topic whose id no topic has keeps an empty name.</summary>
    private async ValueTask<FetchTopic[]> ResolveAsync(FetchTopic[] topics)
    {
        var resolved = new FetchTopic[topics.Length];
        for (var i = 0; i < topics.Length; i++)
            resolved[i] = await metadataCache.TopicNameAsync(topics[i].TopicId) is { } name ? topics[i] with { Topic = name } : topics[i];
        return resolved;
    }

    /// <summary>KIP-951 (<see cref="LeaderHints"/>): the current leader of each partition that moved; the leaders' endpoints, null when none moved.</summary>
    private async ValueTask<List<MetadataBroker>?> AddLeaderHintsAsync(FetchTopicResponse[] topics, string listenerName)
    {
        List<string>? moved = null;
        foreach (var t in topics)
            foreach (var p in t.Partitions)
                if (LeaderHints.Needed(p.Error) && (moved is null || !moved.Contains(t.Topic))) (moved ??= []).Add(t.Topic);
        if (moved is null) return null;
        var found = await hints.LookUpAsync(moved, listenerName);
        foreach (var t in topics)
            for (var i = 0; i < t.Partitions.Length; i++)
                if (LeaderHints.Needed(t.Partitions[i].Error) && found.TryGet(t.Topic, t.Partitions[i].PartitionIndex, out var leaderId, out var leaderEpoch))
                    t.Partitions[i] = t.Partitions[i] with { CurrentLeaderId = leaderId, CurrentLeaderEpoch = leaderEpoch };
        return found.Nodes;
    }

    /// <summary>
    /// The answers' records are written by reference, so they go back to the pool once the response is in the
    /// connection's pipe (the writer's reset); a call still out returns its own when it completes.
    /// </summary>
    private static void Release(List<Slot> slots, KafkaWriter response)
    {
        foreach (var s in slots)
        {
            if (s.Call is not { } call) continue;
            if (call.IsCompletedSuccessfully) response.DisposeOnReset(call.Result.Records);
            else if (!call.IsCompleted) _ = call.ContinueWith(static c => c.Result.Records.Dispose(), CancellationToken.None,
                TaskContinuationOptions.OnlyOnRanToCompletion | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
    }

    private static long RecordBytes(FetchTopicResponse[] answer)
    {
        long bytes = 0;
        foreach (var t in answer)
            foreach (var p in t.Partitions)
                bytes += p.Records.Length;
        return bytes;
    }

    private static Task<OrleansStream.FetchResponse>? Fetch(IPartitionReplicaGrain? replica, FetchPartition p, Protocol.Messages.FetchRequest body, int maxWaitMs, int quotaBytes) =>
        replica?.Fetch(new OrleansStream.FetchRequest(p.FetchOffset, Math.Min(p.PartitionMaxBytes, quotaBytes), Math.Max(body.MinBytes, 1),
            maxWaitMs, p.CurrentLeaderEpoch, (IsolationLevel)body.IsolationLevel, p.LastFetchedEpoch));

    private static async Task WhenAll(List<Slot> slots)
    {
        foreach (var s in slots)
            if (s.Call is { } call) await ((Task)call).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    /// <summary>Waits until the answered partitions hold <paramref name="minBytes"/>, or every partition answered.</summary>
    private static async Task WaitAsync(List<Slot> slots, int minBytes)
    {
        var pending = new List<Task>(slots.Count);
        foreach (var s in slots)
            if (s.Call is { IsCompleted: false } call) pending.Add(call);
        while (pending.Count > 0 && AnsweredBytes(slots) < minBytes)
            pending.Remove(await Task.WhenAny(pending));
    }

    private static long AnsweredBytes(List<Slot> slots)
    {
        long bytes = 0;
        foreach (var s in slots)
            if (s.Call is { IsCompletedSuccessfully: true } call) bytes += call.Result.Records.Length;
        return bytes;
    }

    private FetchTopicResponse[] Answer(FetchTopic[] requested, int maxBytes, List<Slot> slots)
    {
        var topics = new List<FetchTopicResponse>(requested.Length);
        var budget = (long)Math.Max(maxBytes, 0);
        var anyRecords = false;
        var slot = 0;
        foreach (var topic in requested)
        {
            var partitions = new List<FetchPartitionResponse>(topic.Partitions.Length);
            for (var i = 0; i < topic.Partitions.Length; i++)
            {
                var s = slots[slot++];
                if (s.Call is { IsCompleted: false }) continue;
                var answer = Partition(s);
                if (!answer.Records.IsEmpty)
                {
                    // Kafka's rule: the first partition with records is whole even past max_bytes; then the budget holds.
                    if (anyRecords && answer.Records.Length > budget) answer = answer with { Records = ReadOnlyMemory<byte>.Empty };
                    anyRecords = true;
                    budget -= answer.Records.Length;
                }
                partitions.Add(answer);
            }
            if (partitions.Count > 0) topics.Add(new FetchTopicResponse(topic.Topic, [.. partitions], topic.TopicId));
        }
        return [.. topics];
    }

    private FetchPartitionResponse Partition(Slot s)
    {
        if (s.Call is null) return Failed(s.Partition, s.LookupError);
        if (!s.Call.IsCompletedSuccessfully)
        {
            var error = KafkaErrors.FromException(s.Call.Exception!.GetBaseException());
            if (error == ErrorCode.UnknownServerError) LogFetchFailed(s.Call.Exception, s.Topic, s.Partition);
            if (KafkaErrors.IsStaleLeader(error)) leaders.Invalidate(s.Topic);
            return Failed(s.Partition, error);
        }
        var r = s.Call.Result;
        if (KafkaErrors.IsStaleLeader(r.Error)) leaders.Invalidate(s.Topic);
        if (r.Error != ErrorCode.None) return Failed(s.Partition, r.Error);
        FetchAbortedTransaction[]? aborted = null;
        if (r.AbortedTransactions is { Count: > 0 } list)
        {
            aborted = new FetchAbortedTransaction[list.Count];
            for (var i = 0; i < aborted.Length; i++) aborted[i] = new FetchAbortedTransaction(list[i].ProducerId, list[i].FirstOffset);
        }
        var lastStable = r.LastStableOffset >= 0 ? r.LastStableOffset : r.HighWatermark;
        return new FetchPartitionResponse(s.Partition, ErrorCode.None, r.HighWatermark, lastStable, r.LogStartOffset, aborted, r.Records.Memory,
            r.DivergingEpoch, r.DivergingEndOffset);
    }

    private static FetchPartitionResponse Failed(int partition, ErrorCode error) =>
        new(partition, error, -1, -1, -1, null, ReadOnlyMemory<byte>.Empty);

    private sealed record Slot(string Topic, FetchPartition Request, ErrorCode LookupError, IPartitionReplicaGrain? Replica, Task<OrleansStream.FetchResponse>? Call)
    {
        public int Partition => Request.Partition;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Fetch from {Topic}-{Partition} failed")]
    private partial void LogFetchFailed(Exception e, string topic, int partition);
}
