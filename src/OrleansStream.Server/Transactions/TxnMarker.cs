namespace OrleansStream.Server.Transactions;

/// <summary>
/// One marker to write: Kafka's TxnMarkerEntry for one participant. A partition appends a COMMIT or ABORT control
/// batch for the producer; a group makes the producer's pending offsets visible or drops them.
/// </summary>
public readonly record struct TxnMarker(
    TxnParticipant Participant, long ProducerId, short ProducerEpoch, int CoordinatorEpoch, TransactionResult Result);
