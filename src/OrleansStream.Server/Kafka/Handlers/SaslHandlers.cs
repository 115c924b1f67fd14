using OrleansStream.Protocol;
using OrleansStream.Protocol.Messages;

namespace OrleansStream.Server.Kafka.Handlers;

/// <summary>
/// SaslHandshake v0-1: picks the connection's mechanism on a SASL listener. On a listener without SASL it is
/// <see cref="ErrorCode.IllegalSaslState"/> and the connection stays, as Kafka's request handler answers it.
/// </summary>
internal sealed class SaslHandshakeHandler()
    : KafkaApiHandler<SaslHandshakeRequest>(ApiKey.SaslHandshake, SaslHandshakeRequest.Read)
{
    protected override ValueTask<bool> AnswerAsync(SaslHandshakeRequest body, KafkaRequest request, KafkaWriter response)
    {
        var connection = request.Connection;
        if (connection.Sasl is not { } sasl)
        {
            new SaslHandshakeResponse(ErrorCode.IllegalSaslState, []).Write(response, request.Version);
            return ValueTask.FromResult(true);
        }
        var answer = sasl.Handshake(body.Mechanism, request.Version, out var close);
        answer.Write(response, request.Version);
        if (close) connection.CloseAfterResponse = $"SaslHandshake for {body.Mechanism}: {answer.Error} (enabled: {string.Join(',', answer.Mechanisms)})";
        return ValueTask.FromResult(true);
    }
}

/// <summary>
/// SaslAuthenticate v0-2: one token of the connection's SASL exchange. A failed authentication is answered with
/// <see cref="ErrorCode.SaslAuthenticationFailed"/> and counted (<c>orleansstream.kafka.authentication.failures</c>), then
/// the connection closes with a log line.
/// </summary>
internal sealed partial class SaslAuthenticateHandler(ILogger<SaslAuthenticateHandler> logger)
    : KafkaApiHandler<SaslAuthenticateRequest>(ApiKey.SaslAuthenticate, SaslAuthenticateRequest.Read)
{
    protected override ValueTask<bool> AnswerAsync(SaslAuthenticateRequest body, KafkaRequest request, KafkaWriter response)
    {
        var connection = request.Connection;
        if (connection.Sasl is not { } sasl)
        {
            new SaslAuthenticateResponse(ErrorCode.IllegalSaslState, $"SaslAuthenticate on listener {connection.ListenerName}, which has no SASL", []).Write(response, request.Version);
            return ValueTask.FromResult(true);
        }
        var answer = sasl.Authenticate(body.AuthBytes, out var close);
        answer.Write(response, request.Version);
        if (close) connection.CloseAfterResponse = $"SASL/{sasl.Mechanism} authentication of '{sasl.User}' on listener {connection.ListenerName}: {answer.Error}, {answer.ErrorMessage}";
        else if (sasl.ExchangeComplete && answer.Error == ErrorCode.None) LogAuthenticated(sasl.User, sasl.Mechanism, connection.ListenerName, connection.Remote);
        return ValueTask.FromResult(true);
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "{User} authenticated with {Mechanism} on listener {Listener} from {Remote}")]
    private partial void LogAuthenticated(string? user, string? mechanism, string listener, System.Net.EndPoint? remote);
}
