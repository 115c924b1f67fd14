using OrleansStream.Protocol;
using OrleansStream.Protocol.Messages;

namespace OrleansStream.Server.Kafka.Handlers;

/// <summary>DescribeGroups: each group grain's description, members' subscriptions and assignments as consumer protocol bytes.</summary>
internal sealed class DescribeGroupsHandler(IGrainFactory grains) : KafkaApiHandler<GroupsRequest>(ApiKey.DescribeGroups, GroupsRequest.Read)
{
    protected override async ValueTask<bool> AnswerAsync(GroupsRequest body, KafkaRequest request, KafkaWriter response)
    {
        var calls = new Task<GroupDescription>[body.Groups.Count];
        for (var i = 0; i < calls.Length; i++) calls[i] = grains.Group(body.Groups[i]).Describe();
        var groups = new List<DescribedGroup>(calls.Length);
        foreach (var description in await Task.WhenAll(calls))
        {
            var members = new List<DescribedGroupMember>(description.Members.Count);
            foreach (var m in description.Members)
                members.Add(new DescribedGroupMember(m.MemberId, m.ClientId, "",
                    new ConsumerSubscription(m.Topics, null, [], -1, null).ToBytes(),
                    new ConsumerAssignment(GroupCalls.Group(m.Assignment.Partitions), m.Assignment.UserData).ToBytes()));
            // Kafka answers an unknown group as Dead with no error.
            var error = description.Error == ErrorCode.GroupIdNotFound ? ErrorCode.None : description.Error;
            groups.Add(new DescribedGroup(error, description.GroupId, description.State.ToString(), description.ProtocolType, description.Protocol ?? "", members));
        }
        new DescribeGroupsResponse(groups).Write(response, request.Version);
        return true;
    }
}

/// <summary>ListGroups: the cluster's group directory; every group speaks the consumer protocol.</summary>
internal sealed class ListGroupsHandler(IGrainFactory grains) : KafkaApiHandler<ListGroupsRequest>(ApiKey.ListGroups, ListGroupsRequest.Read)
{
    protected override async ValueTask<bool> AnswerAsync(ListGroupsRequest body, KafkaRequest request, KafkaWriter response)
    {
        var ids = await grains.GetGrain<IConsumerGroupDirectoryGrain>(GroupKeys.Directory).List();
        var groups = new List<(string, string)>(ids.Count);
        foreach (var id in ids) groups.Add((id, GroupKeys.ConsumerProtocolType));
        new ListGroupsResponse(ErrorCode.None, groups).Write(response, request.Version);
        return true;
    }
}

/// <summary>DeleteGroups: each empty group and its offsets go (NonEmptyGroup, GroupIdNotFound otherwise).</summary>
internal sealed class DeleteGroupsHandler(IGrainFactory grains) : KafkaApiHandler<GroupsRequest>(ApiKey.DeleteGroups, GroupsRequest.ReadDeleteGroups)
{
    protected override async ValueTask<bool> AnswerAsync(GroupsRequest body, KafkaRequest request, KafkaWriter response)
    {
        var results = new List<(string, ErrorCode)>(body.Groups.Count);
        foreach (var group in body.Groups) results.Add((group, (await grains.Group(group).DeleteGroup()).Error));
        new DeleteGroupsResponse(results).Write(response, request.Version);
        return true;
    }
}

/// <summary>
/// OffsetDelete: the group grain removes the offsets of the partitions its members do not consume (GroupSubscribedToTopic
/// for the others); a group error answers no partitions, as Kafka's does.
/// </summary>
internal sealed class OffsetDeleteHandler(IGrainFactory grains) : KafkaApiHandler<OffsetDeleteRequest>(ApiKey.OffsetDelete, OffsetDeleteRequest.Read)
{
    protected override async ValueTask<bool> AnswerAsync(OffsetDeleteRequest body, KafkaRequest request, KafkaWriter response)
    {
        var result = body.GroupId.Length == 0
            ? new DeleteOffsetsResponse(ErrorCode.InvalidGroupId, [])
            : await grains.Group(body.GroupId).DeleteOffsets(GroupCalls.Flatten(body.Topics));
        var topics = new List<PartitionErrors>();
        if (result.Error == ErrorCode.None)
        {
            var next = 0;
            foreach (var t in body.Topics)
            {
                var partitions = new (int, ErrorCode)[t.Partitions.Length];
                for (var i = 0; i < partitions.Length; i++) partitions[i] = (t.Partitions[i], result.Partitions[next++].Error);
                topics.Add(new PartitionErrors(t.Topic, partitions));
            }
        }
        new OffsetDeleteResponse(result.Error, topics).Write(response, request.Version);
        return true;
    }
}
