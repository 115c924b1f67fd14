using OrleansStream.Protocol;
using OrleansStream.Protocol.Messages;
using OrleansStream.Server.Security.Authorization;

namespace OrleansStream.Server.Kafka.Handlers;

/// <summary>
/// OffsetForLeaderEpoch v2-4 (KIP-320): each partition's leader answers where the asked epoch ended in its log
/// (<see cref="IPartitionReplicaGrain.OffsetForLeaderEpoch"/>, from its leader epoch cache). librdkafka and the Java
/// consumer ask it after a leader change and treat an end offset below their position as log truncation. Answered
/// only by the leader, whatever replica id the request names, as Kafka's <c>lastOffsetForLeaderEpoch</c> is: followers
/// here replicate through grain calls, not this API. With the authorizer on, each topic needs DESCRIBE
/// (TopicAuthorizationFailed), as in Kafka's handleOffsetForLeaderEpochRequest.
/// </summary>
internal sealed partial class OffsetForLeaderEpochHandler(PartitionLeaders leaders, KafkaAuthorizer authorizer, ILogger<OffsetForLeaderEpochHandler> logger)
    : KafkaApiHandler<OffsetForLeaderEpochRequest>(ApiKey.OffsetForLeaderEpoch, OffsetForLeaderEpochRequest.Read)
{
    protected override async ValueTask<bool> AnswerAsync(OffsetForLeaderEpochRequest body, KafkaRequest request, KafkaWriter response)
    {
        var denied = request.Denied(authorizer, AclOperation.Describe, body.Topics, static t => t.Topic);
        await leaders.EnsureAsync(denied is null ? body.Topics : TopicAuthorization.Allowed(body.Topics, denied), static t => t.Topic);
        var calls = new List<(ErrorCode Error, Task<EpochEndOffsetResponse>? Call)>();
        for (var t = 0; t < body.Topics.Length; t++)
            foreach (var p in body.Topics[t].Partitions)
            {
                var leader = denied.IsDenied(t) ? new LocalLeader(ErrorCode.TopicAuthorizationFailed, null) : leaders.Find(body.Topics[t].Topic, p.Partition);
                calls.Add((leader.Error, leader.Replica?.OffsetForLeaderEpoch(p.LeaderEpoch, p.CurrentLeaderEpoch)));
            }
        var topics = new OffsetForLeaderTopicResult[body.Topics.Length];
        var c = 0;
        for (var t = 0; t < topics.Length; t++)
        {
            var topic = body.Topics[t];
            var partitions = new EpochEndOffset[topic.Partitions.Length];
            for (var i = 0; i < partitions.Length; i++)
                partitions[i] = await Complete(topic.Topic, topic.Partitions[i].Partition, calls[c++]);
            topics[t] = new OffsetForLeaderTopicResult(topic.Topic, partitions);
        }
        new OffsetForLeaderEpochResponse(topics).Write(response, request.Version);
        return true;
    }

    private async ValueTask<EpochEndOffset> Complete(string topic, int partition, (ErrorCode Error, Task<EpochEndOffsetResponse>? Call) lookup)
    {
        if (lookup.Call is null) return new EpochEndOffset(lookup.Error, partition, -1, -1);
        try
        {
            var r = await lookup.Call;
            if (KafkaErrors.IsStaleLeader(r.Error)) leaders.Invalidate(topic);
            return new EpochEndOffset(r.Error, partition, r.LeaderEpoch, r.EndOffset);
        }
        catch (Exception e)
        {
            var error = KafkaErrors.FromException(e);
            if (error == ErrorCode.UnknownServerError) LogOffsetForLeaderEpochFailed(e, topic, partition);
            if (KafkaErrors.IsStaleLeader(error)) leaders.Invalidate(topic);
            return new EpochEndOffset(error, partition, -1, -1);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "OffsetForLeaderEpoch of {Topic}-{Partition} failed")]
    private partial void LogOffsetForLeaderEpochFailed(Exception e, string topic, int partition);
}
