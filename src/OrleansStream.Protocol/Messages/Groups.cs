namespace OrleansStream.Protocol.Messages;

public sealed record JoinGroupRequestProtocol(string Name, byte[] Metadata);

/// <summary>JoinGroup v0-5 (v1: rebalance timeout; v2: throttle time; v4: MemberIdRequired for a first join, KIP-394; v5: group instance id, KIP-345).</summary>
public sealed record JoinGroupRequest(
    string GroupId, int SessionTimeoutMs, int RebalanceTimeoutMs, string MemberId, string? GroupInstanceId, string ProtocolType,
    IReadOnlyList<JoinGroupRequestProtocol> Protocols)
{
    public static JoinGroupRequest Read(ref KafkaReader r, short version)
    {
        var group = r.ReadString(false);
        var session = r.ReadInt32();
        var rebalance = version >= 1 ? r.ReadInt32() : session;
        var member = r.ReadString(false);
        var instance = version >= 5 ? r.ReadNullableString(false) : null;
        var type = r.ReadString(false);
        var count = Math.Max(r.ReadArrayLength(false), 0);
        var protocols = new List<JoinGroupRequestProtocol>(count);
        for (var i = 0; i < count; i++) protocols.Add(new JoinGroupRequestProtocol(r.ReadString(false), r.ReadBytes(false).ToArray()));
        return new JoinGroupRequest(group, session, rebalance, member, instance, type, protocols);
    }

    public void Write(KafkaWriter w, short version)
    {
        w.WriteString(GroupId, false);
        w.WriteInt32(SessionTimeoutMs);
        if (version >= 1) w.WriteInt32(RebalanceTimeoutMs);
        w.WriteString(MemberId, false);
        if (version >= 5) w.WriteNullableString(GroupInstanceId, false);
        w.WriteString(ProtocolType, false);
        w.WriteArrayLength(Protocols.Count, false);
        foreach (var p in Protocols)
        {
            w.WriteString(p.Name, false);
            w.WriteBytes(p.Metadata, false);
        }
    }
}

public sealed record JoinGroupResponseMember(string MemberId, string? GroupInstanceId, byte[] Metadata);

public sealed record JoinGroupResponse(
    ErrorCode Error, int GenerationId, string ProtocolName, string Leader, string MemberId, IReadOnlyList<JoinGroupResponseMember> Members)
{
    public void Write(KafkaWriter w, short version)
    {
        if (version >= 2) w.WriteInt32(0);
        w.WriteInt16((short)Error);
        w.WriteInt32(GenerationId);
        w.WriteString(ProtocolName, false);
        w.WriteString(Leader, false);
        w.WriteString(MemberId, false);
        w.WriteArrayLength(Members.Count, false);
        foreach (var m in Members)
        {
            w.WriteString(m.MemberId, false);
            if (version >= 5) w.WriteNullableString(m.GroupInstanceId, false);
            w.WriteBytes(m.Metadata, false);
        }
    }
}

public sealed record SyncGroupRequestAssignment(string MemberId, byte[] Assignment);

/// <summary>SyncGroup v0-3 (v3: group instance id).</summary>
public sealed record SyncGroupRequest(string GroupId, int GenerationId, string MemberId, string? GroupInstanceId, IReadOnlyList<SyncGroupRequestAssignment> Assignments)
{
    public static SyncGroupRequest Read(ref KafkaReader r, short version)
    {
        var group = r.ReadString(false);
        var generation = r.ReadInt32();
        var member = r.ReadString(false);
        var instance = version >= 3 ? r.ReadNullableString(false) : null;
        var count = Math.Max(r.ReadArrayLength(false), 0);
        var assignments = new List<SyncGroupRequestAssignment>(count);
        for (var i = 0; i < count; i++) assignments.Add(new SyncGroupRequestAssignment(r.ReadString(false), r.ReadBytes(false).ToArray()));
        return new SyncGroupRequest(group, generation, member, instance, assignments);
    }

    public void Write(KafkaWriter w, short version)
    {
        w.WriteString(GroupId, false);
        w.WriteInt32(GenerationId);
        w.WriteString(MemberId, false);
        if (version >= 3) w.WriteNullableString(GroupInstanceId, false);
        w.WriteArrayLength(Assignments.Count, false);
        foreach (var a in Assignments)
        {
            w.WriteString(a.MemberId, false);
            w.WriteBytes(a.Assignment, false);
        }
    }
}

