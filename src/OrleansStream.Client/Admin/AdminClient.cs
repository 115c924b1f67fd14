using OrleansStream.Client.Admin;

namespace OrleansStream.Client;

internal sealed partial class AdminClient(IClusterClient clusterClient, AdminClientConfig config, TimeProvider time) : IAdminClient
{
    private readonly MetadataCache _cache = MetadataCache.For(clusterClient);
    private readonly int _requestTimeoutMs = config.RequestTimeoutMs;
    private readonly int _retryBackoffMs = config.RetryBackoffMs;

    public string Name { get; } = config.ClientId ?? $"adminclient-{Guid.NewGuid():N}"[..20];

    public async Task CreateTopicsAsync(IEnumerable<TopicSpecification> topics, CreateTopicsOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(topics);
        var requests = new List<NewTopic>();
        foreach (var t in topics)
            requests.Add(new NewTopic(t.Name, t.NumPartitions, t.ReplicationFactor, t.Configs is null ? null : new Dictionary<string, string>(t.Configs)));
        if (requests.Count == 0) return;
        var results = await RetryNotControllerAsync(requests, r => _cache.Controller.CreateTopics(r, options?.ValidateOnly ?? false), options, idempotent: options?.ValidateOnly ?? false).ConfigureAwait(false);
        ThrowIfAnyFailed(results, static r => new CreateTopicsException(r));
    }

    public async Task DeleteTopicsAsync(IEnumerable<string> topics, DeleteTopicsOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(topics);
        var names = new List<string>(topics);
        if (names.Count == 0) return;
        var results = await RetryNotControllerAsync(names, r => _cache.Controller.DeleteTopics(r), options, idempotent: false).ConfigureAwait(false);
        ThrowIfAnyFailed(results, static r => new DeleteTopicsException(r));
    }

    public async Task CreatePartitionsAsync(IEnumerable<PartitionsSpecification> partitionsSpecifications, CreatePartitionsOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(partitionsSpecifications);
        var increases = new List<PartitionsIncrease>();
        foreach (var p in partitionsSpecifications) increases.Add(new PartitionsIncrease(p.Topic, p.IncreaseTo));
        if (increases.Count == 0) return;
        var results = await RetryNotControllerAsync(increases, r => _cache.Controller.CreatePartitions(r, options?.ValidateOnly ?? false), options, idempotent: options?.ValidateOnly ?? false).ConfigureAwait(false);
        ThrowIfAnyFailed(results, static r => new CreatePartitionsException(r));
    }

    public async Task<ElectLeadersResult> ElectLeadersAsync(ElectionType electionType, IEnumerable<TopicPartition>? partitions, ElectLeadersOptions? options = null)
    {
        List<ElectionPartitions>? wanted = null;
        if (partitions is not null)
        {
            // One entry per topic, its partitions in the order given (Kafka's request groups them so too).
            var byTopic = new Dictionary<string, List<int>>(StringComparer.Ordinal);
            wanted = [];
            foreach (var tp in partitions)
            {
                if (!byTopic.TryGetValue(tp.Topic, out var list))
                {
                    byTopic[tp.Topic] = list = [];
                    wanted.Add(new ElectionPartitions(tp.Topic, list));
                }
                list.Add(tp.Partition);
            }
        }
        // Not idempotent: an election repeated after an unknown outcome would report ElectionNotNeeded for its own change.
        var results = await RetryingCall(() => _cache.Controller.ElectLeaders(electionType, wanted), Timeout(options), idempotent: false).ConfigureAwait(false);
        var outcomes = new List<TopicPartitionError>(results.Count);
        var failed = false;
        foreach (var r in results)
        {
            outcomes.Add(new TopicPartitionError(new TopicPartition(r.Topic, r.Partition), r.Error == ErrorCode.None ? Error.NoError : new Error(r.Error, r.ErrorMessage)));
            failed |= r.Error != ErrorCode.None;
        }
        if (failed) throw new ElectLeadersException(new ElectLeadersReport(Error.NoError, outcomes));
        return new ElectLeadersResult(outcomes);
    }

    public ClusterMetadata GetMetadata(string topic, TimeSpan timeout) =>
        Blocking.Wait(() => RetryingCall(() => _cache.FetchAsync([topic]), timeout, idempotent: true));

    public ClusterMetadata GetMetadata(TimeSpan timeout) =>
        Blocking.Wait(() => RetryingCall(() => _cache.FetchAsync(null), timeout, idempotent: true));

