using System.Text;

namespace OrleansStream.Protocol.Sasl;

/// <summary>
/// SASL/PLAIN (RFC 4616): one message <c>[authzid] NUL authcid NUL passwd</c>, checked against the user's stored
/// SCRAM credential (the password is salted and hashed with the credential's salt, then compared in constant time),
/// so no plain password is kept for PLAIN either. Kafka's <c>PlainSaslServer</c> rules: an authorization id other
/// than the user name is refused.
/// </summary>
public sealed class PlainSaslServer(IScramCredentialStore credentials) : ISaslServer
{
    public const string MechanismName = "PLAIN";

    public const string InvalidCredentials = "Authentication failed: Invalid username or password";

    private bool _done;

    public string Mechanism => MechanismName;

    public string? User { get; private set; }

    public SaslStep Evaluate(ReadOnlySpan<byte> response)
    {
        if (_done) return SaslStep.Fail("Authentication failed: PLAIN takes one message.");
        _done = true;
        var first = response.IndexOf((byte)0);
        var second = first < 0 ? -1 : response[(first + 1)..].IndexOf((byte)0);
        if (second < 0 || response[(first + 1 + second + 1)..].IndexOf((byte)0) >= 0)
            return SaslStep.Fail("Invalid SASL/PLAIN response: expected 3 tokens");
        var authorizationId = Encoding.UTF8.GetString(response[..first]);
        var user = Encoding.UTF8.GetString(response.Slice(first + 1, second));
        var password = response[(first + 1 + second + 1)..];
        if (user.Length == 0) return SaslStep.Fail("Authentication failed: username not specified");
        if (password.IsEmpty) return SaslStep.Fail("Authentication failed: password not specified");
        if (authorizationId.Length > 0 && authorizationId != user)
            return SaslStep.Fail("Authentication failed: Client requested an authorization id that is different from username");
        User = user;
        var mechanism = ScramMechanism.Sha512;
        var credential = credentials.Find(user, mechanism);
        if (credential is null)
        {
            mechanism = ScramMechanism.Sha256;
            credential = credentials.Find(user, mechanism);
        }
        // An unknown user costs the same key derivation as a known one.
        var matches = mechanism.Matches(credential ?? mechanism.Decoy(user), password) && credential is not null;
        return matches ? new SaslStep(SaslOutcome.Complete, [], null) : SaslStep.Fail(InvalidCredentials);
    }
}