public sealed record SyncGroupResponse(ErrorCode Error, byte[] Assignment)
{
    public void Write(KafkaWriter w, short version)
    {
        if (version >= 1) w.WriteInt32(0);
        w.WriteInt16((short)Error);
        w.WriteBytes(Assignment, false);
    }
}

/// <summary>Heartbeat v0-3 (v3: group instance id).</summary>
public sealed record HeartbeatRequest(string GroupId, int GenerationId, string MemberId, string? GroupInstanceId)
{
    public static HeartbeatRequest Read(ref KafkaReader r, short version) =>
        new(r.ReadString(false), r.ReadInt32(), r.ReadString(false), version >= 3 ? r.ReadNullableString(false) : null);

    public void Write(KafkaWriter w, short version)
    {
        w.WriteString(GroupId, false);
        w.WriteInt32(GenerationId);
        w.WriteString(MemberId, false);
        if (version >= 3) w.WriteNullableString(GroupInstanceId, false);
    }
}

/// <summary>The answer of Heartbeat (v0-3) and of other APIs that carry only an error: throttle time from v1.</summary>
public sealed record ErrorOnlyResponse(ErrorCode Error)
{
    public void Write(KafkaWriter w, short version)
    {
        if (version >= 1) w.WriteInt32(0);
        w.WriteInt16((short)Error);
    }
}

/// <summary>A member leaving: its id, and its group instance id if static (v3, KIP-345).</summary>
public sealed record LeaveGroupMember(string MemberId, string? GroupInstanceId);

/// <summary>LeaveGroup v0-3: one member (v0-2) or a batch of members (v3, KIP-345).</summary>
public sealed record LeaveGroupRequest(string GroupId, IReadOnlyList<LeaveGroupMember> Members)
{
    public static LeaveGroupRequest Read(ref KafkaReader r, short version)
    {
        var group = r.ReadString(false);
        if (version < 3) return new LeaveGroupRequest(group, [new LeaveGroupMember(r.ReadString(false), null)]);
        var count = Math.Max(r.ReadArrayLength(false), 0);
        var members = new List<LeaveGroupMember>(count);
        for (var i = 0; i < count; i++) members.Add(new LeaveGroupMember(r.ReadString(false), r.ReadNullableString(false)));
        return new LeaveGroupRequest(group, members);
    }

    public void Write(KafkaWriter w, short version)
    {
        w.WriteString(GroupId, false);
        if (version < 3)
        {
            w.WriteString(Members[0].MemberId, false);
            return;
        }
        w.WriteArrayLength(Members.Count, false);
        foreach (var m in Members)
        {
            w.WriteString(m.MemberId, false);
            w.WriteNullableString(m.GroupInstanceId, false);
        }
    }
}

public sealed record LeaveGroupResponse(ErrorCode Error, IReadOnlyList<(LeaveGroupMember Member, ErrorCode Error)> Members)
{
    public void Write(KafkaWriter w, short version)
    {
        if (version >= 1) w.WriteInt32(0);
        w.WriteInt16((short)Error);
        if (version < 3) return;
        w.WriteArrayLength(Members.Count, false);
        foreach (var (member, error) in Members)
        {
            w.WriteString(member.MemberId, false);
            w.WriteNullableString(member.GroupInstanceId, false);
            w.WriteInt16((short)error);
        }
    }
}

public readonly record struct OffsetCommitPartition(int PartitionIndex, long CommittedOffset, int CommittedLeaderEpoch, string? CommittedMetadata);

public sealed record OffsetCommitTopic(string Name, OffsetCommitPartition[] Partitions);

