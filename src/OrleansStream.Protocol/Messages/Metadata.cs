namespace OrleansStream.Protocol.Messages;

/// <summary>
/// One topic of a Metadata request: by name, or from v12 by id (KIP-516). From v10 both fields are on the wire; a
/// client asking by name sends the zero id, one asking by id (v12) a null name.
/// </summary>
public readonly record struct MetadataRequestTopic(Guid TopicId, string? Name)
{
    public static implicit operator MetadataRequestTopic(string name) => new(Guid.Empty, name);
}

/// <summary>
/// MetadataRequest v0-13 (v9+ flexible; v13 is v12's layout). <see cref="Topics"/> null asks for every topic (v0 says so with an empty array).
/// Before v4 a request may always create the topics it names (Kafka's rule for old clients).
/// </summary>
public sealed record MetadataRequest(IReadOnlyList<MetadataRequestTopic>? Topics, bool AllowAutoTopicCreation)
{
    /// <summary>v8-10: whether the answer carries the cluster's authorized operations.</summary>
    public bool IncludeClusterAuthorizedOperations { get; init; }

    /// <summary>v8+: whether each topic of the answer carries its authorized operations.</summary>
    public bool IncludeTopicAuthorizedOperations { get; init; }

    public static MetadataRequest Read(ref KafkaReader reader, short version)
    {
        var flexible = version >= 9;
        var count = reader.ReadArrayLength(flexible);
        List<MetadataRequestTopic>? topics = null;
        if (count >= 0)
        {
            topics = new List<MetadataRequestTopic>(count);
            for (var i = 0; i < count; i++)
            {
                var id = version >= 10 ? reader.ReadUuid() : Guid.Empty;
                var name = version >= 10 ? reader.ReadNullableString(flexible) : reader.ReadString(flexible);
                topics.Add(new MetadataRequestTopic(id, name));
                if (flexible) reader.SkipTaggedFields();
            }
        }
        if (version == 0 && topics is { Count: 0 }) topics = null;
        var allow = version < 4 || reader.ReadBoolean();
        var includeCluster = version is >= 8 and <= 10 && reader.ReadBoolean();
        var includeTopics = version >= 8 && reader.ReadBoolean();
        if (flexible) reader.SkipTaggedFields();
        return new MetadataRequest(topics, allow) { IncludeClusterAuthorizedOperations = includeCluster, IncludeTopicAuthorizedOperations = includeTopics };
    }

    public void Write(KafkaWriter writer, short version)
    {
        var flexible = version >= 9;
        if (Topics is null) writer.WriteArrayLength(version == 0 ? 0 : -1, flexible);
        else
        {
            writer.WriteArrayLength(Topics.Count, flexible);
            foreach (var t in Topics)
            {
                if (version >= 10)
                {
                    writer.WriteUuid(t.TopicId);
                    writer.WriteNullableString(t.Name, flexible);
                }
                else writer.WriteString(t.Name ?? "", flexible);
                if (flexible) writer.WriteEmptyTaggedFields();
            }
        }
        if (version >= 4) writer.WriteBoolean(AllowAutoTopicCreation);
        if (version is >= 8 and <= 10) writer.WriteBoolean(IncludeClusterAuthorizedOperations);
        if (version >= 8) writer.WriteBoolean(IncludeTopicAuthorizedOperations);
        if (flexible) writer.WriteEmptyTaggedFields();
    }
}

public sealed record MetadataBroker(int NodeId, string Host, int Port, string? Rack);

public sealed record MetadataPartition(
    ErrorCode Error, int PartitionIndex, int LeaderId, int LeaderEpoch, int[] ReplicaNodes, int[] IsrNodes, int[] OfflineReplicas);

/// <summary>
/// A topic of the answer: <see cref="Name"/> is null only for an id no topic has (v12), <see cref="TopicId"/> zero for a
/// name with none. <see cref="AuthorizedOperations"/> is Kafka's bit field, <see cref="int.MinValue"/> when not asked.
/// </summary>
public sealed record MetadataTopic(ErrorCode Error, string? Name, bool IsInternal, IReadOnlyList<MetadataPartition> Partitions, Guid TopicId = default,
    int AuthorizedOperations = int.MinValue);

