namespace OrleansStream.Server.Groups;

/// <summary>The transaction coordinator's side of a consumer group: the marker of a transaction that committed offsets.</summary>
public interface ITxnOffsetsGrain : IGrainWithStringKey
{
    /// <summary>
    /// Kafka's WriteTxnMarkers for the group's offsets: COMMIT makes the producer's pending offsets the group's committed
    /// offsets, ABORT drops them; durable before it answers. A coordinator epoch lower than the last one seen for the
    /// producer gets <see cref="ErrorCode.TransactionCoordinatorFenced"/>, a producer epoch lower than its last one
    /// <see cref="ErrorCode.InvalidProducerEpoch"/>.
    /// </summary>
    Task<ErrorCode> WriteTxnMarker(long producerId, short producerEpoch, int coordinatorEpoch, bool commit);
}