/// <summary>
/// OffsetCommit v1-9 (v1: a commit timestamp per partition; v2-4: retention time; v6: leader epoch; v7: group instance
/// id; v8 flexible; v9 the same request, answered GroupIdNotFound for a generation named to a group that does not exist).
/// </summary>
public sealed record OffsetCommitRequest(string GroupId, int GenerationId, string MemberId, string? GroupInstanceId, OffsetCommitTopic[] Topics)
{
    public static OffsetCommitRequest Read(ref KafkaReader r, short version)
    {
        var flexible = version >= 8;
        var group = r.ReadString(flexible);
        var generation = r.ReadInt32();
        var member = r.ReadString(flexible);
        var instance = version >= 7 ? r.ReadNullableString(flexible) : null;
        if (version is >= 2 and <= 4) r.ReadInt64();
        var topics = r.ReadTopics(version, static (ref KafkaReader r, short v) =>
        {
            var index = r.ReadInt32();
            var offset = r.ReadInt64();
            var epoch = v >= 6 ? r.ReadInt32() : -1;
            // v1's commit timestamp: -1 (every client sends it, sarama's ReceiveTime too) asks for the broker's time,
            // which is the commit time here whatever it says (as v2-4's retention time is not used either).
            if (v == 1) r.ReadInt64();
            return new OffsetCommitPartition(index, offset, epoch, r.ReadNullableString(v >= 8));
        }, static (name, partitions) => new OffsetCommitTopic(name, partitions), flexible);
        if (flexible) r.SkipTaggedFields();
        return new OffsetCommitRequest(group, generation, member, instance, topics);
    }

    public void Write(KafkaWriter w, short version)
    {
        var flexible = version >= 8;
        w.WriteString(GroupId, flexible);
        w.WriteInt32(GenerationId);
        w.WriteString(MemberId, flexible);
        if (version >= 7) w.WriteNullableString(GroupInstanceId, flexible);
        if (version is >= 2 and <= 4) w.WriteInt64(-1);
        w.WriteTopics(Topics, version, static t => t.Name, static t => t.Partitions, static (w, p, v) =>
        {
            w.WriteInt32(p.PartitionIndex);
            w.WriteInt64(p.CommittedOffset);
            if (v >= 6) w.WriteInt32(p.CommittedLeaderEpoch);
            if (v == 1) w.WriteInt64(-1);
            w.WriteNullableString(p.CommittedMetadata, v >= 8);
        }, flexible);
        if (flexible) w.WriteEmptyTaggedFields();
    }
}

public sealed record PartitionErrors(string Name, (int PartitionIndex, ErrorCode Error)[] Partitions);

/// <summary>OffsetCommitResponse v1-9 (v1 and v2 alike; throttle time from v3; v8 flexible).</summary>
public sealed record OffsetCommitResponse(IReadOnlyList<PartitionErrors> Topics)
{
    public void Write(KafkaWriter w, short version)
    {
        if (version >= 3) w.WriteInt32(0);
        w.WriteTopics(Topics, version, static t => t.Name, static t => t.Partitions, static (w, p, _) =>
        {
            w.WriteInt32(p.PartitionIndex);
            w.WriteInt16((short)p.Error);
        }, version >= 8);
        if (version >= 8) w.WriteEmptyTaggedFields();
    }
}

/// <summary>
/// One group of an OffsetFetch: <see cref="Topics"/> null (v2+) asks for every committed offset of the group. v9
/// (KIP-848) adds the member id and epoch of a consumer-protocol member; a classic group does not check them, as Kafka's
/// <c>ClassicGroup.validateOffsetFetch</c> does not.
/// </summary>
public sealed record OffsetFetchRequestGroup(string GroupId, IReadOnlyList<TopicPartitions>? Topics, string? MemberId = null, int MemberEpoch = -1);

/// <summary>
/// OffsetFetch v1-9: one group up to v7, several from v8 (KIP-709). v6 is flexible; v7 adds <see cref="RequireStable"/>
/// (KIP-447): partitions with offsets pending in an open transaction are answered <c>UnstableOffsetCommit</c>, each, so
/// a read_committed consumer waits instead of starting below them.
/// </summary>
public sealed record OffsetFetchRequest(IReadOnlyList<OffsetFetchRequestGroup> Groups, bool RequireStable = false)
{
    public OffsetFetchRequest(string groupId, IReadOnlyList<TopicPartitions>? topics, bool requireStable = false)
        : this([new OffsetFetchRequestGroup(groupId, topics)], requireStable)
    {
    }

