using Microsoft.Extensions.Options;
using OrleansStream.Protocol;
using OrleansStream.Protocol.Messages;
using OrleansStream.Server.Security.Authorization;
using OrleansStream.Server.Transactions;

namespace OrleansStream.Server.Kafka.Handlers;

/// <summary>
/// The transaction coordinator's APIs reach the shard grain that owns the transactional id wherever it lives, so any
/// broker answers FindCoordinator(TRANSACTION) with itself, as it does for groups.
/// </summary>
internal sealed class TransactionCoordinators(IGrainFactory grains, IOptions<TransactionCoordinatorOptions> options)
{
    public int ShardCount => options.Value.TransactionStateLogNumPartitions;

    public ITransactionCoordinatorGrain For(string transactionalId) => Shard(TransactionStateManager.PartitionFor(transactionalId, ShardCount));

    public ITransactionCoordinatorGrain Shard(int shard) => grains.GetGrain<ITransactionCoordinatorGrain>(shard);
}

/// <summary>
/// AddPartitionsToTxn v0-3, the versions Kafka's clients send (v3 flexible; v4+ carry brokers' batched verifications,
/// which replicas here ask the coordinator grain directly). With an authorizer, as Kafka's <c>handleAddPartitionsToTxnRequest</c>: WRITE on the
/// transactional id, else every partition is TransactionalIdAuthorizationFailed; then WRITE on each topic: when one is
/// refused, nothing is added, its partitions are TopicAuthorizationFailed and the others OperationNotAttempted.
/// </summary>
internal sealed class AddPartitionsToTxnHandler(TransactionCoordinators coordinators, KafkaAuthorizer authorizer)
    : KafkaApiHandler<Protocol.Messages.AddPartitionsToTxnRequest>(ApiKey.AddPartitionsToTxn, Protocol.Messages.AddPartitionsToTxnRequest.Read)
{
    protected override async ValueTask<bool> AnswerAsync(Protocol.Messages.AddPartitionsToTxnRequest body, KafkaRequest request, KafkaWriter response)
    {
        var partitions = GroupCalls.Flatten(body.Topics);
        var denied = request.Denied(authorizer, AclOperation.Write, body.Topics, static t => t.Topic);
        var result = !request.IsAllowedOnTransactionalId(authorizer, AclOperation.Write, body.TransactionalId)
            ? new OrleansStream.AddPartitionsToTxnResponse(Every(partitions, ErrorCode.TransactionalIdAuthorizationFailed))
            : denied is not null
            ? Refused(body.Topics, denied)
            : body.TransactionalId.Length == 0
            ? new OrleansStream.AddPartitionsToTxnResponse(Every(partitions, ErrorCode.InvalidRequest))
            : await coordinators.For(body.TransactionalId).AddPartitionsToTxn(
                new OrleansStream.AddPartitionsToTxnRequest(body.TransactionalId, body.ProducerId, body.ProducerEpoch, partitions));

        var topics = new List<PartitionErrors>(body.Topics.Length);
        foreach (var t in body.Topics)
        {
            var errors = new (int, ErrorCode)[t.Partitions.Length];
            for (var i = 0; i < errors.Length; i++)
                errors[i] = (t.Partitions[i], TxnErrorVersions.ForVersion(ApiKey, request.Version, ErrorOf(result, new TopicPartition(t.Topic, t.Partitions[i]))));
            topics.Add(new PartitionErrors(t.Topic, errors));
        }
        new TxnPartitionErrorsResponse(topics).Write(response, request.Version >= 3);
        return true;
    }

    /// <summary>Kafka's answer when a topic is refused: TopicAuthorizationFailed for its partitions, OperationNotAttempted for the others.</summary>
    private static OrleansStream.AddPartitionsToTxnResponse Refused(TopicPartitions[] topics, bool[] denied)
    {
        var list = new List<PartitionError>();
        for (var n = 0; n < topics.Length; n++)
            foreach (var p in topics[n].Partitions)
                list.Add(new PartitionError(new TopicPartition(topics[n].Topic, p), denied[n] ? ErrorCode.TopicAuthorizationFailed : ErrorCode.OperationNotAttempted));
        return new OrleansStream.AddPartitionsToTxnResponse(list);
    }

    private static List<PartitionError> Every(List<TopicPartition> partitions, ErrorCode error)
    {
        var list = new List<PartitionError>(partitions.Count);
        foreach (var p in partitions) list.Add(new PartitionError(p, error));
        return list;
    }

    private static ErrorCode ErrorOf(OrleansStream.AddPartitionsToTxnResponse result, TopicPartition tp)
    {
        foreach (var p in result.Partitions)
            if (p.TopicPartition == tp) return p.Error;
        return ErrorCode.OperationNotAttempted;
    }
}

