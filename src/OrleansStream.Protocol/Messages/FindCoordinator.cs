namespace OrleansStream.Protocol.Messages;

/// <summary>FindCoordinator v0-2: the coordinator of a group (key type 0) or a transactional id (1).</summary>
public sealed record FindCoordinatorRequest(string Key, sbyte KeyType)
{
    public const sbyte Group = 0;
    public const sbyte Transaction = 1;

    public static FindCoordinatorRequest Read(ref KafkaReader reader, short version) =>
        new(reader.ReadString(false), version >= 1 ? reader.ReadInt8() : Group);

    public void Write(KafkaWriter writer, short version)
    {
        writer.WriteString(Key, false);
        if (version >= 1) writer.WriteInt8(KeyType);
    }
}

public sealed record FindCoordinatorResponse(ErrorCode Error, string? ErrorMessage, int NodeId, string Host, int Port)
{
    public void Write(KafkaWriter writer, short version)
    {
        if (version >= 1) writer.WriteInt32(0);
        writer.WriteInt16((short)Error);
        if (version >= 1) writer.WriteErrorMessage(ErrorMessage, false);
        writer.WriteInt32(NodeId);
        writer.WriteString(Host, false);
        writer.WriteInt32(Port);
    }
}
