using System.Net;
using OrleansStream.Protocol;
using OrleansStream.Protocol.Messages;
using OrleansStream.Server.Security.Authorization;

namespace OrleansStream.Server.Kafka.Handlers;

/// <summary>
/// ConsumerGroupHeartbeat v0-1 (KIP-848): the consumer group protocol, where the coordinator assigns. The call is the
/// group grain's; this maps the message to it and back (topics by id both ways, as the protocol names them). v1's
/// member id is the client's own (KIP-1082); v0's first heartbeat is given one. With an authorizer, READ on the group
/// comes first (GroupAuthorizationFailed), then DESCRIBE on every subscribed topic name (TopicAuthorizationFailed when
/// one is not allowed), as Kafka's <c>handleConsumerGroupHeartbeat</c> (the latter from Kafka 4.0).
/// </summary>
internal sealed class ConsumerGroupHeartbeatHandler(IGrainFactory grains, KafkaAuthorizer authorizer)
    : KafkaApiHandler<Protocol.Messages.ConsumerGroupHeartbeatRequest>(ApiKey.ConsumerGroupHeartbeat, Protocol.Messages.ConsumerGroupHeartbeatRequest.Read)
{
    protected override async ValueTask<bool> AnswerAsync(Protocol.Messages.ConsumerGroupHeartbeatRequest body, KafkaRequest request, KafkaWriter response)
    {
        var result = await HeartbeatAsync(body, request);
        List<ConsumerGroupTopicPartitions>? assignment = null;
        if (result.Assignment is { } assigned)
        {
            assignment = new List<ConsumerGroupTopicPartitions>(assigned.Count);
            foreach (var t in assigned) assignment.Add(new ConsumerGroupTopicPartitions(t.TopicId, t.Partitions));
        }
        new Protocol.Messages.ConsumerGroupHeartbeatResponse(result.Error, result.ErrorMessage, result.MemberId, result.MemberEpoch, result.HeartbeatIntervalMs, assignment)
            .Write(response, request.Version);
        return true;
    }

    private async Task<OrleansStream.ConsumerGroupHeartbeatResponse> HeartbeatAsync(Protocol.Messages.ConsumerGroupHeartbeatRequest body, KafkaRequest request)
    {
        if (!request.IsAllowedOnGroup(authorizer, AclOperation.Read, body.GroupId))
            return Refused(ErrorCode.GroupAuthorizationFailed);
        if (authorizer.IsEnabled && body.SubscribedTopicNames is { Count: > 0 } names)
        {
            foreach (var name in names)
                if (!request.IsAllowed(authorizer, AclOperation.Describe, AclResourceType.Topic, name))
                    return Refused(ErrorCode.TopicAuthorizationFailed);
        }
        // Kafka's checks of the group id come first: empty is InvalidRequest; one no grain can have is InvalidGroupId.
        if (string.IsNullOrEmpty(body.GroupId))
            return OrleansStream.ConsumerGroupHeartbeatResponse.Failed(ErrorCode.InvalidRequest, "GroupId can't be empty.");
        if (!GroupKeys.IsAddressable(body.GroupId))
            return OrleansStream.ConsumerGroupHeartbeatResponse.Failed(ErrorCode.InvalidGroupId, $"group id '{body.GroupId}' is not valid here");
        List<TopicIdPartitions>? owned = null;
        if (body.TopicPartitions is { } partitions)
        {
            owned = new List<TopicIdPartitions>(partitions.Count);
            foreach (var t in partitions) owned.Add(new TopicIdPartitions(t.TopicId, t.Partitions));
        }
        return await grains.Group(body.GroupId).ConsumerGroupHeartbeat(new OrleansStream.ConsumerGroupHeartbeatRequest(
            body.MemberId, body.MemberEpoch, body.InstanceId, body.RackId, body.RebalanceTimeoutMs, body.SubscribedTopicNames,
            body.SubscribedTopicRegex, body.ServerAssignor, owned, request.Header.ClientId ?? "", ClientHost(request), request.Version,
            // With an authorizer, the member's regex is resolved for its principal (DESCRIBE on each topic it matches).
            authorizer.IsEnabled ? request.Connection.Principal : null, authorizer.IsEnabled ? request.Connection.ClientHost : null));
    }

    /// <summary>Kafka's error response: the error alone, no message, member id or epoch.</summary>
    private static OrleansStream.ConsumerGroupHeartbeatResponse Refused(ErrorCode error) => new(error, null, null, 0, 0, null);

    /// <summary>The client's address as Kafka shows it (Java's <c>InetAddress.toString()</c>: "/" and the address).</summary>
    internal static string ClientHost(KafkaRequest request) =>
        request.Connection.Remote is IPEndPoint ip ? "/" + ip.Address : "";
}

