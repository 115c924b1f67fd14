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
public sealed class SaslServerAuthenticator(SaslCredentialStore credentials, OrleansStreamMetrics metrics)
{
    private State _state;
    private ISaslServer? _server;
    private bool _rawTokens;

    private enum State { Handshake, Authenticate, Complete, Failed }

    public bool IsAuthenticated => _state == State.Complete;

    /// <summary>The mechanism chosen by SaslHandshake.</summary>
    public string? Mechanism => _server?.Mechanism;

    /// <summary>The user the client named (authenticated once <see cref="IsAuthenticated"/>).</summary>
    public string? User => _server?.User;

    /// <summary>Requests a connection may send before it is authenticated (Kafka's rule).</summary>
    public static bool IsAllowedBeforeAuthentication(ApiKey key) =>
        key is ApiKey.ApiVersions or ApiKey.SaslHandshake or ApiKey.SaslAuthenticate;

    /// <summary>Whether the next frame is a bare SASL token (after SaslHandshake v0) rather than a Kafka request.</summary>
    public bool AwaitsRawToken => _rawTokens && _state == State.Authenticate;

    /// <summary>The answer to SaslHandshake; <paramref name="close"/> when the connection must close after it.</summary>
    public SaslHandshakeResponse Handshake(string mechanism, short version, out bool close)
    {
        close = true;
        if (_state != State.Handshake)
        {
            _state = State.Failed;
            return new SaslHandshakeResponse(ErrorCode.IllegalSaslState, credentials.EnabledMechanisms);
        }
        var server = credentials.EnabledMechanisms.Contains(mechanism) ? ISaslServer.Create(mechanism, credentials) : null;
        if (server is null)
        {
            _state = State.Failed;
            return new SaslHandshakeResponse(ErrorCode.UnsupportedSaslMechanism, credentials.EnabledMechanisms);
        }
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
            : new SaslAuthenticateResponse(ErrorCode.None, null, step.Challenge);
    }

    /// <summary>One bare token of the legacy framing (<see cref="AwaitsRawToken"/>).</summary>
    public SaslStep EvaluateRawToken(ReadOnlySpan<byte> token) =>
        AwaitsRawToken ? Evaluate(token) : SaslStep.Fail("A bare SASL token outside a SaslHandshake v0 exchange");

    private SaslStep Evaluate(ReadOnlySpan<byte> token)
    {
        var step = _server!.Evaluate(token);
        if (step.Outcome == SaslOutcome.Complete) _state = State.Complete;
        else if (step.Outcome == SaslOutcome.Failed)
        {
            _state = State.Failed;
            metrics.KafkaAuthenticationFailures.Add(1, new KeyValuePair<string, object?>("mechanism", _server.Mechanism));
        }
        return step;
    }
}
