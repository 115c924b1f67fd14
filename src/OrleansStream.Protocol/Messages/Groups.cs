namespace OrleansStream.Protocol.Messages;

public sealed record JoinGroupRequestProtocol(string Name, byte[] Metadata);

/// <summary>
/// JoinGroup v0-9 (v1: rebalance timeout; v2: throttle time; v4: MemberIdRequired for a first join, KIP-394; v5: group
/// instance id, KIP-345; v6 flexible; v7 answers the protocol type, KIP-559; v8: the member's reason, KIP-800; v9 may
/// answer a returning static leader SkipAssignment, KIP-814).
/// </summary>
public sealed record JoinGroupRequest(
    string GroupId, int SessionTimeoutMs, int RebalanceTimeoutMs, string MemberId, string? GroupInstanceId, string ProtocolType,
    IReadOnlyList<JoinGroupRequestProtocol> Protocols, string? Reason = null)
{
    public static JoinGroupRequest Read(ref KafkaReader r, short version)
    {
        var flexible = version >= 6;
        var group = r.ReadString(flexible);
        var session = r.ReadInt32();
        var rebalance = version >= 1 ? r.ReadInt32() : session;
        var member = r.ReadString(flexible);
        var instance = version >= 5 ? r.ReadNullableString(flexible) : null;
        var type = r.ReadString(flexible);
        var count = Math.Max(r.ReadArrayLength(flexible), 0);
        var protocols = new List<JoinGroupRequestProtocol>(count);
        for (var i = 0; i < count; i++)
        {
            protocols.Add(new JoinGroupRequestProtocol(r.ReadString(flexible), r.ReadBytes(flexible).ToArray()));
            if (flexible) r.SkipTaggedFields();
        }
        var reason = version >= 8 ? r.ReadNullableString(flexible) : null;
        if (flexible) r.SkipTaggedFields();
        return new JoinGroupRequest(group, session, rebalance, member, instance, type, protocols, reason);
    }

    public void Write(KafkaWriter w, short version)
    {
        var flexible = version >= 6;
        w.WriteString(GroupId, flexible);
        w.WriteInt32(SessionTimeoutMs);
        if (version >= 1) w.WriteInt32(RebalanceTimeoutMs);
        w.WriteString(MemberId, flexible);
        if (version >= 5) w.WriteNullableString(GroupInstanceId, flexible);
        w.WriteString(ProtocolType, flexible);
        w.WriteArrayLength(Protocols.Count, flexible);
        foreach (var p in Protocols)
        {
            w.WriteString(p.Name, flexible);
            w.WriteBytes(p.Metadata, flexible);
            if (flexible) w.WriteEmptyTaggedFields();
        }
        if (version >= 8) w.WriteNullableString(Reason, flexible);
        if (flexible) w.WriteEmptyTaggedFields();
    }
}

public sealed record JoinGroupResponseMember(string MemberId, string? GroupInstanceId, byte[] Metadata);

/// <summary>
/// JoinGroupResponse v0-9. <see cref="ProtocolName"/> is null on an error (written "" before v7, where it may not be
/// null); <see cref="ProtocolType"/> (the group's) is written from v7, <see cref="SkipAssignment"/> from v9.
/// </summary>
public sealed record JoinGroupResponse(
    ErrorCode Error, int GenerationId, string? ProtocolName, string Leader, string MemberId, IReadOnlyList<JoinGroupResponseMember> Members,
    string? ProtocolType = null, bool SkipAssignment = false)
{
    public void Write(KafkaWriter w, short version)
    {
        var flexible = version >= 6;
        if (version >= 2) w.WriteInt32(0);
        w.WriteInt16((short)Error);
        w.WriteInt32(GenerationId);
        if (version >= 7)
        {
            w.WriteNullableString(ProtocolType, flexible);
            w.WriteNullableString(ProtocolName, flexible);
        }
        else
        {
            w.WriteString(ProtocolName ?? "", flexible);
        }
        w.WriteString(Leader, flexible);
        if (version >= 9) w.WriteBoolean(SkipAssignment);
        w.WriteString(MemberId, flexible);
        w.WriteArrayLength(Members.Count, flexible);
        foreach (var m in Members)
        {
            w.WriteString(m.MemberId, flexible);
            if (version >= 5) w.WriteNullableString(m.GroupInstanceId, flexible);
            w.WriteBytes(m.Metadata, flexible);
            if (flexible) w.WriteEmptyTaggedFields();
        }
        if (flexible) w.WriteEmptyTaggedFields();
    }

    public static JoinGroupResponse Read(ref KafkaReader r, short version)
    {
        var flexible = version >= 6;
        if (version >= 2) r.ReadInt32();
        var error = (ErrorCode)r.ReadInt16();
        var generation = r.ReadInt32();
        var type = version >= 7 ? r.ReadNullableString(flexible) : null;
        var name = version >= 7 ? r.ReadNullableString(flexible) : r.ReadString(flexible);
        var leader = r.ReadString(flexible);
        var skip = version >= 9 && r.ReadBoolean();
        var memberId = r.ReadString(flexible);
        var count = Math.Max(r.ReadArrayLength(flexible), 0);
        var members = new List<JoinGroupResponseMember>(count);
        for (var i = 0; i < count; i++)
        {
            var id = r.ReadString(flexible);
            var instance = version >= 5 ? r.ReadNullableString(flexible) : null;
            members.Add(new JoinGroupResponseMember(id, instance, r.ReadBytes(flexible).ToArray()));
            if (flexible) r.SkipTaggedFields();
        }
        if (flexible) r.SkipTaggedFields();
        return new JoinGroupResponse(error, generation, name, leader, memberId, members, type, skip);
    }
}

