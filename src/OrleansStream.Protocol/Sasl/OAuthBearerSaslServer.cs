using System.Text;

namespace OrleansStream.Protocol.Sasl;

/// <summary>
/// SASL/OAUTHBEARER (RFC 7628, KIP-255) as Kafka's <c>OAuthBearerSaslServer</c> serves it: the client's initial
/// response carries a bearer token, which <see cref="IOAuthBearerValidator"/> checks. A valid token completes the
/// exchange with an empty challenge, and the token's principal is the user. An invalid one is answered with RFC 7628's
/// JSON error (<c>{"status":"invalid_token"}</c>); the client must then send a lone <c>^A</c>, and the exchange fails
/// with that JSON as its message. An authorization id other than the token's principal is refused. Every SASL
/// extension is accepted, as Kafka's validators accept them.
/// </summary>
public sealed class OAuthBearerSaslServer(IOAuthBearerValidator validator) : ISaslServer
{
    public const string MechanismName = "OAUTHBEARER";

    private string? _errorMessage;
    private bool _complete;

    public string Mechanism => MechanismName;

    public string? User { get; private set; }

    public long? CredentialExpiresAtMs { get; private set; }

    /// <summary>The validated token once complete.</summary>
    public OAuthBearerToken? Token { get; private set; }

    /// <summary>The SASL extensions the client sent with its token.</summary>
    public IReadOnlyDictionary<string, string> Extensions { get; private set; } = new Dictionary<string, string>();

    public SaslStep Evaluate(ReadOnlySpan<byte> response)
    {
        if (_complete) return SaslStep.Fail("Authentication failed: OAUTHBEARER exchange already completed.");
        if (response.Length == 1 && response[0] == (byte)OAuthBearerClientInitialResponse.Separator && _errorMessage is { } error)
            return SaslStep.Fail(error);
        _errorMessage = null;
        OAuthBearerClientInitialResponse initial;
        try
        {
            initial = OAuthBearerClientInitialResponse.Parse(response);
        }
        catch (FormatException)
        {
            // Kafka answers a SaslException with its generic message, not the parser's.
            return SaslStep.Fail($"Authentication failed during authentication due to invalid credentials with SASL mechanism {MechanismName}");
        }
        var validation = validator.Validate(initial.TokenValue);
        if (validation.Token is not { } token)
        {
            _errorMessage = JsonError(validation);
            return new SaslStep(SaslOutcome.Continue, Encoding.UTF8.GetBytes(_errorMessage), null);
        }
        if (initial.AuthorizationId.Length > 0 && initial.AuthorizationId != token.PrincipalName)
            return SaslStep.Fail($"Authentication failed: Client requested an authorization id ({initial.AuthorizationId}) that is different from the token's principal name ({token.PrincipalName})");
        _complete = true;
        Token = token;
        User = token.PrincipalName;
        CredentialExpiresAtMs = token.LifetimeMs;
        Extensions = initial.Extensions;
        return new SaslStep(SaslOutcome.Complete, [], null);
    }

    // RFC 7628 section 3.2.2's error, written as Kafka writes it (its fields are tokens of the validator's, no escaping needed).
    private static string JsonError(OAuthBearerValidation v)
    {
        var json = new StringBuilder("{\"status\":\"").Append(v.ErrorStatus ?? OAuthBearerValidation.InvalidToken).Append('"');
        if (v.ErrorScope is { } scope) json.Append(", \"scope\":\"").Append(scope).Append('"');
        if (v.ErrorOpenIdConfiguration is { } openId) json.Append(", \"openid-configuration\":\"").Append(openId).Append('"');
        return json.Append('}').ToString();
    }
}
