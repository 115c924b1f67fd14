using System.Collections.Concurrent;
using OrleansStream.Records;

namespace OrleansStream.Client;

/// <summary>
/// Kafka's <c>Sender</c> with what feeds it, the untyped half of a producer: records go into the accumulator, the send
/// loop turns sealed batches into produce calls on partition leaders, with retries, timeouts and flush; the
/// <see cref="BufferPool"/> bounds what waits. <see cref="Producer{TKey,TValue}"/> adds serialization and
/// partitioning on top.
/// </summary>
internal sealed class Sender : IAsyncDisposable
{
    /// <summary>Java's max.request.size: consecutive batches of a partition share one call up to this.</summary>
    private const int MaxRequestBytes = 1 << 20;

    private readonly ProducerSettings _settings;
    private readonly MetadataCache _cache;
    private readonly TimeProvider _time;
    private readonly RecordAccumulator _accumulator;
    /// <summary>The idempotent producer's id, epoch and errors; null when enable.idempotence is off.</summary>
    private readonly TransactionManager? _transactions;
    private readonly AsyncSignal _wake = new();
    private readonly ITimer _timer;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task _sendLoop;
    private readonly ConcurrentDictionary<string, long> _lastRefresh = new(StringComparer.Ordinal);
    private readonly long _messageTimeoutTicks;
    private readonly long _backoffTicks;
    private long _outstanding;
    private int _flushing;
    private TaskCompletionSource _idle = NewTcs();