    public static OffsetFetchRequest Read(ref KafkaReader r, short version)
    {
        var flexible = version >= 6;
        OffsetFetchRequestGroup[] groups;
        if (version >= 8)
        {
            groups = new OffsetFetchRequestGroup[Math.Max(r.ReadArrayLength(flexible), 0)];
            for (var g = 0; g < groups.Length; g++)
            {
                var groupId = r.ReadString(flexible);
                var memberId = version >= 9 ? r.ReadNullableString(flexible) : null;
                var memberEpoch = version >= 9 ? r.ReadInt32() : -1;
                groups[g] = new OffsetFetchRequestGroup(groupId, TopicPartitions.ReadNullableArray(ref r, flexible), memberId, memberEpoch);
                r.SkipTaggedFields();
            }
        }
        else
        {
            var groupId = r.ReadString(flexible);
            groups = [new OffsetFetchRequestGroup(groupId, TopicPartitions.ReadNullableArray(ref r, flexible))];
        }
        var requireStable = version >= 7 && r.ReadBoolean();
        if (flexible) r.SkipTaggedFields();
        return new OffsetFetchRequest(groups, requireStable);
    }

    public void Write(KafkaWriter w, short version)
    {
        var flexible = version >= 6;
        if (version >= 8)
        {
            w.WriteArrayLength(Groups.Count, flexible);
            foreach (var g in Groups)
            {
                w.WriteString(g.GroupId, flexible);
                if (version >= 9)
                {
                    w.WriteNullableString(g.MemberId, flexible);
                    w.WriteInt32(g.MemberEpoch);
                }
                TopicPartitions.WriteNullableArray(w, g.Topics, flexible);
                w.WriteEmptyTaggedFields();
            }
        }
        else
        {
            if (Groups.Count != 1) throw new ArgumentException($"OffsetFetch v{version} asks for one group, not {Groups.Count}", nameof(version));
            w.WriteString(Groups[0].GroupId, flexible);
            TopicPartitions.WriteNullableArray(w, Groups[0].Topics, flexible);
        }
        if (version >= 7) w.WriteBoolean(RequireStable);
        if (flexible) w.WriteEmptyTaggedFields();
    }
}

public readonly record struct OffsetFetchPartition(int PartitionIndex, long CommittedOffset, int CommittedLeaderEpoch, string? Metadata, ErrorCode Error);

public sealed record OffsetFetchTopic(string Name, IReadOnlyList<OffsetFetchPartition> Partitions);

/// <summary>One group's committed offsets and error in an OffsetFetch response.</summary>
public sealed record OffsetFetchResponseGroup(string GroupId, IReadOnlyList<OffsetFetchTopic> Topics, ErrorCode Error);

/// <summary>OffsetFetchResponse v1-9: one group's offsets up to v7 (the group's error from v2), a list of groups from v8.</summary>
public sealed record OffsetFetchResponse(IReadOnlyList<OffsetFetchResponseGroup> Groups)
{
    public OffsetFetchResponse(IReadOnlyList<OffsetFetchTopic> topics, ErrorCode error) : this([new OffsetFetchResponseGroup("", topics, error)])
    {
    }

    public void Write(KafkaWriter w, short version)
    {
        var flexible = version >= 6;
        if (version >= 3) w.WriteInt32(0);
        if (version >= 8)
        {
            w.WriteArrayLength(Groups.Count, flexible);
            foreach (var g in Groups)
            {
                w.WriteString(g.GroupId, flexible);
                WriteTopics(w, g.Topics, version);
                w.WriteInt16((short)g.Error);
                w.WriteEmptyTaggedFields();
            }
        }
        else
        {
            if (Groups.Count != 1) throw new ArgumentException($"OffsetFetch v{version} answers one group, not {Groups.Count}", nameof(version));
            WriteTopics(w, Groups[0].Topics, version);
            if (version >= 2) w.WriteInt16((short)Groups[0].Error);
        }
        if (flexible) w.WriteEmptyTaggedFields();
    }

    private static void WriteTopics(KafkaWriter w, IReadOnlyList<OffsetFetchTopic> topics, short version) =>
        w.WriteTopics(topics, version, static t => t.Name, static t => t.Partitions, static (w, p, v) =>
        {
            w.WriteInt32(p.PartitionIndex);
            w.WriteInt64(p.CommittedOffset);
            if (v >= 5) w.WriteInt32(p.CommittedLeaderEpoch);
            w.WriteNullableString(p.Metadata, v >= 6);
            w.WriteInt16((short)p.Error);
        }, version >= 6);
}
