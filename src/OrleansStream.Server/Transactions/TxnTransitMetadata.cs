using System.Collections.Immutable;
using OrleansStream.Storage.Producers;

namespace OrleansStream.Server.Transactions;

/// <summary>
/// Kafka's TxnTransitMetadata: the whole next state of a transactional id, prepared while the current one stays in
/// force, and made current only after it is durable. A reference type on purpose: completing checks that this very
/// object is the one prepared, so a completion that arrives late or twice cannot apply another transition.
/// <paramref name="ClientTransactionVersion"/>: the transaction protocol its producer runs (2: transactions v2, an epoch
/// bump with every EndTxn); <paramref name="NextProducerId"/>: in PrepareCommit or PrepareAbort of transactions v2
/// whose bump exhausted the epoch, the producer id the completion moves to (at epoch 0), else -1.
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
    long TxnLastUpdateTimestamp,
    short ClientTransactionVersion = 0,
    long NextProducerId = ProducerSequence.NoProducerId);
