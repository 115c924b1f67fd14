namespace OrleansStream.Client;

/// <summary>An error: Kafka's code and a reason, as in Confluent.Kafka's Error.</summary>
public sealed class Error
{
    public Error(ErrorCode code, string? reason = null)
    {
        Code = code;
        Reason = string.IsNullOrEmpty(reason) ? code.ToString() : reason;
    }

    public static readonly Error NoError = new(ErrorCode.None);

    public ErrorCode Code { get; }

    public string Reason { get; }

    public bool IsError => Code != ErrorCode.None;

    /// <summary>Retrying the same request may succeed (Kafka's RetriableException).</summary>
    public bool IsRetriable => IsRetriableCode(Code);

    public override string ToString() => $"{Code}: {Reason}";

    internal static bool IsRetriableCode(ErrorCode code) => code is
        ErrorCode.NotLeaderOrFollower or ErrorCode.LeaderNotAvailable or ErrorCode.UnknownTopicOrPartition or
        ErrorCode.RequestTimedOut or ErrorCode.NotEnoughReplicas or ErrorCode.NotEnoughReplicasAfterAppend or
        ErrorCode.FencedLeaderEpoch or ErrorCode.UnknownLeaderEpoch or ErrorCode.KafkaStorageError or
        ErrorCode.BrokerNotAvailable or ErrorCode.ReplicaNotAvailable or
        ErrorCode.CoordinatorNotAvailable or ErrorCode.NotCoordinator or ErrorCode.OffsetNotAvailable or ErrorCode.NotController;

    /// <summary>Metadata is stale when these come back: refresh before the retry.</summary>
    internal static bool InvalidatesMetadata(ErrorCode code) => code is
        ErrorCode.NotLeaderOrFollower or ErrorCode.LeaderNotAvailable or ErrorCode.UnknownTopicOrPartition or
        ErrorCode.FencedLeaderEpoch or ErrorCode.UnknownLeaderEpoch or ErrorCode.KafkaStorageError or
        ErrorCode.BrokerNotAvailable or ErrorCode.ReplicaNotAvailable;
}

/// <summary>Base of the SDK's exceptions; an <see cref="OrleansStreamException"/> carrying an <see cref="Client.Error"/>.</summary>
public class KafkaException(Error error, Exception? inner = null) : OrleansStreamException(error.Code, error.Reason, inner)
{
    public Error Error { get; } = error;
}

/// <summary>A message could not be delivered.</summary>
public class ProduceException<TKey, TValue>(Error error, DeliveryResult<TKey, TValue> deliveryResult, Exception? inner = null)
    : KafkaException(error, inner)
{
    public DeliveryResult<TKey, TValue> DeliveryResult { get; } = deliveryResult;
}

/// <summary>Consume failed for one partition (offset out of range, unknown topic, a message that does not deserialize).</summary>
public class ConsumeException(Error error, TopicPartitionOffset topicPartitionOffset, Exception? inner = null)
    : KafkaException(error, inner)
{
    public TopicPartitionOffset TopicPartitionOffset { get; } = topicPartitionOffset;

    /// <summary>The raw record when a deserializer failed; null otherwise.</summary>
    public ConsumeResult<byte[]?, byte[]?>? ConsumerRecord { get; init; }
}
