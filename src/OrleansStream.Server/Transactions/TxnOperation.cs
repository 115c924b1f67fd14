using OrleansStream.Storage.Producers;

namespace OrleansStream.Server.Transactions;

/// <summary>
/// What a coordinator operation came to: an answer now (<see cref="Write"/> null), or a transition to make durable
/// first. After a durable EndTxn, fence or timeout abort, <see cref="Markers"/> is the marker phase to start.
/// </summary>
internal readonly record struct TxnOperation(
    ErrorCode Error,
    long ProducerId = ProducerSequence.NoProducerId,
    short ProducerEpoch = ProducerSequence.NoProducerEpoch,
    PendingTxnTransition? Write = null,
    TxnMarkerRequest? Markers = null)
{
    public static TxnOperation Answer(ErrorCode error) => new(error);

    public static TxnOperation Persist(PendingTxnTransition write) => new(ErrorCode.None, Write: write);
}
