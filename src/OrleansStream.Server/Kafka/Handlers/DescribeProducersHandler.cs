using OrleansStream.Protocol;
using OrleansStream.Protocol.Messages;

namespace OrleansStream.Server.Kafka.Handlers;

/// <summary>
/// DescribeProducers (KIP-664, <c>kafka-transactions.sh describe-producers</c>): the producer state of each partition's
/// replica on this broker, leader or follower (Kafka's <c>activeProducerState</c>); <c>NotLeaderOrFollower</c> where this
/// broker holds none, <c>UnknownTopicOrPartition</c> for a partition that does not exist.
/// </summary>
internal sealed partial class DescribeProducersHandler(PartitionLeaders leaders, ILogger<DescribeProducersHandler> logger)
    : KafkaApiHandler<Protocol.Messages.DescribeProducersRequest>(ApiKey.DescribeProducers, Protocol.Messages.DescribeProducersRequest.Read)
{
    protected override async ValueTask<bool> AnswerAsync(Protocol.Messages.DescribeProducersRequest body, KafkaRequest request, KafkaWriter response)
    {
        await leaders.EnsureAsync(body.Topics, static t => t.Topic);
        var calls = new List<(ErrorCode Error, Task<OrleansStream.DescribeProducersResponse>? Call)>();
        foreach (var topic in body.Topics)
            foreach (var partition in topic.Partitions)
            {
                var replica = leaders.FindReplica(topic.Topic, partition);
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
        if (lookup.Call is null) return new DescribedProducersPartition(partition, lookup.Error, null, []);
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