/// <summary>A coordinator API answered with one error: AddOffsetsToTxn and EndTxn (<see cref="TxnErrorVersions"/>).</summary>
internal abstract class TxnErrorHandler<TRequest>(ApiKey apiKey, MessageReader<TRequest> read) : KafkaApiHandler<TRequest>(apiKey, read)
{
    protected override async ValueTask<bool> AnswerAsync(TRequest body, KafkaRequest request, KafkaWriter response)
    {
        var result = Refused(body, request) is { } refused ? new TxnResponse(refused) : await CallAsync(body, request);
        Write(new TxnErrorResponse(TxnErrorVersions.ForVersion(ApiKey, request.Version, result.Error), result.ProducerId, result.ProducerEpoch),
            request.Version, response);
        return true;
    }

    /// <summary>The error for a request refused before any call, or null.</summary>
    protected abstract ErrorCode? Refused(TRequest body, KafkaRequest request);

    protected abstract Task<TxnResponse> CallAsync(TRequest body, KafkaRequest request);

    protected virtual void Write(TxnErrorResponse answer, short version, KafkaWriter response) => answer.Write(response, version);
}

/// <summary>AddOffsetsToTxn; with an authorizer WRITE on the transactional id, then READ on the group (Kafka's order).</summary>
internal sealed class AddOffsetsToTxnHandler(TransactionCoordinators coordinators, KafkaAuthorizer authorizer)
    : TxnErrorHandler<Protocol.Messages.AddOffsetsToTxnRequest>(ApiKey.AddOffsetsToTxn, Protocol.Messages.AddOffsetsToTxnRequest.Read)
{
    protected override ErrorCode? Refused(Protocol.Messages.AddOffsetsToTxnRequest body, KafkaRequest request) =>
        !request.IsAllowedOnTransactionalId(authorizer, AclOperation.Write, body.TransactionalId) ? ErrorCode.TransactionalIdAuthorizationFailed
        : !request.IsAllowedOnGroup(authorizer, AclOperation.Read, body.GroupId) ? ErrorCode.GroupAuthorizationFailed
        : body.TransactionalId.Length == 0 ? ErrorCode.InvalidRequest : !GroupKeys.IsAddressable(body.GroupId) ? ErrorCode.InvalidGroupId : null;

    protected override Task<TxnResponse> CallAsync(Protocol.Messages.AddOffsetsToTxnRequest body, KafkaRequest request) =>
        coordinators.For(body.TransactionalId).AddOffsetsToTxn(
            new OrleansStream.AddOffsetsToTxnRequest(body.TransactionalId, body.ProducerId, body.ProducerEpoch, body.GroupId));
}

/// <summary>
/// EndTxn; with an authorizer WRITE on the transactional id first. v5 comes from a producer of transactions v2: the
/// coordinator bumps its epoch with the decision, and the answer carries the id and epoch for its next transaction.
/// </summary>
internal sealed class EndTxnHandler(TransactionCoordinators coordinators, KafkaAuthorizer authorizer)
    : TxnErrorHandler<Protocol.Messages.EndTxnRequest>(ApiKey.EndTxn, Protocol.Messages.EndTxnRequest.Read)
{
    protected override ErrorCode? Refused(Protocol.Messages.EndTxnRequest body, KafkaRequest request) =>
        !request.IsAllowedOnTransactionalId(authorizer, AclOperation.Write, body.TransactionalId) ? ErrorCode.TransactionalIdAuthorizationFailed
        : body.TransactionalId.Length == 0 ? ErrorCode.InvalidRequest : null;

    protected override Task<TxnResponse> CallAsync(Protocol.Messages.EndTxnRequest body, KafkaRequest request) =>
        coordinators.For(body.TransactionalId).EndTxn(
            new OrleansStream.EndTxnRequest(body.TransactionalId, body.ProducerId, body.ProducerEpoch, body.Committed,
                TxnErrorVersions.ClientTransactionVersion(ApiKey, request.Version)));

    protected override void Write(TxnErrorResponse answer, short version, KafkaWriter response) => answer.WriteEndTxn(response, version);
}

