using OrleansStream.Protocol;
using OrleansStream.Protocol.Messages;
using OrleansStream.Server.Security.Authorization;

namespace OrleansStream.Server.Kafka.Handlers;

/// <summary>
/// The classic group protocol's calls to the group grain, and the consumer protocol's embedded subscription and
/// assignment bytes mapped to its records. A JoinGroup or SyncGroup waits in the grain until the rebalance
/// completes; a wait longer than Orleans' call timeout is asked again (the grain lets a repeated join or sync
/// replace the waiting one) until the client's rebalance timeout has passed.
/// </summary>
internal static class GroupCalls
{
    private static readonly TimeSpan Slack = TimeSpan.FromSeconds(5);

    public static async Task<T> WaitLongAsync<T>(Func<Task<T>> call, int timeoutMs)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromMilliseconds(Math.Max(timeoutMs, 0)) + Slack;
        while (true)
        {
            try
            {
                return await call();
            }
            catch (TimeoutException) when (DateTime.UtcNow < deadline)
            {
            }
        }
    }

    public static IConsumerGroupGrain Group(this IGrainFactory grains, string groupId) => grains.GetGrain<IConsumerGroupGrain>(groupId);

    /// <summary>A member's subscription as its client sent it, or as the consumer protocol encodes it when our SDK joined.</summary>
    public static byte[] Encode(ConsumerProtocolSubscription s) =>
        s.Encoded ?? new ConsumerSubscription(s.Topics, s.UserData, Group(s.OwnedPartitions), s.GenerationId, null).ToBytes();

    /// <summary>An assignment as the leader's client sent it, or as the consumer protocol encodes it when our SDK led.</summary>
    public static byte[] Encode(ConsumerProtocolAssignment a) =>
        a.Encoded ?? new ConsumerAssignment(Group(a.Partitions), a.UserData).ToBytes();

    public static List<TopicPartition> Flatten(IReadOnlyList<TopicPartitions> topics)
    {
        var list = new List<TopicPartition>();
        foreach (var t in topics)
            foreach (var p in t.Partitions) list.Add(new TopicPartition(t.Topic, p));
        return list;
    }

    public static List<TopicPartitions> Group(IReadOnlyList<TopicPartition> partitions)
    {
        var byTopic = new Dictionary<string, List<int>>(StringComparer.Ordinal);
        var order = new List<string>();
        foreach (var tp in partitions)
        {
            if (!byTopic.TryGetValue(tp.Topic, out var list))
            {
                byTopic[tp.Topic] = list = [];
                order.Add(tp.Topic);
            }
            list.Add(tp.Partition);
        }
        var result = new List<TopicPartitions>(order.Count);
        foreach (var t in order) result.Add(new TopicPartitions(t, [.. byTopic[t]]));
        return result;
    }
}

