namespace OrleansStream.Protocol.Sasl;

/// <summary>A validated bearer token (Kafka's <c>OAuthBearerToken</c>): its principal, scope and lifetime.</summary>
/// <param name="PrincipalName">The subject the token names: the connection's user.</param>
/// <param name="LifetimeMs">The token's expiry (<c>exp</c>) in Unix milliseconds.</param>
/// <param name="StartTimeMs">When it was issued (<c>iat</c>) in Unix milliseconds, null when not given.</param>
public sealed record OAuthBearerToken(string PrincipalName, IReadOnlySet<string> Scope, long LifetimeMs, long? StartTimeMs);

/// <summary>
/// The answer to one token: the token once valid, else why not (<see cref="Reason"/>, for the broker's log) and RFC
/// 7628's error fields (<c>status</c>, and <c>scope</c> or <c>openid-configuration</c> when known) that the server
/// sends back as its JSON challenge.
/// </summary>
public sealed record OAuthBearerValidation(OAuthBearerToken? Token, string? Reason, string? ErrorStatus, string? ErrorScope = null, string? ErrorOpenIdConfiguration = null)
{
    public const string InvalidToken = "invalid_token";

    public const string InsufficientScope = "insufficient_scope";

    public static OAuthBearerValidation Valid(OAuthBearerToken token) => new(token, null, null);

    public static OAuthBearerValidation Invalid(string reason, string status = InvalidToken, string? scope = null) => new(null, reason, status, scope);
}

/// <summary>Checks a bearer token (Kafka's broker-side <c>OAuthBearerValidatorCallback</c> handler); never blocks on I/O.</summary>
public interface IOAuthBearerValidator
{
    OAuthBearerValidation Validate(string token);
}
