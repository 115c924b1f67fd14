using OrleansStream.Protocol;
using OrleansStream.Protocol.Messages;
using OrleansStream.Server.Security.Authorization;

namespace OrleansStream.Server.Kafka.Handlers;

/// <summary>
/// DescribeProducers (KIP-664, <c>kafka-transactions.sh describe-producers</c>): the producer state of each partition's
/// replica on this broker, leader or follower (Kafka's <c>activeProducerState</c>); <c>NotLeaderOrFollower</c> where this
/// broker holds none, <c>UnknownTopicOrPartition</c> for a partition that does not exist. With the authorizer on, each
/// topic needs READ (TopicAuthorizationFailed, before it is looked up), as in Kafka's handleDescribeProducersRequest.
/// </summary>
internal sealed partial class DescribeProducersHandler(PartitionLeaders leaders, KafkaAuthorizer authorizer, ILogger<DescribeProducersHandler> logger)
    : KafkaApiHandler<Protocol.Messages.DescribeProducersRequest>(ApiKey.DescribeProducers, Protocol.Messages.DescribeProducersRequest.Read)
{
    protected override async ValueTask<bool> AnswerAsync(Protocol.Messages.DescribeProducersRequest body, KafkaRequest request, KafkaWriter response)
    {
        var denied = request.Denied(authorizer, AclOperation.Read, body.Topics, static t => t.Topic);
        await leaders.EnsureAsync(denied is null ? body.Topics : TopicAuthorization.Allowed(body.Topics, denied), static t => t.Topic);
        var calls = new List<(ErrorCode Error, Task<OrleansStream.DescribeProducersResponse>? Call)>();
        for (var t = 0; t < body.Topics.Length; t++)
            foreach (var partition in body.Topics[t].Partitions)
            {
                var replica = denied.IsDenied(t) ? new LocalLeader(ErrorCode.TopicAuthorizationFailed, null) : leaders.FindReplica(body.Topics[t].Topic, partition);
                calls.Add((replica.Error, replica.Replica?.DescribeProducers()));
            }
        var topics = new List<DescribedProducersTopic>(body.Topics.Length);
        var c = 0;
        foreach (var topic in body.Topics)
        {
            var partitions = new DescribedProducersPartition[topic.Partitions.Length];
            for (var i = 0; i < partitions.Length; i++)
                partitions[i] = await Complete(topic.Topic, topic.Partitions[i], calls[c++]);
            topics.Add(new DescribedProducersTopic(topic.Topic, partitions));
        }
        new Protocol.Messages.DescribeProducersResponse(topics).Write(response, request.Version);
        return true;
    }

    private async ValueTask<DescribedProducersPartition> Complete(string topic, int partition, (ErrorCode Error, Task<OrleansStream.DescribeProducersResponse>? Call) lookup)
    {
        if (lookup.Call is null)
            return new DescribedProducersPartition(partition, lookup.Error, lookup.Error == ErrorCode.TopicAuthorizationFailed ? AuthorizationMessages.Topic : null, []);
        try
        {
            var r = await lookup.Call;
            if (KafkaErrors.IsStaleLeader(r.Error)) leaders.Invalidate(topic);
            var producers = new DescribedProducer[r.ActiveProducers.Count];
            for (var i = 0; i < producers.Length; i++)
            {
                var p = r.ActiveProducers[i];
                producers[i] = new DescribedProducer(p.ProducerId, p.ProducerEpoch, p.LastSequence, p.LastTimestamp, p.CoordinatorEpoch, p.CurrentTxnStartOffset);
            }
            return new DescribedProducersPartition(partition, r.Error, r.ErrorMessage, producers);
        }
        catch (Exception e)
        {
            var error = KafkaErrors.FromException(e);
            if (error == ErrorCode.UnknownServerError) LogDescribeProducersFailed(e, topic, partition);
            if (KafkaErrors.IsStaleLeader(error)) leaders.Invalidate(topic);
            return new DescribedProducersPartition(partition, error, null, []);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "DescribeProducers of {Topic}-{Partition} failed")]
    private partial void LogDescribeProducersFailed(Exception e, string topic, int partition);
}
