namespace OrleansStream.Client;

/// <summary>A producer id and epoch from InitProducerId (Kafka's ProducerIdAndEpoch).</summary>
internal sealed record ProducerIdAndEpoch(long ProducerId, short Epoch);

/// <summary>
/// Kafka's TransactionManager, the idempotent half: gets the producer id and epoch from <see cref="IProducerIdGrain"/>
/// (retrying retriable errors with retry.backoff.ms), remembers a fatal error, and does the sequence arithmetic. The
/// per-partition sequences live on <see cref="PartitionQueue"/>, under its lock, where batches are drained.
/// </summary>
/// <remarks>
/// A non-transactional producer that loses its sequence bumps its epoch itself: a batch that was next in line and
/// answered OutOfOrderSequenceNumber or UnknownProducerId (the broker lost the producer's state) goes again first
/// under the new epoch; a batch that failed for good (refused as too large) leaves a gap and fails. The bump follows (KIP-360, Kafka's bumpIdempotentEpochAndResetIdIfNeeded: the broker takes a higher epoch
/// of an idempotent producer when its sequence starts at 0); the new epoch restarts every partition's sequence at 0
/// once the partition's requests under the old one are done. Only the last usable epoch takes a new producer id
/// instead. An old epoch (InvalidProducerEpoch, ProducerFenced) is fatal: every later batch fails with it.
/// </remarks>
internal sealed class TransactionManager(IGrainFactory grains, TimeProvider time, int retryBackoffMs, Action onChange)
{
    private readonly Lock _sync = new();
    private ProducerIdAndEpoch? _current;
    private Task? _init;
    private Error? _fatal;

    /// <summary>The producer id and epoch new batches get, or null while one is being fetched.</summary>
    public ProducerIdAndEpoch? Current => Volatile.Read(ref _current);

    /// <summary>Set once the producer can no longer send (fenced, or InitProducerId failed for good).</summary>
    public Error? FatalError => Volatile.Read(ref _fatal);

    /// <summary>Set for a transactional producer: its id and epoch come from the transaction coordinator, not from here.</summary>
    public TransactionalState? Transactional { get; set; }

    /// <summary>The transaction coordinator gave the producer this id and epoch (InitTransactions, or an epoch bump after an abort).</summary>
    public void SetProducerId(ProducerIdAndEpoch id)
    {
        lock (_sync) Volatile.Write(ref _current, id);
        onChange();
    }

    /// <summary>Starts InitProducerId unless an id is there or on its way; <c>onChange</c> runs when it arrives.</summary>
    public void EnsureProducerId()
    {
        lock (_sync)
        {
            if (_current is not null || _init is not null || _fatal is not null || Transactional is not null) return;
            _init = Task.Run(InitProducerIdAsync); // never completes under this lock, so Finish always sees it
        }
    }

    /// <summary>
    /// A batch of <paramref name="failed"/> failed for good: the next batches get the epoch after it (a new producer id
    /// once the epochs are used up), unless another failure bumped it already. In a transaction the failed batch
    /// instead makes the transaction abortable; the abort bumps the epoch through the coordinator.
    /// </summary>
    public void BumpEpoch(ProducerIdAndEpoch failed, Error error)
    {
        if (Transactional is { } transactional)
        {
            transactional.BatchFailed(error);
            return;
        }
        lock (_sync)
        {
            if (_current != failed) return;
            Volatile.Write(ref _current, failed.Epoch < short.MaxValue - 1 ? failed with { Epoch = (short)(failed.Epoch + 1) } : null);
        }
        onChange();
    }

    public void Fail(Error error)
    {
        lock (_sync) _fatal ??= error;
        Transactional?.Fatal(error);
    }

    private async Task InitProducerIdAsync()
    {
        var grain = grains.GetGrain<IProducerIdGrain>(0);
        while (true)
        {
            ErrorCode code;
            string? reason;
            try
            {
                var response = await SiloFailureWatch.For(grains).Call(grain.InitProducerId()).ConfigureAwait(false);
                if (response.Error == ErrorCode.None)
                {
                    Finish(new ProducerIdAndEpoch(response.ProducerId, response.ProducerEpoch), null);
                    return;
                }
                (code, reason) = (response.Error, response.ErrorMessage);
            }
            catch (Exception ex) when (LeaderCalls.IsTransient(ex))
            {
                (code, reason) = (ErrorCode.RequestTimedOut, ex.Message);
            }
            catch (Exception ex)
            {
                (code, reason) = (ErrorCode.UnknownServerError, $"{ex.GetType().Name}: {ex.Message}");
            }
            if (!Error.IsRetriableCode(code))
            {
                Finish(null, new Error(code, $"InitProducerId failed: {reason ?? code.ToString()}"));
                return;
            }
            await Task.Delay(TimeSpan.FromMilliseconds(Math.Max(1, retryBackoffMs)), time).ConfigureAwait(false);
        }
    }

    private void Finish(ProducerIdAndEpoch? id, Error? fatal)
    {
        lock (_sync)
        {
            Volatile.Write(ref _current, id);
            if (fatal is not null) _fatal ??= fatal;
            _init = null;
        }
        onChange();
    }

    /// <summary>Kafka's DefaultRecordBatch.incrementSequence: sequences wrap from <see cref="int.MaxValue"/> to 0.</summary>
    public static int IncrementSequence(int sequence, int increment) =>
        sequence > int.MaxValue - increment ? increment - (int.MaxValue - sequence) - 1 : sequence + increment;
}
