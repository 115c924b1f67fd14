using System.Security.Cryptography;
using Microsoft.Extensions.Logging;
using OrleansStream.Protocol.Sasl;

namespace OrleansStream.Server.Kafka.Security.OAuthBearer;

/// <summary>
/// Kafka's broker-side <c>OAuthBearerValidatorCallbackHandler</c> with its <c>ValidatorAccessTokenValidator</c>
/// (KIP-768): a JWS signed with RS256/384/512, PS256/384/512 or ES256/384/512 (never <c>none</c>), verified with the
/// key of <see cref="VerificationKeys"/> its <c>kid</c> names; <c>exp</c> and <c>iat</c> required, <c>exp</c> and
/// <c>nbf</c> checked against the clock with <c>clock.skew.seconds</c>, <c>iss</c> and <c>aud</c> when expected, the
/// subject claim present and not blank. Whatever fails, the client is told <c>invalid_token</c> only; the reason is
/// logged.
/// </summary>
public sealed partial class JwsAccessTokenValidator(OAuthBearerOptions options, VerificationKeys keys, TimeProvider time, ILogger logger)
    : IOAuthBearerValidator
{
    private const int MinRsaKeyBits = 2048;

    private readonly IReadOnlyList<string> _audiences = options.ExpectedAudiences();

    public OAuthBearerValidation Validate(string token)
    {
        ArgumentNullException.ThrowIfNull(token);
        var reason = Check(token.Trim(), out var valid);
        if (valid is not null) return OAuthBearerValidation.Valid(valid);
        LogInvalid(reason!);
        return OAuthBearerValidation.Invalid(reason!);
    }

    private string? Check(string token, out OAuthBearerToken? valid)
    {
        valid = null;
        if (token.Length == 0) return "Malformed JWT provided; expected three sections (header, payload, and signature)";
        Jws jws;
        try
        {
            jws = Jws.Parse(token);
        }
        catch (FormatException e)
        {
            return e.Message;
        }
        using (jws)
        {
            var algorithm = jws.Algorithm;
            if (algorithm is null) return "The JWS header has no alg";
            if (algorithm == "none") return "The JWS algorithm 'none' is not permitted";
            if (HashOf(algorithm) is not { } hash) return $"The JWS algorithm '{algorithm}' is not supported";
            try
            {
                if (!Verify(jws, algorithm, hash, out var reason)) return reason;
            }
            catch (CryptographicException e)
            {
                return $"JWS signature could not be verified: {e.Message}";
            }
            try
            {
                return CheckClaims(jws, out valid);
            }
            catch (FormatException e)
            {
                return $"Could not validate the access token: {e.Message}";
            }
        }
    }

    private bool Verify(Jws jws, string algorithm, HashAlgorithmName hash, out string? reason)
    {
        var kid = jws.KeyId;
        var found = false;
        foreach (var key in keys.Keys)
        {
            if (kid is not null && key.KeyId != kid || key.Algorithm is not null && key.Algorithm != algorithm) continue;
            switch (algorithm[0], key.Key)
            {
                case ('R' or 'P', RSA rsa):
                    found = true;
                    if (rsa.KeySize < MinRsaKeyBits)
                    {
                        reason = $"The RSA key {kid} is of {rsa.KeySize} bits, fewer than {MinRsaKeyBits}";
                        return false;
                    }
                    if (rsa.VerifyData(jws.SigningInput, jws.Signature, hash, algorithm[0] == 'R' ? RSASignaturePadding.Pkcs1 : RSASignaturePadding.Pss))
                    {
                        reason = null;
                        return true;
                    }
                    break;
                case ('E', ECDsa ecdsa) when key.Curve == CurveOf(algorithm):
                    found = true;
                    if (ecdsa.VerifyData(jws.SigningInput, jws.Signature, hash, DSASignatureFormat.IeeeP1363FixedFieldConcatenation))
                    {
                        reason = null;
                        return true;
                    }
                    break;
            }
        }
        if (found)
        {
            reason = "JWS signature is invalid";
            return false;
        }
        if (keys.MaybeExpediteRefresh(kid ?? "")) LogExpedited(keys.Location, kid);
        reason = $"Unable to find a suitable verification key for JWS w/ kid {kid} and alg {algorithm} from JWKs obtained from {keys.Location}";
        return false;
    }

    private string? CheckClaims(Jws jws, out OAuthBearerToken? valid)
    {
        valid = null;
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var skewMs = options.ClockSkewSeconds * 1000L;
        var expiration = jws.TimeClaimMs("exp");
        if (expiration is not { } exp) return "No Expiration Time (exp) claim present.";
        if (now - skewMs >= exp) return $"The JWT is no longer valid - the evaluation time {now} ms is on or after the Expiration Time (exp={exp} ms) with {options.ClockSkewSeconds} s of allowed clock skew";
        var issuedAt = jws.TimeClaimMs("iat");
        if (issuedAt is null) return "No Issued At (iat) claim present.";
        if (jws.TimeClaimMs("nbf") is { } nbf && now + skewMs < nbf)
            return $"The JWT is not yet valid as the evaluation time {now} ms is before the Not Before (nbf={nbf} ms) with {options.ClockSkewSeconds} s of allowed clock skew";
        if (options.ExpectedIssuer is { Length: > 0 } issuer && jws.StringClaim("iss") != issuer)
            return $"Issuer (iss) claim value ({jws.StringClaim("iss")}) doesn't match expected value of {issuer}";
        if (_audiences.Count > 0)
        {
            var audiences = jws.StringsClaim("aud");
            if (audiences is null) return "No Audience (aud) claim present.";
            var matched = false;
            foreach (var audience in audiences) matched |= _audiences.Contains(audience);
            if (!matched) return $"Audience (aud) claim [{string.Join(", ", audiences)}] doesn't contain an acceptable identifier. Expected one of [{string.Join(", ", _audiences)}] as an aud value.";
        }
        // Kafka's ClaimValidationUtils: each scope trimmed, non-blank and unique; a string is one scope.
        var scope = new HashSet<string>(StringComparer.Ordinal);
        foreach (var item in jws.StringsClaim(options.ScopeClaimName) ?? [])
        {
            if (NonBlank(options.ScopeClaimName, item, out var trimmed) is { } bad) return bad;
            if (!scope.Add(trimmed)) return $"{options.ScopeClaimName} value must not contain duplicates - {trimmed} already present";
        }
        if (exp < 0) return $"exp value must be non-negative; value given was \"{exp}\"";
        if (NonBlank(options.SubClaimName, jws.StringClaim(options.SubClaimName), out var subject) is { } noSubject) return noSubject;
        if (issuedAt < 0) return $"iat value must be null or non-negative; value given was \"{issuedAt}\"";
        valid = new OAuthBearerToken(subject, scope, exp, issuedAt);
        return null;
    }

    private static string? NonBlank(string name, string? value, out string trimmed)
    {
        trimmed = value?.Trim() ?? "";
        return value is null ? $"{name} value must be non-null"
            : value.Length == 0 ? $"{name} value must be non-empty"
            : trimmed.Length == 0 ? $"{name} value must not contain only whitespace"
            : null;
    }

    private static HashAlgorithmName? HashOf(string algorithm) => algorithm switch
    {
        "RS256" or "PS256" or "ES256" => HashAlgorithmName.SHA256,
        "RS384" or "PS384" or "ES384" => HashAlgorithmName.SHA384,
        "RS512" or "PS512" or "ES512" => HashAlgorithmName.SHA512,
        _ => null,
    };

    private static string CurveOf(string algorithm) => algorithm switch
    {
        "ES256" => "P-256",
        "ES384" => "P-384",
        _ => "P-521",
    };

    [LoggerMessage(Level = LogLevel.Warning, Message = "OAUTHBEARER token refused: {Reason}")]
    private partial void LogInvalid(string reason);

    [LoggerMessage(Level = LogLevel.Debug, Message = "OAUTHBEARER: refreshing the JWKS of {Location} now, as no key held matches kid {KeyId}")]
    private partial void LogExpedited(string location, string? keyId);
}
