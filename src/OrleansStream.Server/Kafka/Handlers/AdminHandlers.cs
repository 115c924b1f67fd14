using Microsoft.Extensions.Options;
using OrleansStream.Protocol;
using OrleansStream.Storage.Producers;
using OrleansStream.Protocol.Messages;
using OrleansStream.Server.Controller;
using OrleansStream.Server.Kafka.Quotas;
using OrleansStream.Server.Security.Authorization;

namespace OrleansStream.Server.Kafka.Handlers;

/// <summary>
/// Topic changes go to the controller (any broker forwards, as KRaft brokers do). Manual replica assignment is
/// refused per topic; the others are sent in one call, whose results come back in request order.
/// </summary>
internal static class ControllerCalls
{
    public const string NoManualAssignment = "Manual replica assignment is not supported; the controller assigns replicas.";

    public const string ControllerDidNotAnswer = "The controller did not answer (its silo is gone or did not answer in time); the change may not have been applied. Retry.";

    /// <summary>
    /// The controller's answer, or null when its silo is gone or did not answer (<see cref="KafkaErrors.IsControllerUnreachable"/>):
    /// the caller then answers <see cref="ErrorCode.RequestTimedOut"/> (retriable) for each item, as a Kafka broker
    /// answers a request it forwarded to a controller that did not answer (ForwardingManager's error response for a
    /// TimeoutException), where failing the request would close the client's connection.
    /// </summary>
    public static async Task<T?> UnlessUnreachableAsync<T>(Task<T> call) where T : class
    {
        try
        {
            return await call;
        }
        catch (Exception e) when (KafkaErrors.IsControllerUnreachable(e))
        {
            return null;
        }
    }

    public static async Task<TopicResult[]> ForwardAsync<TTopic, TChange>(
        IReadOnlyList<TTopic> topics, Func<TTopic, (string Name, bool Manual, TChange Change)> describe,
        Func<List<TChange>, Task<IReadOnlyList<TopicResult>>> call)
    {
        var results = new TopicResult[topics.Count];
        var changes = new List<TChange>(topics.Count);
        var sent = new List<int>(topics.Count);
        for (var i = 0; i < results.Length; i++)
        {
            var (name, manual, change) = describe(topics[i]);
            if (manual) results[i] = new TopicResult(name, ErrorCode.InvalidReplicaAssignment, NoManualAssignment);
            else
            {
                // Until the controller answers: what the topic gets if it does not.
                results[i] = new TopicResult(name, ErrorCode.RequestTimedOut, ControllerDidNotAnswer);
                changes.Add(change);
                sent.Add(i);
            }
        }
        if (changes.Count == 0 || await UnlessUnreachableAsync(call(changes)) is not { } answers) return results;
        for (var i = 0; i < sent.Count; i++) results[sent[i]] = answers[i];
        return results;
    }

    /// <summary>The controller's outcomes as CreatePartitions and DeleteTopics answer them.</summary>
    public static TopicError[] Errors(TopicResult[] results)
    {
        var errors = new TopicError[results.Length];
        for (var i = 0; i < errors.Length; i++) errors[i] = new TopicError(results[i].Topic, results[i].Error, results[i].ErrorMessage, results[i].TopicId);
        return errors;
    }

    public static IClusterControllerGrain Controller(this IGrainFactory grains) => grains.GetGrain<IClusterControllerGrain>(GrainKeys.Controller);
}

