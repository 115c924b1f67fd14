using OrleansStream.Protocol;
using OrleansStream.Server.ClientMetrics;

namespace OrleansStream.Server.Kafka;

/// <summary>
/// Kafka's <c>ApiVersionManager</c>: the APIs and versions this broker advertises in ApiVersions and serves: <see cref="ApiVersionsTable.Advertised"/>,
/// less KIP-714's GetTelemetrySubscriptions and PushTelemetry while no telemetry receiver is configured (Kafka's
/// <c>ApiVersionsResponse</c> leaves them out then, so that clients neither ask for subscriptions nor push metrics
/// nobody takes). A request for an API this broker does not advertise closes its connection, as one for a version it
/// does not know does.
/// </summary>
public sealed class ApiVersionManager
{
    public ApiVersionManager(ClientMetricsManager telemetry)
    {
        ArgumentNullException.ThrowIfNull(telemetry);
        TelemetryEnabled = telemetry.IsTelemetryReceiverConfigured;
        var apis = new List<SupportedApi>(ApiVersionsTable.Advertised.Length);
        foreach (var api in ApiVersionsTable.Advertised)
            if (IsAdvertised(api.Key)) apis.Add(api);
        Apis = apis;
    }

    /// <summary>Whether clients are told to ask for telemetry subscriptions and push (Kafka's <c>clientTelemetryEnabled</c>).</summary>
    public bool TelemetryEnabled { get; }

    public IReadOnlyList<SupportedApi> Apis { get; }

    public bool IsSupported(ApiKey key, short version) => IsAdvertised(key) && ApiVersionsTable.IsSupported(key, version);

    private bool IsAdvertised(ApiKey key) => TelemetryEnabled || key is not (ApiKey.GetTelemetrySubscriptions or ApiKey.PushTelemetry);
}
