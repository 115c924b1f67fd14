namespace OrleansStream.Protocol.Messages;

/// <summary>
/// A request that names groups: DescribeGroups v0-5 (v3: include_authorized_operations; v5 flexible) and DeleteGroups
/// v0-2 (v2 flexible), an array of group ids.
/// </summary>
public sealed record GroupsRequest(IReadOnlyList<string> Groups, bool IncludeAuthorizedOperations = false)
{
    public static GroupsRequest ReadDescribeGroups(ref KafkaReader r, short version)
    {
        var flexible = version >= 5;
        var groups = ReadGroups(ref r, flexible);
        var includeAuthorizedOperations = version >= 3 && r.ReadBoolean();
        if (flexible) r.SkipTaggedFields();
        return new GroupsRequest(groups, includeAuthorizedOperations);
    }

    public static GroupsRequest ReadDeleteGroups(ref KafkaReader r, short version)
    {
        var flexible = version >= 2;
        var groups = ReadGroups(ref r, flexible);
        if (flexible) r.SkipTaggedFields();
        return new GroupsRequest(groups);
    }

    private static List<string> ReadGroups(ref KafkaReader r, bool flexible)
    {
        var count = Math.Max(r.ReadArrayLength(flexible), 0);
        var groups = new List<string>(count);
        for (var i = 0; i < count; i++) groups.Add(r.ReadString(flexible));
        return groups;
    }

    public void WriteDescribeGroups(KafkaWriter w, short version)
    {
        WriteGroups(w, version >= 5);
        if (version >= 3) w.WriteBoolean(IncludeAuthorizedOperations);
        if (version >= 5) w.WriteEmptyTaggedFields();
    }

    public void WriteDeleteGroups(KafkaWriter w, short version)
    {
        WriteGroups(w, version >= 2);
        if (version >= 2) w.WriteEmptyTaggedFields();
    }

    private void WriteGroups(KafkaWriter w, bool flexible)
    {
        w.WriteArrayLength(Groups.Count, flexible);
        foreach (var g in Groups) w.WriteString(g, flexible);
    }
}

public sealed record DescribedGroupMember(string MemberId, string? GroupInstanceId, string ClientId, string ClientHost, byte[] MemberMetadata, byte[] MemberAssignment);

/// <summary>One group described; <paramref name="AuthorizedOperations"/> is Kafka's bit field, <see cref="int.MinValue"/> when not asked.</summary>
public sealed record DescribedGroup(
    ErrorCode Error, string GroupId, string GroupState, string ProtocolType, string ProtocolData, IReadOnlyList<DescribedGroupMember> Members,
    int AuthorizedOperations = int.MinValue);

/// <summary>DescribeGroupsResponse v0-5 (throttle time from v1; v3: authorized operations; v4: members' group instance ids; v5 flexible).</summary>
public sealed record DescribeGroupsResponse(IReadOnlyList<DescribedGroup> Groups)
{
    public void Write(KafkaWriter w, short version)
    {
        var flexible = version >= 5;
        if (version >= 1) w.WriteInt32(0);
        w.WriteArrayLength(Groups.Count, flexible);
        foreach (var g in Groups)
        {
            w.WriteInt16((short)g.Error);
            w.WriteString(g.GroupId, flexible);
            w.WriteString(g.GroupState, flexible);
            w.WriteString(g.ProtocolType, flexible);
            w.WriteString(g.ProtocolData, flexible);
            w.WriteArrayLength(g.Members.Count, flexible);
            foreach (var m in g.Members)
            {
                w.WriteString(m.MemberId, flexible);
                if (version >= 4) w.WriteNullableString(m.GroupInstanceId, flexible);
                w.WriteString(m.ClientId, flexible);
                w.WriteString(m.ClientHost, flexible);
                w.WriteBytes(m.MemberMetadata, flexible);
                w.WriteBytes(m.MemberAssignment, flexible);
                if (flexible) w.WriteEmptyTaggedFields();
            }
            if (version >= 3) w.WriteInt32(g.AuthorizedOperations);
            if (flexible) w.WriteEmptyTaggedFields();
        }
        if (flexible) w.WriteEmptyTaggedFields();
    }
}

