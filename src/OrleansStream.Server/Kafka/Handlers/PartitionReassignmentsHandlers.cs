using OrleansStream.Protocol;
using OrleansStream.Protocol.Messages;
using OrleansStream.Server.Security.Authorization;

namespace OrleansStream.Server.Kafka.Handlers;

/// <summary>
/// AlterPartitionReassignments v0 (KIP-455: kafka-reassign-partitions.sh, the admin clients'
/// <c>alterPartitionReassignments</c>): the controller's reassignment (<see cref="IClusterControllerGrain.AlterPartitionReassignments"/>),
/// answered once each partition's step is stored. With the authorizer on it needs ALTER on the cluster, else the request
/// and each partition it names are answered ClusterAuthorizationFailed (Kafka's <c>authorizeClusterOperation</c> and
/// <c>getErrorResponse</c>); a controller that did not answer is RequestTimedOut so.
/// </summary>
internal sealed class AlterPartitionReassignmentsHandler(IGrainFactory grains, PartitionLeaders leaders, KafkaAuthorizer authorizer)
    : KafkaApiHandler<AlterPartitionReassignmentsRequest>(ApiKey.AlterPartitionReassignments, AlterPartitionReassignmentsRequest.Read)
{
    protected override async ValueTask<bool> AnswerAsync(AlterPartitionReassignmentsRequest body, KafkaRequest request, KafkaWriter response)
    {
        if (!request.IsAllowedOnCluster(authorizer, AclOperation.Alter))
        {
            Refuse(body, ErrorCode.ClusterAuthorizationFailed, AuthorizationMessages.ClusterOperation(AclOperation.Alter)).Write(response, request.Version);
            return true;
        }
        var targets = new List<ReassignmentTarget>();
        foreach (var topic in body.Topics)
            foreach (var p in topic.Partitions) targets.Add(new ReassignmentTarget(topic.Name, p.PartitionIndex, p.Replicas));
        if (await ControllerCalls.UnlessUnreachableAsync(grains.Controller().AlterPartitionReassignments(targets)) is not { } results)
        {
            Refuse(body, ErrorCode.RequestTimedOut, ControllerCalls.ControllerDidNotAnswer).Write(response, request.Version);
            return true;
        }
        // One result per partition, in the request's order: each topic of the request gets its own.
        var topics = new ReassignableTopicResponse[body.Topics.Length];
        var next = 0;
        for (var t = 0; t < topics.Length; t++)
        {
            var partitions = new ReassignablePartitionResponse[body.Topics[t].Partitions.Length];
            var changed = false;
            for (var p = 0; p < partitions.Length; p++)
            {
                var r = results[next++];
                partitions[p] = new ReassignablePartitionResponse(r.Partition, r.Error, r.ErrorMessage);
                changed |= r.Error == ErrorCode.None;
            }
            topics[t] = new ReassignableTopicResponse(body.Topics[t].Name, partitions);
            if (changed) leaders.Invalidate(body.Topics[t].Name);
        }
        new AlterPartitionReassignmentsResponse(ErrorCode.None, null, topics).Write(response, request.Version);
        return true;
    }

    private static AlterPartitionReassignmentsResponse Refuse(AlterPartitionReassignmentsRequest body, ErrorCode error, string message)
    {
        var topics = new ReassignableTopicResponse[body.Topics.Length];
        for (var t = 0; t < topics.Length; t++)
        {
            var partitions = new ReassignablePartitionResponse[body.Topics[t].Partitions.Length];
            for (var p = 0; p < partitions.Length; p++) partitions[p] = new ReassignablePartitionResponse(body.Topics[t].Partitions[p].PartitionIndex, error, message);
            topics[t] = new ReassignableTopicResponse(body.Topics[t].Name, partitions);
        }
        return new AlterPartitionReassignmentsResponse(error, message, topics);
    }
}

/// <summary>
/// ListPartitionReassignments v0: the reassignments in progress from the controller's stored state, of every partition
/// (null topics) or of the named ones (unknown topics and partitions, and partitions not reassigning, are left out, as
/// Kafka's controller answers). With the authorizer on it needs DESCRIBE on the cluster, else it is answered
/// ClusterAuthorizationFailed with each named partition listed empty (Kafka's <c>getErrorResponse</c>).
/// </summary>
internal sealed class ListPartitionReassignmentsHandler(IGrainFactory grains, KafkaAuthorizer authorizer)
    : KafkaApiHandler<ListPartitionReassignmentsRequest>(ApiKey.ListPartitionReassignments, ListPartitionReassignmentsRequest.Read)
{
    protected override async ValueTask<bool> AnswerAsync(ListPartitionReassignmentsRequest body, KafkaRequest request, KafkaWriter response)
    {
        if (!request.IsAllowedOnCluster(authorizer, AclOperation.Describe))
        {
            Refuse(body, ErrorCode.ClusterAuthorizationFailed, AuthorizationMessages.ClusterOperation(AclOperation.Describe)).Write(response, request.Version);
            return true;
        }
        ElectionPartitions[]? wanted = null;
        if (body.Topics is { } named)
        {
            wanted = new ElectionPartitions[named.Length];
            for (var t = 0; t < named.Length; t++) wanted[t] = new ElectionPartitions(named[t].Topic, named[t].Partitions);
        }
        if (await ControllerCalls.UnlessUnreachableAsync(grains.Controller().ListPartitionReassignments(wanted)) is not { } ongoing)
        {
            Refuse(body, ErrorCode.RequestTimedOut, ControllerCalls.ControllerDidNotAnswer).Write(response, request.Version);
            return true;
        }
        // The controller answers partition by partition, topic by topic: one entry per run of a topic.
        var topics = new List<OngoingTopicReassignment>();
        for (var i = 0; i < ongoing.Count;)
        {
            var topic = ongoing[i].Topic;
            var start = i;
            while (i < ongoing.Count && ongoing[i].Topic == topic) i++;
            var partitions = new OngoingPartitionReassignment[i - start];
            for (var j = start; j < i; j++)
                partitions[j - start] = new OngoingPartitionReassignment(ongoing[j].Partition, [.. ongoing[j].Replicas], [.. ongoing[j].Adding], [.. ongoing[j].Removing]);
            topics.Add(new OngoingTopicReassignment(topic, partitions));
        }
        new ListPartitionReassignmentsResponse(ErrorCode.None, null, [.. topics]).Write(response, request.Version);
        return true;
    }

    private static ListPartitionReassignmentsResponse Refuse(ListPartitionReassignmentsRequest body, ErrorCode error, string message)
    {
        var topics = new OngoingTopicReassignment[body.Topics?.Length ?? 0];
        for (var t = 0; t < topics.Length; t++)
        {
            var named = body.Topics![t];
            var partitions = new OngoingPartitionReassignment[named.Partitions.Length];
            for (var p = 0; p < partitions.Length; p++) partitions[p] = new OngoingPartitionReassignment(named.Partitions[p], [], [], []);
            topics[t] = new OngoingTopicReassignment(named.Topic, partitions);
        }
        return new ListPartitionReassignmentsResponse(error, message, topics);
    }
}
