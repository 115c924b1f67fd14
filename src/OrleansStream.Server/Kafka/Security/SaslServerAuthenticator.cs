using OrleansStream.Protocol;
using OrleansStream.Protocol.Messages;
using OrleansStream.Protocol.Sasl;
using OrleansStream.Server.Diagnostics;

namespace OrleansStream.Server.Kafka.Security;

/// <summary>
/// One connection's SASL state on a SASL listener (Kafka's <c>SaslServerAuthenticator</c>): SaslHandshake picks a
/// mechanism, SaslAuthenticate carries its tokens until the exchange completes. Until then only ApiVersions and these
/// two are served. A step out of order is <see cref="ErrorCode.IllegalSaslState"/>, a mechanism not enabled
/// <see cref="ErrorCode.UnsupportedSaslMechanism"/>, a failed exchange <see cref="ErrorCode.SaslAuthenticationFailed"/>;
/// each is answered and then the connection closes, as Kafka does. After a SaslHandshake v0 the client sends the
/// mechanism's tokens as bare size-prefixed frames, without Kafka headers (Kafka's legacy framing), and the server
/// answers each the same way; a failure there can only close the connection.
/// </summary>
/// <remarks>
/// Re-authentication (KIP-368): a completed exchange gets a session lifetime when <c>connections.max.reauth.ms</c> is
/// set or the credential expires (an OAUTHBEARER token), the shorter of the two, sent in SaslAuthenticate v1+. A
/// request after the session expired closes the connection (<see cref="SessionExpired"/>). Before that, a SaslHandshake
/// starts a new exchange on the same connection, with the same mechanism and for the same principal, while only its
/// SaslAuthenticate requests are served; the connection keeps its principal throughout. Without a session lifetime, or
/// within a second of the last re-authentication (Kafka's <c>MIN_REAUTH_INTERVAL_ONE_SECOND_NANOS</c>), a SaslHandshake
/// after authentication is <see cref="ErrorCode.IllegalSaslState"/> and the connection stays, as Kafka's request
/// handler answers it.
/// </remarks>
public sealed class SaslServerAuthenticator(SaslCredentialStore credentials, OrleansStreamMetrics metrics, TimeProvider time,
    Func<string, long> connectionsMaxReauthMs, IOAuthBearerValidator? oauthBearer = null)
{
    private static readonly TimeSpan MinReauthenticationInterval = TimeSpan.FromSeconds(1);

    private State _state;
    private ISaslServer? _server;
    private bool _rawTokens;
    private string? _user;
    private string? _mechanism;
    private long? _sessionExpiresAt;
    private long _lastReauthenticationStart;
    private Reauthentication? _reauthentication;

    private enum State { Handshake, Authenticate, Complete, Failed }

    /// <summary>What re-authentication keeps of the exchange it replaces, and why it already failed if it did.</summary>
    private sealed record Reauthentication(string Mechanism, string User)
    {
        public string? BadMechanism { get; set; }
    }

    /// <summary>Whether the connection has authenticated; it stays so while it re-authenticates.</summary>
    public bool IsAuthenticated => _user is not null && _state != State.Failed;

    /// <summary>Whether the last exchange has just completed (the answer to its last token is the one that says so).</summary>
    public bool ExchangeComplete => _state == State.Complete;

    /// <summary>Whether a re-authentication (KIP-368) is in progress: only its SaslAuthenticate requests are served.</summary>
    public bool IsReauthenticating => _reauthentication is not null;

    /// <summary>The mechanism of the exchange in progress, else of the completed one.</summary>
    public string? Mechanism => _server?.Mechanism ?? _mechanism;

    /// <summary>The authenticated user once <see cref="IsAuthenticated"/>; before that the user the client named.</summary>
    public string? User => _user ?? _server?.User;

    /// <summary>The user the exchange in progress names (a re-authentication's may differ from <see cref="User"/>, and fails).</summary>
    private string? NamedUser => _server?.User;

    /// <summary>The session lifetime the last completed exchange gave, in milliseconds; 0 for none.</summary>
    public long SessionLifetimeMs { get; private set; }

    /// <summary>Requests a connection may send before it is authenticated (Kafka's rule).</summary>
    private static bool IsAllowedBeforeAuthentication(ApiKey key) =>
        key is ApiKey.ApiVersions or ApiKey.SaslHandshake or ApiKey.SaslAuthenticate;

    /// <summary>
    /// Whether <paramref name="key"/> is served now: anything once authenticated, only SaslAuthenticate while
    /// re-authenticating (Kafka's authenticator answers anything else IllegalSaslState and closes), before that
    /// <see cref="IsAllowedBeforeAuthentication"/>.
    /// </summary>
    public bool Allows(ApiKey key) =>
        _reauthentication is not null ? key == ApiKey.SaslAuthenticate
        : _state == State.Complete || IsAllowedBeforeAuthentication(key);

    /// <summary>Whether the next frame is a bare SASL token (after SaslHandshake v0) rather than a Kafka request.</summary>
    public bool AwaitsRawToken => _rawTokens && _state == State.Authenticate;

    /// <summary>
    /// Whether the authenticated session's lifetime has passed (Kafka's <c>serverAuthenticationSessionExpired</c>): the
    /// connection's next request closes it. Never during a re-authentication, whose exchange has no lifetime yet.
    /// </summary>
    public bool SessionExpired => _state == State.Complete && _reauthentication is null
        && _sessionExpiresAt is { } at && time.GetTimestamp() > at;

    /// <summary>The answer to SaslHandshake; <paramref name="close"/> when the connection must close after it.</summary>
    public SaslHandshakeResponse Handshake(string mechanism, short version, out bool close)
    {
        close = true;
        if (_state == State.Complete)
        {
            if (!MayReauthenticate())
            {
                close = false;
                return new SaslHandshakeResponse(ErrorCode.IllegalSaslState, credentials.EnabledMechanisms);
            }
            _reauthentication = new Reauthentication(_mechanism!, _user!);
            _server = null;
            _state = State.Handshake;
        }
        if (_state != State.Handshake)
        {
            _state = State.Failed;
            return new SaslHandshakeResponse(ErrorCode.IllegalSaslState, credentials.EnabledMechanisms);
        }
        var server = credentials.EnabledMechanisms.Contains(mechanism) ? ISaslServer.Create(mechanism, credentials, oauthBearer) : null;
        if (server is null)
        {
            _state = State.Failed;
            return new SaslHandshakeResponse(ErrorCode.UnsupportedSaslMechanism, credentials.EnabledMechanisms);
        }
        // Kafka accepts the handshake and fails the exchange at its first token, so that a re-authentication's
        // failures are all counted at one place.
        if (_reauthentication is { } reauthentication && mechanism != reauthentication.Mechanism)
            reauthentication.BadMechanism = $"SASL mechanism '{mechanism}' requested by client is not supported for re-authentication of mechanism '{reauthentication.Mechanism}'";
        _server = server;
        _state = State.Authenticate;
        _rawTokens = version == 0;
        close = false;
        return new SaslHandshakeResponse(ErrorCode.None, credentials.EnabledMechanisms);
    }

    /// <summary>The answer to one SaslAuthenticate token; <paramref name="close"/> when the connection must close after it.</summary>
    public SaslAuthenticateResponse Authenticate(ReadOnlySpan<byte> token, out bool close)
    {
        close = true;
        if (_state != State.Authenticate)
        {
            var message = _state == State.Complete ? "SaslAuthenticate request received after successful authentication"
                : "SaslAuthenticate request received before a successful SaslHandshake";
            if (_state != State.Complete) _state = State.Failed;
            else close = false;
            return new SaslAuthenticateResponse(ErrorCode.IllegalSaslState, message, []);
        }
        var step = Evaluate(token);
        close = step.Outcome == SaslOutcome.Failed;
        return close ? new SaslAuthenticateResponse(ErrorCode.SaslAuthenticationFailed, step.Error, [])
            : new SaslAuthenticateResponse(ErrorCode.None, null, step.Challenge, step.Outcome == SaslOutcome.Complete ? SessionLifetimeMs : 0);
    }

    /// <summary>One bare token of the legacy framing (<see cref="AwaitsRawToken"/>).</summary>
    public SaslStep EvaluateRawToken(ReadOnlySpan<byte> token) =>
        AwaitsRawToken ? Evaluate(token) : SaslStep.Fail("A bare SASL token outside a SaslHandshake v0 exchange");

    /// <summary>Kafka's <c>KafkaChannel.maybeBeginServerReauthentication</c>: only a session that expires, at most once a second.</summary>
    private bool MayReauthenticate()
    {
        if (_sessionExpiresAt is null) return false;
        var now = time.GetTimestamp();
        if (_lastReauthenticationStart != 0 && time.GetElapsedTime(_lastReauthenticationStart, now) < MinReauthenticationInterval) return false;
        _lastReauthenticationStart = now;
        return true;
    }

    private SaslStep Evaluate(ReadOnlySpan<byte> token)
    {
        var step = _reauthentication?.BadMechanism is { } badMechanism ? SaslStep.Fail(badMechanism) : _server!.Evaluate(token);
        if (step.Outcome == SaslOutcome.Complete && _reauthentication is { } reauthentication && NamedUser != reauthentication.User)
            step = SaslStep.Fail($"Cannot change principals during re-authentication from User.{reauthentication.User}: User.{NamedUser}");
        if (step.Outcome == SaslOutcome.Complete) Complete();
        else if (step.Outcome == SaslOutcome.Failed)
        {
            _state = State.Failed;
            metrics.KafkaAuthenticationFailures.Add(1, new KeyValuePair<string, object?>("mechanism", _server!.Mechanism));
        }
        return step;
    }

    /// <summary>Kafka's <c>calcCompletionTimesAndReturnSessionLifetimeMs</c>: the shorter of the broker's limit and the credential's life.</summary>
    private void Complete()
    {
        var server = _server!;
        var reauthenticated = _reauthentication is not null;
        _state = State.Complete;
        _user = server.User;
        _mechanism = server.Mechanism;
        _reauthentication = null;
        var credentialExpiresAtMs = server.CredentialExpiresAtMs;
        // The listener's connections.max.reauth.ms for this mechanism (BrokerOptions.ConnectionsMaxReauthMsFor).
        var maxReauthMs = connectionsMaxReauthMs(_mechanism);
        var maxReauthSet = maxReauthMs > 0;
        if (credentialExpiresAtMs is null && !maxReauthSet)
        {
            SessionLifetimeMs = 0;
            _sessionExpiresAt = null;
        }
        else
        {
            var untilCredentialExpires = credentialExpiresAtMs - time.GetUtcNow().ToUnixTimeMilliseconds();
            var lifetime = untilCredentialExpires is not { } credential ? maxReauthMs
                : maxReauthSet ? Math.Min(credential, maxReauthMs) : credential;
            SessionLifetimeMs = Math.Max(lifetime, 0);
            _sessionExpiresAt = time.GetTimestamp() + SessionLifetimeMs * time.TimestampFrequency / 1000;
        }
        if (reauthenticated) metrics.KafkaReauthentications.Add(1, new KeyValuePair<string, object?>("mechanism", _mechanism));
    }
}
