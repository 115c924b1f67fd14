namespace OrleansStream.Protocol.Messages;

/// <summary>
/// GetTelemetrySubscriptionsRequest v0 (Kafka's API 71, KIP-714; flexible from v0): the client's instance id, the zero
/// id on its first request (the broker then gives it one).
/// </summary>
public sealed record GetTelemetrySubscriptionsRequest(Guid ClientInstanceId)
{
    public static GetTelemetrySubscriptionsRequest Read(ref KafkaReader reader, short version)
    {
        var id = reader.ReadUuid();
        reader.SkipTaggedFields();
        return new GetTelemetrySubscriptionsRequest(id);
    }

    public void Write(KafkaWriter writer, short version)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteUuid(ClientInstanceId);
        writer.WriteEmptyTaggedFields();
    }
}

/// <summary>
/// GetTelemetrySubscriptionsResponse v0: the client's instance id, its subscription id, the compression types a push may
/// use (Kafka's codec ids), the push interval, the largest metrics payload, delta temporality, and the metric name
/// prefixes requested (none: the client pushes nothing; <c>*</c>: every metric).
/// </summary>
public sealed record GetTelemetrySubscriptionsResponse(
    ErrorCode Error,
    Guid ClientInstanceId,
    int SubscriptionId,
    IReadOnlyList<sbyte> AcceptedCompressionTypes,
    int PushIntervalMs,
    int TelemetryMaxBytes,
    bool DeltaTemporality,
    IReadOnlyList<string> RequestedMetrics)
{
    /// <summary>An error answer: every other field zero or empty, as Kafka's <c>getErrorResponse</c> leaves them.</summary>
    public static GetTelemetrySubscriptionsResponse Failed(ErrorCode error) => new(error, Guid.Empty, 0, [], 0, 0, false, []);

    public void Write(KafkaWriter writer, short version)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteInt32(0);
        writer.WriteInt16((short)Error);
        writer.WriteUuid(ClientInstanceId);
        writer.WriteInt32(SubscriptionId);
        writer.WriteArrayLength(AcceptedCompressionTypes.Count, flexible: true);
        foreach (var type in AcceptedCompressionTypes) writer.WriteInt8(type);
        writer.WriteInt32(PushIntervalMs);
        writer.WriteInt32(TelemetryMaxBytes);
        writer.WriteBoolean(DeltaTemporality);
        writer.WriteArrayLength(RequestedMetrics.Count, flexible: true);
        foreach (var metric in RequestedMetrics) writer.WriteString(metric, flexible: true);
        writer.WriteEmptyTaggedFields();
    }

    public static GetTelemetrySubscriptionsResponse Read(ref KafkaReader reader, short version)
    {
        _ = reader.ReadInt32();
        var error = (ErrorCode)reader.ReadInt16();
        var id = reader.ReadUuid();
        var subscriptionId = reader.ReadInt32();
        var types = new sbyte[Math.Max(reader.ReadArrayLength(flexible: true), 0)];
        for (var i = 0; i < types.Length; i++) types[i] = reader.ReadInt8();
        var interval = reader.ReadInt32();
        var maxBytes = reader.ReadInt32();
        var delta = reader.ReadBoolean();
        var metrics = new string[Math.Max(reader.ReadArrayLength(flexible: true), 0)];
        for (var i = 0; i < metrics.Length; i++) metrics[i] = reader.ReadString(flexible: true);
        reader.SkipTaggedFields();
        return new GetTelemetrySubscriptionsResponse(error, id, subscriptionId, types, interval, maxBytes, delta, metrics);
    }
}

/// <summary>
/// PushTelemetryRequest v0 (Kafka's API 72, KIP-714; flexible from v0): the client's metrics, OpenTelemetry's
/// <c>MetricsData</c> protobuf compressed with <see cref="CompressionType"/> (a codec id of the record batch attributes).
/// </summary>
public sealed record PushTelemetryRequest(Guid ClientInstanceId, int SubscriptionId, bool Terminating, sbyte CompressionType, ReadOnlyMemory<byte> Metrics)
{
    public static PushTelemetryRequest Read(ref KafkaReader reader, short version)
    {
        var id = reader.ReadUuid();
        var subscriptionId = reader.ReadInt32();
        var terminating = reader.ReadBoolean();
        var compression = reader.ReadInt8();
        var metrics = reader.ReadBytes(flexible: true).ToArray();
        reader.SkipTaggedFields();
        return new PushTelemetryRequest(id, subscriptionId, terminating, compression, metrics);
    }

    public void Write(KafkaWriter writer, short version)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteUuid(ClientInstanceId);
        writer.WriteInt32(SubscriptionId);
        writer.WriteBoolean(Terminating);
        writer.WriteInt8(CompressionType);
        writer.WriteBytes(Metrics.Span, flexible: true);
        writer.WriteEmptyTaggedFields();
    }
}

/// <summary>PushTelemetryResponse v0: throttle time and an error code.</summary>
public sealed record PushTelemetryResponse(ErrorCode Error)
{
    public void Write(KafkaWriter writer, short version)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteInt32(0);
        writer.WriteInt16((short)Error);
        writer.WriteEmptyTaggedFields();
    }

    public static PushTelemetryResponse Read(ref KafkaReader reader, short version)
    {
        _ = reader.ReadInt32();
        var error = (ErrorCode)reader.ReadInt16();
        reader.SkipTaggedFields();
        return new PushTelemetryResponse(error);
    }
}

/// <summary>ListClientMetricsResourcesRequest v0 (Kafka's API 74, KIP-714; flexible from v0): no fields.</summary>
public sealed record ListClientMetricsResourcesRequest
{
    public static ListClientMetricsResourcesRequest Read(ref KafkaReader reader, short version)
    {
        reader.SkipTaggedFields();
        return new ListClientMetricsResourcesRequest();
    }

    public void Write(KafkaWriter writer, short version)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteEmptyTaggedFields();
    }
}

/// <summary>ListClientMetricsResourcesResponse v0: an error, and the names of the client metrics subscriptions.</summary>
public sealed record ListClientMetricsResourcesResponse(ErrorCode Error, IReadOnlyList<string> Names)
{
    public void Write(KafkaWriter writer, short version)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteInt32(0);
        writer.WriteInt16((short)Error);
        writer.WriteArrayLength(Names.Count, flexible: true);
        foreach (var name in Names)
        {
            writer.WriteString(name, flexible: true);
            writer.WriteEmptyTaggedFields();
        }
        writer.WriteEmptyTaggedFields();
    }

    public static ListClientMetricsResourcesResponse Read(ref KafkaReader reader, short version)
    {
        _ = reader.ReadInt32();
        var error = (ErrorCode)reader.ReadInt16();
        var names = new string[Math.Max(reader.ReadArrayLength(flexible: true), 0)];
        for (var i = 0; i < names.Length; i++)
        {
            names[i] = reader.ReadString(flexible: true);
            reader.SkipTaggedFields();
        }
        reader.SkipTaggedFields();
        return new ListClientMetricsResourcesResponse(error, names);
    }
}
