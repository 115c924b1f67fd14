namespace OrleansStream.Protocol.Sasl;

/// <summary>Where a SASL server finds a user's SCRAM credential for a mechanism; null for none.</summary>
public interface IScramCredentialStore
{
    ScramCredential? Find(string user, ScramMechanism mechanism);
}

public enum SaslOutcome
{
    /// <summary>The server's token goes back and the client answers it.</summary>
    Continue,

    /// <summary>The client is authenticated; the server's last token (maybe empty) goes back.</summary>
    Complete,

    /// <summary>Authentication failed: <see cref="SaslStep.Error"/> says why, in words the client may read.</summary>
    Failed,
}

/// <summary>One step of an exchange: what happened and the server's token.</summary>
public readonly record struct SaslStep(SaslOutcome Outcome, byte[] Challenge, string? Error)
{
    public static SaslStep Fail(string error) => new(SaslOutcome.Failed, [], error);
}

/// <summary>The server side of one SASL mechanism for one connection (Java's <c>SaslServer</c>).</summary>
public interface ISaslServer
{
    string Mechanism { get; }

    /// <summary>The authenticated user once <see cref="SaslOutcome.Complete"/>; the user named so far otherwise.</summary>
    string? User { get; }

    /// <summary>
    /// When the credential the client authenticated with stops being valid (an OAUTHBEARER token's <c>exp</c>), in
    /// Unix milliseconds; null when it does not expire. Bounds the session lifetime of re-authentication (KIP-368).
    /// </summary>
    long? CredentialExpiresAtMs => null;

    /// <summary>Takes the client's next token; a failed exchange fails every later step.</summary>
    SaslStep Evaluate(ReadOnlySpan<byte> response);

    /// <summary>
    /// A server for <paramref name="mechanism"/> (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, and OAUTHBEARER when
    /// <paramref name="oauthBearer"/> validates its tokens), null for one not served.
    /// </summary>
    static ISaslServer? Create(string mechanism, IScramCredentialStore credentials, IOAuthBearerValidator? oauthBearer = null) =>
        mechanism == PlainSaslServer.MechanismName ? new PlainSaslServer(credentials)
        : ScramMechanism.ForName(mechanism) is { } scram ? new ScramSaslServer(scram, credentials)
        : mechanism == OAuthBearerSaslServer.MechanismName && oauthBearer is not null ? new OAuthBearerSaslServer(oauthBearer)
        : null;
}
