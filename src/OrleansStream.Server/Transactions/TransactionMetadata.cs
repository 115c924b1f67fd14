using System.Collections.Immutable;
using OrleansStream.Storage.Producers;

namespace OrleansStream.Server.Transactions;

/// <summary>
/// Kafka's TransactionMetadata: the state of one transactional id in force now, and at most one prepared transition.
/// Every change is prepared as a <see cref="TxnTransitMetadata"/> (checked against the legal-transition table) and
/// applied by <see cref="CompleteTransitionTo"/> only after it is durable; while one is pending, the coordinator
/// answers ConcurrentTransactions. Not thread-safe: its owner calls it from one thread at a time.
/// </summary>
internal sealed class TransactionMetadata
{
    public TransactionMetadata(
        string transactionalId, long producerId, long lastProducerId, short producerEpoch, short lastProducerEpoch,
        int txnTimeoutMs, TransactionState state, ImmutableHashSet<TxnParticipant> participants, long txnStartTimestamp,
        long txnLastUpdateTimestamp, short clientTransactionVersion = 0, long nextProducerId = ProducerSequence.NoProducerId)
    {
        TransactionalId = transactionalId;
        ProducerId = producerId;
        LastProducerId = lastProducerId;
        ProducerEpoch = producerEpoch;
        LastProducerEpoch = lastProducerEpoch;
        TxnTimeoutMs = txnTimeoutMs;
        State = state;
        Participants = participants;
        TxnStartTimestamp = txnStartTimestamp;
        TxnLastUpdateTimestamp = txnLastUpdateTimestamp;
        ClientTransactionVersion = clientTransactionVersion;
        NextProducerId = nextProducerId;
    }

    /// <summary>A transactional id seen for the first time: no producer epoch yet, nothing durable.</summary>
    public static TransactionMetadata New(string transactionalId, long producerId, int txnTimeoutMs, long nowMs) =>
        new(transactionalId, producerId, ProducerSequence.NoProducerId, ProducerSequence.NoProducerEpoch, ProducerSequence.NoProducerEpoch, txnTimeoutMs, TransactionState.Empty, [], -1, nowMs);

    public string TransactionalId { get; }
    public long ProducerId { get; private set; }
    public long LastProducerId { get; private set; }
    public short ProducerEpoch { get; private set; }
    public short LastProducerEpoch { get; private set; }
    public int TxnTimeoutMs { get; private set; }
    public TransactionState State { get; private set; }
    public ImmutableHashSet<TxnParticipant> Participants { get; private set; }
    /// <summary>When the first participant of the open transaction was added (ms), -1 without one.</summary>
    public long TxnStartTimestamp { get; private set; }
    /// <summary>When any operation last changed this id (ms); expiration counts from here.</summary>
    public long TxnLastUpdateTimestamp { get; private set; }

    /// <summary>
    /// Kafka's clientTransactionVersion: the transaction protocol of the requests that last added to or ended the
    /// transaction. From 2 (transactions v2, KIP-890 part 2) every EndTxn bumps the producer epoch.
    /// </summary>
    public short ClientTransactionVersion { get; private set; }

    /// <summary>
    /// In PrepareCommit or PrepareAbort of transactions v2 whose bump took the epoch to its last value: the producer
    /// id the completion moves to, at epoch 0 (Kafka's nextProducerId). -1 otherwise.
    /// </summary>
    public long NextProducerId { get; private set; }

    /// <summary>Whether the transaction runs transactions v2 (Kafka's supportsEpochBump).</summary>
    public static bool SupportsEpochBump(short clientTransactionVersion) => clientTransactionVersion >= 2;

    /// <summary>The transition prepared and not yet completed or abandoned.</summary>
    public TxnTransitMetadata? Pending { get; private set; }

    /// <summary>Kafka's pendingState: <see cref="TransactionState.PrepareEpochFence"/> while a fencing abort is pending.</summary>
    public TransactionState? PendingState { get; private set; }

    public bool PendingTransitionInProgress => Pending is not null;

    /// <summary>The marker phase of the PrepareCommit or PrepareAbort in force, null in any other state.</summary>
    public TxnMarkerRequest? Markers { get; set; }

