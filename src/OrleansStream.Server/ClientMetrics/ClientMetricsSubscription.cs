using System.Text.RegularExpressions;

namespace OrleansStream.Server.ClientMetrics;

/// <summary>
/// One client metrics subscription (Kafka's <c>ClientMetricsManager.SubscriptionInfo</c> over <c>ClientMetricsConfigs</c>):
/// the metric name prefixes it asks for, its push interval, and the selectors a client must match, each a regular
/// expression matched against the whole attribute (Java's <c>Matcher.matches</c>).
/// </summary>
public sealed class ClientMetricsSubscription
{
    public const int DefaultIntervalMs = 300_000;
    public const int MinIntervalMs = 100;
    public const int MaxIntervalMs = 3_600_000;

    /// <summary>Kafka's <c>ALL_SUBSCRIBED_METRICS_CONFIG</c>: every metric.</summary>
    public const string AllMetrics = "*";

    /// <summary>Kafka's match selectors (<c>ClientMetricsConfigs.ALLOWED_MATCH_PARAMS</c>).</summary>
    public static readonly string[] Selectors =
        ["client_instance_id", "client_id", "client_software_name", "client_software_version", "client_source_address", "client_source_port"];

    private ClientMetricsSubscription(string name, string[] metrics, int intervalMs, KeyValuePair<string, Regex>[] match, string? matchText)
    {
        MatchText = matchText;
        Name = name;
        Metrics = metrics;
        IntervalMs = intervalMs;
        Match = match;
    }

    public string Name { get; }

    /// <summary>The metric name prefixes, each once.</summary>
    public IReadOnlyList<string> Metrics { get; }

    public int IntervalMs { get; }

    /// <summary>Selector and its pattern; a client matches when it matches every one (none: every client).</summary>
    public IReadOnlyList<KeyValuePair<string, Regex>> Match { get; }

    /// <summary>The <c>match</c> config as given.</summary>
    public string? MatchText { get; }

    /// <summary>Kafka's client metrics config keys (<c>ClientMetricsConfigs</c>): <c>metrics</c> and <c>match</c> are lists.</summary>
    public const string MetricsConfig = "metrics";
    public const string IntervalMsConfig = "interval.ms";
    public const string MatchConfig = "match";

    /// <summary>A LIST config's value when unset (empty), for APPEND and SUBTRACT; null for <c>interval.ms</c> and unknown keys.</summary>
    public static string? ListDefault(string key) => key is MetricsConfig or MatchConfig ? "" : null;

    /// <summary>
    /// Kafka's <c>ClientMetricsConfigs.validate</c> of a stored subscription's configs: an empty name, an unknown key or
    /// an interval out of bounds is InvalidRequest, an interval that is no INT or an illegal match pattern InvalidConfig.
    /// </summary>
    public static (ErrorCode Error, string Message)? ValidateConfigs(string? name, IReadOnlyDictionary<string, string> configs)
    {
        ArgumentNullException.ThrowIfNull(configs);
        if (string.IsNullOrEmpty(name)) return (ErrorCode.InvalidRequest, "Subscription name can't be empty");
        foreach (var key in configs.Keys)
            if (key is not (MetricsConfig or IntervalMsConfig or MatchConfig)) return (ErrorCode.InvalidRequest, $"Unknown client metrics configuration: {key}");
        var interval = DefaultIntervalMs;
        if (configs.TryGetValue(IntervalMsConfig, out var text) && !int.TryParse(text.Trim(), System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out interval))
            return (ErrorCode.InvalidConfig, $"Invalid value {text} for configuration {IntervalMsConfig}: Not a number of type INT");
        if (interval is < MinIntervalMs or > MaxIntervalMs)
            return (ErrorCode.InvalidRequest, $"Invalid value {interval} for interval.ms, interval must be between 100 and 3600000 (1 hour)");
        foreach (var pattern in SplitList(configs.GetValueOrDefault(MatchConfig)))
            if (ParsePattern(pattern) is null) return (ErrorCode.InvalidConfig, $"Illegal client matching pattern: {pattern}");
        return null;
    }

    /// <summary>A stored subscription, from configs <see cref="ValidateConfigs"/> accepted.</summary>
    public static ClientMetricsSubscription FromConfigs(string name, IReadOnlyDictionary<string, string> configs)
    {
        ArgumentNullException.ThrowIfNull(configs);
        var interval = configs.TryGetValue(IntervalMsConfig, out var text) ? int.Parse(text.Trim(), System.Globalization.CultureInfo.InvariantCulture) : DefaultIntervalMs;
        return Parse(name, configs.GetValueOrDefault(MetricsConfig), interval, configs.GetValueOrDefault(MatchConfig));
    }

