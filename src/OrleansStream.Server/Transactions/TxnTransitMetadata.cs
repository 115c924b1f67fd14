using System.Collections.Immutable;

namespace OrleansStream.Server.Transactions;

/// <summary>
/// Kafka's TxnTransitMetadata: the whole next state of a transactional id, prepared while the current one stays in
/// force, and made current only after it is durable. A reference type on purpose: completing checks that this very
/// object is the one prepared, so a completion that arrives late or twice cannot apply another transition.
/// </summary>
internal sealed record TxnTransitMetadata(
    long ProducerId,
    long LastProducerId,
    short ProducerEpoch,
    short LastProducerEpoch,
    int TxnTimeoutMs,
    TransactionState TxnState,
    ImmutableHashSet<TxnParticipant> Participants,
    long TxnStartTimestamp,
    long TxnLastUpdateTimestamp);
