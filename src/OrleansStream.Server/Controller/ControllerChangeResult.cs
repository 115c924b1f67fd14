namespace OrleansStream.Server.Controller;

/// <summary>
/// The controller's answer to a change of its security or quota state (a SCRAM credential, a request's client quotas):
/// stored (<see cref="ErrorCode.None"/>), or why not, with Kafka's message.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record ControllerChangeResult([property: Id(0)] ErrorCode Error, [property: Id(1)] string? Message)
{
    public static readonly ControllerChangeResult Stored = new(ErrorCode.None, null);
}