    /// <summary>Kafka's checks of a subscription's configs; null when valid, else Kafka's message.</summary>
    public static string? Validate(string name, string? metrics, int intervalMs, string? match)
    {
        if (string.IsNullOrEmpty(name)) return "Subscription name can't be empty";
        if (intervalMs is < MinIntervalMs or > MaxIntervalMs)
            return $"Invalid value {intervalMs} for interval.ms, interval must be between 100 and 3600000 (1 hour)";
        foreach (var pattern in SplitList(match))
            if (ParsePattern(pattern) is null) return $"Illegal client matching pattern: {pattern}";
        return null;
    }

    /// <summary>Parses a subscription's configs, which <see cref="Validate"/> must have accepted.</summary>
    public static ClientMetricsSubscription Parse(string name, string? metrics, int intervalMs, string? match)
    {
        if (Validate(name, metrics, intervalMs, match) is { } error) throw new ArgumentException(error);
        var prefixes = new List<string>();
        foreach (var metric in SplitList(metrics))
            if (!prefixes.Contains(metric)) prefixes.Add(metric);
        var patterns = new List<KeyValuePair<string, Regex>>();
        foreach (var pattern in SplitList(match))
        {
            var parsed = ParsePattern(pattern)!.Value;
            // A selector named twice keeps its last pattern, as Kafka's map does.
            patterns.RemoveAll(p => p.Key == parsed.Key);
            patterns.Add(parsed);
        }
        return new ClientMetricsSubscription(name, [.. prefixes], intervalMs, [.. patterns], match);
    }

    /// <summary>Whether a client with these attributes matches every selector.</summary>
    public bool Matches(ClientMetricsClient client)
    {
        foreach (var (selector, pattern) in Match)
        {
            var value = client.Attribute(selector);
            if (value is null) return false;
            try
            {
                if (!pattern.IsMatch(value)) return false;
            }
            catch (RegexMatchTimeoutException)
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>Kafka's LIST type: comma-separated, each entry trimmed; an empty or blank value is the empty list.</summary>
    private static IEnumerable<string> SplitList(string? value)
    {
        if (string.IsNullOrWhiteSpace(value)) yield break;
        foreach (var entry in value.Split(','))
            yield return entry.Trim();
    }

    /// <summary>Kafka's <c>parseMatchingPatterns</c> for one entry: exactly one <c>=</c>, a known selector, a valid regex.</summary>
    private static KeyValuePair<string, Regex>? ParsePattern(string pattern)
    {
        var parts = pattern.Split('=');
        // Java's String.split drops trailing empty strings: "client_id=" is one part, so illegal.
        if (parts.Length != 2 || parts[1].Length == 0) return null;
        var selector = parts[0].Trim();
        if (Array.IndexOf(Selectors, selector) < 0) return null;
        try
        {
            return new(selector, new Regex($@"\A(?:{parts[1].Trim()})\z", RegexOptions.CultureInvariant, TimeSpan.FromMilliseconds(100)));
        }
        catch (ArgumentException)
        {
            return null;
        }
    }
}

/// <summary>
/// What a subscription may match a client on (Kafka's <c>ClientMetricsInstanceMetadata</c>): its instance id, the
/// request header's client id, ApiVersions' software name and version, and the connection's address and port.
/// </summary>
public sealed record ClientMetricsClient(Guid ClientInstanceId, string? ClientId, string? SoftwareName, string? SoftwareVersion, string? SourceAddress, string? SourcePort)
{
    public string? Attribute(string selector) => selector switch
    {
        "client_instance_id" => UuidString(ClientInstanceId),
        "client_id" => ClientId,
        "client_software_name" => SoftwareName,
        "client_software_version" => SoftwareVersion,
        "client_source_address" => SourceAddress,
        "client_source_port" => SourcePort,
        _ => null,
    };

    /// <summary>A Uuid as Kafka prints it: URL-safe base64 of its 16 bytes, no padding.</summary>
    public static string UuidString(Guid id)
    {
        Span<byte> bytes = stackalloc byte[16];
        id.TryWriteBytes(bytes, bigEndian: true, out _);
        return System.Buffers.Text.Base64Url.EncodeToString(bytes);
    }
}

/// <summary>The client metrics resources stored at the controller (KIP-714's dynamic configs), each subscription's configs by name.</summary>
[GenerateSerializer, Immutable]
public sealed record ClientMetricsSnapshot([property: Id(0)] long Version, [property: Id(1)] Dictionary<string, Dictionary<string, string>> Resources)
{
    public static readonly ClientMetricsSnapshot Empty = new(0, new Dictionary<string, Dictionary<string, string>>(StringComparer.Ordinal));
}

/// <summary>One subscription's change at the controller: AlterConfigs' full set, or IncrementalAlterConfigs' ops.</summary>
[GenerateSerializer, Immutable]
public sealed record ClientMetricsConfigsChange([property: Id(0)] string Name, [property: Id(1)] IReadOnlyList<AlterableConfig> Configs, [property: Id(2)] bool Incremental);