/// <summary>
/// CreateTopics: the controller makes the topics. From v5 (KIP-525) each topic made, or validated, is answered with
/// its partition count, replication factor and every config with its source (its overrides over the broker defaults
/// over Kafka's, as DescribeConfigs describes them), from v7 with its id. With the authorizer on, as Kafka's
/// <c>ControllerApis.createTopics</c>: each topic needs CREATE on the cluster or on itself (TopicAuthorizationFailed, not
/// sent to the controller), and a topic made is answered with its configs only with DESCRIBE_CONFIGS on it (else with
/// none, and TopicAuthorizationFailed as its config error).
/// </summary>
internal sealed class CreateTopicsHandler(IGrainFactory grains, IOptions<BrokerOptions> options, KafkaAuthorizer authorizer, ClientQuotaManager quotas)
    : KafkaApiHandler<CreateTopicsRequest>(ApiKey.CreateTopics, CreateTopicsRequest.Read)
{
    /// <summary>KIP-599: CreateTopics refuses a topic over the controller mutation quota from v6; before, it only throttles.</summary>
    private const short StrictQuotaVersion = 6;

    /// <summary>Kafka's message for a topic refused (<c>ControllerApis.createTopics</c>).</summary>
    private const string CreateDenied = "Authorization failed.";

    private readonly BrokerOptions _options = options.Value;

    protected override async ValueTask<bool> AnswerAsync(CreateTopicsRequest body, KafkaRequest request, KafkaWriter response)
    {
        var denied = authorizer.IsEnabled && !request.IsAllowedOnCluster(authorizer, AclOperation.Create)
            ? request.Denied(authorizer, AclOperation.Create, body.Topics, static t => t.Name)
            : null;
        // KIP-599: each topic's partitions count against the client's controller_mutation_rate, checked here before the
        // topics go to the controller (Kafka's controller counts a topic once it passed its checks).
        var quota = body.ValidateOnly ? ControllerMutationQuota.Unbounded : quotas.ControllerMutationQuotaFor(request, StrictQuotaVersion);
        var throttled = ControllerQuotas.Record(quota, body.Topics, denied, t => t.HasAssignments ? 0 : t.NumPartitions > 0 ? t.NumPartitions : _options.NumPartitions);
        var refused = ControllerQuotas.Union(denied, throttled);
        var results = await ControllerCalls.ForwardAsync(refused is null ? body.Topics : TopicAuthorization.Allowed(body.Topics, refused),
            static t => (t.Name, t.HasAssignments, ToNewTopic(t)), changes => grains.Controller().CreateTopics(changes, body.ValidateOnly));
        var topics = new CreatableTopicResult[body.Topics.Count];
        for (int i = 0, answered = 0; i < topics.Length; i++)
        {
            if (denied.IsDenied(i))
            {
                topics[i] = new CreatableTopicResult(body.Topics[i].Name, Guid.Empty, ErrorCode.TopicAuthorizationFailed, CreateDenied);
                continue;
            }
            if (throttled.IsDenied(i))
            {
                topics[i] = new CreatableTopicResult(body.Topics[i].Name, Guid.Empty, ErrorCode.ThrottlingQuotaExceeded, ControllerQuotas.Message);
                continue;
            }
            var r = results[answered++];
            if (r.Created is not { } made || request.Version < 5) topics[i] = new CreatableTopicResult(r.Topic, r.TopicId, r.Error, r.ErrorMessage);
            else if (!request.IsAllowed(authorizer, AclOperation.DescribeConfigs, AclResourceType.Topic, r.Topic))
                topics[i] = new CreatableTopicResult(r.Topic, r.TopicId, r.Error, r.ErrorMessage, Configs: [], TopicConfigError: ErrorCode.TopicAuthorizationFailed);
            else topics[i] = new CreatableTopicResult(r.Topic, r.TopicId, r.Error, r.ErrorMessage, made.NumPartitions, made.ReplicationFactor, Configs(made.Configs));
        }
        request.Connection.ThrottleTimeMs = quota.ThrottleTimeMs;
        new CreateTopicsResponse(topics, quota.ThrottleTimeMs).Write(response, request.Version);
        return true;
    }

    private CreatableTopicConfig[] Configs(IReadOnlyDictionary<string, string> overrides)
    {
        var described = TopicConfigs.Describe(overrides, _options.TopicConfigDefaults, null, includeSynonyms: false);
        var configs = new CreatableTopicConfig[described.Count];
        for (var i = 0; i < configs.Length; i++)
        {
            var c = described[i];
            configs[i] = new CreatableTopicConfig(c.Name, c.Sensitive ? null : c.Value, c.ReadOnly, c.Source, c.Sensitive);
        }
        return configs;
    }

    private static NewTopic ToNewTopic(CreatableTopic t)
    {
        var configs = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in t.Configs)
            if (value is not null) configs[key] = value;
        return new NewTopic(t.Name, t.NumPartitions, t.ReplicationFactor, configs);
    }
}

