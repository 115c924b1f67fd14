namespace OrleansStream.Protocol.Messages;

/// <summary>One partition's target: its new replicas (node ids, in order), or null to cancel its reassignment.</summary>
public sealed record ReassignablePartition(int PartitionIndex, int[]? Replicas);

public sealed record ReassignableTopic(string Name, ReassignablePartition[] Partitions);

/// <summary>AlterPartitionReassignmentsRequest v0 (Kafka's API 45, KIP-455; flexible from v0).</summary>
public sealed record AlterPartitionReassignmentsRequest(int TimeoutMs, ReassignableTopic[] Topics)
{
    public static AlterPartitionReassignmentsRequest Read(ref KafkaReader reader, short version)
    {
        var timeoutMs = reader.ReadInt32();
        var topics = reader.ReadTopics(version, static (ref KafkaReader r, short _) =>
        {
            var index = r.ReadInt32();
            var count = r.ReadArrayLength(flexible: true);
            int[]? replicas = null;
            if (count >= 0)
            {
                replicas = new int[count];
                for (var i = 0; i < count; i++) replicas[i] = r.ReadInt32();
            }
            return new ReassignablePartition(index, replicas);
        }, static (name, partitions) => new ReassignableTopic(name, partitions), flexible: true);
        reader.SkipTaggedFields();
        return new AlterPartitionReassignmentsRequest(timeoutMs, topics);
    }

    public void Write(KafkaWriter writer, short version)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteInt32(TimeoutMs);
        writer.WriteTopics(Topics, version, static t => t.Name, static t => t.Partitions, static (w, p, _) =>
        {
            w.WriteInt32(p.PartitionIndex);
            if (p.Replicas is null) w.WriteArrayLength(-1, flexible: true);
            else w.WriteInt32Array(p.Replicas, flexible: true);
        }, flexible: true);
        writer.WriteEmptyTaggedFields();
    }
}

public readonly record struct ReassignablePartitionResponse(int PartitionIndex, ErrorCode Error, string? ErrorMessage);

public sealed record ReassignableTopicResponse(string Name, ReassignablePartitionResponse[] Partitions);

/// <summary>AlterPartitionReassignmentsResponse v0: a top-level error (with message), then each partition's.</summary>
public sealed record AlterPartitionReassignmentsResponse(ErrorCode Error, string? ErrorMessage, ReassignableTopicResponse[] Responses)
{
    public void Write(KafkaWriter writer, short version)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteInt32(0);
        writer.WriteInt16((short)Error);
        writer.WriteErrorMessage(ErrorMessage, flexible: true);
        writer.WriteTopics(Responses, version, static t => t.Name, static t => t.Partitions, static (w, p, _) =>
        {
            w.WriteInt32(p.PartitionIndex);
            w.WriteInt16((short)p.Error);
            w.WriteErrorMessage(p.ErrorMessage, flexible: true);
        }, flexible: true);
        writer.WriteEmptyTaggedFields();
    }

    public static AlterPartitionReassignmentsResponse Read(ref KafkaReader reader, short version)
    {
        _ = reader.ReadInt32();
        var error = (ErrorCode)reader.ReadInt16();
        var message = reader.ReadNullableString(flexible: true);
        var topics = reader.ReadTopics(version, static (ref KafkaReader r, short _) =>
            new ReassignablePartitionResponse(r.ReadInt32(), (ErrorCode)r.ReadInt16(), r.ReadNullableString(flexible: true)),
            static (name, partitions) => new ReassignableTopicResponse(name, partitions), flexible: true);
        reader.SkipTaggedFields();
        return new AlterPartitionReassignmentsResponse(error, message, topics);
    }
}

/// <summary>ListPartitionReassignmentsRequest v0 (Kafka's API 46, flexible from v0); null topics: every partition.</summary>
public sealed record ListPartitionReassignmentsRequest(int TimeoutMs, TopicPartitions[]? Topics)
{
    public static ListPartitionReassignmentsRequest Read(ref KafkaReader reader, short version)
    {
        var timeoutMs = reader.ReadInt32();
        var topics = TopicPartitions.ReadNullableArray(ref reader, flexible: true);
        reader.SkipTaggedFields();
        return new ListPartitionReassignmentsRequest(timeoutMs, topics);
    }

    public void Write(KafkaWriter writer, short version)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteInt32(TimeoutMs);
        TopicPartitions.WriteNullableArray(writer, Topics, flexible: true);
        writer.WriteEmptyTaggedFields();
    }
}

/// <summary>A partition's reassignment in progress: its replicas, and those being added and removed (node ids).</summary>
public sealed record OngoingPartitionReassignment(int PartitionIndex, int[] Replicas, int[] AddingReplicas, int[] RemovingReplicas);

public sealed record OngoingTopicReassignment(string Name, OngoingPartitionReassignment[] Partitions);

/// <summary>ListPartitionReassignmentsResponse v0: a top-level error (with message), then the reassignments in progress.</summary>
public sealed record ListPartitionReassignmentsResponse(ErrorCode Error, string? ErrorMessage, OngoingTopicReassignment[] Topics)
{
    public void Write(KafkaWriter writer, short version)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteInt32(0);
        writer.WriteInt16((short)Error);
        writer.WriteErrorMessage(ErrorMessage, flexible: true);
        writer.WriteTopics(Topics, version, static t => t.Name, static t => t.Partitions, static (w, p, _) =>
        {
            w.WriteInt32(p.PartitionIndex);
            w.WriteInt32Array(p.Replicas, flexible: true);
            w.WriteInt32Array(p.AddingReplicas, flexible: true);
            w.WriteInt32Array(p.RemovingReplicas, flexible: true);
        }, flexible: true);
        writer.WriteEmptyTaggedFields();
    }

    public static ListPartitionReassignmentsResponse Read(ref KafkaReader reader, short version)
    {
        _ = reader.ReadInt32();
        var error = (ErrorCode)reader.ReadInt16();
        var message = reader.ReadNullableString(flexible: true);
        var topics = reader.ReadTopics(version, static (ref KafkaReader r, short _) =>
            new OngoingPartitionReassignment(r.ReadInt32(), r.ReadInt32Array(flexible: true), r.ReadInt32Array(flexible: true), r.ReadInt32Array(flexible: true)),
            static (name, partitions) => new OngoingTopicReassignment(name, partitions), flexible: true);
        reader.SkipTaggedFields();
        return new ListPartitionReassignmentsResponse(error, message, topics);
    }
}