    public Task<ClusterMetadata> GetMetadataAsync(IEnumerable<string>? topics = null)
    {
        var list = topics is null ? null : new List<string>(topics);
        return RetryingCall(() => _cache.FetchAsync(list), TimeSpan.FromMilliseconds(_requestTimeoutMs), idempotent: true);
    }

    public Task<DescribeTopicsResult> DescribeTopicsAsync(DescribeTopicsOptions? options = null) => DescribeAsync(null, options);

    public Task<DescribeTopicsResult> DescribeTopicsAsync(IEnumerable<string> topics, DescribeTopicsOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(topics);
        return DescribeAsync(new List<string>(topics), options);
    }

    private async Task<DescribeTopicsResult> DescribeAsync(List<string>? topics, DescribeTopicsOptions? options)
    {
        var timeout = Timeout(options);
        var metadata = await RetryingCall(() => _cache.FetchAsync(topics), timeout, idempotent: true).ConfigureAwait(false);
        var includeOffsets = options?.IncludeOffsets ?? true;
        var descriptions = new Task<TopicDescription>[metadata.Topics.Count];
        for (var i = 0; i < descriptions.Length; i++)
            descriptions[i] = DescribeTopicAsync(metadata.Topics[i], includeOffsets, timeout);
        var result = new DescribeTopicsResult(await Task.WhenAll(descriptions).ConfigureAwait(false));
        foreach (var d in result.TopicDescriptions)
            if (d.Error.IsError) throw new DescribeTopicsException(result);
        return result;
    }

    private async Task<TopicDescription> DescribeTopicAsync(TopicMetadata topic, bool includeOffsets, TimeSpan timeout)
    {
        if (topic.Error != ErrorCode.None)
            return new TopicDescription(topic.Name, topic.TopicId, new Error(topic.Error, topic.ErrorMessage), [], topic.Configs);
        var partitions = new Task<TopicPartitionInfo>[topic.Partitions.Count];
        for (var i = 0; i < partitions.Length; i++)
            partitions[i] = DescribePartitionAsync(topic.Name, topic.Partitions[i], includeOffsets, timeout);
        var infos = await Task.WhenAll(partitions).ConfigureAwait(false);
        Array.Sort(infos, static (a, b) => a.Partition.CompareTo(b.Partition));
        return new TopicDescription(topic.Name, topic.TopicId, Error.NoError, infos, topic.Configs);
    }

    private async Task<TopicPartitionInfo> DescribePartitionAsync(string topic, PartitionMetadata p, bool includeOffsets, TimeSpan timeout)
    {
        long start = -1, end = -1;
        var error = p.Error == ErrorCode.None ? Error.NoError : new Error(p.Error);
        if (includeOffsets && p.Error == ErrorCode.None && p.Leader >= 0)
        {
            try
            {
                var tp = new TopicPartition(topic, p.Partition);
                var earliest = ListOffsetsAsync(tp, ListOffsetsTimestamp.Earliest, timeout);
                var latest = ListOffsetsAsync(tp, ListOffsetsTimestamp.Latest, timeout);
                var (e, l) = (await earliest.ConfigureAwait(false), await latest.ConfigureAwait(false));
                start = e.Offset;
                end = l.Offset;
                if (e.Error != ErrorCode.None || l.Error != ErrorCode.None)
                {
                    var r = e.Error != ErrorCode.None ? e : l;
                    error = new Error(r.Error, r.ErrorMessage);
                }
            }
            catch (KafkaException ex)
            {
                error = ex.Error;
            }
        }
        return new TopicPartitionInfo(p.Partition, p.Leader, p.LeaderBroker, p.LeaderEpoch, p.Replicas, p.Isr, start, end, error);
    }

    private Task<ListOffsetsResponse> ListOffsetsAsync(TopicPartition tp, long spec, TimeSpan timeout) =>
        LeaderCalls.CallAsync(_cache, tp, allowAutoCreate: false, config.MetadataMaxAgeMs, _retryBackoffMs, timeout,
            (leader, epoch) => leader.ListOffsets(new ListOffsetsRequest(spec, epoch)), static r => r.Error, time);

    private TimeSpan Timeout(AdminOptions? options) => options?.RequestTimeout ?? TimeSpan.FromMilliseconds(_requestTimeoutMs);

    /// <summary>
    /// Like Kafka's admin client, retries what the controller refused with NotController (another activation wrote its
    /// state first; it reloaded and applied nothing): those entries go again, up to twice, after retry.backoff.ms.
    /// The controller answers one result per request entry, in order. Only a validateOnly request is idempotent.
    /// </summary>
    private Task<IReadOnlyList<TopicResult>> RetryNotControllerAsync<TRequest>(
        List<TRequest> requests, Func<List<TRequest>, Task<IReadOnlyList<TopicResult>>> send, AdminOptions? options, bool idempotent) =>
        RetryNotControllerAsync(requests, send, static r => r.Error, options, idempotent);

