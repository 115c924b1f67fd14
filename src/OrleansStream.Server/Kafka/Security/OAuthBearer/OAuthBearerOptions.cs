using Microsoft.Extensions.Options;
using OrleansStream.Protocol.Sasl;

namespace OrleansStream.Server.Kafka.Security.OAuthBearer;

/// <summary>
/// How SASL/OAUTHBEARER checks a client's token, bound from <c>OrleansStream:Sasl:OAuthBearer</c>, under Kafka's
/// broker config names (KIP-768). Either a JWKS URL (<see cref="JwksEndpointUrl"/>): a signed JWT, verified against the
/// identity provider's keys; or, for development only, <see cref="Unsecured"/>: unsigned <c>alg: none</c> tokens, as
/// Kafka's default <c>OAuthBearerUnsecuredValidatorCallbackHandler</c> takes them.
/// </summary>
public sealed class OAuthBearerOptions
{
    public const string SectionName = "OrleansStream:Sasl:OAuthBearer";

    /// <summary>
    /// <c>sasl.oauthbearer.jwks.endpoint.url</c>: the provider's JWKS, an <c>https:</c> or <c>http:</c> URL fetched at
    /// start and every <see cref="JwksEndpointRefreshMs"/>, or a <c>file:</c> URL read once at start.
    /// </summary>
    public string? JwksEndpointUrl { get; set; }

    /// <summary><c>sasl.oauthbearer.jwks.endpoint.refresh.ms</c>: the wait between two fetches of an HTTP JWKS.</summary>
    public long JwksEndpointRefreshMs { get; set; } = 3_600_000;

    /// <summary><c>sasl.oauthbearer.jwks.endpoint.retry.backoff.ms</c>: the first wait before a failed fetch is tried again.</summary>
    public long JwksEndpointRetryBackoffMs { get; set; } = 100;

    /// <summary><c>sasl.oauthbearer.jwks.endpoint.retry.backoff.max.ms</c>: the longest wait between tries, and the time tries may take.</summary>
    public long JwksEndpointRetryBackoffMaxMs { get; set; } = 10_000;

    /// <summary><c>sasl.oauthbearer.expected.audience</c>: comma-separated; when set, the token's <c>aud</c> must name one of them.</summary>
    public string? ExpectedAudience { get; set; }

    /// <summary><c>sasl.oauthbearer.expected.issuer</c>: when set, the token's <c>iss</c> must be it.</summary>
    public string? ExpectedIssuer { get; set; }

    /// <summary><c>sasl.oauthbearer.sub.claim.name</c>: the claim naming the principal.</summary>
    public string SubClaimName { get; set; } = "sub";

    /// <summary><c>sasl.oauthbearer.scope.claim.name</c>.</summary>
    public string ScopeClaimName { get; set; } = "scope";

    /// <summary><c>sasl.oauthbearer.clock.skew.seconds</c>: the difference allowed between the provider's clock and the broker's.</summary>
    public int ClockSkewSeconds { get; set; } = 30;

    /// <summary>Unsigned tokens, for development only; off unless enabled.</summary>
    public UnsecuredValidatorOptions Unsecured { get; set; } = new();

    /// <summary>The audiences of <see cref="ExpectedAudience"/>.</summary>
    public IReadOnlyList<string> ExpectedAudiences() =>
        (ExpectedAudience ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
}

/// <summary>Kafka's <c>unsecuredValidator*</c> options of its default OAUTHBEARER validator.</summary>
public sealed class UnsecuredValidatorOptions
{
    /// <summary>Takes unsigned (<c>alg: none</c>) tokens: anyone may claim any principal. For development only.</summary>
    public bool Enabled { get; set; }

    /// <summary><c>unsecuredValidatorPrincipalClaimName</c>.</summary>
    public string PrincipalClaimName { get; set; } = "sub";

    /// <summary><c>unsecuredValidatorScopeClaimName</c>.</summary>
    public string ScopeClaimName { get; set; } = "scope";

    /// <summary><c>unsecuredValidatorRequiredScope</c>: space-separated scope a token must hold all of.</summary>
    public string? RequiredScope { get; set; }

    /// <summary><c>unsecuredValidatorAllowableClockSkewMs</c>.</summary>
    public int AllowableClockSkewMs { get; set; }