/// <summary>
/// DeleteTopics. v6 names topics by name or by id (KIP-516), checked as Kafka's <c>ControllerApis.deleteTopics</c>
/// checks them: neither or both is InvalidRequest, as is a name or id given twice; ids are resolved to names through
/// the broker's <see cref="MetadataCache"/>, and the controller deletes a name only while its topic still has the id
/// asked for. An id no topic has is UnknownTopicId with a null name. With the authorizer on, each topic needs DELETE on
/// the cluster or on itself (TopicAuthorizationFailed, not sent to the controller); as in Kafka a topic named by id keeps
/// its name in that answer only when the principal may DESCRIBE it, and one named by name without DESCRIBE is refused
/// before it is looked up, so that the answer tells nothing of a topic the principal may not see.
/// </summary>
internal sealed class DeleteTopicsHandler(IGrainFactory grains, PartitionLeaders leaders, MetadataCache metadataCache, KafkaAuthorizer authorizer,
    ClientQuotaManager quotas)
    : KafkaApiHandler<DeleteTopicsRequest>(ApiKey.DeleteTopics, DeleteTopicsRequest.Read)
{
    /// <summary>KIP-599: DeleteTopics refuses a topic over the controller mutation quota from v5; before, it only throttles.</summary>
    private const short StrictQuotaVersion = 5;

    protected override async ValueTask<bool> AnswerAsync(DeleteTopicsRequest body, KafkaRequest request, KafkaWriter response)
    {
        var answers = new List<TopicError>(body.Topics.Count);
        // How often each name and id is asked for: one given twice is InvalidRequest, as in Kafka.
        var nameCounts = new Dictionary<string, int>(StringComparer.Ordinal);
        var idCounts = new Dictionary<Guid, int>();
        foreach (var t in body.Topics)
        {
            if (t.Name is null && t.TopicId == Guid.Empty) answers.Add(new TopicError(null, ErrorCode.InvalidRequest, "Neither topic name nor id were specified."));
            else if (t.Name is not null && t.TopicId != Guid.Empty) answers.Add(new TopicError(t.Name, ErrorCode.InvalidRequest, "You may not specify both topic name and topic id.", t.TopicId));
            else if (t.Name is { } name) nameCounts[name] = nameCounts.GetValueOrDefault(name) + 1;
            else idCounts[t.TopicId] = idCounts.GetValueOrDefault(t.TopicId) + 1;
        }
        // The names to delete, each with the id it must still have (zero for one asked by name).
        var names = new List<string>(nameCounts.Count + idCounts.Count);
        var ids = new List<Guid>(names.Capacity);
        var checkTopics = authorizer.IsEnabled && !request.IsAllowedOnCluster(authorizer, AclOperation.Delete);
        foreach (var (name, count) in nameCounts)
        {
            if (count > 1) answers.Add(new TopicError(name, ErrorCode.InvalidRequest, "Duplicate topic name."));
            else if (checkTopics && !request.IsAllowed(authorizer, AclOperation.Delete, AclResourceType.Topic, name))
                answers.Add(new TopicError(name, ErrorCode.TopicAuthorizationFailed, AuthorizationMessages.Topic));
            else
            {
                names.Add(name);
                ids.Add(Guid.Empty);
            }
        }
        var byId = new HashSet<Guid>();
        foreach (var (id, count) in idCounts)
            if (count > 1) answers.Add(new TopicError(null, ErrorCode.InvalidRequest, "Duplicate topic id."));
            else byId.Add(id);
        if (byId.Count > 0)
        {
            var resolved = await metadataCache.TopicNamesAsync(byId);
            foreach (var id in byId)
            {
                if (!resolved.TryGetValue(id, out var name)) answers.Add(new TopicError(null, ErrorCode.UnknownTopicId, $"No topic has the id {id}.", id));
                else if (checkTopics && !request.IsAllowed(authorizer, AclOperation.Delete, AclResourceType.Topic, name))
                    answers.Add(new TopicError(request.IsAllowed(authorizer, AclOperation.Describe, AclResourceType.Topic, name) ? name : null,
                        ErrorCode.TopicAuthorizationFailed, AuthorizationMessages.Topic, id));
                else if (names.Contains(name)) answers.Add(new TopicError(name, ErrorCode.InvalidRequest, "The provided topic name maps to an ID that was already supplied.", id));
                else
                {
                    names.Add(name);
                    ids.Add(id);
                }
            }
        }
        // KIP-599: each topic's partitions (the controller's counts) count against the client's controller_mutation_rate.
        var quota = quotas.ControllerMutationQuotaFor(request, StrictQuotaVersion);
        if (!quota.IsUnbounded && names.Count > 0)
        {
            // In request order: the first topics take the tokens left.
            var partitions = await ControllerQuotas.PartitionCountsAsync(metadataCache, names);
            var kept = 0;
            for (var i = 0; i < names.Count; i++)
            {
                if (!quota.TryRecord(partitions.GetValueOrDefault(names[i])))
                {
                    answers.Add(new TopicError(names[i], ErrorCode.ThrottlingQuotaExceeded, ControllerQuotas.Message, ids[i]));
                    continue;
                }
                (names[kept], ids[kept]) = (names[i], ids[i]);
                kept++;
            }
            names.RemoveRange(kept, names.Count - kept);
            ids.RemoveRange(kept, ids.Count - kept);
        }
        if (names.Count > 0)
        {
            var results = await ControllerCalls.ForwardAsync(names, static t => (t, false, t),
                changed => grains.Controller().DeleteTopics(changed, byId.Count > 0 ? ids : null));
            for (var i = 0; i < results.Length; i++)
            {
                leaders.Invalidate(results[i].Topic);
                var r = results[i];
                // An id no topic has any more is answered as asked: by id, with no name.
                answers.Add(r.Error == ErrorCode.UnknownTopicId ? new TopicError(null, r.Error, r.ErrorMessage, ids[i])
                    : new TopicError(r.Topic, r.Error, r.ErrorMessage, r.TopicId != Guid.Empty ? r.TopicId : ids[i]));
            }
        }
        request.Connection.ThrottleTimeMs = quota.ThrottleTimeMs;
        new TopicErrorsResponse(answers, quota.ThrottleTimeMs).WriteDeleteTopics(response, request.Version);
        return true;
    }
}

