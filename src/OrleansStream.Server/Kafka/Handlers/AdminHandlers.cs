using OrleansStream.Protocol;
using OrleansStream.Storage.Producers;
using OrleansStream.Protocol.Messages;

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

    public static async Task<TopicError[]> ForwardAsync<TTopic, TChange>(
        IReadOnlyList<TTopic> topics, Func<TTopic, (string Name, bool Manual, TChange Change)> describe,
        Func<List<TChange>, Task<IReadOnlyList<TopicResult>>> call)
    {
        var results = new TopicError[topics.Count];
        var changes = new List<TChange>(topics.Count);
        var sent = new List<int>(topics.Count);
        for (var i = 0; i < results.Length; i++)
        {
            var (name, manual, change) = describe(topics[i]);
            if (manual) results[i] = new TopicError(name, ErrorCode.InvalidReplicaAssignment, NoManualAssignment);
            else
            {
                // Until the controller answers: what the topic gets if it does not.
                results[i] = new TopicError(name, ErrorCode.RequestTimedOut, ControllerDidNotAnswer);
                changes.Add(change);
                sent.Add(i);
            }
        }
        if (changes.Count == 0 || await UnlessUnreachableAsync(call(changes)) is not { } answers) return results;
        for (var i = 0; i < sent.Count; i++) results[sent[i]] = new TopicError(answers[i].Topic, answers[i].Error, answers[i].ErrorMessage);
        return results;
    }

    public static IClusterControllerGrain Controller(this IGrainFactory grains) => grains.GetGrain<IClusterControllerGrain>(GrainKeys.Controller);
}

internal sealed class CreateTopicsHandler(IGrainFactory grains)
    : KafkaApiHandler<CreateTopicsRequest>(ApiKey.CreateTopics, CreateTopicsRequest.Read)
{
    protected override async ValueTask<bool> AnswerAsync(CreateTopicsRequest body, KafkaRequest request, KafkaWriter response)
    {
        var results = await ControllerCalls.ForwardAsync(body.Topics, static t => (t.Name, t.HasAssignments, ToNewTopic(t)),
            changes => grains.Controller().CreateTopics(changes, body.ValidateOnly));
        new TopicErrorsResponse(results).WriteCreateTopics(response, request.Version);
        return true;
    }

    private static NewTopic ToNewTopic(CreatableTopic t)
    {
        var configs = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in t.Configs)
            if (value is not null) configs[key] = value;
        return new NewTopic(t.Name, t.NumPartitions, t.ReplicationFactor, configs);
    }
}

internal sealed class DeleteTopicsHandler(IGrainFactory grains, PartitionLeaders leaders)
    : KafkaApiHandler<DeleteTopicsRequest>(ApiKey.DeleteTopics, DeleteTopicsRequest.Read)
{
    protected override async ValueTask<bool> AnswerAsync(DeleteTopicsRequest body, KafkaRequest request, KafkaWriter response)
    {
        var results = await ControllerCalls.ForwardAsync(body.TopicNames, static t => (t, false, t), names => grains.Controller().DeleteTopics(names));
        foreach (var r in results) leaders.Invalidate(r.Name);
        new TopicErrorsResponse(results).WriteDeleteTopics(response, request.Version);
        return true;
    }
}

internal sealed class CreatePartitionsHandler(IGrainFactory grains, PartitionLeaders leaders)
    : KafkaApiHandler<CreatePartitionsRequest>(ApiKey.CreatePartitions, CreatePartitionsRequest.Read)
{
    protected override async ValueTask<bool> AnswerAsync(CreatePartitionsRequest body, KafkaRequest request, KafkaWriter response)
    {
        var results = await ControllerCalls.ForwardAsync(body.Topics, static t => (t.Name, t.HasAssignments, new PartitionsIncrease(t.Name, t.Count)),
            changes => grains.Controller().CreatePartitions(changes, body.ValidateOnly));
        foreach (var r in results) leaders.Invalidate(r.Name);
        new TopicErrorsResponse(results).WriteCreatePartitions(response, request.Version);
        return true;
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
internal sealed class InitProducerIdHandler(IGrainFactory grains, TransactionCoordinators coordinators)
    : KafkaApiHandler<Protocol.Messages.InitProducerIdRequest>(ApiKey.InitProducerId, Protocol.Messages.InitProducerIdRequest.Read)
{
    protected override async ValueTask<bool> AnswerAsync(Protocol.Messages.InitProducerIdRequest body, KafkaRequest request, KafkaWriter response)
    {
        var named = body.ProducerId != ProducerSequence.NoProducerId;
        var r = body.TransactionalId switch
        {
            _ when named != (body.ProducerEpoch != ProducerSequence.NoProducerEpoch) => new OrleansStream.InitProducerIdResponse(ErrorCode.InvalidRequest, -1, -1),
            null => await grains.GetGrain<IProducerIdGrain>(0).InitProducerId(),
            "" => new OrleansStream.InitProducerIdResponse(ErrorCode.InvalidRequest, -1, -1),
            var id => await coordinators.For(id).InitProducerId(new InitTransactionalProducerIdRequest(id, body.TransactionTimeoutMs, body.ProducerId, body.ProducerEpoch)),
        };
        new Protocol.Messages.InitProducerIdResponse(TransactionCoordinators.ForVersion(r.Error, request.Version, 4), r.ProducerId, r.ProducerEpoch)
            .Write(response, request.Version);
        return true;
    }
}
