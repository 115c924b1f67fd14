using OrleansStream.Protocol;
using OrleansStream.Protocol.Messages;
using OrleansStream.Server.Security.Authorization;

namespace OrleansStream.Server.Kafka.Handlers;

/// <summary>
/// DescribeGroups: each group grain's description, members' subscriptions and assignments as consumer protocol bytes,
/// those a Kafka client sent as it sent them (v4: each member's group instance id). Asked for (v3), a group's authorized operations are every operation Kafka
/// defines on a group without an authorizer (Kafka's answer then); with one, a group the principal may not DESCRIBE is
/// GroupAuthorizationFailed and not asked, and a described group's authorized operations are the group operations the
/// principal may do (Kafka's <c>handleDescribeGroupsRequest</c>).
/// </summary>
internal sealed class DescribeGroupsHandler(IGrainFactory grains, KafkaAuthorizer authorizer) : KafkaApiHandler<GroupsRequest>(ApiKey.DescribeGroups, GroupsRequest.ReadDescribeGroups)
{
    protected override async ValueTask<bool> AnswerAsync(GroupsRequest body, KafkaRequest request, KafkaWriter response)
    {
        // No grain has an empty or whitespace key: such a group id is InvalidGroupId here (docs/kafka-protocol.md).
        var calls = new Task<GroupDescription>?[body.Groups.Count];
        var denied = authorizer.IsEnabled ? new bool[calls.Length] : null;
        for (var i = 0; i < calls.Length; i++)
        {
            if (denied is not null && !request.IsAllowedOnGroup(authorizer, AclOperation.Describe, body.Groups[i])) denied[i] = true;
            else if (GroupKeys.IsAddressable(body.Groups[i])) calls[i] = grains.Group(body.Groups[i]).Describe();
        }
        var groups = new List<DescribedGroup>(calls.Length);
        for (var i = 0; i < calls.Length; i++)
        {
            if (denied is not null && denied[i])
            {
                groups.Add(new DescribedGroup(ErrorCode.GroupAuthorizationFailed, body.Groups[i], "", "", "", []));
                continue;
            }
            if (calls[i] is not { } call)
            {
                // Kafka answers authorized operations only for a group described without error.
                groups.Add(new DescribedGroup(ErrorCode.InvalidGroupId, body.Groups[i], "", "", "", [],
                    body.IncludeAuthorizedOperations && !authorizer.IsEnabled ? SupportedOperations.All(AclResourceType.Group) : int.MinValue));
                continue;
            }
            var description = await call;
            var members = new List<DescribedGroupMember>(description.Members.Count);
            foreach (var m in description.Members)
                members.Add(new DescribedGroupMember(m.MemberId, m.GroupInstanceId, m.ClientId, "",
                    GroupCalls.Encode(m.Subscription ?? new ConsumerProtocolSubscription(m.Topics, [])),
                    GroupCalls.Encode(m.Assignment)));
            // Kafka answers an unknown group as Dead with no error.
            var error = description.Error == ErrorCode.GroupIdNotFound ? ErrorCode.None : description.Error;
            groups.Add(new DescribedGroup(error, description.GroupId, description.StateText, description.ProtocolType, description.Protocol ?? "", members,
                body.IncludeAuthorizedOperations && (!authorizer.IsEnabled || error == ErrorCode.None)
                    ? request.AuthorizedOperations(authorizer, AclResourceType.Group, description.GroupId)
                    : int.MinValue));
        }
        new DescribeGroupsResponse(groups).Write(response, request.Version);
        return true;
    }
}

/// <summary>
/// ListGroups: the cluster's group directory. Each group's protocol type ("consumer", another name for other users of
/// the classic protocol such as Kafka Connect, "" for a group only committed to, as Kafka's) and, from v4, its state are
/// asked of its grain; v4's state filter applies (Kafka's case-insensitive match on the state's name, a consumer group's
/// Assigning or Reconciling too); v5's type filter on the group's type, "classic" or "consumer" (KIP-848), any case.
/// With an authorizer, a principal allowed DESCRIBE on the cluster sees every group, another only the groups it may
/// DESCRIBE (Kafka's <c>handleListGroupsRequest</c>); the others are not asked.
/// </summary>
internal sealed class ListGroupsHandler(IGrainFactory grains, KafkaAuthorizer authorizer) : KafkaApiHandler<ListGroupsRequest>(ApiKey.ListGroups, ListGroupsRequest.Read)
{
    protected override async ValueTask<bool> AnswerAsync(ListGroupsRequest body, KafkaRequest request, KafkaWriter response)
    {
        var ids = await grains.GetGrain<IConsumerGroupDirectoryGrain>(GroupKeys.Directory).List();
        if (authorizer.IsEnabled && !request.IsAllowedOnCluster(authorizer, AclOperation.Describe))
        {
            var described = new List<string>(ids.Count);
            foreach (var id in ids)
                if (request.IsAllowedOnGroup(authorizer, AclOperation.Describe, id)) described.Add(id);
            ids = described;
        }
        var groups = new List<ListedGroup>(ids.Count);
        var calls = new Task<GroupDescription>[ids.Count];
        for (var i = 0; i < calls.Length; i++) calls[i] = grains.Group(ids[i]).Describe();
        foreach (var d in await Task.WhenAll(calls))
        {
            // Removed since the directory answered.
            if (d.Error == ErrorCode.GroupIdNotFound) continue;
            var state = d.StateText;
            if ((body.StatesFilter.Count == 0 || Contains(body.StatesFilter, state)) && (body.TypesFilter.Count == 0 || Contains(body.TypesFilter, d.Type)))
                groups.Add(new ListedGroup(d.GroupId, d.ProtocolType, state, d.Type));
        }
        new ListGroupsResponse(ErrorCode.None, groups).Write(response, request.Version);
        return true;
    }

