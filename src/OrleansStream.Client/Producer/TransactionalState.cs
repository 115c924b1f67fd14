namespace OrleansStream.Client;

/// <summary>The states of Kafka's Java <c>TransactionManager</c>.</summary>
internal enum TransactionState
{
    Uninitialized,
    Initializing,
    Ready,
    InTransaction,
    CommittingTransaction,
    AbortingTransaction,
    AbortableError,
    FatalError,
}

/// <summary>
/// Kafka's TransactionManager, the transactional half: the state machine behind InitTransactions, BeginTransaction,
/// SendOffsetsToTransaction, CommitTransaction and AbortTransaction, and the partitions of the open transaction. A
/// partition's batches wait in the accumulator until AddPartitionsToTxn has added it (<see cref="MaySend"/>, asked by
/// the <see cref="Sender"/>); a batch that fails makes the transaction abortable, and the abort bumps the epoch
/// (KIP-360) so the partitions' sequences restart.
/// </summary>
/// <remarks>
/// Coordinator answers that mean "not now" (ConcurrentTransactions, CoordinatorLoadInProgress, NotCoordinator, which
/// also looks the coordinator up again) are retried until the caller's timeout, which then throws a
/// <see cref="KafkaRetriableException"/> and leaves the state so that the same call may be made again. A newer
/// producer with the same transactional.id (ProducerFenced, InvalidProducerEpoch) is fatal.
/// </remarks>
internal sealed class TransactionalState(
    string transactionalId, ProducerSettings settings, IGrainFactory grains, TransactionManager ids, TimeProvider time, Action wake)
{
    // Kafka's TransactionManager.ADD_PARTITIONS_RETRY_BACKOFF_MS: right after a commit the coordinator answers
    // ConcurrentTransactions until the previous transaction's markers are written, which takes milliseconds, not retry.backoff.ms.
    private const int AddPartitionsRetryBackoffMs = 20;
    private readonly Lock _sync = new();
    private readonly HashSet<TopicPartition> _added = [];
    private readonly HashSet<TopicPartition> _pending = [];
    private TransactionState _state;
    private Error? _error;
    private bool _adding;
    private bool _offsetsAdded;
    private bool _bumpEpoch;
    private int _shard = -1;

    public string TransactionalId => transactionalId;

    public TransactionState State
    {
        get
        {
            lock (_sync) return _state;
        }
    }

    /// <summary>Produce is allowed only inside a transaction (Kafka's failIfNotReadyForSend).</summary>
    public Error? SendError()
    {
        lock (_sync)
        {
            return _state switch
            {
                TransactionState.InTransaction => null,
                TransactionState.FatalError or TransactionState.AbortableError => _error,
                TransactionState.Uninitialized or TransactionState.Initializing =>
                    new Error(ErrorCode.InvalidTxnState, "Cannot produce before InitTransactions has completed."),
                _ => new Error(ErrorCode.InvalidTxnState, $"Cannot produce in state {_state}: call BeginTransaction first."),
            };
        }
    }

    /// <summary>
    /// Whether <paramref name="tp"/>'s batches may go out now. False with no error while AddPartitionsToTxn for it is
    /// on its way (the sender is woken when it is answered); false with an error when they must fail.
    /// </summary>
    public bool MaySend(TopicPartition tp, out Error? error)
    {
        lock (_sync)
        {
            error = null;
            if (_state == TransactionState.FatalError)
            {
                error = _error;
                return false;
            }
            if (_added.Contains(tp)) return true;
            if (_state is TransactionState.InTransaction or TransactionState.CommittingTransaction)
            {
                if (_pending.Add(tp) && !_adding)
                {
                    _adding = true;
                    _ = Task.Run(AddPartitionsAsync);
                }
                return false;
            }
            error = _error ?? new Error(ErrorCode.InvalidTxnState, $"{tp}: the transaction was aborted before the batch was sent.");
            return false;
        }
    }

    /// <summary>
    /// The error that batches not yet sent fail with once the transaction must abort (Kafka's hasAbortableError or
    /// isAborting); null while they may still go out.
    /// </summary>
    public Error? UnsentBatchError()
    {
        lock (_sync)
        {
            return _state is TransactionState.AbortableError or TransactionState.AbortingTransaction
                ? _error ?? new Error(ErrorCode.InvalidTxnState, "The transaction was aborted before the batch was sent.")
                : null;
        }
    }

    /// <summary>A batch of the transaction failed: the transaction can only abort, and the abort bumps the epoch.</summary>
    public void BatchFailed(Error error)
    {
        lock (_sync)
        {
            _bumpEpoch = true;
            if (_state is TransactionState.InTransaction or TransactionState.CommittingTransaction)
            {
                _state = TransactionState.AbortableError;
                _error = new Error(error.Code, $"The transaction must abort: {error.Reason}");
            }
        }
    }

    public void Fatal(Error error)
    {
        lock (_sync)
        {
            if (_state == TransactionState.FatalError) return;
            _state = TransactionState.FatalError;
            _error = error.IsFatal ? error : new Error(error.Code, error.Reason, isFatal: true);
        }
        wake();
    }

    public async Task InitTransactionsAsync(TimeSpan timeout)
    {
        var deadline = Deadline(timeout);
        lock (_sync)
        {
            ThrowIfFatalLocked();
            if (_state is not (TransactionState.Uninitialized or TransactionState.Initializing))
                throw new KafkaException(new Error(ErrorCode.InvalidTxnState, $"InitTransactions was already called (state {_state})."));
            _state = TransactionState.Initializing;
        }
        var response = await CoordinatorAsync(c => c.InitProducerId(new InitTransactionalProducerIdRequest(transactionalId, settings.TransactionTimeoutMs)),
            static r => r.Error, deadline, "InitProducerId").ConfigureAwait(false);
        if (response.Error != ErrorCode.None)
        {
            var error = new Error(response.Error, $"InitProducerId failed: {response.ErrorMessage ?? response.Error.ToString()}");
            if (IsFatalCode(response.Error)) Fatal(error);
            else lock (_sync) _state = TransactionState.Uninitialized;
            throw new KafkaException(FatalError ?? error);
        }
        ids.SetProducerId(new ProducerIdAndEpoch(response.ProducerId, response.ProducerEpoch));
        lock (_sync) _state = TransactionState.Ready;
    }

    public void BeginTransaction()
    {
        lock (_sync)
        {
            ThrowIfFatalLocked();
            if (_state != TransactionState.Ready)
                throw new KafkaException(new Error(ErrorCode.InvalidTxnState, _state is TransactionState.Uninitialized or TransactionState.Initializing
                    ? "BeginTransaction needs InitTransactions first."
                    : $"BeginTransaction in state {_state}: a transaction is already open."));
            _state = TransactionState.InTransaction;
            _added.Clear();
            _pending.Clear();
            _offsetsAdded = false;
            _error = null;
        }
    }

    /// <summary>AddOffsetsToTxn for the group, then TxnOffsetCommit to the group with the consumer's generation and member (KIP-447).</summary>
    public async Task SendOffsetsAsync(IReadOnlyList<OffsetToCommit> offsets, ConsumerGroupMetadata group, TimeSpan timeout)
    {
        var deadline = Deadline(timeout);
        ProducerIdAndEpoch id;
        lock (_sync)
        {
            ThrowIfFatalLocked();
            if (_state == TransactionState.AbortableError) throw new KafkaTxnRequiresAbortException(_error!);
            if (_state != TransactionState.InTransaction)
                throw new KafkaException(new Error(ErrorCode.InvalidTxnState, $"SendOffsetsToTransaction in state {_state}: call BeginTransaction first."));
            id = ids.Current!;
        }
        var added = await CoordinatorAsync(c => c.AddOffsetsToTxn(new AddOffsetsToTxnRequest(transactionalId, id.ProducerId, id.Epoch, group.GroupId)),
            static r => r.Error, deadline, "AddOffsetsToTxn").ConfigureAwait(false);
        ThrowOnError(added.Error, added.ErrorMessage, "AddOffsetsToTxn");
        lock (_sync) _offsetsAdded = true;
        var groupGrain = grains.GetGrain<IConsumerGroupGrain>(group.GroupId);
        var request = new TxnOffsetCommitRequest(transactionalId, id.ProducerId, id.Epoch, offsets, group.GenerationId, group.MemberId, group.GroupInstanceId);
        var committed = await RetryAsync(() => Calls.Call(groupGrain.TxnOffsetCommit(request)), static r => FirstError(r), deadline, "TxnOffsetCommit").ConfigureAwait(false);
        ThrowOnError(FirstError(committed), committed.ErrorMessage, "TxnOffsetCommit");
    }

    /// <summary>Flushes the transaction's records, then EndTxn(commit). Retriable after a timeout; abortable if a batch failed.</summary>
    public async Task CommitAsync(Func<CancellationToken, Task> flush, TimeSpan timeout)
    {
        var deadline = Deadline(timeout);
        lock (_sync)
        {
            ThrowIfFatalLocked();
            if (_state == TransactionState.AbortableError) throw new KafkaTxnRequiresAbortException(_error!);
            if (_state is not (TransactionState.InTransaction or TransactionState.CommittingTransaction))
                throw new KafkaException(new Error(ErrorCode.InvalidTxnState, $"CommitTransaction in state {_state}: no transaction is open."));
            _state = TransactionState.CommittingTransaction;
        }
        await FlushAsync(flush, deadline, "CommitTransaction").ConfigureAwait(false);
        lock (_sync)
        {
            ThrowIfFatalLocked();
            if (_state == TransactionState.AbortableError) throw new KafkaTxnRequiresAbortException(_error!);
        }
        await EndTxnAsync(commit: true, deadline).ConfigureAwait(false);
    }

    /// <summary>
    /// Fails the batches of partitions not yet in the transaction, waits for the rest, EndTxn(abort), and after a
    /// failed batch takes a bumped epoch (KIP-360 InitProducerId with the current id and epoch).
    /// </summary>
    public async Task AbortAsync(Func<CancellationToken, Task> flush, TimeSpan timeout)
    {
        var deadline = Deadline(timeout);
        lock (_sync)
        {
            ThrowIfFatalLocked();
            if (_state is not (TransactionState.InTransaction or TransactionState.AbortableError or TransactionState.AbortingTransaction))
                throw new KafkaException(new Error(ErrorCode.InvalidTxnState, $"AbortTransaction in state {_state}: no transaction is open."));
            _state = TransactionState.AbortingTransaction;
        }
        wake();
        await FlushAsync(flush, deadline, "AbortTransaction").ConfigureAwait(false);
        lock (_sync) ThrowIfFatalLocked();
        // Kafka's order: EndTxn first (InitProducerId during an open transaction would fence this producer), then the bump.
        await EndTxnAsync(commit: false, deadline, complete: false).ConfigureAwait(false);
        bool bump;
        lock (_sync) bump = _bumpEpoch;
        if (bump)
        {
            var id = ids.Current!;
            var response = await CoordinatorAsync(c => c.InitProducerId(new InitTransactionalProducerIdRequest(transactionalId,
                settings.TransactionTimeoutMs, id.ProducerId, id.Epoch)), static r => r.Error, deadline, "InitProducerId").ConfigureAwait(false);
            ThrowOnError(response.Error, response.ErrorMessage, "InitProducerId");
            ids.SetProducerId(new ProducerIdAndEpoch(response.ProducerId, response.ProducerEpoch));
            lock (_sync) _bumpEpoch = false;
        }
        Completed();
    }

    private async Task EndTxnAsync(bool commit, long deadline, bool complete = true)
    {
        bool started;
        ProducerIdAndEpoch id;
        lock (_sync)
        {
            started = _added.Count > 0 || _offsetsAdded;
            id = ids.Current!;
        }
        // A transaction that never added a partition or offsets is unknown to the coordinator: nothing to end.
        if (started)
        {
            var response = await CoordinatorAsync(c => c.EndTxn(new EndTxnRequest(transactionalId, id.ProducerId, id.Epoch, commit)),
                static r => r.Error, deadline, "EndTxn").ConfigureAwait(false);
            ThrowOnError(response.Error, response.ErrorMessage, "EndTxn");
        }
        if (complete) Completed();
    }

    private void Completed()
    {
        lock (_sync)
        {
            if (_state == TransactionState.FatalError) return;
            _state = TransactionState.Ready;
            _added.Clear();
            _pending.Clear();
            _offsetsAdded = false;
            _error = null;
        }
    }

    private async Task AddPartitionsAsync()
    {
        while (true)
        {
            TopicPartition[] partitions;
            ProducerIdAndEpoch id;
            lock (_sync)
            {
                if (_pending.Count == 0 || _state is not (TransactionState.InTransaction or TransactionState.CommittingTransaction))
                {
                    _pending.Clear();
                    _adding = false;
                    break;
                }
                partitions = [.. _pending];
                id = ids.Current!;
            }
            try
            {
                var response = await CoordinatorAsync(c => c.AddPartitionsToTxn(new AddPartitionsToTxnRequest(transactionalId, id.ProducerId, id.Epoch, partitions)),
                    static r => FirstError(r), Deadline(TimeSpan.FromMilliseconds(settings.MessageTimeoutMs)), "AddPartitionsToTxn",
                    AddPartitionsRetryBackoffMs).ConfigureAwait(false);
                var code = FirstError(response);
                if (code == ErrorCode.None)
                {
                    lock (_sync)
                    {
                        foreach (var tp in partitions)
                        {
                            _added.Add(tp);
                            _pending.Remove(tp);
                        }
                    }
                }
                else Failed(new Error(code, $"AddPartitionsToTxn failed: {code}"));
            }
            catch (KafkaException ex)
            {
                Failed(ex.Error);
            }
            wake();
        }
        wake();
    }

    private void Failed(Error error)
    {
        if (IsFatalCode(error.Code)) Fatal(error);
        else BatchFailedWithoutBump(error);
    }

    private void BatchFailedWithoutBump(Error error)
    {
        lock (_sync)
        {
            if (_state is TransactionState.InTransaction or TransactionState.CommittingTransaction)
            {
                _state = TransactionState.AbortableError;
                _error = error;
            }
        }
    }

    private void ThrowOnError(ErrorCode code, string? message, string what)
    {
        if (code == ErrorCode.None) return;
        var error = new Error(code, $"{what} failed: {message ?? code.ToString()}");
        Failed(error);
        lock (_sync)
        {
            ThrowIfFatalLocked();
            throw _state == TransactionState.AbortableError ? new KafkaTxnRequiresAbortException(_error!) : new KafkaException(error);
        }
    }

    private void ThrowIfFatalLocked()
    {
        if (_state == TransactionState.FatalError) throw new KafkaException(_error!);
    }

    private Error? FatalError
    {
        get
        {
            lock (_sync) return _state == TransactionState.FatalError ? _error : null;
        }
    }

    private async Task FlushAsync(Func<CancellationToken, Task> flush, long deadline, string what)
    {
        using var cts = new CancellationTokenSource(RemainingTime(deadline), time);
        try
        {
            await flush(cts.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cts.IsCancellationRequested)
        {
            throw new KafkaRetriableException(new Error(ErrorCode.RequestTimedOut, $"{what} timed out while the transaction's records were still being delivered."));
        }
    }

    /// <summary>A coordinator whose silo dies ends the calls in flight to it, which are retried on its next activation.</summary>
    private SiloFailureWatch Calls => SiloFailureWatch.For(grains);

    private Task<T> CoordinatorAsync<T>(Func<ITransactionCoordinatorGrain, Task<T>> call, Func<T, ErrorCode> errorOf, long deadline, string what,
        int concurrentTransactionsBackoffMs = -1) =>
        RetryAsync(async () =>
        {
            var shard = Volatile.Read(ref _shard);
            if (shard < 0)
            {
                shard = await Calls.Call(grains.GetGrain<ITransactionCoordinatorLookupGrain>(0).FindCoordinator(transactionalId)).ConfigureAwait(false);
                Volatile.Write(ref _shard, shard);
            }
            return await Calls.Call(call(grains.GetGrain<ITransactionCoordinatorGrain>(shard))).ConfigureAwait(false);
        }, errorOf, deadline, what, concurrentTransactionsBackoffMs);

    /// <summary>
    /// Calls until the answer is not a retriable coordinator error, or throws <see cref="KafkaRetriableException"/> at the
    /// deadline. ConcurrentTransactions is retried after <paramref name="concurrentTransactionsBackoffMs"/> when given.
    /// </summary>
    private async Task<T> RetryAsync<T>(Func<Task<T>> call, Func<T, ErrorCode> errorOf, long deadline, string what, int concurrentTransactionsBackoffMs = -1)
    {
        while (true)
        {
            ErrorCode code;
            try
            {
                var response = await call().ConfigureAwait(false);
                code = errorOf(response);
                if (!IsRetriableCoordinatorCode(code)) return response;
            }
            catch (Exception ex) when (LeaderCalls.IsTransient(ex))
            {
                code = ErrorCode.RequestTimedOut;
            }
            if (code is ErrorCode.NotCoordinator or ErrorCode.CoordinatorNotAvailable or ErrorCode.RequestTimedOut) Volatile.Write(ref _shard, -1);
            if (time.GetTimestamp() >= deadline)
                throw new KafkaRetriableException(new Error(ErrorCode.RequestTimedOut, $"{what} timed out; last error {code}."));
            var backoffMs = code == ErrorCode.ConcurrentTransactions && concurrentTransactionsBackoffMs >= 0 ? concurrentTransactionsBackoffMs : settings.RetryBackoffMs;
            await Task.Delay(TimeSpan.FromMilliseconds(Math.Clamp(backoffMs, 1, Ticks.ToMs(time, Math.Max(1, deadline - time.GetTimestamp())) + 1)), time)
                .ConfigureAwait(false);
        }
    }

    private long Deadline(TimeSpan timeout) =>
        timeout == Timeout.InfiniteTimeSpan ? long.MaxValue : time.GetTimestamp() + Ticks.FromMs(time, (long)timeout.TotalMilliseconds);

    private TimeSpan RemainingTime(long deadline) =>
        deadline == long.MaxValue ? Timeout.InfiniteTimeSpan : TimeSpan.FromMilliseconds(Math.Max(0, Ticks.ToMs(time, deadline - time.GetTimestamp())));

    private static ErrorCode FirstError(AddPartitionsToTxnResponse response)
    {
        foreach (var p in response.Partitions)
            if (p.Error is not (ErrorCode.None or ErrorCode.OperationNotAttempted)) return p.Error;
        return ErrorCode.None;
    }

    private static ErrorCode FirstError(OffsetCommitResponse response)
    {
        if (response.Error != ErrorCode.None) return response.Error;
        foreach (var p in response.Partitions)
            if (p.Error != ErrorCode.None) return p.Error;
        return ErrorCode.None;
    }

    private static bool IsRetriableCoordinatorCode(ErrorCode code) => code is
        ErrorCode.ConcurrentTransactions or ErrorCode.CoordinatorLoadInProgress or ErrorCode.NotCoordinator or
        ErrorCode.CoordinatorNotAvailable or ErrorCode.RequestTimedOut or ErrorCode.UnknownTopicOrPartition;

    /// <summary>Errors after which the producer can do nothing more (Kafka's fatal errors for a transactional producer).</summary>
    internal static bool IsFatalCode(ErrorCode code) => code is
        ErrorCode.ProducerFenced or ErrorCode.InvalidProducerEpoch or ErrorCode.TransactionalIdAuthorizationFailed or
        ErrorCode.TransactionCoordinatorFenced or ErrorCode.InvalidProducerIdMapping;
}