    /// <summary>The same for any controller answer with one result per entry, <paramref name="errorOf"/> telling its error.</summary>
    private async Task<IReadOnlyList<TResult>> RetryNotControllerAsync<TRequest, TResult>(
        List<TRequest> requests, Func<List<TRequest>, Task<IReadOnlyList<TResult>>> send, Func<TResult, ErrorCode> errorOf, AdminOptions? options, bool idempotent)
    {
        var timeout = Timeout(options);
        var results = new List<TResult>(await RetryingCall(() => send(requests), timeout, idempotent).ConfigureAwait(false));
        for (var attempt = 0; attempt < 2 && results.Count == requests.Count; attempt++)
        {
            var positions = new List<int>();
            for (var i = 0; i < results.Count; i++)
                if (errorOf(results[i]) == ErrorCode.NotController) positions.Add(i);
            if (positions.Count == 0) break;
            await Task.Delay(TimeSpan.FromMilliseconds(Math.Max(1, _retryBackoffMs)), time).ConfigureAwait(false);
            var again = positions.ConvertAll(i => requests[i]);
            var retried = await RetryingCall(() => send(again), timeout, idempotent).ConfigureAwait(false);
            if (retried.Count != again.Count) break;
            for (var j = 0; j < positions.Count; j++) results[positions[j]] = retried[j];
        }
        return results;
    }

    /// <summary>
    /// Like Kafka's admin client, a call that failed for a retriable reason (its silo died with it unanswered, the
    /// transport failed) is made again after retry.backoff.ms until <paramref name="timeout"/>. An idempotent call (a
    /// read, or a write whose repetition changes nothing) is given up as every other call of the SDK is while the cluster
    /// settles after a silo left: unanswered for <see cref="SiloFailureWatch.SettleCallTimeout"/>. Any other call may take
    /// its whole timeout (a CreateTopics waits for its replicas) and is given up only when a silo leaves while it is in
    /// flight or a gateway connection closes: made again after it was applied, it answers TopicAlreadyExists, which the
    /// caller gets, as from Kafka's AdminClient after a retry (docs/client.md).
    /// </summary>
    private async Task<T> RetryingCall<T>(Func<Task<T>> call, TimeSpan timeout, bool idempotent)
    {
        var mayWait = idempotent ? TimeSpan.Zero : timeout;
        var started = time.GetTimestamp();
        while (true)
        {
            var left = timeout - time.GetElapsedTime(started);
            try
            {
                return await _cache.Calls.Call(call(), mayWait).WaitAsync(left > TimeSpan.Zero ? left : TimeSpan.Zero, time).ConfigureAwait(false);
            }
            catch (TimeoutException ex) when (time.GetElapsedTime(started) >= timeout)
            {
                throw new KafkaException(new Error(ErrorCode.RequestTimedOut, $"The cluster did not answer within {timeout.TotalMilliseconds:0} ms."), ex);
            }
            catch (Exception ex) when (LeaderCalls.IsTransient(ex))
            {
                if (time.GetElapsedTime(started) + TimeSpan.FromMilliseconds(_retryBackoffMs) >= timeout)
                    throw new KafkaException(new Error(ErrorCode.RequestTimedOut, ex.Message), ex);
            }
            await Task.Delay(TimeSpan.FromMilliseconds(Math.Max(1, _retryBackoffMs)), time).ConfigureAwait(false);
        }
    }

    /// <summary>A read, or a write whose repetition changes nothing, with a group call's timeout.</summary>
    private Task<T> IdempotentCall<T>(Func<Task<T>> call, TimeSpan? timeout) => RetryingCall(call, GroupTimeout(timeout), idempotent: true);

    private static void ThrowIfAnyFailed(IReadOnlyList<TopicResult> results, Func<IReadOnlyList<TopicReport>, Exception> create)
    {
        var reports = new TopicReport[results.Count];
        var failed = false;
        for (var i = 0; i < reports.Length; i++)
        {
            var r = results[i];
            reports[i] = new TopicReport(r.Topic, r.Error == ErrorCode.None ? Error.NoError : new Error(r.Error, r.ErrorMessage));
            failed |= r.Error != ErrorCode.None;
        }
        if (failed) throw create(reports);
    }

    public void Dispose() { }
}