/// <summary>
/// JoinGroup; READ on the group first (GroupAuthorizationFailed, Kafka's error response: no member id). v8's reason
/// (KIP-800) goes where Kafka puts it, the coordinator's log line of the join; v9 lets a returning static leader skip
/// the assignment (KIP-814).
/// </summary>
internal sealed class JoinGroupHandler(IGrainFactory grains, KafkaAuthorizer authorizer)
    : KafkaApiHandler<Protocol.Messages.JoinGroupRequest>(ApiKey.JoinGroup, Protocol.Messages.JoinGroupRequest.Read)
{
    protected override async ValueTask<bool> AnswerAsync(Protocol.Messages.JoinGroupRequest body, KafkaRequest request, KafkaWriter response)
    {
        var answer = request.IsAllowedOnGroup(authorizer, AclOperation.Read, body.GroupId)
            ? await JoinAsync(body, request.Header.ClientId ?? "", request.Version)
            : Failed(ErrorCode.GroupAuthorizationFailed, "");
        answer.Write(response, request.Version);
        return true;
    }

    private async Task<Protocol.Messages.JoinGroupResponse> JoinAsync(Protocol.Messages.JoinGroupRequest body, string clientId, short version)
    {
        if (!GroupKeys.IsAddressable(body.GroupId)) return Failed(ErrorCode.InvalidGroupId, body.MemberId);
        var protocols = new List<JoinGroupProtocol>(body.Protocols.Count);
        var consumer = body.ProtocolType == GroupKeys.ConsumerProtocolType;
        foreach (var p in body.Protocols)
        {
            // Another protocol type's metadata (Kafka Connect's, Schema Registry's) is opaque, as to a Kafka coordinator.
            var subscription = new ConsumerProtocolSubscription([], [], Encoded: p.Metadata);
            if (consumer)
            {
                try
                {
                    var s = ConsumerSubscription.Read(p.Metadata);
                    subscription = new ConsumerProtocolSubscription(s.Topics, GroupCalls.Flatten(s.OwnedPartitions), s.GenerationId, s.UserData, p.Metadata);
                }
                catch (KafkaProtocolException)
                {
                    return Failed(ErrorCode.InconsistentGroupProtocol, body.MemberId);
                }
            }
            protocols.Add(new JoinGroupProtocol(p.Name, subscription));
        }
        var join = new OrleansStream.JoinGroupRequest(body.MemberId, clientId, body.SessionTimeoutMs, body.RebalanceTimeoutMs,
            body.ProtocolType, protocols, body.Reason, body.GroupInstanceId, RequireKnownMemberId: version >= 4, SupportsSkippingAssignment: version >= 9);
        var group = grains.Group(body.GroupId);
        var r = await GroupCalls.WaitLongAsync(() => group.JoinGroup(join), body.RebalanceTimeoutMs);
        if (r.Error != ErrorCode.None) return Failed(r.Error, r.MemberId);
        var members = new List<JoinGroupResponseMember>(r.Members.Count);
        foreach (var m in r.Members)
        {
            members.Add(new JoinGroupResponseMember(m.MemberId, m.GroupInstanceId, GroupCalls.Encode(m.Metadata)));
        }
        // A joined member's protocol type is the group's: the grain refuses any other while the group has members (v7, KIP-559).
        return new Protocol.Messages.JoinGroupResponse(ErrorCode.None, r.GenerationId, r.ProtocolName, r.LeaderId, r.MemberId, members,
            body.ProtocolType, r.SkipAssignment);
    }

    private static Protocol.Messages.JoinGroupResponse Failed(ErrorCode error, string memberId) => new(error, -1, null, "", memberId ?? "", []);
}

/// <summary>
/// SyncGroup; READ on the group first (GroupAuthorizationFailed). v5's protocol type and name (KIP-559) are checked by
/// the grain against the group's, and its answer names the group's.
/// </summary>
internal sealed class SyncGroupHandler(IGrainFactory grains, KafkaAuthorizer authorizer)
    : KafkaApiHandler<Protocol.Messages.SyncGroupRequest>(ApiKey.SyncGroup, Protocol.Messages.SyncGroupRequest.Read)
{
    // A follower waits for the leader's assignment at most the group's rebalance timeout; Kafka's default bounds the retries.
    private const int MaxWaitMs = 300_000;

    protected override async ValueTask<bool> AnswerAsync(Protocol.Messages.SyncGroupRequest body, KafkaRequest request, KafkaWriter response)
    {
        var answer = request.IsAllowedOnGroup(authorizer, AclOperation.Read, body.GroupId)
            ? await SyncAsync(body)
            : new Protocol.Messages.SyncGroupResponse(ErrorCode.GroupAuthorizationFailed, []);
        answer.Write(response, request.Version);
        return true;
    }

    private async Task<Protocol.Messages.SyncGroupResponse> SyncAsync(Protocol.Messages.SyncGroupRequest body)
    {
        if (!GroupKeys.IsAddressable(body.GroupId)) return new(ErrorCode.InvalidGroupId, []);
        Dictionary<string, ConsumerProtocolAssignment>? assignments = null;
        if (body.Assignments.Count > 0)
        {
            assignments = new Dictionary<string, ConsumerProtocolAssignment>(body.Assignments.Count, StringComparer.Ordinal);
            foreach (var a in body.Assignments)
            {
                // The group's protocol type is the grain's to know: an assignment that is not the consumer protocol's is
                // kept as bytes only (the grain keeps only the bytes of a group of another protocol type).
                var assignment = new ConsumerProtocolAssignment([], Encoded: a.Assignment);
                try
                {
                    var parsed = a.Assignment.Length == 0 ? new ConsumerAssignment([], null) : ConsumerAssignment.Read(a.Assignment);
                    assignment = new ConsumerProtocolAssignment(GroupCalls.Flatten(parsed.Partitions), parsed.UserData, a.Assignment);
                }
                catch (KafkaProtocolException)
                {
                }
                assignments[a.MemberId] = assignment;
            }
        }
        var sync = new OrleansStream.SyncGroupRequest(body.MemberId, body.GenerationId, assignments, body.GroupInstanceId, body.ProtocolType, body.ProtocolName);
        var group = grains.Group(body.GroupId);
        var r = await GroupCalls.WaitLongAsync(() => group.SyncGroup(sync), MaxWaitMs);
        if (r.Error != ErrorCode.None || r.Assignment is null) return new(r.Error, []);
        return new(ErrorCode.None, GroupCalls.Encode(r.Assignment), r.ProtocolType, r.ProtocolName);
    }
}