    public Sender(ProducerSettings settings, MetadataCache cache, TimeProvider time)
    {
        _settings = settings;
        _cache = cache;
        _time = time;
        // Idempotent, a batch grows while its partition is busy up to message.max.bytes, librdkafka's limit on a request.
        _accumulator = new RecordAccumulator(settings.BatchSize, settings.LingerMs, time, settings.EnableIdempotence ? settings.MessageMaxBytes : 0,
            settings.CompressionType, settings.TransactionalId is not null);
        Buffers = new BufferPool(settings, time);
        Partitioner = new StickyPartitioner(_accumulator, settings.BatchSize);
        _messageTimeoutTicks = Ticks.FromMs(time, settings.MessageTimeoutMs);
        _backoffTicks = Ticks.FromMs(time, settings.RetryBackoffMs);
        if (settings.EnableIdempotence)
            _transactions = new TransactionManager(cache.Grains, time, settings.RetryBackoffMs, _wake.Set);
        if (settings.TransactionalId is { } transactionalId)
            _transactions!.Transactional = Transactional = new TransactionalState(transactionalId, settings, cache.Grains, _transactions, time, _wake.Set);
        _timer = time.CreateTimer(static s => ((AsyncSignal)s!).Set(), _wake, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        _sendLoop = Task.Run(SendLoopAsync);
    }

    public ProducerSettings Settings => _settings;

    public MetadataCache Metadata => _cache;

    public TimeProvider Time => _time;

    public BufferPool Buffers { get; }

    /// <summary>The transaction state machine of a producer with transactional.id; null otherwise.</summary>
    public TransactionalState? Transactional { get; }

    public StickyPartitioner Partitioner { get; }

    /// <summary>Records produced and not yet reported.</summary>
    public int Outstanding => (int)Interlocked.Read(ref _outstanding);

    /// <summary>The topic's metadata, refreshed (and auto-created when allowed) if missing; throws for an unknown topic.</summary>
    public ValueTask<TopicEntry> TopicAsync(string topic)
    {
        if (_cache.TryGet(topic, _settings.MetadataMaxAgeMs, out var entry) && entry.Error == ErrorCode.None && entry.PartitionCount > 0)
            return ValueTask.FromResult(entry);
        return new ValueTask<TopicEntry>(LoadTopicAsync(topic));
    }

    private async Task<TopicEntry> LoadTopicAsync(string topic)
    {
        var started = _time.GetTimestamp();
        var stale = long.MaxValue;
        while (true)
        {
            TopicEntry entry;
            try
            {
                entry = await _cache.RefreshAsync(topic, _settings.AllowAutoCreateTopics, stale).ConfigureAwait(false);
            }
            catch (Exception ex) when (LeaderCalls.IsTransient(ex))
            {
                entry = new TopicEntry(topic, -1, ErrorCode.RequestTimedOut, ex.Message, [], 0);
            }
            if (entry.Error == ErrorCode.None && entry.PartitionCount > 0) return entry;
            // The controller is the authority on which topics exist: an unknown or invalid topic fails at once.
            if (entry.Error is not (ErrorCode.None or ErrorCode.LeaderNotAvailable or ErrorCode.RequestTimedOut))
                throw new KafkaException(new Error(entry.Error, entry.ErrorMessage ?? $"{entry.Error}: topic '{topic}'."));
            if (_time.GetElapsedTime(started).TotalMilliseconds >= _settings.MessageTimeoutMs)
                throw new KafkaException(new Error(ErrorCode.RequestTimedOut,
                    $"Topic '{topic}' has no metadata after {_settings.MessageTimeoutMs} ms ({entry.ErrorMessage ?? entry.Error.ToString()})."));
            stale = entry.Version;
            await Task.Delay(TimeSpan.FromMilliseconds(Math.Max(1, _settings.RetryBackoffMs)), _time).ConfigureAwait(false);
        }
    }

    /// <summary>The accumulator's queue of a partition (a producer keeps them per topic).</summary>
    public PartitionQueue Queue(TopicPartition tp) => _accumulator.Queue(tp);

    /// <summary>
    /// Adds one serialized record to the partition of <paramref name="queue"/>; the delivery hears how it ended. With
    /// <paramref name="stick"/>, the sticky partitioner chose the partition.
    /// </summary>
    public void Append(
        PartitionQueue queue, long timestampMs,
        ReadOnlySpan<byte> key, bool keyIsNull, ReadOnlySpan<byte> value, bool valueIsNull,
        IReadOnlyList<RecordHeader>? headers, int sizeEstimate, in Delivery delivery, StickyPartitioner.Stick? stick)
    {
        if (_stopping.IsCancellationRequested)
            throw new ObjectDisposedException(nameof(Sender), "The producer is disposed.");
        var sequence = _accumulator.Append(queue, timestampMs, key, keyIsNull, value, valueIsNull, headers, sizeEstimate, delivery, out var wake);
        if (stick is not null) StickyPartitioner.StickTo(stick, queue.TopicPartition.Partition, sequence);
        if (wake) _wake.Set();
    }

    /// <summary>
    /// A record enters the producer: Flush waits for it from now on, also while its topic's metadata loads.
    /// Every Begin ends in a delivery report or in <see cref="Abandon"/>.
    /// </summary>
    public void Begin() => Interlocked.Increment(ref _outstanding);

    /// <summary>A record that failed before reaching the accumulator (its caller got the exception).</summary>
    public void Abandon() => Finished(1);

    private void Finished(int count)
    {
        if (Interlocked.Add(ref _outstanding, -count) == 0)
            Interlocked.Exchange(ref _idle, NewTcs()).TrySetResult();
    }

    public async Task FlushAsync(CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _flushing);
        _wake.Set();
        try
        {
            while (true)
            {
                var idle = Volatile.Read(ref _idle);
                if (Interlocked.Read(ref _outstanding) == 0) return;
                await idle.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            Interlocked.Decrement(ref _flushing);
        }
    }

    private async Task SendLoopAsync()
    {
        var ready = new List<PartitionQueue>();
        var failing = new List<ProducerBatch>();
        while (true)
        {
            _wake.Reset();
            // After the reset, not before: DisposeAsync cancels and then wakes the loop, and a wake that came between a
            // stop check and the reset would be lost, leaving the loop (and the disposal awaiting it) asleep for good.
            if (_stopping.IsCancellationRequested) break;
            var next = long.MaxValue;
            try
            {
                var now = _time.GetTimestamp();
                ready.Clear();
                next = _accumulator.Collect(now, Volatile.Read(ref _flushing) > 0, _settings.MaxInFlight, ready);
                foreach (var q in ready)
                    next = Math.Min(next, Dispatch(q, now, failing));
            }
            catch (Exception)
            {
                // The sender must outlive any one bad partition; its batches expire at message.timeout.ms.
                next = _time.GetTimestamp() + Math.Max(_backoffTicks, Ticks.FromMs(_time, 10));
            }

            if (next != long.MaxValue)
                _timer.Change(TimeSpan.FromMilliseconds(Math.Max(1, Ticks.ToMs(_time, next - _time.GetTimestamp()) + 1)), Timeout.InfiniteTimeSpan);
            await _wake.WaitAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Sends what the partition may send now; returns when it wants to be looked at again.</summary>
    private long Dispatch(PartitionQueue q, long now, List<ProducerBatch> failing)
    {
        var tp = q.TopicPartition;
        // Batches that waited past message.timeout.ms fail here, before their first or next attempt.
        failing.Clear();
        var expireBefore = now - _messageTimeoutTicks;
        if (RecordAccumulator.OldestReady(q) <= expireBefore)
        {
            _accumulator.TakeAll(q, failing, b => b.CreatedAt <= expireBefore);
            foreach (var b in failing)
                Fail(q, b, b.Attempts > 0 ? PersistenceStatus.PossiblyPersisted : PersistenceStatus.NotPersisted,
                    new Error(ErrorCode.RequestTimedOut, $"{tp}: message.timeout.ms ({_settings.MessageTimeoutMs} ms) expired" +
                        (b.LastError is { } e ? $"; last error {e}." : " before the batch could be sent.")));
        }

        ProducerIdAndEpoch? producerId = null;
        if (_transactions is { } transactions)
        {
            if (transactions.FatalError is { } fatal)
            {
                failing.Clear();
                _accumulator.TakeAll(q, failing);
                foreach (var b in failing) Complete(b, -1, -1, PersistenceStatus.NotPersisted, fatal);
                return long.MaxValue;
            }
            producerId = transactions.Current;
            if (producerId is null) transactions.EnsureProducerId(); // wakes the sender when the id is there
        }
        if (Transactional is { } transactional && !transactional.MaySend(tp, out var txnError))
        {
            // The partition's batches wait for AddPartitionsToTxn (which wakes the sender), or fail with the transaction.
            if (txnError is null) return long.MaxValue;
            FailQueued(q, failing, txnError);
            return long.MaxValue;
        }
        // Kafka's Sender.maybeAbortBatches: once the transaction must abort, batches not yet sent fail at once; those
        // with a sequence were sent and end by their own answers, which is all AbortTransaction waits for.
        if (Transactional?.UnsentBatchError() is { } aborted)
            FailQueued(q, failing, aborted, static b => !b.HasSequence);

        if (!_cache.TryGet(tp.Topic, _settings.MetadataMaxAgeMs, out var entry) || entry.Error == ErrorCode.LeaderNotAvailable)
        {
            RefreshThenWake(tp.Topic, entry?.Version ?? long.MaxValue);
            return now + Math.Max(_backoffTicks, 1);
        }
        if (entry.Error != ErrorCode.None || (uint)tp.Partition >= (uint)entry.PartitionCount)
        {
            failing.Clear();
            _accumulator.TakeAll(q, failing);
            var error = entry.Error != ErrorCode.None
                ? new Error(entry.Error, entry.ErrorMessage)
                : new Error(ErrorCode.UnknownTopicOrPartition, $"Partition {tp.Partition} does not exist; topic '{tp.Topic}' has {entry.PartitionCount}.");
            foreach (var b in failing) Fail(q, b, PersistenceStatus.NotPersisted, error);
            return long.MaxValue;
        }
        var partition = entry.Partitions[tp.Partition];
        if (partition.LeaderGrain is not { } leader)
        {
            RefreshThenWake(tp.Topic, entry.Version);
            return now + Math.Max(_backoffTicks, 1);
        }

        while (_accumulator.TakeRequest(q, now, _settings.MaxInFlight, MaxRequestBytes, _transactions is not null, producerId) is { } batches)
            _ = SendAsync(q, batches, leader, partition.LeaderEpoch, entry.Version);

        lock (q.Sync)
            return q.Ready.Count > 0 && q.NotBefore > now ? q.NotBefore : long.MaxValue;
    }

    private void RefreshThenWake(string topic, long staleVersion)
    {
        // At most one refresh per topic per retry.backoff.ms, so a partition without a leader does not spin.
        var now = _time.GetTimestamp();
        var last = _lastRefresh.GetOrAdd(topic, long.MinValue);
        if (last != long.MinValue && now - last < _backoffTicks) return;
        if (!_lastRefresh.TryUpdate(topic, now, last)) return;
        _cache.RefreshAsync(topic, _settings.AllowAutoCreateTopics, staleVersion)
            .ContinueWith(static (_, s) => ((AsyncSignal)s!).Set(), _wake, CancellationToken.None,
                TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    private async Task SendAsync(PartitionQueue q, List<ProducerBatch> batches, IPartitionReplicaGrain leader, int leaderEpoch, long metadataVersion)
    {
        var tp = q.TopicPartition;
        var joined = batches.Count == 1 ? null : Concat(batches);
        var records = joined?.WrittenMemory ?? batches[0].Bytes;
        var acks = _settings.Acks;
        foreach (var b in batches) b.Attempts++;
        if (acks == Acks.None)
        {
            // Fire and forget: reported at once with no offset; the answer only tells whether metadata went stale.
            foreach (var b in batches) Complete(b, -1, -1, PersistenceStatus.PossiblyPersisted, Error.NoError, recycle: false);
        }

        var succeeded = false;
        try
        {
            ProduceResponse response;
            var answered = false;
            try
            {
                response = await _cache.Calls.Call(leader.Produce(new ProduceRequest(acks, _settings.RequestTimeoutMs, PooledRecords.Borrow(records), leaderEpoch, _settings.TransactionalId))).ConfigureAwait(false);
                answered = true;
            }
            catch (Exception ex) when (LeaderCalls.IsTransient(ex))
            {
                response = new ProduceResponse(ErrorCode.RequestTimedOut, -1, -1, -1, $"{ex.GetType().Name}: {ex.Message}");
            }
            catch (Exception ex)
            {
                response = new ProduceResponse(ErrorCode.UnknownServerError, -1, -1, -1, $"{ex.GetType().Name}: {ex.Message}");
            }
            // An answer means the request was serialized and the grain is done with it: its buffers may be reused.
            if (!answered) foreach (var b in batches) b.Lent = true;
            else joined?.Dispose();

            if (acks == Acks.None)
            {
                foreach (var b in batches) _accumulator.Recycle(b);
                succeeded = response.Error == ErrorCode.None;
                if (Error.InvalidatesMetadata(response.Error)) RefreshThenWake(tp.Topic, metadataVersion);
                return;
            }
            if (response.Error == ErrorCode.None)
            {
                succeeded = true;
                var offset = response.BaseOffset;
                foreach (var b in batches)
                {
                    // A duplicate of a batch the broker already has is answered like this too, with its first offsets.
                    RecordAccumulator.Acknowledged(q, b);
                    var count = b.RecordCount; // Complete clears the batch's callbacks
                    Complete(b, offset, response.LogAppendTimeMs, PersistenceStatus.Persisted, Error.NoError);
                    offset += count;
                }
                return;
            }
            HandleFailure(q, batches, response);
        }
        finally
        {
            _accumulator.RequestDone(q, succeeded);
            _wake.Set();
        }
    }

    private void HandleFailure(PartitionQueue q, List<ProducerBatch> batches, ProduceResponse response)
    {
        var tp = q.TopicPartition;
        var code = response.Error;
        var error = new Error(code, $"{tp}: {response.ErrorMessage ?? code.ToString()}");
        var transport = code == ErrorCode.RequestTimedOut;
        // An idempotent request is one batch whose sequence is fixed: it is never split or merged.
        var sequenced = batches[0].HasSequence;
        if (sequenced && code is ErrorCode.InvalidProducerEpoch or ErrorCode.ProducerFenced)
        {
            // KIP-588: an old epoch at a partition makes a transaction abortable; the abort asks the coordinator, which
            // answers ProducerFenced if a newer producer or a timeout took the epoch (then it is fatal). Either way the
            // batch is resolved: one left unresolved would hold the partition's later batches back until message.timeout.ms.
            if (code == ErrorCode.ProducerFenced || Transactional is null) _transactions!.Fail(error);
            Fail(q, batches[0], PersistenceStatus.NotPersisted, error);
            return;
        }
        if (code == ErrorCode.RecordTooLarge && batches.Count > 1)
        {
            // One batch of the request is too large for the topic: send them one by one so only that one fails.
            _accumulator.Requeue(q, batches, 0, sendSingly: true);
            return;
        }
        if (code == ErrorCode.RecordTooLarge && batches[0].RecordCount > 1)
        {
            // Like Java's producer: a batch over the topic's max.message.bytes is split, so only the record that is
            // too large on its own fails and the others still land, in their order. An idempotent batch that grew past
            // batch.size goes back as batch.size pieces that take its sequence range, and the partition stops growing them.
            var grown = sequenced && batches[0].Bytes.Length > _settings.BatchSize;
            if (grown) _accumulator.StopGrowing(q);
            _accumulator.Requeue(q, RecordAccumulator.Split(batches[0], grown ? _settings.BatchSize : 0), 0, sendSingly: true);
            batches[0].Callbacks.Clear(); // its pieces report the records
            _accumulator.Recycle(batches[0]);
            return;
        }
        // Kafka's Sender: a sequence error is retriable while an earlier batch of the partition is unacknowledged.
        var sequenceError = sequenced && code is ErrorCode.OutOfOrderSequenceNumber or ErrorCode.UnknownProducerId;
        var outOfOrder = sequenceError && !RecordAccumulator.IsSequenceLost(q, batches[0]);
        if (sequenceError && !outOfOrder && Transactional is null && _time.GetTimestamp() - batches[0].CreatedAt < _messageTimeoutTicks)
        {
            // KIP-360's idempotent producer: the broker no longer continues the partition's sequence (a failover lost the
            // producer's state with the batch before this one, or the sequence was already given up), so the producer
            // bumps its epoch and the batch goes again, first in its partition, with the new epoch's sequence. Only a
            // batch never acknowledged can be written twice this way, as by any retry.
            var batch = batches[0];
            batch.LastError = error;
            RecordAccumulator.Resolved(q, batch);
            RecordAccumulator.GiveUpSequence(q, batch.ProducerId, batch.ProducerEpoch);
            _transactions!.BumpEpoch(new ProducerIdAndEpoch(batch.ProducerId, batch.ProducerEpoch), error);
            batch.ClearSequence();
            _accumulator.Requeue(q, batches, _time.GetTimestamp(), sendSingly: false);
            return;
        }
        if (Error.IsRetriableCode(code) || outOfOrder)
        {
            if (Error.InvalidatesMetadata(code) || transport) RefreshThenWake(tp.Topic, long.MaxValue);
            var retry = new List<ProducerBatch>(batches.Count);
            var now = _time.GetTimestamp();
            foreach (var b in batches)
            {
                b.LastError = error;
                if (now - b.CreatedAt < _messageTimeoutTicks) retry.Add(b);
                else Fail(q, b, transport ? PersistenceStatus.PossiblyPersisted : PersistenceStatus.NotPersisted,
                    new Error(ErrorCode.RequestTimedOut, $"{tp}: message.timeout.ms ({_settings.MessageTimeoutMs} ms) expired; last error {error}."));
            }
            // A sequence error on a batch sent behind an unacknowledged one is Orleans delivering the calls out of order,
            // not a broker in trouble: the batch goes again as soon as the one before it is answered, without backoff.
            if (retry.Count > 0) _accumulator.Requeue(q, retry, outOfOrder ? now : now + _backoffTicks, sendSingly: false);
            return;
        }
        foreach (var b in batches)
            Fail(q, b, code == ErrorCode.UnknownServerError ? PersistenceStatus.PossiblyPersisted : PersistenceStatus.NotPersisted, error);
    }

    /// <summary>Fails the partition's queued batches (those <paramref name="where"/> picks) with <paramref name="error"/>.</summary>
    private void FailQueued(PartitionQueue q, List<ProducerBatch> failing, Error error, Func<ProducerBatch, bool>? where = null)
    {
        failing.Clear();
        _accumulator.TakeAll(q, failing, where);
        foreach (var b in failing) Fail(q, b, PersistenceStatus.NotPersisted, error);
    }

    /// <summary>
    /// Reports a batch as failed. A failed batch with a sequence leaves a gap the broker will not fill, so the
    /// partition gives up its sequence and the producer bumps its epoch (see <see cref="TransactionManager"/>).
    /// </summary>
    private void Fail(PartitionQueue q, ProducerBatch batch, PersistenceStatus status, Error error)
    {
        if (batch.HasSequence)
        {
            RecordAccumulator.Resolved(q, batch);
            RecordAccumulator.GiveUpSequence(q, batch.ProducerId, batch.ProducerEpoch);
            _transactions!.BumpEpoch(new ProducerIdAndEpoch(batch.ProducerId, batch.ProducerEpoch), error);
        }
        Complete(batch, -1, -1, status, error);
    }

    /// <summary>Reports the batch's records; <paramref name="recycle"/> gives its buffer back (not while a call still carries it).</summary>
    private void Complete(ProducerBatch batch, long baseOffset, long logAppendTimeMs, PersistenceStatus status, Error error, bool recycle = true)
    {
        var tp = batch.TopicPartition;
        var callbacks = batch.Callbacks;
        var count = callbacks.Count;
        for (var i = 0; i < count; i++)
            callbacks[i].Report(tp, baseOffset < 0 ? -1 : baseOffset + i, logAppendTimeMs, status, error);
        Buffers.Release(batch.ReservedBytes, count);
        batch.ReservedBytes = 0;
        callbacks.Clear();
        // Recycled before a flush waiting for these records returns, so the records produced after it find the batch in the pool.
        if (recycle) _accumulator.Recycle(batch);
        Finished(count);
    }

    /// <summary>One request's batches in one pooled buffer (a produce request carries them back to back).</summary>
    private static PooledBuffer Concat(List<ProducerBatch> batches)
    {
        var length = 0;
        foreach (var b in batches) length += b.Bytes.Length;
        var joined = new PooledBuffer(length);
        foreach (var b in batches) joined.Write(b.Bytes.Span);
        return joined;
    }

    private static TaskCompletionSource NewTcs() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    public async ValueTask DisposeAsync()
    {
        if (_stopping.IsCancellationRequested) return;
        await _stopping.CancelAsync().ConfigureAwait(false);
        _wake.Set();
        await _sendLoop.ConfigureAwait(false);
        await _timer.DisposeAsync().ConfigureAwait(false);
        // Whatever the flush before disposal could not deliver fails now rather than never being reported.
        var left = new List<PartitionQueue>();
        _accumulator.CollectAll(left);
        var failing = new List<ProducerBatch>();
        foreach (var q in left)
        {
            failing.Clear();
            _accumulator.TakeAll(q, failing);
            foreach (var b in failing)
                Complete(b, -1, -1, b.Attempts > 0 ? PersistenceStatus.PossiblyPersisted : PersistenceStatus.NotPersisted,
                    new Error(ErrorCode.RequestTimedOut, $"{q.TopicPartition}: the producer was disposed before the message was delivered."));
        }
        _stopping.Dispose();
    }
}