    private static bool Contains(IReadOnlyList<string> filter, string value)
    {
        foreach (var f in filter)
            if (string.Equals(f.Trim(), value, StringComparison.OrdinalIgnoreCase)) return true;
        return false;
    }
}

/// <summary>
/// DeleteGroups: each empty group and its offsets go (NonEmptyGroup, GroupIdNotFound otherwise); with an authorizer, a
/// group the principal may not DELETE is GroupAuthorizationFailed and left (Kafka's <c>handleDeleteGroupsRequest</c>).
/// </summary>
internal sealed class DeleteGroupsHandler(IGrainFactory grains, KafkaAuthorizer authorizer) : KafkaApiHandler<GroupsRequest>(ApiKey.DeleteGroups, GroupsRequest.ReadDeleteGroups)
{
    protected override async ValueTask<bool> AnswerAsync(GroupsRequest body, KafkaRequest request, KafkaWriter response)
    {
        var results = new List<(string, ErrorCode)>(body.Groups.Count);
        foreach (var group in body.Groups)
            results.Add((group, !request.IsAllowedOnGroup(authorizer, AclOperation.Delete, group) ? ErrorCode.GroupAuthorizationFailed
                : !GroupKeys.IsAddressable(group) ? ErrorCode.InvalidGroupId
                : (await grains.Group(group).DeleteGroup()).Error));
        new DeleteGroupsResponse(results).Write(response, request.Version);
        return true;
    }
}

/// <summary>
/// OffsetDelete: the group grain removes the offsets of the partitions its members do not consume (GroupSubscribedToTopic
/// for the others); a group error answers no partitions, as Kafka's does. With an authorizer, as Kafka's
/// <c>handleOffsetDeleteRequest</c>: DELETE on the group (GroupAuthorizationFailed), then READ on each topic, the
/// partitions of a topic the principal may not read being TopicAuthorizationFailed and kept.
/// </summary>
internal sealed class OffsetDeleteHandler(IGrainFactory grains, KafkaAuthorizer authorizer) : KafkaApiHandler<OffsetDeleteRequest>(ApiKey.OffsetDelete, OffsetDeleteRequest.Read)
{
    protected override async ValueTask<bool> AnswerAsync(OffsetDeleteRequest body, KafkaRequest request, KafkaWriter response)
    {
        if (!request.IsAllowedOnGroup(authorizer, AclOperation.Delete, body.GroupId))
        {
            new OffsetDeleteResponse(ErrorCode.GroupAuthorizationFailed, []).Write(response, request.Version);
            return true;
        }
        var denied = request.Denied(authorizer, AclOperation.Read, body.Topics, static t => t.Topic);
        var asked = denied is null ? body.Topics : TopicAuthorization.Allowed(body.Topics, denied);
        var result = !GroupKeys.IsAddressable(body.GroupId)
            ? new DeleteOffsetsResponse(ErrorCode.InvalidGroupId, [])
            : await grains.Group(body.GroupId).DeleteOffsets(GroupCalls.Flatten(asked));
        var topics = new List<PartitionErrors>();
        var next = 0;
        for (var n = 0; n < body.Topics.Count; n++)
        {
            var t = body.Topics[n];
            var isDenied = denied is not null && denied[n];
            // Kafka keeps the partitions it refused with a group error, whose others it does not answer.
            if (!isDenied && result.Error != ErrorCode.None) continue;
            var partitions = new (int, ErrorCode)[t.Partitions.Length];
            for (var i = 0; i < partitions.Length; i++)
                partitions[i] = (t.Partitions[i], isDenied ? ErrorCode.TopicAuthorizationFailed : result.Partitions[next++].Error);
            topics.Add(new PartitionErrors(t.Topic, partitions));
        }
        new OffsetDeleteResponse(result.Error, topics).Write(response, request.Version);
        return true;
    }
}