public sealed record SyncGroupRequestAssignment(string MemberId, byte[] Assignment);

/// <summary>
/// SyncGroup v0-5 (v3: group instance id; v4 flexible; v5: the member's protocol type and name, KIP-559, which the
/// coordinator refuses with InconsistentGroupProtocol when they are not the group's).
/// </summary>
public sealed record SyncGroupRequest(
    string GroupId, int GenerationId, string MemberId, string? GroupInstanceId, IReadOnlyList<SyncGroupRequestAssignment> Assignments,
    string? ProtocolType = null, string? ProtocolName = null)
{
    public static SyncGroupRequest Read(ref KafkaReader r, short version)
    {
        var flexible = version >= 4;
        var group = r.ReadString(flexible);
        var generation = r.ReadInt32();
        var member = r.ReadString(flexible);
        var instance = version >= 3 ? r.ReadNullableString(flexible) : null;
        var type = version >= 5 ? r.ReadNullableString(flexible) : null;
        var name = version >= 5 ? r.ReadNullableString(flexible) : null;
        var count = Math.Max(r.ReadArrayLength(flexible), 0);
        var assignments = new List<SyncGroupRequestAssignment>(count);
        for (var i = 0; i < count; i++)
        {
            assignments.Add(new SyncGroupRequestAssignment(r.ReadString(flexible), r.ReadBytes(flexible).ToArray()));
            if (flexible) r.SkipTaggedFields();
        }
        if (flexible) r.SkipTaggedFields();
        return new SyncGroupRequest(group, generation, member, instance, assignments, type, name);
    }

    public void Write(KafkaWriter w, short version)
    {
        var flexible = version >= 4;
        w.WriteString(GroupId, flexible);
        w.WriteInt32(GenerationId);
        w.WriteString(MemberId, flexible);
        if (version >= 3) w.WriteNullableString(GroupInstanceId, flexible);
        if (version >= 5)
        {
            w.WriteNullableString(ProtocolType, flexible);
            w.WriteNullableString(ProtocolName, flexible);
        }
        w.WriteArrayLength(Assignments.Count, flexible);
        foreach (var a in Assignments)
        {
            w.WriteString(a.MemberId, flexible);
            w.WriteBytes(a.Assignment, flexible);
            if (flexible) w.WriteEmptyTaggedFields();
        }
        if (flexible) w.WriteEmptyTaggedFields();
    }
}

/// <summary>SyncGroupResponse v0-5: throttle time from v1, flexible from v4, the group's protocol type and name from v5 (null on an error).</summary>
public sealed record SyncGroupResponse(ErrorCode Error, byte[] Assignment, string? ProtocolType = null, string? ProtocolName = null)
{
    public void Write(KafkaWriter w, short version)
    {
        var flexible = version >= 4;
        if (version >= 1) w.WriteInt32(0);
        w.WriteInt16((short)Error);
        if (version >= 5)
        {
            w.WriteNullableString(ProtocolType, flexible);
            w.WriteNullableString(ProtocolName, flexible);
        }
        w.WriteBytes(Assignment, flexible);
        if (flexible) w.WriteEmptyTaggedFields();
    }

    public static SyncGroupResponse Read(ref KafkaReader r, short version)
    {
        var flexible = version >= 4;
        if (version >= 1) r.ReadInt32();
        var error = (ErrorCode)r.ReadInt16();
        var type = version >= 5 ? r.ReadNullableString(flexible) : null;
        var name = version >= 5 ? r.ReadNullableString(flexible) : null;
        var assignment = r.ReadBytes(flexible).ToArray();
        if (flexible) r.SkipTaggedFields();
        return new SyncGroupResponse(error, assignment, type, name);
    }
}

/// <summary>Heartbeat v0-4 (v3: group instance id; v4 flexible).</summary>
public sealed record HeartbeatRequest(string GroupId, int GenerationId, string MemberId, string? GroupInstanceId)
{
    public static HeartbeatRequest Read(ref KafkaReader r, short version)
    {
        var flexible = version >= 4;
        var request = new HeartbeatRequest(r.ReadString(flexible), r.ReadInt32(), r.ReadString(flexible), version >= 3 ? r.ReadNullableString(flexible) : null);
        if (flexible) r.SkipTaggedFields();
        return request;
    }

