using Microsoft.Extensions.Options;
using Orleans.Concurrency;
using Orleans.Runtime;
using Orleans.Storage;
using OrleansStream.Server.Diagnostics;
using OrleansStream.Server.Transactions.Markers;
using OrleansStream.Server.Transactions.ProducerIds;

namespace OrleansStream.Server.Transactions;

/// <summary>
/// Kafka's transaction coordinator for one shard of transactional ids (one <c>__transaction_state</c> partition): the
/// Orleans side of a <see cref="TransactionCoordinator"/>. It stores its record in grain storage (a bumped coordinator
/// epoch on every activation, then one write at a time with every transition prepared meanwhile in the next record),
/// runs the marker phases, and aborts timed-out transactions and removes expired ids on timers.
/// Reentrant so that a write in flight does not hold up the next requests (which then share the next write); every
/// decision is taken synchronously on a turn, and nothing prepared is in force before it is stored.
/// </summary>
[GrainType("os-txn-coordinator")]
[Reentrant]
[KeepAlive]
internal sealed partial class TransactionCoordinatorGrain(
    [PersistentState("txn-coordinator", OrleansStreamDefaults.GrainStorageName)] IPersistentState<TransactionCoordinatorState> state,
    IOptions<TransactionCoordinatorOptions> options,
    IProducerIdGenerator producerIds,
    IProducerIdAllocator producerIdAllocator,
    TimeProvider time,
    OrleansStreamMetrics metrics,
    ILogger<TransactionCoordinatorGrain> logger)
    : Grain, ITransactionCoordinatorGrain, ITransactionCoordinatorShardGrain
{
    /// <summary>How long InitProducerId waits for the broker's first producer id block before answering a retriable error.</summary>
    internal static readonly TimeSpan ProducerIdWait = TimeSpan.FromSeconds(5);

    private readonly TransactionCoordinatorOptions _options = options.Value;
    private readonly List<(PendingTxnTransition Write, TaskCompletionSource<TxnOperation> Done)> _queued = [];
    private TransactionStateManager _manager = null!;
    private TransactionCoordinator _coordinator = null!;
    private TxnMarkerWriter _markers = null!;
    private bool _writing;
    private bool _reloading;
    private bool _deactivating;
    private IGrainTimer? _timeoutTimer;
    private IGrainTimer? _expirationTimer;

    private int Shard => (int)this.GetPrimaryKeyLong();

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _manager = new TransactionStateManager(_options, time);
        _coordinator = new TransactionCoordinator(_manager, producerIds, metrics.Transactions, logger);
        _markers = new TxnMarkerWriter(GrainFactory, time, metrics.Transactions, logger);
        await LoadAsync();
        var abortInterval = TimeSpan.FromMilliseconds(_options.TransactionAbortTimedOutTransactionCleanupIntervalMs);
        _timeoutTimer = this.RegisterGrainTimer(static (self, _) => self.StoreAllAsync(self._coordinator.AbortTimedOutTransactions()), this,
            new GrainTimerCreationOptions(abortInterval, abortInterval) { Interleave = true });
        var expireInterval = TimeSpan.FromMilliseconds(_options.TransactionRemoveExpiredTransactionCleanupIntervalMs);
        _expirationTimer = this.RegisterGrainTimer(static (self, _) => self.StoreAllAsync(self._coordinator.RemoveExpiredTransactionalIds()), this,
            new GrainTimerCreationOptions(expireInterval, expireInterval) { Interleave = true });
    }

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        // Marker loops stop; the next activation resumes them under its own coordinator epoch.
        _deactivating = true;
        _timeoutTimer?.Dispose();
        _expirationTimer?.Dispose();
        return Task.CompletedTask;
    }

    /// <summary>Stores the record under a bumped coordinator epoch (fencing any older activation), then takes it over and resumes its markers.</summary>
    private async Task LoadAsync()
    {
        var next = TransactionStateManager.NextEpoch(state.RecordExists ? state.State : null);
        state.State = next;
        await state.WriteStateAsync();
        _manager.Load(next);
        LogLoaded(Shard, next.CoordinatorEpoch, _manager.Count);
        foreach (var markers in _coordinator.PendingMarkers()) _ = RunMarkersAsync(markers);
    }

    public Task<int> Wake() => Task.FromResult(_coordinator.CoordinatorEpoch);

    // ---- Kafka's requests ------------------------------------------------------------------------------------------

    public async Task<InitProducerIdResponse> InitProducerId(InitTransactionalProducerIdRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (NotOwned(request.TransactionalId) is { } notOwned) return new InitProducerIdResponse(notOwned, -1, -1, NotOwnedMessage(request.TransactionalId));
        ProducerIdAndEpoch? expected = request.ExpectedProducerId >= 0 ? new ProducerIdAndEpoch(request.ExpectedProducerId, request.ExpectedProducerEpoch) : null;
        var op = _coordinator.InitProducerId(request.TransactionalId, request.TransactionTimeoutMs, expected);
        if (op.Error == ErrorCode.CoordinatorNotAvailable && _manager.IsLoaded && await WaitForProducerIdBlockAsync())
            op = _coordinator.InitProducerId(request.TransactionalId, request.TransactionTimeoutMs, expected);
        op = await CompleteAsync(op);
        return new InitProducerIdResponse(op.Error, op.Error == ErrorCode.None ? op.ProducerId : -1, op.Error == ErrorCode.None ? op.ProducerEpoch : (short)-1);
    }

    public async Task<AddPartitionsToTxnResponse> AddPartitionsToTxn(AddPartitionsToTxnRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var error = NotOwned(request.TransactionalId)
            ?? (await CompleteAsync(_coordinator.AddPartitionsToTxn(request.TransactionalId, request.ProducerId, request.ProducerEpoch, request.Partitions,
                request.ClientTransactionVersion))).Error;
        var partitions = new List<PartitionError>(request.Partitions.Count);
        foreach (var tp in request.Partitions) partitions.Add(new PartitionError(tp, error));
        return new AddPartitionsToTxnResponse(partitions);
    }

    public async Task<TxnResponse> AddOffsetsToTxn(AddOffsetsToTxnRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (NotOwned(request.TransactionalId) is { } notOwned) return new TxnResponse(notOwned, NotOwnedMessage(request.TransactionalId));
        var op = await CompleteAsync(_coordinator.AddOffsetsToTxn(request.TransactionalId, request.ProducerId, request.ProducerEpoch, request.GroupId,
            request.ClientTransactionVersion));
        return new TxnResponse(op.Error);
    }

    public async Task<TxnResponse> EndTxn(EndTxnRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (NotOwned(request.TransactionalId) is { } notOwned) return new TxnResponse(notOwned, NotOwnedMessage(request.TransactionalId));
        var result = request.Commit ? TransactionResult.Commit : TransactionResult.Abort;
        var op = await CompleteAsync(_coordinator.EndTxn(request.TransactionalId, request.ProducerId, request.ProducerEpoch, result,
            request.ClientTransactionVersion));
        return op.Error == ErrorCode.None ? new TxnResponse(op.Error, ProducerId: op.ProducerId, ProducerEpoch: op.ProducerEpoch) : new TxnResponse(op.Error);
    }

    public Task<TxnResponse> VerifyPartitionInTxn(VerifyPartitionInTxnRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var error = NotOwned(request.TransactionalId)
            ?? _coordinator.VerifyPartitionInTxn(request.TransactionalId, request.ProducerId, request.ProducerEpoch, request.Partition);
        return Task.FromResult(new TxnResponse(error));
    }

    public Task<ErrorCode> VerifyGroupInTxn(string transactionalId, long producerId, short producerEpoch, string groupId) =>
        Task.FromResult(NotOwned(transactionalId)
            ?? _coordinator.VerifyParticipantInTxn(transactionalId, producerId, producerEpoch, TxnParticipant.OfGroup(groupId)));

    public Task<IReadOnlyList<TransactionDescription>> DescribeTransactions(IReadOnlyList<string> transactionalIds)
    {
        ArgumentNullException.ThrowIfNull(transactionalIds);
        var result = new List<TransactionDescription>(transactionalIds.Count);
        foreach (var id in transactionalIds)
        {
            var error = NotOwned(id);
            var current = error is null ? _coordinator.Describe(id) : null;
            if (current is null)
            {
                result.Add(new TransactionDescription(id, error ?? ErrorCode.TransactionalIdNotFound, "", -1, -1, -1, -1, []));
                continue;
            }
            var partitions = new List<TopicPartition>();
            foreach (var p in current.Participants)
                if (!p.IsGroup) partitions.Add(p.Partition);
            result.Add(new TransactionDescription(id, ErrorCode.None, current.TxnState.ToString(), current.ProducerId, current.ProducerEpoch,
                current.TxnTimeoutMs, current.TxnStartTimestamp, partitions));
        }
        return Task.FromResult<IReadOnlyList<TransactionDescription>>(result);
    }

    public Task<IReadOnlyList<TransactionListingResult>> ListTransactions(IReadOnlyList<string> stateFilters, IReadOnlyList<long> producerIdFilters,
        long durationFilterMs = -1)
    {
        ArgumentNullException.ThrowIfNull(stateFilters);
        ArgumentNullException.ThrowIfNull(producerIdFilters);
        var states = new HashSet<TransactionState>();
        foreach (var name in stateFilters)
            if (Enum.TryParse<TransactionState>(name, ignoreCase: false, out var s) && Enum.IsDefined(s)) states.Add(s);
        var result = new List<TransactionListingResult>();
        // Kafka: a filter naming only unknown states matches nothing.
        if (stateFilters.Count > 0 && states.Count == 0) return Task.FromResult<IReadOnlyList<TransactionListingResult>>(result);
        var startedBeforeMs = durationFilterMs >= 0 ? time.GetUtcNow().ToUnixTimeMilliseconds() - durationFilterMs : long.MaxValue;
        foreach (var listing in _coordinator.ListTransactions(producerIdFilters as IReadOnlyCollection<long> ?? [.. producerIdFilters], states, startedBeforeMs))
            result.Add(new TransactionListingResult(listing.TransactionalId, listing.ProducerId, listing.State.ToString()));
        return Task.FromResult<IReadOnlyList<TransactionListingResult>>(result);
    }

    public Task<TransactionCoordinatorStats> GetStats() => Task.FromResult(_manager.Stats);

    private ErrorCode? NotOwned(string? transactionalId) =>
        !string.IsNullOrEmpty(transactionalId) && TransactionStateManager.PartitionFor(transactionalId, _options.TransactionStateLogNumPartitions) != Shard
            ? ErrorCode.NotCoordinator
            : null;

    private string NotOwnedMessage(string transactionalId) =>
        $"Transactional id '{transactionalId}' belongs to shard {TransactionStateManager.PartitionFor(transactionalId, _options.TransactionStateLogNumPartitions)}, not {Shard}.";

    /// <summary>While the broker has no producer id block yet (just started), waits for one for a while.</summary>
    private async Task<bool> WaitForProducerIdBlockAsync()
    {
        using var wait = new CancellationTokenSource(ProducerIdWait, time);
        try
        {
            // Takes (and skips) one id: what matters is that a block is there for the coordinator's synchronous take.
            await producerIdAllocator.NextProducerIdAsync(wait.Token);
            return true;
        }
        catch (Exception e) when (e is OperationCanceledException or OrleansStreamException)
        {
            return false;
        }
    }

    // ---- durable before effective: the shard's group commit -------------------------------------------------------

    /// <summary>Stores the operation's transition if it has one and answers what the coordinator makes of it.</summary>
    private async Task<TxnOperation> CompleteAsync(TxnOperation op) => op.Write is { } write ? await StoreAsync(write) : op;

    /// <summary>Queues <paramref name="write"/> for the next record; one record is written at a time.</summary>
    private Task<TxnOperation> StoreAsync(PendingTxnTransition write)
    {
        var done = new TaskCompletionSource<TxnOperation>(TaskCreationOptions.RunContinuationsAsynchronously);
        _queued.Add((write, done));
        if (!_writing) _ = FlushAsync();
        return done.Task;
    }

    private async Task FlushAsync()
    {
        _writing = true;
        try
        {
            while (_queued.Count > 0)
            {
                // Writes prepared before a reload answer NotCoordinator without being stored.
                var batch = new List<(PendingTxnTransition Write, TaskCompletionSource<TxnOperation> Done)>(_queued.Count);
                foreach (var queued in _queued)
                    if (queued.Write.CoordinatorEpoch == _coordinator.CoordinatorEpoch) batch.Add(queued);
                    else queued.Done.SetResult(_coordinator.CompleteWrite(queued.Write));
                _queued.Clear();
                if (batch.Count == 0) continue;
                var writes = new PendingTxnTransition[batch.Count];
                for (var i = 0; i < batch.Count; i++) writes[i] = batch[i].Write;
                Exception? failure = null;
                try
                {
                    state.State = _coordinator.StateWith(writes);
                    await state.WriteStateAsync();
                }
                catch (Exception e)
                {
                    failure = e;
                }
                // An ETag conflict: a newer activation stored its epoch. Anything else: the write may have landed.
                var error = failure is InconsistentStateException ? ErrorCode.NotCoordinator : ErrorCode.CoordinatorNotAvailable;
                if (failure is not null) LogStoreFailed(failure, Shard, batch.Count);
                foreach (var (write, done) in batch)
                {
                    var op = failure is null ? _coordinator.CompleteWrite(write) : _coordinator.FailWrite(write, error);
                    if (op.Markers is { } markers) _ = RunMarkersAsync(markers);
                    done.SetResult(op);
                }
                if (failure is InconsistentStateException)
                {
                    foreach (var (write, done) in _queued) done.SetResult(_coordinator.FailWrite(write, ErrorCode.NotCoordinator));
                    _queued.Clear();
                    DeactivateOnIdle();
                    return;
                }
                if (failure is not null) await ReloadAsync();
            }
        }
        finally
        {
            _writing = false;
        }
    }

    /// <summary>After a write whose outcome is unknown: read what storage holds and load it under a bumped epoch.</summary>
    private async Task ReloadAsync()
    {
        if (_reloading) return;
        _reloading = true;
        try
        {
            var backoff = TxnMarkerWriter.InitialBackoff;
            while (true)
            {
                try
                {
                    await state.ReadStateAsync();
                    await LoadAsync();
                    return;
                }
                catch (InconsistentStateException e)
                {
                    LogStoreFailed(e, Shard, 0);
                    DeactivateOnIdle();
                    return;
                }
                catch (Exception e)
                {
                    LogStoreFailed(e, Shard, 0);
                    await Task.Delay(backoff, time);
                    backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, TxnMarkerWriter.MaxBackoff.Ticks));
                }
            }
        }
        finally
        {
            _reloading = false;
        }
    }

    // ---- the marker phase and the timers ----------------------------------------------------------------------------

    /// <summary>Writes every marker of <paramref name="request"/> until each is acknowledged, then stores the completion.</summary>
    private async Task RunMarkersAsync(TxnMarkerRequest request)
    {
        try
        {
            await WriteMarkersThenCompleteAsync(request);
        }
        catch (Exception e)
        {
            // Nothing else retries a marker phase in this activation: its transaction would stay prepared (and its
            // producer answered ConcurrentTransactions) for as long as the activation lives. The next one resumes it.
            LogMarkersFailed(e, request.TransactionalId, Shard);
            DeactivateOnIdle();
        }
    }

    private async Task WriteMarkersThenCompleteAsync(TxnMarkerRequest request)
    {
        bool IsCurrent() => !_deactivating && request.CoordinatorEpoch == _coordinator.CoordinatorEpoch;
        var calls = new List<Task<TxnMarkerOutcome>>(request.Markers.Count);
        var participants = new List<TxnParticipant>(request.Markers.Count);
        foreach (var marker in request.Markers)
        {
            if (!request.Unwritten.Contains(marker.Participant)) continue;
            calls.Add(WriteMarkerAsync(marker, IsCurrent));
            participants.Add(marker.Participant);
        }
        var outcomes = await Task.WhenAll(calls);
        if (Array.IndexOf(outcomes, TxnMarkerOutcome.Fenced) >= 0 || Array.IndexOf(outcomes, TxnMarkerOutcome.Stale) >= 0) return;
        var backoff = TxnMarkerWriter.InitialBackoff;
        IEnumerable<TxnParticipant> written = participants;
        while (IsCurrent() && _coordinator.OnMarkersWritten(request, written) is { } complete)
        {
            written = [];
            var op = await StoreAsync(complete);
            if (op.Error == ErrorCode.None)
            {
                LogCompleted(request.TransactionalId, request.Result);
                return;
            }
            await Task.Delay(backoff, time);
            backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, TxnMarkerWriter.MaxBackoff.Ticks));
        }
    }

    private async Task<TxnMarkerOutcome> WriteMarkerAsync(TxnMarker marker, Func<bool> isCurrent)
    {
        var outcome = await _markers.WriteAsync(marker, isCurrent);
        // A participant saw a newer coordinator epoch: this activation is a zombie; its other marker loops stop with it.
        if (outcome == TxnMarkerOutcome.Fenced) DeactivateOnIdle();
        return outcome;
    }

    /// <summary>A timer's writes (timed-out aborts, expired ids), each through the queue; an abort's markers start once it is stored.</summary>
    private Task StoreAllAsync(List<PendingTxnTransition> writes)
    {
        var stored = new Task[writes.Count];
        for (var i = 0; i < stored.Length; i++) stored[i] = StoreAsync(writes[i]);
        return Task.WhenAll(stored);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Transaction coordinator shard {Shard} loaded {Count} transactional ids under coordinator epoch {CoordinatorEpoch}")]
    private partial void LogLoaded(int shard, int coordinatorEpoch, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Transaction coordinator shard {Shard}: storing {Count} transitions failed")]
    private partial void LogStoreFailed(Exception e, int shard, int count);

    [LoggerMessage(Level = LogLevel.Error, Message = "Transactional id {TransactionalId}: its marker phase failed; transaction coordinator shard {Shard} deactivates so that its next activation resumes it")]
    private partial void LogMarkersFailed(Exception e, string transactionalId, int shard);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Transactional id {TransactionalId}: every marker written, transaction completed ({Result})")]
    private partial void LogCompleted(string transactionalId, TransactionResult result);
}
