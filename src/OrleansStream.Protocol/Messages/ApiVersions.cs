namespace OrleansStream.Protocol.Messages;

/// <summary>ApiVersionsRequest v0-4; v3 (flexible) names the client software, v4 is v3 (KAFKA-17011 changed the answer only).</summary>
public sealed record ApiVersionsRequest(string? ClientSoftwareName, string? ClientSoftwareVersion)
{
    public static ApiVersionsRequest Read(ref KafkaReader reader, short version)
    {
        if (version < 3) return new ApiVersionsRequest(null, null);
        var name = reader.ReadString(flexible: true);
        var softwareVersion = reader.ReadString(flexible: true);
        reader.SkipTaggedFields();
        return new ApiVersionsRequest(name, softwareVersion);
    }

    public void Write(KafkaWriter writer, short version)
    {
        if (version < 3) return;
        writer.WriteString(ClientSoftwareName ?? "", flexible: true);
        writer.WriteString(ClientSoftwareVersion ?? "", flexible: true);
        writer.WriteEmptyTaggedFields();
    }
}

/// <summary>
/// ApiVersionsResponse v0-4: the error, the supported APIs and (v1+) the throttle time. An unsupported request version
/// is answered in the v0 layout with UnsupportedVersion and the list, so the client can pick a version it shares. No
/// features are answered (Kafka's tagged SupportedFeatures and FinalizedFeatures are left out, so a client sees no
/// <c>transaction.version</c> and stays on transactions v1); v4 lets a supported feature's min version be 0
/// (KAFKA-17011), which changes nothing without features, so v4 is written as v3.
/// </summary>
public static class ApiVersionsResponse
{
    public static void Write(KafkaWriter writer, short version, ErrorCode error, IReadOnlyList<SupportedApi> apis)
    {
        var flexible = version >= 3;
        writer.WriteInt16((short)error);
        writer.WriteArrayLength(apis.Count, flexible);
        foreach (var api in apis)
        {
            writer.WriteInt16((short)api.Key);
            writer.WriteInt16(api.MinVersion);
            writer.WriteInt16(api.MaxVersion);
            if (flexible) writer.WriteEmptyTaggedFields();
        }
        if (version >= 1) writer.WriteInt32(0);
        if (flexible) writer.WriteEmptyTaggedFields();
    }
}
