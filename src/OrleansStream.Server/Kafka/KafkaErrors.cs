using Orleans.Runtime;

namespace OrleansStream.Server.Kafka;

/// <summary>The Kafka error a client gets for a grain call that failed instead of answering.</summary>
internal static class KafkaErrors
{
    /// <summary>
    /// A timed-out call is <see cref="ErrorCode.RequestTimedOut"/>; an unreachable silo <see cref="ErrorCode.NotLeaderOrFollower"/>
    /// (the client refreshes its metadata and retries, as it would for a broker that went away); anything else
    /// <see cref="ErrorCode.UnknownServerError"/>.
    /// </summary>
    public static ErrorCode FromException(Exception e) => e switch
    {
        TimeoutException => ErrorCode.RequestTimedOut,
        SiloUnavailableException => ErrorCode.NotLeaderOrFollower,
        OrleansStreamException { Code: var code } => code,
        _ => ErrorCode.UnknownServerError,
    };

    /// <summary>
    /// A controller call that failed because the controller's silo is gone or did not answer in time. Anything else the
    /// controller throws is its answer (a cluster whose state was lost refuses Metadata for every topic).
    /// </summary>
    public static bool IsControllerUnreachable(Exception e) => e is TimeoutException or OrleansException;

    /// <summary>Errors after which the partition's leader must be looked up again.</summary>
    public static bool IsStaleLeader(ErrorCode error) =>
        error is ErrorCode.NotLeaderOrFollower or ErrorCode.FencedLeaderEpoch or ErrorCode.UnknownLeaderEpoch or ErrorCode.LeaderNotAvailable;
}
