namespace OrleansStream.Protocol.Messages;

/// <summary>
/// A topic, by id, with partitions of it (KIP-848's TopicPartitions struct of ConsumerGroupHeartbeat): the partitions a
/// member owns in a request, those assigned to it in a response. Always flexible: each ends with tagged fields.
/// </summary>
public sealed record ConsumerGroupTopicPartitions(Guid TopicId, IReadOnlyList<int> Partitions)
{
    /// <summary>A compact array of these, -1 (0 on the wire) for null.</summary>
    internal static ConsumerGroupTopicPartitions[]? ReadNullableArray(ref KafkaReader r)
    {
        var count = r.ReadArrayLength(true);
        if (count < 0) return null;
        var topics = new ConsumerGroupTopicPartitions[count];
        for (var i = 0; i < count; i++)
        {
            topics[i] = new ConsumerGroupTopicPartitions(r.ReadUuid(), r.ReadInt32Array(true));
            r.SkipTaggedFields();
        }
        return topics;
    }

    internal static void WriteNullableArray(KafkaWriter w, IReadOnlyList<ConsumerGroupTopicPartitions>? topics)
    {
        w.WriteArrayLength(topics?.Count ?? -1, true);
        foreach (var t in topics ?? [])
        {
            w.WriteUuid(t.TopicId);
            w.WriteInt32Array(t.Partitions, true);
            w.WriteEmptyTaggedFields();
        }
    }
}

/// <summary>
/// ConsumerGroupHeartbeat v0-1 (KIP-848; flexible from v0; v1 adds <see cref="SubscribedTopicRegex"/>). A member joins
/// with <see cref="MemberEpoch"/> 0, leaves with -1 (a static member -2); the nullable fields are null when unchanged
/// since the last heartbeat, and <see cref="RebalanceTimeoutMs"/> is -1 then.
/// </summary>
public sealed record ConsumerGroupHeartbeatRequest(
    string GroupId, string MemberId, int MemberEpoch, string? InstanceId, string? RackId, int RebalanceTimeoutMs,
    IReadOnlyList<string>? SubscribedTopicNames, string? SubscribedTopicRegex, string? ServerAssignor,
    IReadOnlyList<ConsumerGroupTopicPartitions>? TopicPartitions)
{
    public static ConsumerGroupHeartbeatRequest Read(ref KafkaReader r, short version)
    {
        var group = r.ReadString(true);
        var member = r.ReadString(true);
        var epoch = r.ReadInt32();
        var instance = r.ReadNullableString(true);
        var rack = r.ReadNullableString(true);
        var rebalanceTimeout = r.ReadInt32();
        var names = CompactStrings.ReadNullable(ref r);
        var regex = version >= 1 ? r.ReadNullableString(true) : null;
        var assignor = r.ReadNullableString(true);
        var topicPartitions = ConsumerGroupTopicPartitions.ReadNullableArray(ref r);
        r.SkipTaggedFields();
        return new ConsumerGroupHeartbeatRequest(group, member, epoch, instance, rack, rebalanceTimeout, names, regex, assignor, topicPartitions);
    }

    public void Write(KafkaWriter w, short version)
    {
        w.WriteString(GroupId, true);
        w.WriteString(MemberId, true);
        w.WriteInt32(MemberEpoch);
        w.WriteNullableString(InstanceId, true);
        w.WriteNullableString(RackId, true);
        w.WriteInt32(RebalanceTimeoutMs);
        CompactStrings.Write(w, SubscribedTopicNames);
        if (version >= 1) w.WriteNullableString(SubscribedTopicRegex, true);
        w.WriteNullableString(ServerAssignor, true);
        ConsumerGroupTopicPartitions.WriteNullableArray(w, TopicPartitions);
        w.WriteEmptyTaggedFields();
    }
}