/// <summary>
/// TxnOffsetCommit goes to the group's grain (the group coordinator), which holds the offsets until the marker. A stale
/// producer epoch is InvalidProducerEpoch in every version, as Kafka's group coordinator answers it; a group that the
/// transaction's verification finds outside it is TransactionAbortable from v4, InvalidTxnState before (Kafka's
/// genericError from v4, <see cref="TxnErrorVersions"/>). With an authorizer,
/// as Kafka's <c>handleTxnOffsetCommitRequest</c>: WRITE on the transactional id (every partition
/// TransactionalIdAuthorizationFailed), READ on the group (GroupAuthorizationFailed), then READ on each topic (its
/// partitions TopicAuthorizationFailed and left out).
/// </summary>
internal sealed class TxnOffsetCommitHandler(IGrainFactory grains, KafkaAuthorizer authorizer)
    : KafkaApiHandler<Protocol.Messages.TxnOffsetCommitRequest>(ApiKey.TxnOffsetCommit, Protocol.Messages.TxnOffsetCommitRequest.Read)
{
    protected override async ValueTask<bool> AnswerAsync(Protocol.Messages.TxnOffsetCommitRequest body, KafkaRequest request, KafkaWriter response)
    {
        var refused = !request.IsAllowedOnTransactionalId(authorizer, AclOperation.Write, body.TransactionalId) ? ErrorCode.TransactionalIdAuthorizationFailed
            : !request.IsAllowedOnGroup(authorizer, AclOperation.Read, body.GroupId) ? ErrorCode.GroupAuthorizationFailed
            : ErrorCode.None;
        var denied = refused == ErrorCode.None ? request.Denied(authorizer, AclOperation.Read, body.Topics, static t => t.Name) : null;
        var asked = denied is null ? body.Topics : TopicAuthorization.Allowed(body.Topics, denied);
        OrleansStream.OffsetCommitResponse result = refused != ErrorCode.None
            ? new(refused, [])
            : !GroupKeys.IsAddressable(body.GroupId)
            ? new(ErrorCode.InvalidGroupId, [])
            : asked.Length == 0 && denied is not null
            ? new(ErrorCode.None, [])
            : await grains.Group(body.GroupId).TxnOffsetCommit(new OrleansStream.TxnOffsetCommitRequest(
                body.TransactionalId, body.ProducerId, body.ProducerEpoch, OffsetCommitHandler.Offsets(asked), body.GenerationId, body.MemberId, body.GroupInstanceId,
                TxnErrorVersions.TakesTransactionAbortable(ApiKey, request.Version),
                TxnErrorVersions.AddsToTransaction(ApiKey, request.Version)));
        var topics = OffsetCommitHandler.Errors(body.Topics, result, denied);
        foreach (var t in topics)
            for (var i = 0; i < t.Partitions.Length; i++)
                t.Partitions[i].Error = TxnErrorVersions.ForVersion(ApiKey, request.Version, t.Partitions[i].Error);
        new TxnPartitionErrorsResponse(topics).Write(response, request.Version >= 3);
        return true;
    }
}

