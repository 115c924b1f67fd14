using OrleansStream.Protocol;
using OrleansStream.Protocol.Messages;
using OrleansStream.Server.Security.Authorization;

namespace OrleansStream.Server.Kafka.Handlers;

/// <summary>
/// DeleteRecords v0-1: each partition's leader moves its log start offset and answers once its in-sync followers moved
/// theirs; the low watermark is the smallest of them. With the authorizer on, each topic needs DELETE
/// (TopicAuthorizationFailed, before it is looked up), as in Kafka's handleDeleteRecordsRequest.
/// </summary>
internal sealed partial class DeleteRecordsHandler(PartitionLeaders leaders, KafkaAuthorizer authorizer, ILogger<DeleteRecordsHandler> logger)
    : KafkaApiHandler<Protocol.Messages.DeleteRecordsRequest>(ApiKey.DeleteRecords, Protocol.Messages.DeleteRecordsRequest.Read)
{
    protected override async ValueTask<bool> AnswerAsync(Protocol.Messages.DeleteRecordsRequest body, KafkaRequest request, KafkaWriter response)
    {
        var denied = request.Denied(authorizer, AclOperation.Delete, body.Topics, static t => t.Name);
        await leaders.EnsureAsync(denied is null ? body.Topics : TopicAuthorization.Allowed(body.Topics, denied), static t => t.Name);
        var calls = new List<(ErrorCode Error, Task<OrleansStream.DeleteRecordsResponse>? Call)>();
        for (var t = 0; t < body.Topics.Length; t++)
            foreach (var p in body.Topics[t].Partitions)
            {
                var leader = denied.IsDenied(t) ? new LocalLeader(ErrorCode.TopicAuthorizationFailed, null) : leaders.Find(body.Topics[t].Name, p.PartitionIndex);
                calls.Add((leader.Error, leader.Replica?.DeleteRecords(new OrleansStream.DeleteRecordsRequest(p.Offset, TimeoutMs: body.TimeoutMs))));
            }
        var topics = new DeleteRecordsTopicResult[body.Topics.Length];
        var c = 0;
        for (var t = 0; t < topics.Length; t++)
        {
            var topic = body.Topics[t];
            var partitions = new DeleteRecordsPartitionResult[topic.Partitions.Length];
            for (var i = 0; i < partitions.Length; i++)
                partitions[i] = await Complete(topic.Name, topic.Partitions[i].PartitionIndex, calls[c++]);
            topics[t] = new DeleteRecordsTopicResult(topic.Name, partitions);
        }
        new Protocol.Messages.DeleteRecordsResponse(topics).Write(response, request.Version);
        return true;
    }

    private async ValueTask<DeleteRecordsPartitionResult> Complete(string topic, int partition, (ErrorCode Error, Task<OrleansStream.DeleteRecordsResponse>? Call) lookup)
    {
        if (lookup.Call is null) return new DeleteRecordsPartitionResult(partition, -1, lookup.Error);
        ErrorCode error;
        try
        {
            var r = await lookup.Call;
            if (r.Error == ErrorCode.None) return new DeleteRecordsPartitionResult(partition, r.LowWatermark, ErrorCode.None);
            error = r.Error;
        }
        catch (Exception e)
        {
            error = KafkaErrors.FromException(e);
            if (error == ErrorCode.UnknownServerError) LogDeleteRecordsFailed(e, topic, partition);
        }
        if (KafkaErrors.IsStaleLeader(error)) leaders.Invalidate(topic);
        return new DeleteRecordsPartitionResult(partition, -1, error);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "DeleteRecords of {Topic}-{Partition} failed")]
    private partial void LogDeleteRecordsFailed(Exception e, string topic, int partition);
}
