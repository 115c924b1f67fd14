namespace OrleansStream.Protocol;

/// <summary>
/// Kafka's request header: v1 (api key, version, correlation id, nullable client id) for the non-flexible versions,
/// v2 (the same plus tagged fields) for the flexible ones. The client id stays an int16-prefixed string in v2.
/// </summary>
public readonly record struct RequestHeader(ApiKey ApiKey, short ApiVersion, int CorrelationId, string? ClientId)
{
    /// <summary>Whether the request body (and the response) use the flexible encodings.</summary>
    public bool IsFlexible => ApiVersionsTable.IsFlexible(ApiKey, ApiVersion);

    public static RequestHeader Read(ref KafkaReader reader)
    {
        var key = (ApiKey)reader.ReadInt16();
        var version = reader.ReadInt16();
        var correlationId = reader.ReadInt32();
        var clientId = reader.ReadNullableString(flexible: false);
        var header = new RequestHeader(key, version, correlationId, clientId);
        if (header.IsFlexible) reader.SkipTaggedFields();
        return header;
    }

    public void Write(KafkaWriter writer)
    {
        writer.WriteInt16((short)ApiKey);
        writer.WriteInt16(ApiVersion);
        writer.WriteInt32(CorrelationId);
        writer.WriteNullableString(ClientId, flexible: false);
        if (IsFlexible) writer.WriteEmptyTaggedFields();
    }

    /// <summary>
    /// Starts the response frame: the size prefix (filled by <see cref="KafkaWriter.EndFrame"/>) and response header
    /// v0 (correlation id) or, for flexible versions, v1 (with tagged fields). ApiVersions always answers with v0, so
    /// a client that sent a version the broker does not know can still read the answer.
    /// </summary>
    public int BeginResponse(KafkaWriter writer)
    {
        var frame = writer.BeginFrame();
        writer.WriteInt32(CorrelationId);
        if (IsFlexible && ApiKey != ApiKey.ApiVersions) writer.WriteEmptyTaggedFields();
        return frame;
    }
}
