namespace OrleansStream.Server.ClientMetrics;

/// <summary>
/// Takes the metrics a client pushed (Kafka's <c>ClientTelemetryReceiver</c>): OpenTelemetry's <c>MetricsData</c>
/// protobuf, already decompressed. Called on the request path: a receiver must not block, and the bytes are valid
/// only during the call (copy what is kept). A receiver that throws fails the push with <c>InvalidRecord</c>.
/// </summary>
public interface IClientTelemetryReceiver
{
    void Export(in ClientTelemetryPayload payload);

    /// <summary>
    /// Whether this receiver takes clients' metrics somewhere (Kafka's configured <c>ClientTelemetry</c> reporter): the
    /// broker advertises GetTelemetrySubscriptions and PushTelemetry only while one does.
    /// </summary>
    bool ReceivesTelemetry => true;
}

/// <summary>One push: who pushed it, whether the client is closing, and its metrics (Kafka's <c>ClientTelemetryPayload</c>).</summary>
public readonly record struct ClientTelemetryPayload(ClientMetricsClient Client, bool Terminating, ReadOnlyMemory<byte> MetricsData);