/// <summary>
/// CreatePartitions: the controller adds the partitions. With the authorizer on each topic needs ALTER on itself
/// (TopicAuthorizationFailed with no message, not sent to the controller), as in Kafka's <c>ControllerApis.createPartitions</c>.
/// KIP-599: the partitions an increase adds count against the client's controller_mutation_rate; from v3 a topic over it
/// is refused ThrottlingQuotaExceeded and not sent to the controller, before it only throttles.
/// </summary>
internal sealed class CreatePartitionsHandler(IGrainFactory grains, PartitionLeaders leaders, KafkaAuthorizer authorizer, MetadataCache metadataCache,
    ClientQuotaManager quotas)
    : KafkaApiHandler<CreatePartitionsRequest>(ApiKey.CreatePartitions, CreatePartitionsRequest.Read)
{
    /// <summary>KIP-599: CreatePartitions refuses a topic over the controller mutation quota from v3; before, it only throttles.</summary>
    private const short StrictQuotaVersion = 3;

    protected override async ValueTask<bool> AnswerAsync(CreatePartitionsRequest body, KafkaRequest request, KafkaWriter response)
    {
        var denied = request.Denied(authorizer, AclOperation.Alter, body.Topics, static t => t.Name);
        var quota = body.ValidateOnly ? ControllerMutationQuota.Unbounded : quotas.ControllerMutationQuotaFor(request, StrictQuotaVersion);
        var throttled = quota.IsUnbounded ? null : await RecordAsync(quota, body.Topics, denied);
        var refused = ControllerQuotas.Union(denied, throttled);
        var results = await ControllerCalls.ForwardAsync(refused is null ? body.Topics : TopicAuthorization.Allowed(body.Topics, refused),
            static t => (t.Name, t.HasAssignments, new PartitionsIncrease(t.Name, t.Count)), changes => grains.Controller().CreatePartitions(changes, body.ValidateOnly));
        foreach (var r in results) leaders.Invalidate(r.Topic);
        var errors = ControllerCalls.Errors(results);
        if (refused is not null)
        {
            var all = new TopicError[body.Topics.Count];
            for (int i = 0, answered = 0; i < all.Length; i++)
                all[i] = denied.IsDenied(i) ? new TopicError(body.Topics[i].Name, ErrorCode.TopicAuthorizationFailed, null)
                    : throttled.IsDenied(i) ? new TopicError(body.Topics[i].Name, ErrorCode.ThrottlingQuotaExceeded, ControllerQuotas.Message)
                    : errors[answered++];
            errors = all;
        }
        request.Connection.ThrottleTimeMs = quota.ThrottleTimeMs;
        new TopicErrorsResponse(errors, quota.ThrottleTimeMs).WriteCreatePartitions(response, request.Version);
        return true;
    }

    /// <summary>
    /// Records, in request order, the partitions each allowed increase adds over the count this broker knows; the topics a
    /// strict quota refused (null when none). As Kafka's controller applies the quota only to an increase that passed its
    /// checks, a topic that does not exist, would not grow or names its own assignment is left to the controller's answer.
    /// </summary>
    private async Task<bool[]?> RecordAsync(ControllerMutationQuota quota, IReadOnlyList<CreatePartitionsTopic> topics, bool[]? denied)
    {
        var names = new List<string>(topics.Count);
        foreach (var t in topics) names.Add(t.Name);
        var current = await ControllerQuotas.PartitionCountsAsync(metadataCache, names);
        bool[]? refused = null;
        for (var i = 0; i < topics.Count; i++)
        {
            var t = topics[i];
            if (denied.IsDenied(i) || t.HasAssignments || !current.TryGetValue(t.Name, out var count) || t.Count <= count) continue;
            if (!quota.TryRecord(t.Count - count)) (refused ??= new bool[topics.Count])[i] = true;
        }
        return refused;
    }
}