    /// <summary>
    /// Epochs run up to <see cref="short.MaxValue"/> - 1 for clients; the last one is kept so the coordinator can
    /// always fence (Kafka's isEpochExhausted).
    /// </summary>
    public static bool IsEpochExhausted(short producerEpoch) => producerEpoch >= short.MaxValue - 1;

    public bool IsProducerEpochExhausted => IsEpochExhausted(ProducerEpoch);

    /// <summary>InitProducerId on an idle id: bump the epoch; KIP-360 rules when the producer names the epoch it had.</summary>
    public ErrorCode PrepareIncrementProducerEpoch(int newTxnTimeoutMs, short? expectedProducerEpoch, long nowMs, out TxnTransitMetadata? transit)
    {
        var bumped = (short)(ProducerEpoch + 1);
        short next, last;
        if (expectedProducerEpoch is not { } expected)
            (next, last) = (bumped, ProducerSequence.NoProducerEpoch);
        else if (ProducerEpoch == ProducerSequence.NoProducerEpoch || expected == ProducerEpoch)
            (next, last) = (bumped, ProducerEpoch);
        else if (expected == LastProducerEpoch)
            // A retry of a bump whose answer was lost: answer the same epoch again. A new producer's InitProducerId
            // sets the last epoch to -1, so this cannot revive a fenced producer.
            (next, last) = (ProducerEpoch, LastProducerEpoch);
        else
        {
            transit = null;
            return ErrorCode.ProducerFenced;
        }
        // Checked after the decision: a fenced producer's recovery attempt on an exhausted epoch is ProducerFenced, not
        // a coordinator failure (Kafka threw here).
        if (next != ProducerEpoch && IsProducerEpochExhausted)
            throw new InvalidOperationException($"Cannot allocate any more producer epochs for producer id {ProducerId}");
        transit = PrepareTransitionTo(TransactionState.Empty, ProducerId, next, last, newTxnTimeoutMs, [], -1, nowMs);
        return ErrorCode.None;
    }

    /// <summary>InitProducerId when the epoch is exhausted: a new producer id at epoch 0.</summary>
    public TxnTransitMetadata PrepareProducerIdRotation(long newProducerId, int newTxnTimeoutMs, long nowMs, bool recordLastEpoch)
    {
        if (TransactionStates.HasPendingTransaction(State))
            throw new InvalidOperationException("Cannot rotate producer ids while a transaction is still pending");
        return PrepareTransitionTo(TransactionState.Empty, newProducerId, 0, recordLastEpoch ? ProducerEpoch : ProducerSequence.NoProducerEpoch,
            newTxnTimeoutMs, [], -1, nowMs);
    }

    /// <summary>
    /// Fences the producer of the open transaction: Ongoing → PrepareEpochFence → PrepareAbort with the epoch bumped,
    /// prepared as one durable PrepareAbort (PrepareEpochFence itself is never stored). The bumped epoch is never
    /// answered to a client: the markers carry it, so the old producer's late writes are rejected everywhere.
    /// </summary>
    public TxnTransitMetadata PrepareFenceProducerEpoch(long nowMs)
    {
        if (ProducerEpoch == short.MaxValue)
            throw new InvalidOperationException("Cannot fence a producer at epoch short.MaxValue");
        if (!TransactionStates.IsValidTransition(State, TransactionState.PrepareEpochFence))
            throw new InvalidOperationException($"{TransactionalId}: cannot fence from {State}");
        var transit = PrepareTransitionTo(TransactionState.PrepareAbort, ProducerId, FencedEpoch, ProducerSequence.NoProducerEpoch,
            TxnTimeoutMs, Participants, TxnStartTimestamp, nowMs, from: TransactionState.PrepareEpochFence);
        PendingState = TransactionState.PrepareEpochFence;
        return transit;
    }

    /// <summary>
    /// The epoch a fencing abort writes its markers with: one above the producer's; two for a transaction of
    /// transactions v2, where one above is the epoch its own EndTxn would have answered, so that the fenced producer's
    /// EndTxn is not taken for a retry of one (Kafka's fence, then the v2 bump of the abort). One only where two
    /// would pass <see cref="short.MaxValue"/>.
    /// </summary>
    private short FencedEpoch => (short)(SupportsEpochBump(ClientTransactionVersion) && ProducerEpoch < short.MaxValue - 1 ? ProducerEpoch + 2 : ProducerEpoch + 1);

