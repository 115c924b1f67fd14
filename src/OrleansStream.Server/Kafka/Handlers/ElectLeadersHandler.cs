using OrleansStream.Protocol;
using OrleansStream.Protocol.Messages;
using OrleansStream.Server.Security.Authorization;

namespace OrleansStream.Server.Kafka.Handlers;

/// <summary>
/// ElectLeaders v0-2 (KIP-460: kafka-leader-election.sh, the admin clients' <c>electLeaders</c>): the controller's
/// elections (<see cref="IClusterControllerGrain.ElectLeaders"/>), answered once the new leaders are in its state; each
/// replica takes its role from the LeaderAndIsr that follows, as in KRaft. An election type Kafka does not define is
/// InvalidRequest for the request and for each partition it names, as Kafka's <c>getErrorResponse</c> answers it, and a
/// controller that did not answer RequestTimedOut so. With the authorizer on it needs ALTER on the cluster, else it is
/// answered ClusterAuthorizationFailed so (Kafka's <c>authorizeClusterOperation</c>, checked before the request is read).
/// </summary>
internal sealed class ElectLeadersHandler(IGrainFactory grains, PartitionLeaders leaders, KafkaAuthorizer authorizer)
    : KafkaApiHandler<ElectLeadersRequest>(ApiKey.ElectLeaders, ElectLeadersRequest.Read)
{
    protected override async ValueTask<bool> AnswerAsync(ElectLeadersRequest body, KafkaRequest request, KafkaWriter response)
    {
        if (!request.IsAllowedOnCluster(authorizer, AclOperation.Alter))
        {
            Refuse(body, ErrorCode.ClusterAuthorizationFailed, AuthorizationMessages.ClusterOperation(AclOperation.Alter)).Write(response, request.Version);
            return true;
        }
        if (body.ElectionType is not ((sbyte)ElectionType.Preferred or (sbyte)ElectionType.Unclean))
        {
            Refuse(body, ErrorCode.InvalidRequest, $"Unknown election type {body.ElectionType}").Write(response, request.Version);
            return true;
        }

        ElectionPartitions[]? wanted = null;
        if (body.Topics is { } named)
        {
            wanted = new ElectionPartitions[named.Length];
            for (var t = 0; t < named.Length; t++) wanted[t] = new ElectionPartitions(named[t].Topic, named[t].Partitions);
        }
        if (await ControllerCalls.UnlessUnreachableAsync(grains.Controller().ElectLeaders((ElectionType)body.ElectionType, wanted)) is not { } results)
        {
            Refuse(body, ErrorCode.RequestTimedOut, ControllerCalls.ControllerDidNotAnswer).Write(response, request.Version);
            return true;
        }

        // The controller answers partition by partition in the request's order (topic by topic): one entry per run of a topic.
        var topics = new List<ElectLeadersTopicResult>();
        for (var i = 0; i < results.Count;)
        {
            var topic = results[i].Topic;
            var start = i;
            var elected = false;
            while (i < results.Count && results[i].Topic == topic) elected |= results[i++].Error == ErrorCode.None;
            var partitions = new ElectLeadersPartitionResult[i - start];
            for (var j = start; j < i; j++) partitions[j - start] = new ElectLeadersPartitionResult(results[j].Partition, results[j].Error, results[j].ErrorMessage);
            topics.Add(new ElectLeadersTopicResult(topic, partitions));
            if (elected) leaders.Invalidate(topic);
        }
        new ElectLeadersResponse(ErrorCode.None, [.. topics]).Write(response, request.Version);
        return true;
    }

    /// <summary>Kafka's <c>ElectLeadersRequest.getErrorResponse</c>: the error for the request and for each partition named.</summary>
    private static ElectLeadersResponse Refuse(ElectLeadersRequest body, ErrorCode error, string message)
    {
        var refused = new ElectLeadersTopicResult[body.Topics?.Length ?? 0];
        for (var t = 0; t < refused.Length; t++)
        {
            var topic = body.Topics![t];
            var partitions = new ElectLeadersPartitionResult[topic.Partitions.Length];
            for (var p = 0; p < partitions.Length; p++) partitions[p] = new ElectLeadersPartitionResult(topic.Partitions[p], error, message);
            refused[t] = new ElectLeadersTopicResult(topic.Topic, partitions);
        }
        return new ElectLeadersResponse(error, refused);
    }
}
