namespace OrleansStream.Client;

/// <summary>An error: Kafka's code and a reason, as in Confluent.Kafka's Error.</summary>
public sealed class Error
{
    public Error(ErrorCode code, string? reason = null, bool isFatal = false)
    {
        Code = code;
        Reason = string.IsNullOrEmpty(reason) ? code.ToString() : reason;
        IsFatal = isFatal;
    }

    public static readonly Error NoError = new(ErrorCode.None);

    public ErrorCode Code { get; }

    public string Reason { get; }

    public bool IsError => Code != ErrorCode.None;

    /// <summary>The producer can no longer be used (fenced by a newer one with its transactional.id, for one): dispose it.</summary>
    public bool IsFatal { get; }

    /// <summary>Retrying the same request may succeed (Kafka's RetriableException).</summary>
    public bool IsRetriable => IsRetriableCode(Code);

    public override string ToString() => $"{Code}: {Reason}";

    internal static bool IsRetriableCode(ErrorCode code) => code is
        ErrorCode.NotLeaderOrFollower or ErrorCode.LeaderNotAvailable or ErrorCode.UnknownTopicOrPartition or
        ErrorCode.RequestTimedOut or ErrorCode.NotEnoughReplicas or ErrorCode.NotEnoughReplicasAfterAppend or
        ErrorCode.FencedLeaderEpoch or ErrorCode.UnknownLeaderEpoch or ErrorCode.KafkaStorageError or
        ErrorCode.BrokerNotAvailable or ErrorCode.ReplicaNotAvailable or
        ErrorCode.CoordinatorNotAvailable or ErrorCode.NotCoordinator or ErrorCode.OffsetNotAvailable or ErrorCode.NotController or
        ErrorCode.CoordinatorLoadInProgress or ErrorCode.ConcurrentTransactions or ErrorCode.UnstableOffsetCommit;

    /// <summary>Metadata is stale when these come back: refresh before the retry.</summary>
    internal static bool InvalidatesMetadata(ErrorCode code) => code is
        ErrorCode.NotLeaderOrFollower or ErrorCode.LeaderNotAvailable or ErrorCode.UnknownTopicOrPartition or
        ErrorCode.FencedLeaderEpoch or ErrorCode.UnknownLeaderEpoch or ErrorCode.KafkaStorageError or
        ErrorCode.BrokerNotAvailable or ErrorCode.ReplicaNotAvailable;
}