    /// <summary>
    /// The participants join the transaction (Kafka's prepareAddPartitions); the request's transaction version becomes
    /// the transaction's.
    /// </summary>
    public TxnTransitMetadata PrepareAddParticipants(IEnumerable<TxnParticipant> added, short clientTransactionVersion, long nowMs)
    {
        var start = State is TransactionState.Empty or TransactionState.CompleteAbort or TransactionState.CompleteCommit ? nowMs : TxnStartTimestamp;
        return PrepareTransitionTo(TransactionState.Ongoing, ProducerId, ProducerEpoch, LastProducerEpoch, TxnTimeoutMs,
            Participants.Union(added), start, nowMs, clientTransactionVersion: clientTransactionVersion);
    }

    /// <summary>
    /// EndTxn's decision (Kafka's prepareAbortOrCommit). Of transactions v2, with the epoch bumped (the markers carry the
    /// bumped epoch, so a late write of this transaction is fenced at every partition) and, when the bump reaches the
    /// last epoch, <paramref name="nextProducerId"/> to move to once the markers are written.
    /// </summary>
    public TxnTransitMetadata PrepareAbortOrCommit(TransactionState newState, short clientTransactionVersion, long nextProducerId, long nowMs)
    {
        var (epoch, last) = SupportsEpochBump(clientTransactionVersion) ? ((short)(ProducerEpoch + 1), ProducerEpoch) : (ProducerEpoch, LastProducerEpoch);
        return PrepareTransitionTo(newState, ProducerId, epoch, last, TxnTimeoutMs, Participants, TxnStartTimestamp, nowMs,
            clientTransactionVersion: clientTransactionVersion, nextProducerId: nextProducerId);
    }

    /// <summary>
    /// Every marker is written: CompleteCommit or CompleteAbort, the participants cleared; a v2 transaction whose bump
    /// exhausted the epoch moves to its next producer id at epoch 0.
    /// </summary>
    public TxnTransitMetadata PrepareComplete(long nowMs)
    {
        var state = State == TransactionState.PrepareCommit ? TransactionState.CompleteCommit : TransactionState.CompleteAbort;
        return NextProducerId >= 0
            ? PrepareTransitionTo(state, NextProducerId, 0, ProducerEpoch, TxnTimeoutMs, [], TxnStartTimestamp, nowMs)
            : PrepareTransitionTo(state, ProducerId, ProducerEpoch, LastProducerEpoch, TxnTimeoutMs, [], TxnStartTimestamp, nowMs);
    }

    public TxnTransitMetadata PrepareDead() =>
        PrepareTransitionTo(TransactionState.Dead, ProducerId, ProducerEpoch, LastProducerEpoch, TxnTimeoutMs, [], TxnStartTimestamp, TxnLastUpdateTimestamp);

    /// <summary>The write of the pending transition failed: the state in force stays, the id takes requests again.</summary>
    public void AbandonPendingTransition()
    {
        Pending = null;
        PendingState = null;
    }

