namespace OrleansStream.Protocol.Messages;

/// <summary>A request that names groups: DescribeGroups v0-2 and DeleteGroups v0-2 (an array of group ids; DeleteGroups v2 flexible).</summary>
public sealed record GroupsRequest(IReadOnlyList<string> Groups)
{
    public static GroupsRequest Read(ref KafkaReader r, short version) => Read(ref r, flexible: false);

    public static GroupsRequest ReadDeleteGroups(ref KafkaReader r, short version) => Read(ref r, flexible: version >= 2);

    private static GroupsRequest Read(ref KafkaReader r, bool flexible)
    {
        var count = Math.Max(r.ReadArrayLength(flexible), 0);
        var groups = new List<string>(count);
        for (var i = 0; i < count; i++) groups.Add(r.ReadString(flexible));
        if (flexible) r.SkipTaggedFields();
        return new GroupsRequest(groups);
    }

    public void Write(KafkaWriter w, bool flexible = false)
    {
        w.WriteArrayLength(Groups.Count, flexible);
        foreach (var g in Groups) w.WriteString(g, flexible);
        if (flexible) w.WriteEmptyTaggedFields();
    }
}

public sealed record DescribedGroupMember(string MemberId, string ClientId, string ClientHost, byte[] MemberMetadata, byte[] MemberAssignment);

public sealed record DescribedGroup(
    ErrorCode Error, string GroupId, string GroupState, string ProtocolType, string ProtocolData, IReadOnlyList<DescribedGroupMember> Members);

/// <summary>DescribeGroupsResponse v0-2 (throttle time from v1).</summary>
public sealed record DescribeGroupsResponse(IReadOnlyList<DescribedGroup> Groups)
{
    public void Write(KafkaWriter w, short version)
    {
        if (version >= 1) w.WriteInt32(0);
        w.WriteArrayLength(Groups.Count, false);
        foreach (var g in Groups)
        {
            w.WriteInt16((short)g.Error);
            w.WriteString(g.GroupId, false);
            w.WriteString(g.GroupState, false);
            w.WriteString(g.ProtocolType, false);
            w.WriteString(g.ProtocolData, false);
            w.WriteArrayLength(g.Members.Count, false);
            foreach (var m in g.Members)
            {
                w.WriteString(m.MemberId, false);
                w.WriteString(m.ClientId, false);
                w.WriteString(m.ClientHost, false);
                w.WriteBytes(m.MemberMetadata, false);
                w.WriteBytes(m.MemberAssignment, false);
            }
        }
    }
}

/// <summary>ListGroups v0-2: the request is empty (v4's state filter is a flexible version).</summary>
public sealed record ListGroupsRequest
{
    public static readonly ListGroupsRequest Instance = new();

    public static ListGroupsRequest Read(ref KafkaReader r, short version) => Instance;
}

/// <summary>ListGroupsResponse v0-2: every group with its protocol type (throttle time from v1).</summary>
public sealed record ListGroupsResponse(ErrorCode Error, IReadOnlyList<(string GroupId, string ProtocolType)> Groups)
{
    public void Write(KafkaWriter w, short version)
    {
        if (version >= 1) w.WriteInt32(0);
        w.WriteInt16((short)Error);
        w.WriteArrayLength(Groups.Count, false);
        foreach (var (id, type) in Groups)
        {
            w.WriteString(id, false);
            w.WriteString(type, false);
        }
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