/// <summary>
/// ConsumerGroupHeartbeatResponse v0-1 (v1 the same fields). <see cref="MemberId"/> is given when the member joins;
/// <see cref="Assignment"/> is Kafka's nullable struct: an int8 -1 when null, else 1, the topic array and the struct's
/// tagged fields.
/// </summary>
public sealed record ConsumerGroupHeartbeatResponse(
    ErrorCode Error, string? ErrorMessage, string? MemberId, int MemberEpoch, int HeartbeatIntervalMs,
    IReadOnlyList<ConsumerGroupTopicPartitions>? Assignment)
{
    public void Write(KafkaWriter w, short version)
    {
        w.WriteInt32(0);
        w.WriteInt16((short)Error);
        w.WriteErrorMessage(ErrorMessage, true);
        w.WriteNullableString(MemberId, true);
        w.WriteInt32(MemberEpoch);
        w.WriteInt32(HeartbeatIntervalMs);
        if (Assignment is null) w.WriteInt8(-1);
        else
        {
            w.WriteInt8(1);
            ConsumerGroupTopicPartitions.WriteNullableArray(w, Assignment);
            w.WriteEmptyTaggedFields();
        }
        w.WriteEmptyTaggedFields();
    }

    public static ConsumerGroupHeartbeatResponse Read(ref KafkaReader r, short version)
    {
        r.ReadInt32();
        var error = (ErrorCode)r.ReadInt16();
        var message = r.ReadNullableString(true);
        var member = r.ReadNullableString(true);
        var epoch = r.ReadInt32();
        var interval = r.ReadInt32();
        IReadOnlyList<ConsumerGroupTopicPartitions>? assignment = null;
        if (r.ReadInt8() >= 0)
        {
            // The struct's TopicPartitions is not nullable: a null array reads as an empty one, as elsewhere.
            assignment = ConsumerGroupTopicPartitions.ReadNullableArray(ref r) ?? [];
            r.SkipTaggedFields();
        }
        r.SkipTaggedFields();
        return new ConsumerGroupHeartbeatResponse(error, message, member, epoch, interval, assignment);
    }
}

/// <summary>ConsumerGroupDescribe v0-1 (KIP-848; flexible; v1 is v0's layout): groups by id, and whether to answer each one's authorized operations.</summary>
public sealed record ConsumerGroupDescribeRequest(IReadOnlyList<string> GroupIds, bool IncludeAuthorizedOperations)
{
    public static ConsumerGroupDescribeRequest Read(ref KafkaReader r, short version)
    {
        var groups = CompactStrings.Read(ref r);
        var includeAuthorizedOperations = r.ReadBoolean();
        r.SkipTaggedFields();
        return new ConsumerGroupDescribeRequest(groups, includeAuthorizedOperations);
    }

    public void Write(KafkaWriter w, short version)
    {
        CompactStrings.Write(w, GroupIds);
        w.WriteBoolean(IncludeAuthorizedOperations);
        w.WriteEmptyTaggedFields();
    }
}

/// <summary>A topic of a described assignment: its id and name, and the partitions.</summary>
public sealed record DescribedTopicPartitions(Guid TopicId, string TopicName, IReadOnlyList<int> Partitions);

/// <summary>
/// One member of a described consumer group, with its current and its target assignment, and (v1, KIP-1099) its type:
/// <see cref="ClassicMember"/> for a member speaking the classic protocol inside the group (KIP-848's migration),
/// <see cref="ConsumerMember"/> for a ConsumerGroupHeartbeat member.
/// </summary>
public sealed record DescribedConsumerGroupMember(
    string MemberId, string? InstanceId, string? RackId, int MemberEpoch, string ClientId, string ClientHost,
    IReadOnlyList<string> SubscribedTopicNames, string? SubscribedTopicRegex,
    IReadOnlyList<DescribedTopicPartitions> Assignment, IReadOnlyList<DescribedTopicPartitions> TargetAssignment,
    sbyte MemberType = DescribedConsumerGroupMember.ConsumerMember)
{
    public const sbyte ClassicMember = 0;
    public const sbyte ConsumerMember = 1;
}

/// <summary>One consumer group described; <paramref name="AuthorizedOperations"/> is Kafka's bit field, <see cref="int.MinValue"/> when not asked.</summary>
public sealed record DescribedConsumerGroup(
    ErrorCode Error, string? ErrorMessage, string GroupId, string GroupState, int GroupEpoch, int AssignmentEpoch,
    string AssignorName, IReadOnlyList<DescribedConsumerGroupMember> Members, int AuthorizedOperations = int.MinValue);

