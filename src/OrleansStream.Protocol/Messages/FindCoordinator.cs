namespace OrleansStream.Protocol.Messages;

/// <summary>
/// FindCoordinator v0-6: the coordinator of a group (key type 0), a transactional id (1) or a share group (2, v6,
/// KIP-932). v0-3 ask for one <see cref="Key"/>; v3 is flexible; v4 (KIP-699) asks for several
/// <see cref="CoordinatorKeys"/> of one type at once; v5 (KIP-890) and v6 change no field.
/// </summary>
public sealed record FindCoordinatorRequest(string Key, sbyte KeyType, IReadOnlyList<string>? CoordinatorKeys = null)
{
    public const sbyte Group = 0;
    public const sbyte Transaction = 1;
    public const sbyte Share = 2;

    /// <summary>The first version that asks for a batch of keys.</summary>
    public const short FirstBatchedVersion = 4;

    /// <summary>The keys asked: <see cref="CoordinatorKeys"/> from v4, else <see cref="Key"/> alone.</summary>
    public IReadOnlyList<string> Keys => CoordinatorKeys ?? [Key];

    public static FindCoordinatorRequest Read(ref KafkaReader reader, short version)
    {
        var flexible = version >= 3;
        var key = version < FirstBatchedVersion ? reader.ReadString(flexible) : "";
        var keyType = version >= 1 ? reader.ReadInt8() : Group;
        string[]? keys = null;
        if (version >= FirstBatchedVersion)
        {
            keys = new string[Math.Max(reader.ReadArrayLength(flexible), 0)];
            for (var i = 0; i < keys.Length; i++) keys[i] = reader.ReadString(flexible);
        }
        if (flexible) reader.SkipTaggedFields();
        return new FindCoordinatorRequest(key, keyType, keys);
    }

    public void Write(KafkaWriter writer, short version)
    {
        var flexible = version >= 3;
        if (version < FirstBatchedVersion)
        {
            if (CoordinatorKeys is { Count: not 1 })
                throw new ArgumentException($"FindCoordinator v{version} asks for one key, not {CoordinatorKeys.Count}", nameof(version));
            writer.WriteString(CoordinatorKeys?[0] ?? Key, flexible);
        }
        if (version >= 1) writer.WriteInt8(KeyType);
        if (version >= FirstBatchedVersion)
        {
            var keys = Keys;
            writer.WriteArrayLength(keys.Count, flexible);
            foreach (var k in keys) writer.WriteString(k, flexible);
        }
        if (flexible) writer.WriteEmptyTaggedFields();
    }
}

/// <summary>One key's coordinator, or why there is none (node -1, host "", port -1).</summary>
public sealed record FindCoordinatorResult(string Key, ErrorCode Error, string? ErrorMessage, int NodeId, string Host, int Port);

/// <summary>FindCoordinatorResponse v0-6: one coordinator up to v3 (throttle time and message from v1), a list from v4, each with its key.</summary>
public sealed record FindCoordinatorResponse(IReadOnlyList<FindCoordinatorResult> Coordinators)
{
    public void Write(KafkaWriter writer, short version)
    {
        var flexible = version >= 3;
        if (version >= 1) writer.WriteInt32(0);
        if (version < FindCoordinatorRequest.FirstBatchedVersion)
        {
            if (Coordinators.Count != 1) throw new ArgumentException($"FindCoordinator v{version} answers one key, not {Coordinators.Count}", nameof(version));
            var c = Coordinators[0];
            writer.WriteInt16((short)c.Error);
            if (version >= 1) writer.WriteErrorMessage(c.ErrorMessage, flexible);
            writer.WriteInt32(c.NodeId);
            writer.WriteString(c.Host, flexible);
            writer.WriteInt32(c.Port);
        }
        else
        {
            writer.WriteArrayLength(Coordinators.Count, flexible);
            foreach (var c in Coordinators)
            {
                writer.WriteString(c.Key, flexible);
                writer.WriteInt32(c.NodeId);
                writer.WriteString(c.Host, flexible);
                writer.WriteInt32(c.Port);
                writer.WriteInt16((short)c.Error);
                writer.WriteErrorMessage(c.ErrorMessage, flexible);
                writer.WriteEmptyTaggedFields();
            }
        }
        if (flexible) writer.WriteEmptyTaggedFields();
    }

    /// <summary>Reads a response; before v4 the one coordinator's key is <paramref name="key"/>, which the answer does not repeat.</summary>
    public static FindCoordinatorResponse Read(ref KafkaReader reader, short version, string key = "")
    {
        var flexible = version >= 3;
        if (version >= 1) reader.ReadInt32();
        FindCoordinatorResult[] coordinators;
        if (version < FindCoordinatorRequest.FirstBatchedVersion)
        {
            var error = (ErrorCode)reader.ReadInt16();
            var message = version >= 1 ? reader.ReadNullableString(flexible) : null;
            coordinators = [new FindCoordinatorResult(key, error, message, reader.ReadInt32(), reader.ReadString(flexible), reader.ReadInt32())];
        }
        else
        {
            coordinators = new FindCoordinatorResult[Math.Max(reader.ReadArrayLength(flexible), 0)];
            for (var i = 0; i < coordinators.Length; i++)
            {
                var k = reader.ReadString(flexible);
                var nodeId = reader.ReadInt32();
                var host = reader.ReadString(flexible);
                var port = reader.ReadInt32();
                var error = (ErrorCode)reader.ReadInt16();
                coordinators[i] = new FindCoordinatorResult(k, error, reader.ReadNullableString(flexible), nodeId, host, port);
                reader.SkipTaggedFields();
            }
        }
        if (flexible) reader.SkipTaggedFields();
        return new FindCoordinatorResponse(coordinators);
    }
}