/// <summary>Heartbeat; READ on the group first (GroupAuthorizationFailed).</summary>
internal sealed class HeartbeatHandler(IGrainFactory grains, KafkaAuthorizer authorizer)
    : KafkaApiHandler<Protocol.Messages.HeartbeatRequest>(ApiKey.Heartbeat, Protocol.Messages.HeartbeatRequest.Read)
{
    protected override async ValueTask<bool> AnswerAsync(Protocol.Messages.HeartbeatRequest body, KafkaRequest request, KafkaWriter response)
    {
        var error = !request.IsAllowedOnGroup(authorizer, AclOperation.Read, body.GroupId)
            ? ErrorCode.GroupAuthorizationFailed
            : !GroupKeys.IsAddressable(body.GroupId)
            ? ErrorCode.InvalidGroupId
            : (await grains.Group(body.GroupId).Heartbeat(new OrleansStream.HeartbeatRequest(body.MemberId, body.GenerationId, body.GroupInstanceId))).Error;
        new HeartbeatResponse(error).Write(response, request.Version);
        return true;
    }
}

/// <summary>
/// LeaveGroup; READ on the group first (GroupAuthorizationFailed for the request, no member answered). A v5 member's
/// reason (KIP-800) is the reason the grain logs for its removal, as Kafka's coordinator logs it.
/// </summary>
internal sealed class LeaveGroupHandler(IGrainFactory grains, KafkaAuthorizer authorizer)
    : KafkaApiHandler<Protocol.Messages.LeaveGroupRequest>(ApiKey.LeaveGroup, Protocol.Messages.LeaveGroupRequest.Read)
{
    protected override async ValueTask<bool> AnswerAsync(Protocol.Messages.LeaveGroupRequest body, KafkaRequest request, KafkaWriter response)
    {
        if (!request.IsAllowedOnGroup(authorizer, AclOperation.Read, body.GroupId))
        {
            new Protocol.Messages.LeaveGroupResponse(ErrorCode.GroupAuthorizationFailed, []).Write(response, request.Version);
            return true;
        }
        // Kafka answers an empty group id, and a Dead group, for the request and no member.
        if (!GroupKeys.IsAddressable(body.GroupId))
        {
            new Protocol.Messages.LeaveGroupResponse(ErrorCode.InvalidGroupId, []).Write(response, request.Version);
            return true;
        }
        var leaving = new OrleansStream.LeaveGroupRequest[body.Members.Count];
        for (var i = 0; i < leaving.Length; i++)
            leaving[i] = new OrleansStream.LeaveGroupRequest(body.Members[i].MemberId,
                body.Members[i].Reason is { } reason ? $"left the group; client reason: {reason}" : "the consumer is leaving the group", body.Members[i].GroupInstanceId);
        var answer = await grains.Group(body.GroupId).LeaveGroupMembers(leaving);
        var members = new List<(LeaveGroupMember, ErrorCode)>(answer.Members.Count);
        for (var i = 0; i < answer.Members.Count; i++) members.Add((body.Members[i], answer.Members[i].Error));
        // v0-2 leave one member and answer its error; v3 answers per member.
        var top = answer.Error == ErrorCode.None && request.Version < 3 && members.Count > 0 ? members[0].Item2 : answer.Error;
        new Protocol.Messages.LeaveGroupResponse(top, members).Write(response, request.Version);
        return true;
    }
}