/// <summary>
/// ConsumerGroupDescribe v0 (KIP-848): each consumer group's epochs, assignor and members with their assignment and
/// target, topics by id and name. A classic group or none is GroupIdNotFound, on which clients (librdkafka's
/// DescribeConsumerGroups) ask DescribeGroups instead. Authorized operations, when asked, are every group operation
/// without an authorizer; with one, a group the principal may not DESCRIBE is GroupAuthorizationFailed and not asked,
/// and a described group's authorized operations are the group operations it may do (Kafka's <c>handleConsumerGroupDescribe</c>).
/// </summary>
internal sealed class ConsumerGroupDescribeHandler(IGrainFactory grains, KafkaAuthorizer authorizer)
    : KafkaApiHandler<ConsumerGroupDescribeRequest>(ApiKey.ConsumerGroupDescribe, ConsumerGroupDescribeRequest.Read)
{
    protected override async ValueTask<bool> AnswerAsync(ConsumerGroupDescribeRequest body, KafkaRequest request, KafkaWriter response)
    {
        var calls = new Task<ConsumerGroupDescribeResult>?[body.GroupIds.Count];
        var denied = authorizer.IsEnabled ? new bool[calls.Length] : null;
        for (var i = 0; i < calls.Length; i++)
        {
            if (denied is not null && !request.IsAllowedOnGroup(authorizer, AclOperation.Describe, body.GroupIds[i])) denied[i] = true;
            else if (GroupKeys.IsAddressable(body.GroupIds[i])) calls[i] = grains.Group(body.GroupIds[i]).DescribeConsumerGroup();
        }
        var groups = new List<DescribedConsumerGroup>(calls.Length);
        for (var i = 0; i < calls.Length; i++)
        {
            if (denied is not null && denied[i])
            {
                groups.Add(new DescribedConsumerGroup(ErrorCode.GroupAuthorizationFailed, null, body.GroupIds[i], "", -1, -1, "", []));
                continue;
            }
            if (calls[i] is not { } call)
            {
                groups.Add(new DescribedConsumerGroup(ErrorCode.InvalidGroupId, $"group id '{body.GroupIds[i]}' is not valid here", body.GroupIds[i], "", -1, -1, "", [],
                    body.IncludeAuthorizedOperations && !authorizer.IsEnabled ? SupportedOperations.All(AclResourceType.Group) : int.MinValue));
                continue;
            }
            var d = await call;
            var members = new List<DescribedConsumerGroupMember>(d.Members.Count);
            foreach (var m in d.Members)
                members.Add(new DescribedConsumerGroupMember(m.MemberId, m.InstanceId, m.RackId, m.MemberEpoch, m.ClientId, m.ClientHost,
                    m.SubscribedTopicNames, m.SubscribedTopicRegex, Map(m.Assignment), Map(m.TargetAssignment),
                    m.UsesClassicProtocol ? DescribedConsumerGroupMember.ClassicMember : DescribedConsumerGroupMember.ConsumerMember));
            groups.Add(new DescribedConsumerGroup(d.Error, d.ErrorMessage, d.GroupId, d.GroupState, d.GroupEpoch, d.AssignmentEpoch, d.AssignorName, members,
                d.Error == ErrorCode.None && body.IncludeAuthorizedOperations
                    ? request.AuthorizedOperations(authorizer, AclResourceType.Group, d.GroupId)
                    : int.MinValue));
        }
        new ConsumerGroupDescribeResponse(groups).Write(response, request.Version);
        return true;
    }

    private static List<DescribedTopicPartitions> Map(IReadOnlyList<NamedTopicIdPartitions> topics)
    {
        var list = new List<DescribedTopicPartitions>(topics.Count);
        foreach (var t in topics) list.Add(new DescribedTopicPartitions(t.TopicId, t.TopicName, t.Partitions));
        return list;
    }
}
