using OrleansStream.Protocol;
using OrleansStream.Protocol.Messages;

namespace OrleansStream.Server.Kafka.Handlers;

/// <summary>CreateTopics: the controller's CreateTopics (any broker forwards, as KRaft brokers do). Manual replica assignment is refused.</summary>
internal sealed class CreateTopicsHandler(IGrainFactory grains) : IKafkaApiHandler
{
    public ApiKey ApiKey => ApiKey.CreateTopics;

    public async ValueTask<bool> HandleAsync(KafkaRequest request, KafkaWriter response)
    {
        var reader = request.Reader();
        var body = CreateTopicsRequest.Read(ref reader, request.Version);
        var results = new TopicError[body.Topics.Count];
        var create = new List<NewTopic>(body.Topics.Count);
        var sent = new List<int>(body.Topics.Count);
        for (var i = 0; i < results.Length; i++)
        {
            var t = body.Topics[i];
            if (t.HasAssignments)
            {
                results[i] = new TopicError(t.Name, ErrorCode.InvalidReplicaAssignment, "Manual replica assignment is not supported; the controller assigns replicas.");
                continue;
            }
            var configs = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var (key, value) in t.Configs)
                if (value is not null) configs[key] = value;
            create.Add(new NewTopic(t.Name, t.NumPartitions, t.ReplicationFactor, configs));
            sent.Add(i);
        }
        if (create.Count > 0)
        {
            var created = await grains.GetGrain<IClusterControllerGrain>(GrainKeys.Controller).CreateTopics(create, body.ValidateOnly);
            for (var i = 0; i < sent.Count; i++) results[sent[i]] = new TopicError(created[i].Topic, created[i].Error, created[i].ErrorMessage);
        }
        new TopicErrorsResponse(results).WriteCreateTopics(response, request.Version);
        return true;
    }
}

internal sealed class DeleteTopicsHandler(IGrainFactory grains, PartitionLeaders leaders) : IKafkaApiHandler
{
    public ApiKey ApiKey => ApiKey.DeleteTopics;

    public async ValueTask<bool> HandleAsync(KafkaRequest request, KafkaWriter response)
    {
        var reader = request.Reader();
        var body = DeleteTopicsRequest.Read(ref reader, request.Version);
        var deleted = await grains.GetGrain<IClusterControllerGrain>(GrainKeys.Controller).DeleteTopics(body.TopicNames);
        var results = new TopicError[deleted.Count];
        for (var i = 0; i < results.Length; i++)
        {
            results[i] = new TopicError(deleted[i].Topic, deleted[i].Error, deleted[i].ErrorMessage);
            leaders.Invalidate(deleted[i].Topic);
        }
        new TopicErrorsResponse(results).WriteDeleteTopics(response, request.Version);
        return true;
    }
}

internal sealed class CreatePartitionsHandler(IGrainFactory grains, PartitionLeaders leaders) : IKafkaApiHandler
{
    public ApiKey ApiKey => ApiKey.CreatePartitions;

    public async ValueTask<bool> HandleAsync(KafkaRequest request, KafkaWriter response)
    {
        var reader = request.Reader();
        var body = CreatePartitionsRequest.Read(ref reader, request.Version);
        var results = new TopicError[body.Topics.Count];
        var increases = new List<PartitionsIncrease>(body.Topics.Count);
        var sent = new List<int>(body.Topics.Count);
        for (var i = 0; i < results.Length; i++)
        {
            var t = body.Topics[i];
            if (t.HasAssignments)
            {
                results[i] = new TopicError(t.Name, ErrorCode.InvalidReplicaAssignment, "Manual replica assignment is not supported; the controller assigns replicas.");
                continue;
            }
            increases.Add(new PartitionsIncrease(t.Name, t.Count));
            sent.Add(i);
        }
        if (increases.Count > 0)
        {
            var changed = await grains.GetGrain<IClusterControllerGrain>(GrainKeys.Controller).CreatePartitions(increases, body.ValidateOnly);
            for (var i = 0; i < sent.Count; i++)
            {
                results[sent[i]] = new TopicError(changed[i].Topic, changed[i].Error, changed[i].ErrorMessage);
                leaders.Invalidate(changed[i].Topic);
            }
        }
        new TopicErrorsResponse(results).WriteCreatePartitions(response);
        return true;
    }
}

/// <summary>
/// InitProducerId for an idempotent producer: a new producer id with epoch 0 from this broker's block (the producer id
/// grain runs where it is called). Transactional ids are not served yet: TransactionalIdAuthorizationFailed.
/// </summary>
internal sealed class InitProducerIdHandler(IGrainFactory grains) : IKafkaApiHandler
{
    public ApiKey ApiKey => ApiKey.InitProducerId;

    public async ValueTask<bool> HandleAsync(KafkaRequest request, KafkaWriter response)
    {
        var reader = request.Reader();
        var body = Protocol.Messages.InitProducerIdRequest.Read(ref reader, request.Version);
        Protocol.Messages.InitProducerIdResponse answer;
        if (body.TransactionalId is not null)
            answer = new(ErrorCode.TransactionalIdAuthorizationFailed, -1, -1);
        else
        {
            var r = await grains.GetGrain<IProducerIdGrain>(0).InitProducerId();
            answer = new(r.Error, r.ProducerId, r.ProducerEpoch);
        }
        answer.Write(response, request.Version);
        return true;
    }
}