/// <summary>
/// OffsetCommit. With an authorizer, as Kafka's <c>handleOffsetCommitRequest</c>: READ on the group, else every partition
/// is GroupAuthorizationFailed; then READ on each topic, the partitions of a topic the principal may not read being
/// TopicAuthorizationFailed and left out of the commit (no call when none is left).
/// </summary>
internal sealed class OffsetCommitHandler(IGrainFactory grains, KafkaAuthorizer authorizer)
    : KafkaApiHandler<Protocol.Messages.OffsetCommitRequest>(ApiKey.OffsetCommit, Protocol.Messages.OffsetCommitRequest.Read)
{
    protected override async ValueTask<bool> AnswerAsync(Protocol.Messages.OffsetCommitRequest body, KafkaRequest request, KafkaWriter response)
    {
        if (!request.IsAllowedOnGroup(authorizer, AclOperation.Read, body.GroupId))
        {
            new Protocol.Messages.OffsetCommitResponse(Errors(body.Topics, new(ErrorCode.GroupAuthorizationFailed, []))).Write(response, request.Version);
            return true;
        }
        var denied = request.Denied(authorizer, AclOperation.Read, body.Topics, static t => t.Name);
        var topics = denied is null ? body.Topics : TopicAuthorization.Allowed(body.Topics, denied);
        OrleansStream.OffsetCommitResponse result = !GroupKeys.IsAddressable(body.GroupId)
            ? new(ErrorCode.InvalidGroupId, [])
            : topics.Length == 0 && denied is not null
            ? new(ErrorCode.None, [])
            : await grains.Group(body.GroupId).OffsetCommit(new OrleansStream.OffsetCommitRequest(body.MemberId, body.GenerationId, Offsets(topics), body.GroupInstanceId,
                Version9OrLater: request.Version >= 9));
        new Protocol.Messages.OffsetCommitResponse(Errors(body.Topics, result, denied)).Write(response, request.Version);
        return true;
    }

    /// <summary>The request's offsets as the group grain takes them (OffsetCommit and TxnOffsetCommit alike).</summary>
    internal static List<OffsetToCommit> Offsets(OffsetCommitTopic[] topics)
    {
        var offsets = new List<OffsetToCommit>();
        foreach (var t in topics)
            foreach (var p in t.Partitions)
                offsets.Add(new OffsetToCommit(new TopicPartition(t.Name, p.PartitionIndex), p.CommittedOffset, p.CommittedMetadata, p.CommittedLeaderEpoch));
        return offsets;
    }

    /// <summary>An error for each partition of the request, in its order; TopicAuthorizationFailed for the topics <paramref name="denied"/> marks.</summary>
    internal static List<PartitionErrors> Errors(OffsetCommitTopic[] requested, OrleansStream.OffsetCommitResponse result, bool[]? denied = null)
    {
        var topics = new List<PartitionErrors>(requested.Length);
        for (var n = 0; n < requested.Length; n++)
        {
            var t = requested[n];
            var partitions = new (int, ErrorCode)[t.Partitions.Length];
            for (var i = 0; i < partitions.Length; i++)
                partitions[i] = (t.Partitions[i].PartitionIndex, denied is not null && denied[n]
                    ? ErrorCode.TopicAuthorizationFailed
                    : ErrorOf(result, new TopicPartition(t.Name, t.Partitions[i].PartitionIndex)));
            topics.Add(new PartitionErrors(t.Name, partitions));
        }
        return topics;
    }

    // A partition the grain answered for has its own error (refused, or committed: None); the others the request's.
    private static ErrorCode ErrorOf(OrleansStream.OffsetCommitResponse result, TopicPartition tp)
    {
        foreach (var p in result.Partitions)
            if (p.TopicPartition == tp) return p.Error;
        return result.Error;
    }
}