    /// <summary>
    /// Makes the durable <paramref name="transit"/> the state in force, after Kafka's sanity checks: it must be the one
    /// pending, epochs may only stay, bump by one or restart at 0 with a new producer id, and participants only grow
    /// while a transaction is open. A failed check is a coordinator bug, not a client error.
    /// </summary>
    public void CompleteTransitionTo(TxnTransitMetadata transit)
    {
        if (Pending is null || !ReferenceEquals(Pending, transit))
            throw new InvalidOperationException($"{TransactionalId}: completing {transit.TxnState}, which is not the pending transition");
        var valid = transit.TxnState switch
        {
            TransactionState.Empty => (ProducerEpoch == transit.ProducerEpoch || IsValidProducerEpochBump(transit))
                && transit.Participants.IsEmpty && transit.TxnStartTimestamp == -1,
            TransactionState.Ongoing => IsSameProducer(transit) && Participants.IsSubsetOf(transit.Participants) && TxnTimeoutMs == transit.TxnTimeoutMs,
            TransactionState.PrepareCommit or TransactionState.PrepareAbort =>
                (IsSameProducer(transit) || (PendingState == TransactionState.PrepareEpochFence ? IsFencingBump(transit) : IsEndTxnBump(transit)))
                && Participants.SetEquals(transit.Participants) && TxnTimeoutMs == transit.TxnTimeoutMs && TxnStartTimestamp == transit.TxnStartTimestamp,
            TransactionState.CompleteCommit or TransactionState.CompleteAbort =>
                (IsSameProducer(transit) || (NextProducerId >= 0 && transit.ProducerId == NextProducerId && transit.ProducerEpoch == 0))
                && TxnTimeoutMs == transit.TxnTimeoutMs && transit.TxnStartTimestamp != -1,
            _ => false,
        };
        if (!valid)
            throw new InvalidOperationException($"{TransactionalId}: illegal transition from {State} (epoch {ProducerEpoch}) to {transit}");

        ProducerId = transit.ProducerId;
        LastProducerId = transit.LastProducerId;
        ProducerEpoch = transit.ProducerEpoch;
        LastProducerEpoch = transit.LastProducerEpoch;
        TxnTimeoutMs = transit.TxnTimeoutMs;
        State = transit.TxnState;
        Participants = transit.Participants;
        TxnStartTimestamp = transit.TxnStartTimestamp;
        TxnLastUpdateTimestamp = transit.TxnLastUpdateTimestamp;
        ClientTransactionVersion = transit.ClientTransactionVersion;
        NextProducerId = transit.NextProducerId;
        Pending = null;
        PendingState = null;
    }

    /// <summary>A snapshot of the state in force, as Kafka's prepareNoTransit (for describing and storing).</summary>
    public TxnTransitMetadata Current() =>
        new(ProducerId, LastProducerId, ProducerEpoch, LastProducerEpoch, TxnTimeoutMs, State, Participants, TxnStartTimestamp, TxnLastUpdateTimestamp,
            ClientTransactionVersion, NextProducerId);

    private bool IsSameProducer(TxnTransitMetadata transit) => transit.ProducerEpoch == ProducerEpoch && transit.ProducerId == ProducerId;

    private bool IsFencingBump(TxnTransitMetadata transit) => transit.ProducerId == ProducerId && transit.ProducerEpoch == FencedEpoch;

    private bool IsEndTxnBump(TxnTransitMetadata transit) =>
        SupportsEpochBump(transit.ClientTransactionVersion) && transit.ProducerId == ProducerId && transit.ProducerEpoch == ProducerEpoch + 1;

    private bool IsValidProducerEpochBump(TxnTransitMetadata transit) =>
        transit.ProducerEpoch == ProducerEpoch + 1 || (transit.ProducerEpoch == 0 && transit.ProducerId != ProducerId);

    private TxnTransitMetadata PrepareTransitionTo(
        TransactionState newState, long newProducerId, short newEpoch, short newLastEpoch, int newTxnTimeoutMs,
        ImmutableHashSet<TxnParticipant> newParticipants, long newTxnStartTimestamp, long updateTimestamp, TransactionState? from = null,
        short? clientTransactionVersion = null, long nextProducerId = ProducerSequence.NoProducerId)
    {
        if (Pending is not null)
            throw new InvalidOperationException($"{TransactionalId}: preparing {newState} while {Pending.TxnState} is pending");
        if (newProducerId < 0)
            throw new ArgumentOutOfRangeException(nameof(newProducerId), newProducerId, "Illegal new producer id");
        if (newState != TransactionState.Dead && newEpoch < 0)
            throw new ArgumentOutOfRangeException(nameof(newEpoch), newEpoch, "Illegal new producer epoch");
        if (!TransactionStates.IsValidTransition(from ?? State, newState))
            throw new InvalidOperationException($"{TransactionalId}: {newState} is not a legal next state of {from ?? State}");

        Pending = new TxnTransitMetadata(newProducerId, ProducerId, newEpoch, newLastEpoch, newTxnTimeoutMs, newState,
            newParticipants, newTxnStartTimestamp, updateTimestamp, clientTransactionVersion ?? ClientTransactionVersion, nextProducerId);
        PendingState = newState;
        return Pending;
    }
}
