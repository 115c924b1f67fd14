using OrleansStream.Protocol;
using OrleansStream.Protocol.Messages;
using OrleansStream.Server.Security.Authorization;

namespace OrleansStream.Server.Kafka.Handlers;

/// <summary>
/// ListOffsets v1-10: earliest (-2), latest (-1, the last stable offset for read_committed), max timestamp (-3, v7+),
/// earliest local (-4, v8+), latest tiered (-5, v9+) or by timestamp, from each partition's leader. A special timestamp
/// the request's version may not ask is UnsupportedVersion for that partition (Kafka's timestampMinSupportedVersion).
/// v10's TimeoutMs bounds the lookups that may read the tier (by timestamp, max timestamp): one still running when it
/// has passed is RequestTimedOut, as Kafka's DelayedRemoteListOffsets expires. With the authorizer on, each topic needs
/// DESCRIBE (TopicAuthorizationFailed, before anything else is checked), as in Kafka's handleListOffsetRequest.
/// </summary>
internal sealed partial class ListOffsetsHandler(PartitionLeaders leaders, KafkaAuthorizer authorizer, ILogger<ListOffsetsHandler> logger)
    : KafkaApiHandler<Protocol.Messages.ListOffsetsRequest>(ApiKey.ListOffsets, Protocol.Messages.ListOffsetsRequest.Read)
{
    protected override async ValueTask<bool> AnswerAsync(Protocol.Messages.ListOffsetsRequest body, KafkaRequest request, KafkaWriter response)
    {
        var denied = request.Denied(authorizer, AclOperation.Describe, body.Topics, static t => t.Name);
        await leaders.EnsureAsync(denied is null ? body.Topics : TopicAuthorization.Allowed(body.Topics, denied), static t => t.Name);

        var calls = new List<(ErrorCode Error, Task<OrleansStream.ListOffsetsResponse>? Call)>();
        for (var t = 0; t < body.Topics.Length; t++)
        {
            var topic = body.Topics[t];
            foreach (var p in topic.Partitions)
            {
                if (denied.IsDenied(t))
                {
                    calls.Add((ErrorCode.TopicAuthorizationFailed, null));
                    continue;
                }
                var minVersion = Protocol.Messages.ListOffsetsRequest.MinVersionFor(p.Timestamp);
                if (minVersion < 0 || request.Version < minVersion)
                {
                    calls.Add((ErrorCode.UnsupportedVersion, null));
                    continue;
                }
                var leader = leaders.Find(topic.Name, p.PartitionIndex);
                calls.Add((leader.Error, leader.Replica?.ListOffsets(
                    new OrleansStream.ListOffsetsRequest(p.Timestamp, p.CurrentLeaderEpoch, (IsolationLevel)body.IsolationLevel))));
            }
        }
        var deadline = request.Version >= 10 && body.TimeoutMs > 0 ? Environment.TickCount64 + body.TimeoutMs : long.MaxValue;
        var topics = new ListOffsetsTopicResponse[body.Topics.Length];
        var c = 0;
        for (var t = 0; t < topics.Length; t++)
        {
            var topic = body.Topics[t];
            var partitions = new ListOffsetsPartitionResponse[topic.Partitions.Length];
            for (var i = 0; i < partitions.Length; i++)
            {
                var mayReadTier = topic.Partitions[i].Timestamp is >= 0 or ListOffsetsTimestamp.MaxTimestamp;
                partitions[i] = await Complete(topic.Name, topic.Partitions[i].PartitionIndex, calls[c++], mayReadTier ? deadline : long.MaxValue);
            }
            topics[t] = new ListOffsetsTopicResponse(topic.Name, partitions);
        }
        new Protocol.Messages.ListOffsetsResponse(topics).Write(response, request.Version);
        return true;
    }

    private async ValueTask<ListOffsetsPartitionResponse> Complete(
        string topic, int partition, (ErrorCode Error, Task<OrleansStream.ListOffsetsResponse>? Call) lookup, long deadline)
    {
        if (lookup.Call is null) return new ListOffsetsPartitionResponse(partition, lookup.Error, -1, -1, -1);
        try
        {
            var r = deadline == long.MaxValue
                ? await lookup.Call
                : await lookup.Call.WaitAsync(TimeSpan.FromMilliseconds(Math.Max(0, deadline - Environment.TickCount64)));
            if (KafkaErrors.IsStaleLeader(r.Error)) leaders.Invalidate(topic);
            return new ListOffsetsPartitionResponse(partition, r.Error, r.Timestamp, r.Offset, r.LeaderEpoch);
        }
        catch (Exception e)
        {
            var error = KafkaErrors.FromException(e);
            if (error == ErrorCode.UnknownServerError) LogListOffsetsFailed(e, topic, partition);
            if (KafkaErrors.IsStaleLeader(error)) leaders.Invalidate(topic);
            return new ListOffsetsPartitionResponse(partition, error, -1, -1, -1);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "ListOffsets of {Topic}-{Partition} failed")]
    private partial void LogListOffsetsFailed(Exception e, string topic, int partition);
}