/// <summary>
/// OffsetFetch: each group asked (one up to v7, several from v8) from its group grain, at once. v9's member id and epoch
/// are checked by a consumer group (KIP-848: UnknownMemberId, StaleMemberEpoch); a classic group ignores them, as Kafka's does.
/// With an authorizer, as Kafka's <c>handleOffsetFetchRequestFromCoordinator</c>: DESCRIBE on each group, else that group
/// is GroupAuthorizationFailed; named topics the principal may not DESCRIBE are not asked and answered
/// TopicAuthorizationFailed (offset -1); when all of a group's offsets are asked, those topics are left out.
/// </summary>
internal sealed class OffsetFetchHandler(IGrainFactory grains, KafkaAuthorizer authorizer)
    : KafkaApiHandler<Protocol.Messages.OffsetFetchRequest>(ApiKey.OffsetFetch, Protocol.Messages.OffsetFetchRequest.Read)
{
    protected override async ValueTask<bool> AnswerAsync(Protocol.Messages.OffsetFetchRequest body, KafkaRequest request, KafkaWriter response)
    {
        var fetches = new Task<OffsetFetchResponseGroup>[body.Groups.Count];
        for (var i = 0; i < fetches.Length; i++)
            fetches[i] = request.IsAllowedOnGroup(authorizer, AclOperation.Describe, body.Groups[i].GroupId)
                ? FetchAsync(body.Groups[i], body.RequireStable, request)
                : Task.FromResult(new OffsetFetchResponseGroup(body.Groups[i].GroupId, [], ErrorCode.GroupAuthorizationFailed));
        new Protocol.Messages.OffsetFetchResponse(await Task.WhenAll(fetches)).Write(response, request.Version);
        return true;
    }

    private async Task<OffsetFetchResponseGroup> FetchAsync(OffsetFetchRequestGroup group, bool requireStable, KafkaRequest request)
    {
        if (!GroupKeys.IsAddressable(group.GroupId)) return new OffsetFetchResponseGroup(group.GroupId, [], ErrorCode.InvalidGroupId);
        // The named topics the principal may not describe are not asked (Kafka's partitionSeqByAuthorized).
        var denied = group.Topics is null ? null : request.Denied(authorizer, AclOperation.Describe, group.Topics, static t => t.Topic);
        var asked = denied is null ? group.Topics : TopicAuthorization.Allowed(group.Topics!, denied);
        var partitionsAsked = asked is null ? null : GroupCalls.Flatten(asked);
        // require_stable is asked of named partitions only: Kafka answers UnstableOffsetCommit per partition, the
        // group grain for the request.
        var result = await grains.Group(group.GroupId).OffsetFetch(
            new OrleansStream.OffsetFetchRequest(partitionsAsked, requireStable && partitionsAsked is not null, group.MemberId, group.MemberEpoch));

        var topics = new List<OffsetFetchTopic>();
        if (result.Error == ErrorCode.UnstableOffsetCommit)
        {
            foreach (var t in asked!)
            {
                var unstable = new List<OffsetFetchPartition>(t.Partitions.Length);
                foreach (var p in t.Partitions) unstable.Add(new OffsetFetchPartition(p, -1, -1, "", ErrorCode.UnstableOffsetCommit));
                topics.Add(new OffsetFetchTopic(t.Topic, unstable));
            }
            AddDenied(topics, group.Topics!, denied);
            return new OffsetFetchResponseGroup(group.GroupId, topics, ErrorCode.None);
        }
        // A topic indexed to null is one left out: all offsets asked, Kafka leaves out the topics the principal may not describe.
        var index = new Dictionary<string, List<OffsetFetchPartition>?>(StringComparer.Ordinal);
        var all = group.Topics is null;
        foreach (var c in result.Offsets)
        {
            if (!index.TryGetValue(c.TopicPartition.Topic, out var partitions))
            {
                if (all && !request.IsAllowed(authorizer, AclOperation.Describe, AclResourceType.Topic, c.TopicPartition.Topic))
                {
                    index[c.TopicPartition.Topic] = null;
                    continue;
                }
                index[c.TopicPartition.Topic] = partitions = [];
                topics.Add(new OffsetFetchTopic(c.TopicPartition.Topic, partitions));
            }
            if (partitions is null) continue;
            partitions.Add(new OffsetFetchPartition(c.TopicPartition.Partition, c.Offset, c.LeaderEpoch, c.Metadata ?? "", ErrorCode.None));
        }
        // Kafka answers a group that does not exist with no offsets and no error (the Java admin client fails on
        // GroupIdNotFound here); the grain's GroupIdNotFound is for the SDK.
        var error = result.Error == ErrorCode.GroupIdNotFound ? ErrorCode.None : result.Error;
        if (error == ErrorCode.None) AddDenied(topics, group.Topics, denied);
        return new OffsetFetchResponseGroup(group.GroupId, topics, error);
    }

    /// <summary>The named topics the principal may not describe, each partition TopicAuthorizationFailed, after the others (as Kafka's).</summary>
    private static void AddDenied(List<OffsetFetchTopic> topics, IReadOnlyList<TopicPartitions>? requested, bool[]? denied)
    {
        if (denied is null) return;
        for (var i = 0; i < denied.Length; i++)
        {
            if (!denied[i]) continue;
            var t = requested![i];
            var partitions = new OffsetFetchPartition[t.Partitions.Length];
            for (var j = 0; j < partitions.Length; j++) partitions[j] = new OffsetFetchPartition(t.Partitions[j], -1, -1, "", ErrorCode.TopicAuthorizationFailed);
            topics.Add(new OffsetFetchTopic(t.Topic, partitions));
        }
    }
}