/// <summary>
/// Kafka's handleInitProducerId. An idempotent producer (null transactional id) always gets a new producer id with
/// epoch 0 from this broker's block (the producer id grain runs where it is called), whatever id and epoch it names:
/// librdkafka bumps an idempotent producer's epoch itself, and the replicas take the new epoch from sequence 0. With a
/// transactional id, the coordinator shard that owns the id bumps its epoch; from v3 (KIP-360) a producer that names its
/// current id and epoch continues with that id at the next epoch after an abortable error, and an older one is fenced
/// (ProducerFenced from v4, InvalidProducerEpoch before). An id without an epoch, or an epoch without an id, is
/// InvalidRequest. v5 is answered as v4: it tells the broker that the client takes TransactionAbortable, which Kafka's
/// TransactionCoordinator never answers an InitProducerId with (it is for a transaction's verification).
/// </summary>
internal sealed class InitProducerIdHandler(IGrainFactory grains, TransactionCoordinators coordinators, Server.Security.Authorization.KafkaAuthorizer authorizer)
    : KafkaApiHandler<Protocol.Messages.InitProducerIdRequest>(ApiKey.InitProducerId, Protocol.Messages.InitProducerIdRequest.Read)
{
    protected override async ValueTask<bool> AnswerAsync(Protocol.Messages.InitProducerIdRequest body, KafkaRequest request, KafkaWriter response)
    {
        var named = body.ProducerId != ProducerSequence.NoProducerId;
        // With an authorizer, Kafka's checks come first (TxnAuthorization.InitProducerIdRefusal).
        var r = body.TransactionalId switch
        {
            _ when request.InitProducerIdRefusal(authorizer, body.TransactionalId) is { } refused => new OrleansStream.InitProducerIdResponse(refused, -1, -1),
            _ when named != (body.ProducerEpoch != ProducerSequence.NoProducerEpoch) => new OrleansStream.InitProducerIdResponse(ErrorCode.InvalidRequest, -1, -1),
            null => await grains.GetGrain<IProducerIdGrain>(0).InitProducerId(),
            "" => new OrleansStream.InitProducerIdResponse(ErrorCode.InvalidRequest, -1, -1),
            var id => await coordinators.For(id).InitProducerId(new InitTransactionalProducerIdRequest(id, body.TransactionTimeoutMs, body.ProducerId, body.ProducerEpoch)),
        };
        new Protocol.Messages.InitProducerIdResponse(TxnErrorVersions.ForVersion(ApiKey, request.Version, r.Error), r.ProducerId, r.ProducerEpoch)
            .Write(response, request.Version);
        return true;
    }
}

/// <summary>KIP-599's controller mutation quota as the topic admin handlers apply it.</summary>
internal static class ControllerQuotas
{
    /// <summary>Kafka's message of <c>Errors.THROTTLING_QUOTA_EXCEEDED</c>.</summary>
    public const string Message = "The throttling quota has been exceeded.";

    /// <summary>Records each topic not <paramref name="denied"/>, in order; the topics a strict quota refused (null when none).</summary>
    public static bool[]? Record<T>(ControllerMutationQuota quota, IReadOnlyList<T> topics, bool[]? denied, Func<T, int> partitions)
    {
        if (quota.IsUnbounded) return null;
        bool[]? refused = null;
        for (var i = 0; i < topics.Count; i++)
            if (!denied.IsDenied(i) && !quota.TryRecord(partitions(topics[i]))) (refused ??= new bool[topics.Count])[i] = true;
        return refused;
    }

    /// <summary>The partition counts of the topics that exist, from the controller (or this broker's image while it cannot answer).</summary>
    public static async Task<Dictionary<string, int>> PartitionCountsAsync(MetadataCache metadata, IReadOnlyList<string> names)
    {
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        try
        {
            foreach (var t in (await metadata.TopicsAsync(names, allowAutoTopicCreation: false)).Topics)
                if (t.Error == ErrorCode.None) counts[t.Name] = t.Partitions.Count;
        }
        catch (Exception e) when (KafkaErrors.IsControllerUnreachable(e))
        {
            // Nothing known: nothing counted; the controller's own answer to the change says what happened.
        }
        return counts;
    }

    /// <summary>The topics refused for either reason (null when none).</summary>
    public static bool[]? Union(bool[]? a, bool[]? b)
    {
        if (a is null || b is null) return a ?? b;
        var union = new bool[a.Length];
        for (var i = 0; i < union.Length; i++) union[i] = a[i] || b[i];
        return union;
    }
}