    /// <summary>The items of <see cref="RequiredScope"/>; throws <see cref="FormatException"/> for one that is not an RFC 6749 scope token.</summary>
    public IReadOnlyList<string> RequiredScopes()
    {
        var scopes = new List<string>();
        foreach (var item in (RequiredScope ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            foreach (var c in item)
                if (c is < '\x21' or '\x22' or '\x5C' or > '\x7E')
                    throw new FormatException($"Invalid scope value: {item}");
            scopes.Add(item);
        }
        return scopes;
    }
}

/// <summary>
/// With OAUTHBEARER among <c>OrleansStream:Sasl:EnabledMechanisms</c>, exactly one way to check tokens must be set;
/// the URL must be one the broker can read and the numbers in range.
/// </summary>
public sealed class OAuthBearerOptionsValidator(IOptions<SaslOptions> sasl) : IValidateOptions<OAuthBearerOptions>
{
    public ValidateOptionsResult Validate(string? name, OAuthBearerOptions options)
    {
        List<string>? failures = null;
        void Fail(string message) => (failures ??= []).Add(message);
        const string key = OAuthBearerOptions.SectionName;
        bool enabled;
        try
        {
            enabled = sasl.Value.Mechanisms().Contains(OAuthBearerSaslServer.MechanismName);
        }
        catch (FormatException)
        {
            return ValidateOptionsResult.Skip; // SaslOptions' own failure to report.
        }
        var url = options.JwksEndpointUrl;
        if (enabled && string.IsNullOrWhiteSpace(url) && !options.Unsecured.Enabled)
            Fail($"{SaslOptions.SectionName}:EnabledMechanisms names OAUTHBEARER, but neither {key}:JwksEndpointUrl (the identity provider's " +
                $"JWKS, to verify signed tokens) nor {key}:Unsecured:Enabled (unsigned tokens, for development only) is set.");
        if (!string.IsNullOrWhiteSpace(url) && options.Unsecured.Enabled)
            Fail($"{key}:JwksEndpointUrl and {key}:Unsecured:Enabled are both set: choose signed tokens or, for development only, unsigned ones.");
        if (!string.IsNullOrWhiteSpace(url))
        {
            if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("https" or "http" or "file"))
                Fail($"{key}:JwksEndpointUrl must be an absolute https:, http: or file: URL, not '{url}'.");
            else if (uri.IsFile && !File.Exists(uri.LocalPath))
                Fail($"{key}:JwksEndpointUrl names the file {uri.LocalPath}, which does not exist.");
        }
        if (options.JwksEndpointRefreshMs <= 0) Fail($"{key}:JwksEndpointRefreshMs must be positive, not {options.JwksEndpointRefreshMs}.");
        if (options.JwksEndpointRetryBackoffMs < 0 || options.JwksEndpointRetryBackoffMaxMs < options.JwksEndpointRetryBackoffMs)
            Fail($"{key}:JwksEndpointRetryBackoffMs must be 0 or more and at most JwksEndpointRetryBackoffMaxMs.");
        if (options.ClockSkewSeconds < 0) Fail($"{key}:ClockSkewSeconds must not be negative, not {options.ClockSkewSeconds}.");
        if (string.IsNullOrWhiteSpace(options.SubClaimName)) Fail($"{key}:SubClaimName must not be empty.");
        if (string.IsNullOrWhiteSpace(options.ScopeClaimName)) Fail($"{key}:ScopeClaimName must not be empty.");
        var unsecured = options.Unsecured;
        if (unsecured.AllowableClockSkewMs < 0)
            Fail($"{key}:Unsecured:AllowableClockSkewMs must not be negative, not {unsecured.AllowableClockSkewMs}.");
        if (string.IsNullOrWhiteSpace(unsecured.PrincipalClaimName)) Fail($"{key}:Unsecured:PrincipalClaimName must not be empty.");
        if (string.IsNullOrWhiteSpace(unsecured.ScopeClaimName)) Fail($"{key}:Unsecured:ScopeClaimName must not be empty.");
        try
        {
            unsecured.RequiredScopes();
        }
        catch (FormatException e)
        {
            Fail($"{key}:Unsecured:RequiredScope: {e.Message}");
        }
        return failures is null ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