/// <summary>
/// MetadataResponse v0-13 (v9+ flexible; v10 adds topic ids, v11 drops the cluster's authorized operations, v12 lets a
/// topic's name be null, v13 adds a top-level error, KIP-1102). librdkafka takes the partitions' leader epochs (v7+) as reliable only from v9 on, and
/// without them does no KIP-320 validation after a leader change.
/// </summary>
public sealed record MetadataResponse(
    IReadOnlyList<MetadataBroker> Brokers, string? ClusterId, int ControllerId, IReadOnlyList<MetadataTopic> Topics,
    int ClusterAuthorizedOperations = int.MinValue)
{
    public void Write(KafkaWriter writer, short version)
    {
        var flexible = version >= 9;
        if (version >= 3) writer.WriteInt32(0);
        writer.WriteArrayLength(Brokers.Count, flexible);
        foreach (var b in Brokers)
        {
            writer.WriteInt32(b.NodeId);
            writer.WriteString(b.Host, flexible);
            writer.WriteInt32(b.Port);
            if (version >= 1) writer.WriteNullableString(b.Rack, flexible);
            if (flexible) writer.WriteEmptyTaggedFields();
        }
        if (version >= 2) writer.WriteNullableString(ClusterId, flexible);
        if (version >= 1) writer.WriteInt32(ControllerId);
        writer.WriteArrayLength(Topics.Count, flexible);
        foreach (var t in Topics)
        {
            writer.WriteInt16((short)t.Error);
            if (version >= 12) writer.WriteNullableString(t.Name, flexible);
            else writer.WriteString(t.Name ?? "", flexible);
            if (version >= 10) writer.WriteUuid(t.TopicId);
            if (version >= 1) writer.WriteBoolean(t.IsInternal);
            writer.WriteArrayLength(t.Partitions.Count, flexible);
            foreach (var p in t.Partitions)
            {
                writer.WriteInt16((short)p.Error);
                writer.WriteInt32(p.PartitionIndex);
                writer.WriteInt32(p.LeaderId);
                if (version >= 7) writer.WriteInt32(p.LeaderEpoch);
                writer.WriteInt32Array(p.ReplicaNodes, flexible);
                writer.WriteInt32Array(p.IsrNodes, flexible);
                if (version >= 5) writer.WriteInt32Array(p.OfflineReplicas, flexible);
                if (flexible) writer.WriteEmptyTaggedFields();
            }
            if (version >= 8) writer.WriteInt32(t.AuthorizedOperations);
            if (flexible) writer.WriteEmptyTaggedFields();
        }
        if (version is >= 8 and <= 10) writer.WriteInt32(ClusterAuthorizedOperations);
        // KIP-1102's top-level error is REBOOTSTRAP_REQUIRED, for a broker that knows the client's view of the cluster
        // is gone; a Kafka 4 broker answers none, and neither does this one.
        if (version >= 13) writer.WriteInt16((short)ErrorCode.None);
        if (flexible) writer.WriteEmptyTaggedFields();
    }
}

/// <summary>
/// DescribeCluster v0-2 (flexible; Kafka's API 60, KIP-700): the brokers, the controller and the cluster id. v1 (KIP-919)
/// names the endpoint type to describe: <see cref="Brokers"/> (1, v0's only kind) or <see cref="Controllers"/> (2).
/// v2 (KIP-1073) may ask for the fenced brokers too.
/// </summary>
public sealed record DescribeClusterRequest(bool IncludeClusterAuthorizedOperations, sbyte EndpointType = DescribeClusterRequest.Brokers,
    bool IncludeFencedBrokers = false)
{
    public const sbyte Brokers = 1;
    public const sbyte Controllers = 2;

    public static DescribeClusterRequest Read(ref KafkaReader r, short version)
    {
        var include = r.ReadBoolean();
        var endpointType = version >= 1 ? r.ReadInt8() : Brokers;
        var includeFenced = version >= 2 && r.ReadBoolean();
        r.SkipTaggedFields();
        return new DescribeClusterRequest(include, endpointType, includeFenced);
    }

    public void Write(KafkaWriter w, short version)
    {
        w.WriteBoolean(IncludeClusterAuthorizedOperations);
        if (version >= 1) w.WriteInt8(EndpointType);
        if (version >= 2) w.WriteBoolean(IncludeFencedBrokers);
        w.WriteEmptyTaggedFields();
    }
}

/// <summary>
/// DescribeCluster's answer; v1 repeats the endpoint type described, and v2 (KIP-1073) says of each broker whether it
/// is fenced: never, since only live brokers are listed (the handler says why). <see cref="ClusterAuthorizedOperations"/>
/// is Kafka's bit field of ACL operation codes, <see cref="int.MinValue"/> when not asked for.
/// </summary>
public sealed record DescribeClusterResponse(
    ErrorCode Error, string? ErrorMessage, string ClusterId, int ControllerId, IReadOnlyList<MetadataBroker> Brokers, int ClusterAuthorizedOperations,
    sbyte EndpointType = DescribeClusterRequest.Brokers)
{
    public void Write(KafkaWriter w, short version)
    {
        w.WriteInt32(0);
        w.WriteInt16((short)Error);
        w.WriteErrorMessage(ErrorMessage, true);
        if (version >= 1) w.WriteInt8(EndpointType);
        w.WriteString(ClusterId, true);
        w.WriteInt32(ControllerId);
        w.WriteArrayLength(Brokers.Count, true);
        foreach (var b in Brokers)
        {
            w.WriteInt32(b.NodeId);
            w.WriteString(b.Host, true);
            w.WriteInt32(b.Port);
            w.WriteNullableString(b.Rack, true);
            if (version >= 2) w.WriteBoolean(false);
            w.WriteEmptyTaggedFields();
        }
        w.WriteInt32(ClusterAuthorizedOperations);
        w.WriteEmptyTaggedFields();
    }
}