/// <summary>
/// DescribeTransactions: each id asked of the shard that owns it, one call per shard. With an authorizer, as Kafka's
/// <c>handleDescribeTransactionsRequest</c>: an id the principal may not DESCRIBE is TransactionalIdAuthorizationFailed
/// and not asked, and a described transaction shows only the topics the principal may DESCRIBE.
/// </summary>
internal sealed class DescribeTransactionsHandler(TransactionCoordinators coordinators, KafkaAuthorizer authorizer)
    : KafkaApiHandler<DescribeTransactionsRequest>(ApiKey.DescribeTransactions, DescribeTransactionsRequest.Read)
{
    protected override async ValueTask<bool> AnswerAsync(DescribeTransactionsRequest body, KafkaRequest request, KafkaWriter response)
    {
        var byShard = new Dictionary<ITransactionCoordinatorGrain, List<string>>();
        HashSet<string>? denied = null;
        foreach (var id in body.TransactionalIds)
        {
            if (!request.IsAllowedOnTransactionalId(authorizer, AclOperation.Describe, id))
            {
                (denied ??= new HashSet<string>(StringComparer.Ordinal)).Add(id);
                continue;
            }
            if (id.Length == 0) continue;
            var shard = coordinators.For(id);
            if (!byShard.TryGetValue(shard, out var ids)) byShard[shard] = ids = [];
            ids.Add(id);
        }
        var calls = new List<Task<IReadOnlyList<TransactionDescription>>>(byShard.Count);
        foreach (var (shard, ids) in byShard) calls.Add(shard.DescribeTransactions(ids));
        var described = new Dictionary<string, TransactionDescription>(StringComparer.Ordinal);
        foreach (var call in calls)
            foreach (var d in await call) described[d.TransactionalId] = d;

        var states = new List<DescribedTransaction>(body.TransactionalIds.Length);
        foreach (var id in body.TransactionalIds)
            states.Add(denied is not null && denied.Contains(id)
                ? new DescribedTransaction(ErrorCode.TransactionalIdAuthorizationFailed, id, "", -1, -1, -1, -1, [])
                : described.TryGetValue(id, out var d)
                ? new DescribedTransaction(d.Error, id, d.State, d.TransactionTimeoutMs, d.TransactionStartTimeMs, d.ProducerId, d.ProducerEpoch, ByTopic(d.Partitions, request))
                : new DescribedTransaction(ErrorCode.TransactionalIdNotFound, id, "", -1, -1, -1, -1, []));
        new DescribeTransactionsResponse(states).Write(response, request.Version);
        return true;
    }

    /// <summary>The transaction's partitions by topic, the topics the principal may not DESCRIBE left out.</summary>
    private List<TopicPartitions> ByTopic(IReadOnlyList<TopicPartition> partitions, KafkaRequest request)
    {
        var topics = new List<TopicPartitions>();
        var index = new Dictionary<string, List<int>>(StringComparer.Ordinal);
        foreach (var p in partitions)
        {
            if (!index.TryGetValue(p.Topic, out var list)) index[p.Topic] = list = [];
            list.Add(p.Partition);
        }
        foreach (var (topic, list) in index)
            if (request.IsAllowed(authorizer, AclOperation.Describe, AclResourceType.Topic, topic)) topics.Add(new TopicPartitions(topic, [.. list]));
        return topics;
    }
}

/// <summary>
/// ListTransactions v0-1: every shard asked at once, with v1's duration filter (KIP-994); state names Kafka does not
/// know come back as unknown filters. With an
/// authorizer only the ids the principal may DESCRIBE are listed (Kafka's <c>handleListTransactionsRequest</c>).
/// </summary>
internal sealed class ListTransactionsHandler(TransactionCoordinators coordinators, KafkaAuthorizer authorizer)
    : KafkaApiHandler<ListTransactionsRequest>(ApiKey.ListTransactions, ListTransactionsRequest.Read)
{
    protected override async ValueTask<bool> AnswerAsync(ListTransactionsRequest body, KafkaRequest request, KafkaWriter response)
    {
        var unknown = new List<string>();
        foreach (var name in body.StateFilters)
            if (!Enum.TryParse<Transactions.TransactionState>(name, ignoreCase: false, out var s) || !Enum.IsDefined(s) || int.TryParse(name, out _))
                unknown.Add(name);
        var calls = new List<Task<IReadOnlyList<TransactionListingResult>>>(coordinators.ShardCount);
        for (var shard = 0; shard < coordinators.ShardCount; shard++)
            calls.Add(coordinators.Shard(shard).ListTransactions(body.StateFilters, body.ProducerIdFilters, body.DurationFilterMs));
        var listings = new List<ListedTransaction>();
        foreach (var call in calls)
            foreach (var l in await call)
                if (request.IsAllowedOnTransactionalId(authorizer, AclOperation.Describe, l.TransactionalId))
                    listings.Add(new ListedTransaction(l.TransactionalId, l.ProducerId, l.State));
        new ListTransactionsResponse(ErrorCode.None, unknown, listings).Write(response, request.Version);
        return true;
    }
}
