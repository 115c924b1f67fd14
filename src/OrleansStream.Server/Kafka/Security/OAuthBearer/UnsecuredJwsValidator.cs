using System.Text.Json;
using Microsoft.Extensions.Logging;
using OrleansStream.Protocol.Sasl;

namespace OrleansStream.Server.Kafka.Security.OAuthBearer;

/// <summary>
/// Kafka's default broker validator, <c>OAuthBearerUnsecuredValidatorCallbackHandler</c> with
/// <c>OAuthBearerUnsecuredJws</c>: an unsigned JWS (<c>alg: none</c>, empty signature) whose principal claim is a
/// non-blank string, <c>exp</c> required and not passed, <c>iat</c> (when given) not in the future and before
/// <c>exp</c>, and the required scope all held (else <c>insufficient_scope</c>). It checks no signature: any client
/// may claim any principal. For development only.
/// </summary>
public sealed partial class UnsecuredJwsValidator(UnsecuredValidatorOptions options, TimeProvider time, ILogger logger) : IOAuthBearerValidator
{
    private readonly IReadOnlyList<string> _requiredScope = options.RequiredScopes();
    private readonly string _principalClaimName = options.PrincipalClaimName.Trim();
    private readonly string _scopeClaimName = options.ScopeClaimName.Trim();

    public OAuthBearerValidation Validate(string token)
    {
        ArgumentNullException.ThrowIfNull(token);
        var result = Check(token);
        if (result.Token is null) LogInvalid(result.Reason!);
        return result;
    }

    private OAuthBearerValidation Check(string token)
    {
        if (token.Contains("..", StringComparison.Ordinal)) return OAuthBearerValidation.Invalid("Malformed compact serialization contains '..'");
        Jws jws;
        try
        {
            jws = Jws.Parse(token);
        }
        catch (FormatException e)
        {
            return OAuthBearerValidation.Invalid(e.Message);
        }
        using (jws)
        {
            try
            {
                if (jws.Algorithm != "none") return OAuthBearerValidation.Invalid("Unsecured JWS must have 'none' for an algorithm");
                if (jws.Signature.Length != 0) return OAuthBearerValidation.Invalid("Unsecured JWS must not contain a digital signature");
                var scope = Scope(jws);
                if (jws.TimeClaimMs("exp") is not { } exp) return OAuthBearerValidation.Invalid("No expiration time in JWT");
                if (!jws.Claims.TryGetProperty(_principalClaimName, out var principalClaim))
                    return OAuthBearerValidation.Invalid($"Required claim missing: {_principalClaimName}");
                if (principalClaim.ValueKind != JsonValueKind.String || string.IsNullOrWhiteSpace(principalClaim.GetString()))
                    return OAuthBearerValidation.Invalid($"No principal name in JWT claim: {_principalClaimName}");
                var issuedAt = jws.TimeClaimMs("iat");
                var now = time.GetUtcNow().ToUnixTimeMilliseconds();
                var skew = options.AllowableClockSkewMs;
                if (issuedAt > now + skew)
                    return OAuthBearerValidation.Invalid($"The Issued At value ({issuedAt} ms) was after the indicated time ({now} ms) plus allowable clock skew ({skew} ms)");
                if (now - skew >= exp)
                    return OAuthBearerValidation.Invalid($"The indicated time ({now} ms) minus allowable clock skew ({skew} ms) was on or after the Expiration Time value ({exp} ms)");
                if (issuedAt >= exp)
                    return OAuthBearerValidation.Invalid($"The Expiration Time time ({exp} ms) was not after the Issued At time ({issuedAt} ms)");
                foreach (var required in _requiredScope)
                    if (!scope.Contains(required))
                        return OAuthBearerValidation.Invalid($"The provided scope ({string.Join(' ', scope)}) was missing a required scope ({required})",
                            OAuthBearerValidation.InsufficientScope, string.Join(' ', _requiredScope));
                return OAuthBearerValidation.Valid(new OAuthBearerToken(principalClaim.GetString()!, scope, exp, issuedAt));
            }
            catch (FormatException e)
            {
                return OAuthBearerValidation.Invalid(e.Message);
            }
        }
    }

    // A string is one scope (blank: none), an array its non-blank items, trimmed.
    private HashSet<string> Scope(Jws jws)
    {
        var scope = new HashSet<string>(StringComparer.Ordinal);
        foreach (var item in jws.StringsClaim(_scopeClaimName) ?? [])
            if (!string.IsNullOrWhiteSpace(item)) scope.Add(item.Trim());
        return scope;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "OAUTHBEARER unsecured token refused: {Reason}")]
    private partial void LogInvalid(string reason);
}
