using Microsoft.Extensions.Options;

namespace OrleansStream.Server.ClientMetrics;

/// <summary>
/// Client telemetry (KIP-714), the <c>OrleansStream:ClientMetrics</c> section: the subscriptions that ask matching
/// clients to push their metrics, the largest push, and where pushed metrics go besides the broker's own counters.
/// </summary>
public sealed class ClientMetricsOptions
{
    public const string SectionName = "OrleansStream:ClientMetrics";

    /// <summary>
    /// Kafka's client metrics resources (<c>kafka-client-metrics.sh --alter --name NAME</c>) by name: each names the
    /// metrics it asks for, how often, and of which clients. None: no client pushes.
    /// </summary>
    public Dictionary<string, ClientMetricsSubscriptionOptions> Subscriptions { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Kafka's <c>telemetry.max.bytes</c>: the largest (compressed) metrics payload a push may carry.</summary>
    public int TelemetryMaxBytes { get; set; } = 1_048_576;

    /// <summary>
    /// An OTLP/HTTP collector (<c>http://collector:4318</c>): each push's metrics are posted to <c>{url}/v1/metrics</c>
    /// as <c>application/x-protobuf</c>, off the request path. Empty: pushes are only counted.
    /// </summary>
    public string? OtlpEndpoint { get; set; }

    /// <summary>Pushes waiting to be posted to <see cref="OtlpEndpoint"/>; one that finds the queue full is dropped and counted.</summary>
    public int OtlpQueueCapacity { get; set; } = 1000;

    /// <summary>How long one post to <see cref="OtlpEndpoint"/> may take before it is given up and counted as failed.</summary>
    public int OtlpTimeoutMs { get; set; } = 10_000;
}

/// <summary>One subscription: Kafka's client metrics configs <c>metrics</c>, <c>interval.ms</c> and <c>match</c>.</summary>
public sealed class ClientMetricsSubscriptionOptions
{
    /// <summary>Kafka's <c>metrics</c>: comma-separated metric name prefixes (<c>org.apache.kafka.producer.</c>), <c>*</c> for every metric.</summary>
    public string? Metrics { get; set; }

    /// <summary>Kafka's <c>interval.ms</c>: how often a matching client pushes, 100 to 3600000.</summary>
    public int IntervalMs { get; set; } = ClientMetricsSubscription.DefaultIntervalMs;

    /// <summary>
    /// Kafka's <c>match</c>: comma-separated <c>selector=regex</c>, every one of which a client must match whole
    /// (selectors <c>client_instance_id</c>, <c>client_id</c>, <c>client_software_name</c>, <c>client_software_version</c>,
    /// <c>client_source_address</c>, <c>client_source_port</c>). Empty: every client.
    /// </summary>
    public string? Match { get; set; }
}

/// <summary>Rejects client metrics settings Kafka would refuse, with Kafka's messages, naming the subscription.</summary>
public sealed class ClientMetricsOptionsValidator : IValidateOptions<ClientMetricsOptions>
{
    public ValidateOptionsResult Validate(string? name, ClientMetricsOptions options)
    {
        List<string>? failures = null;
        if (options.TelemetryMaxBytes < 1)
            (failures ??= []).Add($"{ClientMetricsOptions.SectionName}:TelemetryMaxBytes must be at least 1, not {options.TelemetryMaxBytes}.");
        if (options.OtlpQueueCapacity < 1)
            (failures ??= []).Add($"{ClientMetricsOptions.SectionName}:OtlpQueueCapacity must be at least 1, not {options.OtlpQueueCapacity}.");
        if (options.OtlpTimeoutMs < 1)
            (failures ??= []).Add($"{ClientMetricsOptions.SectionName}:OtlpTimeoutMs must be at least 1, not {options.OtlpTimeoutMs}.");
        if (options.OtlpEndpoint is { Length: > 0 } url && !(Uri.TryCreate(url, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps)))
            (failures ??= []).Add($"{ClientMetricsOptions.SectionName}:OtlpEndpoint '{url}' must be an absolute http or https URL.");
        foreach (var (subscription, settings) in options.Subscriptions)
            if (ClientMetricsSubscription.Validate(subscription, settings.Metrics, settings.IntervalMs, settings.Match) is { } error)
                (failures ??= []).Add($"{ClientMetricsOptions.SectionName}:Subscriptions:{subscription}: {error}");
        return failures is null ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