/// <summary>
/// ConsumerGroupDescribeResponse v0-1 (flexible; v1 adds each member's type). A member's assignment and target
/// assignment are each Kafka's (not nullable) Assignment struct: the topic array, then the struct's tagged fields.
/// </summary>
public sealed record ConsumerGroupDescribeResponse(IReadOnlyList<DescribedConsumerGroup> Groups)
{
    public void Write(KafkaWriter w, short version)
    {
        w.WriteInt32(0);
        w.WriteArrayLength(Groups.Count, true);
        foreach (var g in Groups)
        {
            w.WriteInt16((short)g.Error);
            w.WriteErrorMessage(g.ErrorMessage, true);
            w.WriteString(g.GroupId, true);
            w.WriteString(g.GroupState, true);
            w.WriteInt32(g.GroupEpoch);
            w.WriteInt32(g.AssignmentEpoch);
            w.WriteString(g.AssignorName, true);
            w.WriteArrayLength(g.Members.Count, true);
            foreach (var m in g.Members)
            {
                w.WriteString(m.MemberId, true);
                w.WriteNullableString(m.InstanceId, true);
                w.WriteNullableString(m.RackId, true);
                w.WriteInt32(m.MemberEpoch);
                w.WriteString(m.ClientId, true);
                w.WriteString(m.ClientHost, true);
                CompactStrings.Write(w, m.SubscribedTopicNames);
                w.WriteNullableString(m.SubscribedTopicRegex, true);
                WriteAssignment(w, m.Assignment);
                WriteAssignment(w, m.TargetAssignment);
                if (version >= 1) w.WriteInt8(m.MemberType);
                w.WriteEmptyTaggedFields();
            }
            w.WriteInt32(g.AuthorizedOperations);
            w.WriteEmptyTaggedFields();
        }
        w.WriteEmptyTaggedFields();
    }

    private static void WriteAssignment(KafkaWriter w, IReadOnlyList<DescribedTopicPartitions> topics)
    {
        w.WriteArrayLength(topics.Count, true);
        foreach (var t in topics)
        {
            w.WriteUuid(t.TopicId);
            w.WriteString(t.TopicName, true);
            w.WriteInt32Array(t.Partitions, true);
            w.WriteEmptyTaggedFields();
        }
        w.WriteEmptyTaggedFields();
    }

    public static ConsumerGroupDescribeResponse Read(ref KafkaReader r, short version)
    {
        r.ReadInt32();
        var groups = new DescribedConsumerGroup[Math.Max(r.ReadArrayLength(true), 0)];
        for (var g = 0; g < groups.Length; g++)
        {
            var error = (ErrorCode)r.ReadInt16();
            var message = r.ReadNullableString(true);
            var groupId = r.ReadString(true);
            var state = r.ReadString(true);
            var groupEpoch = r.ReadInt32();
            var assignmentEpoch = r.ReadInt32();
            var assignor = r.ReadString(true);
            var members = new DescribedConsumerGroupMember[Math.Max(r.ReadArrayLength(true), 0)];
            for (var m = 0; m < members.Length; m++)
            {
                var memberId = r.ReadString(true);
                var instance = r.ReadNullableString(true);
                var rack = r.ReadNullableString(true);
                var memberEpoch = r.ReadInt32();
                var clientId = r.ReadString(true);
                var clientHost = r.ReadString(true);
                var names = CompactStrings.Read(ref r);
                var regex = r.ReadNullableString(true);
                var assignment = ReadAssignment(ref r);
                var target = ReadAssignment(ref r);
                var type = version >= 1 ? r.ReadInt8() : (sbyte)-1;
                r.SkipTaggedFields();
                members[m] = new DescribedConsumerGroupMember(memberId, instance, rack, memberEpoch, clientId, clientHost, names, regex, assignment, target, type);
            }
            var operations = r.ReadInt32();
            r.SkipTaggedFields();
            groups[g] = new DescribedConsumerGroup(error, message, groupId, state, groupEpoch, assignmentEpoch, assignor, members, operations);
        }
        r.SkipTaggedFields();
        return new ConsumerGroupDescribeResponse(groups);
    }

    private static DescribedTopicPartitions[] ReadAssignment(ref KafkaReader r)
    {
        var topics = new DescribedTopicPartitions[Math.Max(r.ReadArrayLength(true), 0)];
        for (var i = 0; i < topics.Length; i++)
        {
            topics[i] = new DescribedTopicPartitions(r.ReadUuid(), r.ReadString(true), r.ReadInt32Array(true));
            r.SkipTaggedFields();
        }
        r.SkipTaggedFields();
        return topics;
    }
}

/// <summary>Compact arrays of compact strings (every version of these APIs is flexible).</summary>
file static class CompactStrings
{
    /// <summary>A non-nullable array: a null one reads as empty, as Kafka's other non-nullable arrays do here.</summary>
    public static List<string> Read(ref KafkaReader r) => ReadNullable(ref r) ?? [];

    public static List<string>? ReadNullable(ref KafkaReader r)
    {
        var count = r.ReadArrayLength(true);
        if (count < 0) return null;
        var list = new List<string>(count);
        for (var i = 0; i < count; i++) list.Add(r.ReadString(true));
        return list;
    }

    public static void Write(KafkaWriter w, IReadOnlyList<string>? list)
    {
        w.WriteArrayLength(list?.Count ?? -1, true);
        foreach (var s in list ?? []) w.WriteString(s, true);
    }
}
