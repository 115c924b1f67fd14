namespace OrleansStream.Protocol.Messages;

/// <summary>A topic and some of its partitions, as the consumer protocol lists them.</summary>
public sealed record TopicPartitions(string Topic, int[] Partitions)
{
    /// <summary>
    /// Kafka's nullable array of topics each with its partition indexes, in requests that name partitions or, null,
    /// every partition (OffsetFetch, ElectLeaders, DescribeLogDirs); a flexible version ends each topic with tagged fields.
    /// </summary>
    public static TopicPartitions[]? ReadNullableArray(ref KafkaReader reader, bool flexible)
    {
        var count = reader.ReadArrayLength(flexible);
        if (count < 0) return null;
        var topics = new TopicPartitions[count];
        for (var i = 0; i < count; i++)
        {
            topics[i] = new TopicPartitions(reader.ReadString(flexible), reader.ReadInt32Array(flexible));
            if (flexible) reader.SkipTaggedFields();
        }
        return topics;
    }

    public static void WriteNullableArray(KafkaWriter writer, IReadOnlyList<TopicPartitions>? topics, bool flexible)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteArrayLength(topics?.Count ?? -1, flexible);
        foreach (var t in topics ?? [])
        {
            writer.WriteString(t.Topic, flexible);
            writer.WriteInt32Array(t.Partitions, flexible);
            if (flexible) writer.WriteEmptyTaggedFields();
        }
    }
}

/// <summary>
/// Kafka's ConsumerProtocolSubscription (v0-3), the metadata bytes of a JoinGroup protocol of type "consumer":
/// topics and user data (v0), owned partitions (v1+), generation (v2+), rack (v3+).
/// </summary>
public sealed record ConsumerSubscription(IReadOnlyList<string> Topics, byte[]? UserData, IReadOnlyList<TopicPartitions> OwnedPartitions, int GenerationId, string? RackId)
{
    public static ConsumerSubscription Read(ReadOnlySpan<byte> bytes)
    {
        var r = new KafkaReader(bytes);
        var version = r.ReadInt16();
        if (version < 0) throw new KafkaProtocolException($"ConsumerProtocolSubscription version {version}.");
        var count = Math.Max(r.ReadArrayLength(false), 0);
        var topics = new List<string>(count);
        for (var i = 0; i < count; i++) topics.Add(r.ReadString(false));
        var userData = ReadUserData(ref r);
        IReadOnlyList<TopicPartitions> owned = version >= 1 ? ReadTopicPartitions(ref r) : [];
        var generation = version >= 2 ? r.ReadInt32() : -1;
        var rack = version >= 3 ? r.ReadNullableString(false) : null;
        return new ConsumerSubscription(topics, userData, owned, generation, rack);
    }

    /// <summary>Writes v2 (v1 when there is no generation): every client reads versions it does not know by their prefix.</summary>
    public byte[] ToBytes()
    {
        using var w = new KafkaWriter(256);
        var version = (short)(GenerationId >= 0 ? 2 : 1);
        w.WriteInt16(version);
        w.WriteArrayLength(Topics.Count, false);
        foreach (var t in Topics) w.WriteString(t, false);
        WriteUserData(w, UserData);
        WriteTopicPartitions(w, OwnedPartitions);
        if (version >= 2) w.WriteInt32(GenerationId);
        return w.WrittenSpan.ToArray();
    }

    internal static byte[]? ReadUserData(ref KafkaReader r)
    {
        if (r.Remaining == 0) return null;
        var (start, length) = r.ReadNullableBytesRange(false);
        return length < 0 ? null : r.Slice(start, length).ToArray();
    }

    internal static void WriteUserData(KafkaWriter w, byte[]? userData)
    {
        if (userData is null) w.WriteNullBytes(false);
        else w.WriteBytes(userData, false);
    }

    internal static List<TopicPartitions> ReadTopicPartitions(ref KafkaReader r)
    {
        var count = Math.Max(r.ReadArrayLength(false), 0);
        var list = new List<TopicPartitions>(count);
        for (var i = 0; i < count; i++) list.Add(new TopicPartitions(r.ReadString(false), r.ReadInt32Array(false)));
        return list;
    }

    internal static void WriteTopicPartitions(KafkaWriter w, IReadOnlyList<TopicPartitions> list)
    {
        w.WriteArrayLength(list.Count, false);
        foreach (var tp in list)
        {
            w.WriteString(tp.Topic, false);
            w.WriteInt32Array(tp.Partitions, false);
        }
    }
}

/// <summary>Kafka's ConsumerProtocolAssignment (v0-3, one layout): the partitions a member gets and user data.</summary>
public sealed record ConsumerAssignment(IReadOnlyList<TopicPartitions> Partitions, byte[]? UserData)
{
    public static ConsumerAssignment Read(ReadOnlySpan<byte> bytes)
    {
        var r = new KafkaReader(bytes);
        var version = r.ReadInt16();
        if (version < 0) throw new KafkaProtocolException($"ConsumerProtocolAssignment version {version}.");
        var partitions = ConsumerSubscription.ReadTopicPartitions(ref r);
        return new ConsumerAssignment(partitions, ConsumerSubscription.ReadUserData(ref r));
    }

    public byte[] ToBytes()
    {
        using var w = new KafkaWriter(256);
        w.WriteInt16(0);
        ConsumerSubscription.WriteTopicPartitions(w, Partitions);
        ConsumerSubscription.WriteUserData(w, UserData);
        return w.WrittenSpan.ToArray();
    }
}