/// <summary>ListGroups v0-5: empty up to v2; v3 flexible; v4 filters by state (KIP-518), v5 by type (KIP-848); empty filters keep every group.</summary>
public sealed record ListGroupsRequest(IReadOnlyList<string> StatesFilter, IReadOnlyList<string> TypesFilter)
{
    public static ListGroupsRequest Read(ref KafkaReader r, short version)
    {
        var flexible = version >= 3;
        IReadOnlyList<string> states = version >= 4 ? ReadStrings(ref r) : [];
        IReadOnlyList<string> types = version >= 5 ? ReadStrings(ref r) : [];
        if (flexible) r.SkipTaggedFields();
        return new ListGroupsRequest(states, types);
    }

    private static List<string> ReadStrings(ref KafkaReader r)
    {
        var count = Math.Max(r.ReadArrayLength(true), 0);
        var list = new List<string>(count);
        for (var i = 0; i < count; i++) list.Add(r.ReadString(true));
        return list;
    }

    public void Write(KafkaWriter w, short version)
    {
        if (version >= 4) WriteStrings(w, StatesFilter);
        if (version >= 5) WriteStrings(w, TypesFilter);
        if (version >= 3) w.WriteEmptyTaggedFields();
    }

    private static void WriteStrings(KafkaWriter w, IReadOnlyList<string> list)
    {
        w.WriteArrayLength(list.Count, true);
        foreach (var s in list) w.WriteString(s, true);
    }
}

public readonly record struct ListedGroup(string GroupId, string ProtocolType, string GroupState, string GroupType);

/// <summary>ListGroupsResponse v0-5: every group with its protocol type (throttle time from v1; v3 flexible; v4 the group's state; v5 its type).</summary>
public sealed record ListGroupsResponse(ErrorCode Error, IReadOnlyList<ListedGroup> Groups)
{
    public void Write(KafkaWriter w, short version)
    {
        var flexible = version >= 3;
        if (version >= 1) w.WriteInt32(0);
        w.WriteInt16((short)Error);
        w.WriteArrayLength(Groups.Count, flexible);
        foreach (var g in Groups)
        {
            w.WriteString(g.GroupId, flexible);
            w.WriteString(g.ProtocolType, flexible);
            if (version >= 4) w.WriteString(g.GroupState, flexible);
            if (version >= 5) w.WriteString(g.GroupType, flexible);
            if (flexible) w.WriteEmptyTaggedFields();
        }
        if (flexible) w.WriteEmptyTaggedFields();
    }
}

/// <summary>DeleteGroupsResponse v0-2 (v2 flexible): each group's error.</summary>
public sealed record DeleteGroupsResponse(IReadOnlyList<(string GroupId, ErrorCode Error)> Results)
{
    public void Write(KafkaWriter w, short version)
    {
        var flexible = version >= 2;
        w.WriteInt32(0);
        w.WriteArrayLength(Results.Count, flexible);
        foreach (var (id, error) in Results)
        {
            w.WriteString(id, flexible);
            w.WriteInt16((short)error);
            if (flexible) w.WriteEmptyTaggedFields();
        }
        if (flexible) w.WriteEmptyTaggedFields();
    }
}

/// <summary>OffsetDelete v0 (the only version; never flexible): the group's committed offsets of these partitions go.</summary>
public sealed record OffsetDeleteRequest(string GroupId, IReadOnlyList<TopicPartitions> Topics)
{
    public static OffsetDeleteRequest Read(ref KafkaReader r, short version)
    {
        var group = r.ReadString(false);
        var topics = r.ReadTopics(version, static (ref KafkaReader r, short _) => r.ReadInt32(), static (name, partitions) => new TopicPartitions(name, partitions));
        return new OffsetDeleteRequest(group, topics);
    }

    public void Write(KafkaWriter w, short version)
    {
        w.WriteString(GroupId, false);
        w.WriteTopics(Topics, version, static t => t.Topic, static t => t.Partitions, static (w, p, _) => w.WriteInt32(p));
    }
}

/// <summary>OffsetDeleteResponse v0: the group's error, then each partition's (<c>GroupSubscribedToTopic</c> where members consume it).</summary>
public sealed record OffsetDeleteResponse(ErrorCode Error, IReadOnlyList<PartitionErrors> Topics)
{
    public void Write(KafkaWriter w, short version)
    {
        w.WriteInt16((short)Error);
        w.WriteInt32(0);
        w.WriteTopics(Topics, version, static t => t.Name, static t => t.Partitions, static (w, p, _) =>
        {
            w.WriteInt32(p.PartitionIndex);
            w.WriteInt16((short)p.Error);
        });
    }
}
