using OrleansStream.Server.Diagnostics;
using OrleansStream.Storage.Producers;

namespace OrleansStream.Server.Transactions;

/// <summary>
/// Kafka's TransactionCoordinator as plain logic: InitProducerId, AddPartitionsToTxn, AddOffsetsToTxn, EndTxn, the
/// KIP-890 verification, timeouts, transactional id expiry and the marker phase, with Kafka's error codes.
/// Nothing takes effect when decided: an operation answers at once or hands back a <see cref="PendingTxnTransition"/>;
/// the owner stores <see cref="StateWith"/> it, then calls <see cref="CompleteWrite"/> (or <see cref="FailWrite"/>)
/// and answers with what that returns. One caller thread at a time (a grain turn).
/// </summary>
internal sealed partial class TransactionCoordinator(
    TransactionStateManager txnManager, IProducerIdGenerator producerIdGenerator, TransactionCoordinatorMetrics metrics, ILogger logger)
{
    public TransactionStateManager StateManager => txnManager;

    public int CoordinatorEpoch => txnManager.CoordinatorEpoch;

    /// <summary>Kafka's handleInitProducerId. Without a transactional id: a fresh idempotent producer id at epoch 0.</summary>
    public TxnOperation InitProducerId(string? transactionalId, int transactionTimeoutMs, ProducerIdAndEpoch? expected = null)
    {
        if (transactionalId is null)
            return producerIdGenerator.TryGenerateProducerId(out var idempotentId)
                ? new TxnOperation(ErrorCode.None, idempotentId, 0)
                : TxnOperation.Answer(ErrorCode.CoordinatorNotAvailable);
        if (transactionalId.Length == 0)
            return TxnOperation.Answer(ErrorCode.InvalidRequest);
        if (!txnManager.ValidateTransactionTimeoutMs(transactionTimeoutMs))
            return TxnOperation.Answer(ErrorCode.InvalidTransactionTimeout);
        if (!txnManager.IsLoaded)
            return TxnOperation.Answer(ErrorCode.CoordinatorNotAvailable);

        var metadata = txnManager.Get(transactionalId);
        if (metadata is null)
        {
            if (!producerIdGenerator.TryGenerateProducerId(out var producerId))
                return TxnOperation.Answer(ErrorCode.CoordinatorNotAvailable);
            metadata = TransactionMetadata.New(transactionalId, producerId, transactionTimeoutMs, txnManager.NowMs);
            txnManager.Add(metadata);
        }

        if (metadata.PendingTransitionInProgress)
            return TxnOperation.Answer(ErrorCode.ConcurrentTransactions);
        if (expected is { } e && !IsValidProducerId(metadata, e))
            return TxnOperation.Answer(ErrorCode.ProducerFenced);

        switch (metadata.State)
        {
            case TransactionState.PrepareAbort or TransactionState.PrepareCommit:
                return TxnOperation.Answer(ErrorCode.ConcurrentTransactions);

            case TransactionState.CompleteAbort or TransactionState.CompleteCommit or TransactionState.Empty:
                // A new producer instance (no KIP-360 expected producer) takes the epoch an earlier one was given.
                var fences = expected is null && metadata.ProducerEpoch != ProducerSequence.NoProducerEpoch;
                TxnTransitMetadata? transit;
                if (metadata.IsProducerEpochExhausted && (expected is not { } ex || ex.Epoch == metadata.ProducerEpoch))
                {
                    if (!producerIdGenerator.TryGenerateProducerId(out var newProducerId))
                        return TxnOperation.Answer(ErrorCode.CoordinatorNotAvailable);
                    transit = metadata.PrepareProducerIdRotation(newProducerId, transactionTimeoutMs, txnManager.NowMs, expected.HasValue);
                }
                else
                {
                    var error = metadata.PrepareIncrementProducerEpoch(transactionTimeoutMs, expected?.Epoch, txnManager.NowMs, out transit);
                    if (error != ErrorCode.None)
                        return TxnOperation.Answer(error);
                }
                return TxnOperation.Persist(Prepare(metadata, transit!, TxnOperationKind.InitProducerId, fences));

            case TransactionState.Ongoing:
                // Abort the open transaction with a bumped epoch that no client ever gets, then answer
                // ConcurrentTransactions: the retry bumps again (or rotates the producer id if that exhausted it).
                LogFencing(transactionalId, metadata.ProducerId, metadata.ProducerEpoch);
                return Persist(metadata, metadata.PrepareFenceProducerEpoch(txnManager.NowMs), TxnOperationKind.FenceProducerEpoch);

            default:
                throw new InvalidOperationException($"{transactionalId} is in state {metadata.State}, which is never in force");
        }
    }

    /// <summary>
    /// KIP-360: a producer that names its id and epoch is fenced unless the id is brand new, is the current one, or is
    /// the one before a rotation it never heard about (its epoch exhausted).
    /// </summary>
    private static bool IsValidProducerId(TransactionMetadata metadata, ProducerIdAndEpoch expected) =>
        metadata.ProducerEpoch == ProducerSequence.NoProducerEpoch
        || expected.ProducerId == metadata.ProducerId
        || (expected.ProducerId == metadata.LastProducerId && TransactionMetadata.IsEpochExhausted(expected.Epoch));

    /// <summary>
    /// Kafka's handleAddPartitionsToTransaction: from AddPartitionsToTxn (<paramref name="clientTransactionVersion"/> 0),
    /// or from a partition leader taking a transaction's first batch of a producer of transactions v2 (2, KIP-890 part 2).
    /// </summary>
    public TxnOperation AddPartitionsToTxn(string transactionalId, long producerId, short producerEpoch, IReadOnlyCollection<TopicPartition> partitions,
        short clientTransactionVersion = 0)
    {
        ArgumentNullException.ThrowIfNull(partitions);
        var participants = new List<TxnParticipant>(partitions.Count);
        foreach (var partition in partitions) participants.Add(TxnParticipant.Of(partition));
        return AddParticipants(transactionalId, producerId, producerEpoch, participants, clientTransactionVersion);
    }

    /// <summary>
    /// Kafka's handleAddOffsetsToTxn: the group joins the transaction, so its pending offsets get the marker. From the
    /// group itself at a v2 producer's first TxnOffsetCommit with <paramref name="clientTransactionVersion"/> 2.
    /// </summary>
    public TxnOperation AddOffsetsToTxn(string transactionalId, long producerId, short producerEpoch, string groupId, short clientTransactionVersion = 0)
    {
        if (!GroupKeys.IsAddressable(groupId))
            return TxnOperation.Answer(ErrorCode.InvalidGroupId);
        return AddParticipants(transactionalId, producerId, producerEpoch, [TxnParticipant.OfGroup(groupId)], clientTransactionVersion);
    }

    private TxnOperation AddParticipants(string transactionalId, long producerId, short producerEpoch, List<TxnParticipant> participants,
        short clientTransactionVersion)
    {
        if (CheckProducer(transactionalId, producerId, producerEpoch, out var error) is not { } metadata)
            return TxnOperation.Answer(error);
        if (metadata.PendingTransitionInProgress || metadata.State is TransactionState.PrepareCommit or TransactionState.PrepareAbort)
            return TxnOperation.Answer(ErrorCode.ConcurrentTransactions);
        if (metadata.State == TransactionState.Ongoing && metadata.Participants.IsSupersetOf(participants))
            return TxnOperation.Answer(ErrorCode.None);
        return Persist(metadata, metadata.PrepareAddParticipants(participants, clientTransactionVersion, txnManager.NowMs), TxnOperationKind.AddPartitions);
    }

    /// <summary>
    /// KIP-890 part 1 (Kafka's handleVerifyPartitionsInTransaction): a partition leader asks before a transaction's first
    /// write whether its partition is in the producer's open transaction. Only durable additions count, so a late
    /// produce of an earlier transaction (its partition already cleared by the markers) is refused, not written into
    /// the next one. A partition not in the open transaction (or with no transaction open) is TransactionAbortable, as
    /// Kafka's coordinator answers since KIP-890 part 2 (Kafka 3.6 answered InvalidTxnState); the leader turns it into
    /// InvalidTxnState for a client older than Produce v11 (<see cref="TransactionVerifier.VerifyAsync"/>).
    /// </summary>
    public ErrorCode VerifyPartitionInTxn(string transactionalId, long producerId, short producerEpoch, TopicPartition partition) =>
        VerifyParticipantInTxn(transactionalId, producerId, producerEpoch, TxnParticipant.Of(partition));

    /// <summary>The same verification for any participant: a group asks it before a transaction's first TxnOffsetCommit.</summary>
    public ErrorCode VerifyParticipantInTxn(string transactionalId, long producerId, short producerEpoch, TxnParticipant participant)
    {
        if (CheckProducer(transactionalId, producerId, producerEpoch, out var error) is not { } metadata)
            return error;
        if (metadata.State is TransactionState.PrepareCommit or TransactionState.PrepareAbort)
            return ErrorCode.ConcurrentTransactions;
        return metadata.State == TransactionState.Ongoing && metadata.Participants.Contains(participant)
            ? ErrorCode.None
            : ErrorCode.TransactionAbortable;
    }

    /// <summary>
    /// The checks every request of an initialized producer passes first (null with the error when one fails), in Kafka's order: the id, this coordinator
    /// loaded, the producer id it maps to, then the epoch (strictly equal: only the coordinator bumps it).
    /// </summary>
    private TransactionMetadata? CheckProducer(string transactionalId, long producerId, short producerEpoch, out ErrorCode error)
    {
        var metadata = string.IsNullOrEmpty(transactionalId) || !txnManager.IsLoaded ? null : txnManager.Get(transactionalId);
        error = string.IsNullOrEmpty(transactionalId) ? ErrorCode.InvalidRequest
            : !txnManager.IsLoaded ? ErrorCode.CoordinatorNotAvailable
            : metadata is null || metadata.ProducerId != producerId ? ErrorCode.InvalidProducerIdMapping
            : metadata.ProducerEpoch != producerEpoch ? ErrorCode.ProducerFenced
            : ErrorCode.None;
        return error == ErrorCode.None ? metadata : null;
    }

    /// <summary>
    /// Kafka's handleEndTransaction from a client. Transactions v1 (<paramref name="clientTransactionVersion"/> below 2):
    /// strict epoch equality, and a retry of an EndTxn that already completed (or is writing its markers) answers None
    /// (or ConcurrentTransactions) instead of failing. Transactions v2: the decision bumps the epoch (a new producer id
    /// at epoch 0 once the bump reaches the last epoch), so once a transaction of v2 is decided, the epoch the producer
    /// sent is one below the coordinator's, and that is how its retry is told from the next transaction's EndTxn; the
    /// id and epoch answered (<see cref="TxnOperation.ProducerId"/>) are the ones for the next transaction.
    /// </summary>
    public TxnOperation EndTxn(string transactionalId, long producerId, short producerEpoch, TransactionResult result, short clientTransactionVersion = 0)
    {
        var metadata = string.IsNullOrEmpty(transactionalId) || !txnManager.IsLoaded ? null : txnManager.Get(transactionalId);
        if (metadata is null)
            return TxnOperation.Answer(string.IsNullOrEmpty(transactionalId) ? ErrorCode.InvalidRequest
                : !txnManager.IsLoaded ? ErrorCode.CoordinatorNotAvailable : ErrorCode.InvalidProducerIdMapping);
        var v2 = TransactionMetadata.SupportsEpochBump(metadata.ClientTransactionVersion) && metadata.PendingState != TransactionState.PrepareEpochFence;
        // A v2 retry whose bump exhausted the epoch: the coordinator has moved on to the next producer id at epoch 0.
        var retryOnOverflow = v2 && metadata.LastProducerId == producerId && producerEpoch == short.MaxValue - 1 && metadata.ProducerEpoch == 0
            && metadata.State is TransactionState.CompleteCommit or TransactionState.CompleteAbort;
        var retryOnEpochBump = v2 && metadata.ProducerId == producerId && metadata.ProducerEpoch == producerEpoch + 1;
        var validEpoch = !v2 ? producerEpoch == metadata.ProducerEpoch : metadata.State switch
        {
            TransactionState.Ongoing or TransactionState.Empty => producerEpoch == metadata.ProducerEpoch,
            TransactionState.PrepareCommit or TransactionState.PrepareAbort => retryOnEpochBump,
            _ => retryOnEpochBump || retryOnOverflow,
        };
        if (metadata.ProducerId != producerId && !retryOnOverflow)
            return TxnOperation.Answer(ErrorCode.InvalidProducerIdMapping);
        if (!validEpoch)
            return TxnOperation.Answer(ErrorCode.ProducerFenced);
        if (metadata.PendingTransitionInProgress)
            return TxnOperation.Answer(ErrorCode.ConcurrentTransactions);
        var commit = result == TransactionResult.Commit;
        var completed = new TxnOperation(ErrorCode.None, metadata.ProducerId, metadata.ProducerEpoch);
        switch (metadata.State)
        {
            case TransactionState.Ongoing:
                var nextProducerId = ProducerSequence.NoProducerId;
                if (TransactionMetadata.SupportsEpochBump(clientTransactionVersion) && metadata.IsProducerEpochExhausted
                    && !producerIdGenerator.TryGenerateProducerId(out nextProducerId))
                    return TxnOperation.Answer(ErrorCode.CoordinatorNotAvailable);
                return Persist(metadata,
                    metadata.PrepareAbortOrCommit(commit ? TransactionState.PrepareCommit : TransactionState.PrepareAbort, clientTransactionVersion,
                        nextProducerId, txnManager.NowMs),
                    TxnOperationKind.EndTxn);
            case TransactionState.CompleteCommit:
                return commit ? completed : TxnOperation.Answer(ErrorCode.InvalidTxnState);
            case TransactionState.CompleteAbort:
                return commit ? TxnOperation.Answer(ErrorCode.InvalidTxnState) : completed;
            case TransactionState.PrepareCommit:
                return TxnOperation.Answer(commit ? ErrorCode.ConcurrentTransactions : ErrorCode.InvalidTxnState);
            case TransactionState.PrepareAbort:
                return TxnOperation.Answer(commit ? ErrorCode.InvalidTxnState : ErrorCode.ConcurrentTransactions);
            case TransactionState.Empty:
                return TxnOperation.Answer(ErrorCode.InvalidTxnState);
            default:
                throw new InvalidOperationException($"{transactionalId} is in state {metadata.State}, which is never in force");
        }
    }

    /// <summary>
    /// Kafka's abortTimedOutTransactions: every open transaction past <c>transaction.timeout.ms</c> is aborted with a
    /// bumped epoch, so its producer, if still alive, is fenced. The owner runs this every
    /// <c>transaction.abort.timed.out.transaction.cleanup.interval.ms</c> and makes each write durable in turn.
    /// </summary>
    public List<PendingTxnTransition> AbortTimedOutTransactions()
    {
        var writes = new List<PendingTxnTransition>();
        foreach (var metadata in txnManager.TimedOutTransactions())
        {
            LogTimedOut(metadata.TransactionalId, metadata.ProducerId, metadata.ProducerEpoch, metadata.TxnTimeoutMs);
            writes.Add(Prepare(metadata, metadata.PrepareFenceProducerEpoch(txnManager.NowMs), TxnOperationKind.AbortTimedOut));
        }
        return writes;
    }

    /// <summary>
    /// Kafka's removal of expired transactional ids: each id at rest for <c>transactional.id.expiration.ms</c> is
    /// prepared Dead; once the record without it is durable, <see cref="CompleteWrite"/> forgets it.
    /// </summary>
    public List<PendingTxnTransition> RemoveExpiredTransactionalIds()
    {
        var writes = new List<PendingTxnTransition>();
        foreach (var metadata in txnManager.ExpiredTransactionalIds())
            writes.Add(Prepare(metadata, metadata.PrepareDead(), TxnOperationKind.ExpireTransactionalId));
        return writes;
    }

    /// <summary>The marker phases to run: every transaction in PrepareCommit or PrepareAbort (after a load, all of them).</summary>
    public List<TxnMarkerRequest> PendingMarkers()
    {
        var requests = new List<TxnMarkerRequest>();
        foreach (var metadata in txnManager.All)
            if (metadata.Markers is { } markers) requests.Add(markers);
        return requests;
    }

    /// <summary>
    /// Reports markers of <paramref name="request"/> written (Kafka's TransactionMarkerRequestCompletionHandler). Once
    /// all are, answers the CompleteCommit or CompleteAbort write to make durable; null until then, or when the report
    /// is stale (an older request, an older coordinator epoch) or the completion is already being written. Reporting
    /// again is harmless; after a failed completion write, reporting again (even nothing) prepares it anew.
    /// </summary>
    public PendingTxnTransition? OnMarkersWritten(TxnMarkerRequest request, IEnumerable<TxnParticipant> written)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(written);
        if (request.CoordinatorEpoch != txnManager.CoordinatorEpoch)
            return null;
        var metadata = txnManager.Get(request.TransactionalId);
        if (metadata is null || !ReferenceEquals(metadata.Markers, request))
            return null;
        foreach (var participant in written) request.MarkWritten(participant);
        if (!request.AllWritten || metadata.PendingTransitionInProgress)
            return null;
        return Prepare(metadata, metadata.PrepareComplete(txnManager.NowMs), TxnOperationKind.CompleteMarkers);
    }

    /// <summary>The record to store for <paramref name="write"/> (one id's grain stores just that id's entry).</summary>
    public TransactionCoordinatorState StateWith(PendingTxnTransition write) => txnManager.ToState([write]);

    /// <summary>
    /// The record to store for several writes of different ids at once: a shard's group commit, the writes prepared
    /// while the previous record was being stored. Complete (or fail) each of them after.
    /// </summary>
    public TransactionCoordinatorState StateWith(IReadOnlyCollection<PendingTxnTransition> writes) => txnManager.ToState(writes);

    /// <summary>
    /// <paramref name="write"/> is durable: make it the state in force and answer the operation that prepared it.
    /// A write prepared under an older coordinator epoch, or no longer the pending one, changes nothing and answers
    /// NotCoordinator (Kafka's answer when the coordinator moved during the append).
    /// </summary>
    public TxnOperation CompleteWrite(PendingTxnTransition write)
    {
        ArgumentNullException.ThrowIfNull(write);
        var metadata = txnManager.Get(write.TransactionalId);
        if (write.CoordinatorEpoch != txnManager.CoordinatorEpoch || metadata is null || !ReferenceEquals(metadata.Pending, write.Transit))
            return TxnOperation.Answer(ErrorCode.NotCoordinator);

        if (write.RemovesTransactionalId)
        {
            txnManager.Remove(write.TransactionalId);
            LogExpired(write.TransactionalId);
            return TxnOperation.Answer(ErrorCode.None);
        }

        if (write.Transit.TxnState == TransactionState.CompleteCommit)
            metrics.CommitCompleted(TimeSpan.FromMilliseconds(Math.Max(0, txnManager.NowMs - metadata.TxnLastUpdateTimestamp)));
        metadata.CompleteTransitionTo(write.Transit);
        if (write.Decision is var decision and not TxnDecision.None)
        {
            txnManager.Record(decision);
            metrics.Decided(decision);
        }
        metadata.Markers = metadata.State is TransactionState.PrepareCommit or TransactionState.PrepareAbort
            ? new TxnMarkerRequest(write.TransactionalId, txnManager.CoordinatorEpoch, write.Transit)
            : null;
        return write.Kind switch
        {
            TxnOperationKind.InitProducerId => new TxnOperation(ErrorCode.None, metadata.ProducerId, metadata.ProducerEpoch),
            // The id and epoch of the producer's next transaction: after a v2 bump that exhausted the epoch, the next id.
            TxnOperationKind.EndTxn when metadata.NextProducerId >= 0 => new TxnOperation(ErrorCode.None, metadata.NextProducerId, 0, Markers: metadata.Markers),
            TxnOperationKind.EndTxn => new TxnOperation(ErrorCode.None, metadata.ProducerId, metadata.ProducerEpoch, Markers: metadata.Markers),
            TxnOperationKind.FenceProducerEpoch => new TxnOperation(ErrorCode.ConcurrentTransactions, Markers: metadata.Markers),
            _ => new TxnOperation(ErrorCode.None, Markers: metadata.Markers),
        };
    }

    /// <summary>
    /// <paramref name="write"/> was not stored (or its outcome is unknown; the owner then reloads before the next
    /// write, since storage may hold it). The state in force stays; answers <paramref name="error"/>.
    /// </summary>
    public TxnOperation FailWrite(PendingTxnTransition write, ErrorCode error)
    {
        ArgumentNullException.ThrowIfNull(write);
        var metadata = txnManager.Get(write.TransactionalId);
        if (write.CoordinatorEpoch == txnManager.CoordinatorEpoch && metadata is not null && ReferenceEquals(metadata.Pending, write.Transit))
        {
            metadata.AbandonPendingTransition();
            // An id whose first InitProducerId was never stored does not linger in memory.
            if (metadata.ProducerEpoch == ProducerSequence.NoProducerEpoch)
                txnManager.Remove(write.TransactionalId);
        }
        LogWriteFailed(write.ToString(), error);
        return TxnOperation.Answer(error);
    }

    /// <summary>Kafka's handleDescribeTransactions; null for an unknown (or never durable) transactional id.</summary>
    public TxnTransitMetadata? Describe(string transactionalId) =>
        txnManager.Get(transactionalId) is { ProducerEpoch: >= 0 } metadata ? metadata.Current() : null;

    /// <summary>
    /// Kafka's handleListTransactions: every stored id, filtered by producer id and state when those filters are not
    /// empty, and (KIP-994's duration filter) to the transactions started before <paramref name="startedBeforeMs"/>
    /// (a shard answers for its ids; the admin merges the shards).
    /// </summary>
    public List<TransactionListing> ListTransactions(IReadOnlyCollection<long>? producerIds = null, IReadOnlyCollection<TransactionState>? states = null,
        long startedBeforeMs = long.MaxValue)
    {
        var listings = new List<TransactionListing>();
        foreach (var metadata in txnManager.All)
            if (metadata.ProducerEpoch != ProducerSequence.NoProducerEpoch
                && (producerIds is not { Count: > 0 } || producerIds.Contains(metadata.ProducerId))
                && (states is not { Count: > 0 } || states.Contains(metadata.State))
                && metadata.TxnStartTimestamp < startedBeforeMs)
                listings.Add(new TransactionListing(metadata.TransactionalId, metadata.ProducerId, metadata.State));
        return listings;
    }

    private TxnOperation Persist(TransactionMetadata metadata, TxnTransitMetadata transit, TxnOperationKind kind) =>
        TxnOperation.Persist(Prepare(metadata, transit, kind));

    private PendingTxnTransition Prepare(TransactionMetadata metadata, TxnTransitMetadata transit, TxnOperationKind kind, bool fencesProducer = false) =>
        new(metadata.TransactionalId, txnManager.CoordinatorEpoch, transit, kind, fencesProducer);

    [LoggerMessage(Level = LogLevel.Information, Message = "Transactional id {TransactionalId}: fencing producer {ProducerId} epoch {ProducerEpoch} and aborting its open transaction")]
    private partial void LogFencing(string transactionalId, long producerId, short producerEpoch);

    [LoggerMessage(Level = LogLevel.Information, Message = "Transactional id {TransactionalId}: aborting the transaction of producer {ProducerId} epoch {ProducerEpoch}, open longer than its {TimeoutMs} ms timeout")]
    private partial void LogTimedOut(string transactionalId, long producerId, short producerEpoch, int timeoutMs);

    [LoggerMessage(Level = LogLevel.Information, Message = "Transactional id {TransactionalId} expired and was removed")]
    private partial void LogExpired(string transactionalId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Transaction state write {Write} failed: {Error}")]
    private partial void LogWriteFailed(string write, ErrorCode error);
}