    public void Write(KafkaWriter w, short version)
    {
        var flexible = version >= 4;
        w.WriteString(GroupId, flexible);
        w.WriteInt32(GenerationId);
        w.WriteString(MemberId, flexible);
        if (version >= 3) w.WriteNullableString(GroupInstanceId, flexible);
        if (flexible) w.WriteEmptyTaggedFields();
    }
}

/// <summary>HeartbeatResponse v0-4: an error, throttle time from v1, flexible from v4.</summary>
public sealed record HeartbeatResponse(ErrorCode Error)
{
    public void Write(KafkaWriter w, short version)
    {
        if (version >= 1) w.WriteInt32(0);
        w.WriteInt16((short)Error);
        if (version >= 4) w.WriteEmptyTaggedFields();
    }

    public static HeartbeatResponse Read(ref KafkaReader r, short version)
    {
        if (version >= 1) r.ReadInt32();
        var response = new HeartbeatResponse((ErrorCode)r.ReadInt16());
        if (version >= 4) r.SkipTaggedFields();
        return response;
    }
}

/// <summary>A member leaving: its id, its group instance id if static (v3, KIP-345), and why (v5, KIP-800).</summary>
public sealed record LeaveGroupMember(string MemberId, string? GroupInstanceId, string? Reason = null);

/// <summary>LeaveGroup v0-5: one member (v0-2) or a batch of members (v3, KIP-345); v4 flexible; v5 a reason per member (KIP-800).</summary>
public sealed record LeaveGroupRequest(string GroupId, IReadOnlyList<LeaveGroupMember> Members)
{
    public static LeaveGroupRequest Read(ref KafkaReader r, short version)
    {
        var flexible = version >= 4;
        var group = r.ReadString(flexible);
        if (version < 3) return new LeaveGroupRequest(group, [new LeaveGroupMember(r.ReadString(false), null)]);
        var count = Math.Max(r.ReadArrayLength(flexible), 0);
        var members = new List<LeaveGroupMember>(count);
        for (var i = 0; i < count; i++)
        {
            var memberId = r.ReadString(flexible);
            var instance = r.ReadNullableString(flexible);
            members.Add(new LeaveGroupMember(memberId, instance, version >= 5 ? r.ReadNullableString(flexible) : null));
            if (flexible) r.SkipTaggedFields();
        }
        if (flexible) r.SkipTaggedFields();
        return new LeaveGroupRequest(group, members);
    }

    public void Write(KafkaWriter w, short version)
    {
        var flexible = version >= 4;
        w.WriteString(GroupId, flexible);
        if (version < 3)
        {
            w.WriteString(Members[0].MemberId, false);
            return;
        }
        w.WriteArrayLength(Members.Count, flexible);
        foreach (var m in Members)
        {
            w.WriteString(m.MemberId, flexible);
            w.WriteNullableString(m.GroupInstanceId, flexible);
            if (version >= 5) w.WriteNullableString(m.Reason, flexible);
            if (flexible) w.WriteEmptyTaggedFields();
        }
        if (flexible) w.WriteEmptyTaggedFields();
    }
}

/// <summary>LeaveGroupResponse v0-5: the request's error, throttle time from v1, each member's error from v3, flexible from v4.</summary>
public sealed record LeaveGroupResponse(ErrorCode Error, IReadOnlyList<(LeaveGroupMember Member, ErrorCode Error)> Members)
{
    public void Write(KafkaWriter w, short version)
    {
        var flexible = version >= 4;
        if (version >= 1) w.WriteInt32(0);
        w.WriteInt16((short)Error);
        if (version < 3) return;
        w.WriteArrayLength(Members.Count, flexible);
        foreach (var (member, error) in Members)
        {
            w.WriteString(member.MemberId, flexible);
            w.WriteNullableString(member.GroupInstanceId, flexible);
            w.WriteInt16((short)error);
            if (flexible) w.WriteEmptyTaggedFields();
        }
        if (flexible) w.WriteEmptyTaggedFields();
    }

    public static LeaveGroupResponse Read(ref KafkaReader r, short version)
    {
        var flexible = version >= 4;
        if (version >= 1) r.ReadInt32();
        var error = (ErrorCode)r.ReadInt16();
        if (version < 3) return new LeaveGroupResponse(error, []);
        var count = Math.Max(r.ReadArrayLength(flexible), 0);
        var members = new List<(LeaveGroupMember, ErrorCode)>(count);
        for (var i = 0; i < count; i++)
        {
            var memberId = r.ReadString(flexible);
            var instance = r.ReadNullableString(flexible);
            members.Add((new LeaveGroupMember(memberId, instance), (ErrorCode)r.ReadInt16()));
            if (flexible) r.SkipTaggedFields();
        }
        if (flexible) r.SkipTaggedFields();
        return new LeaveGroupResponse(error, members);
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
