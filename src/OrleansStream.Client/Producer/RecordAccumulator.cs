using System.Buffers;
using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using OrleansStream.Records;

namespace OrleansStream.Client;

/// <summary>
/// A sealed RecordBatch v2 and the records waiting to hear how it went. The accumulator reuses a batch once it is done
/// (<see cref="RecordAccumulator.Recycle"/>), so a batch costs no object either.
/// </summary>
internal sealed class ProducerBatch(TopicPartition tp, long sequence, long createdAt, ArrayPool<Delivery> deliveries)
{
    public TopicPartition TopicPartition { get; private set; } = tp;
    /// <summary>Creation order within the partition; retries go back in this order.</summary>
    public long Sequence { get; private set; } = sequence;
    public long CreatedAt { get; private set; } = createdAt;
    public DeliveryList Callbacks { get; } = new(deliveries);
    public ReadOnlyMemory<byte> Bytes { get; set; }
    /// <summary>The builder whose pooled buffer holds <see cref="Bytes"/>; the accumulator takes it back once the batch is done.</summary>
    public RecordBatchBuilder? Buffer { get; set; }
    /// <summary>
    /// A call that carried <see cref="Bytes"/> ended without the leader's answer (a transport failure, a timeout, a call
    /// given up): Orleans may still serialize them, or an in-process grain still read them, so their buffer is never reused.
    /// </summary>
    public bool Lent { get; set; }
    /// <summary>Bytes reserved against <c>queue.buffering.max.kbytes</c> for these records.</summary>
    public long ReservedBytes { get; set; }
    public int Attempts { get; set; }
    public Error? LastError { get; set; }
    public int RecordCount => Callbacks.Count;
    /// <summary>
    /// Idempotent producer: the id, epoch and base sequence stamped when first drained, kept for every retry; -1 before, and
    /// again after the partition's sequence under that id broke (<see cref="ClearSequence"/>).
    /// </summary>
    public long ProducerId { get; private set; } = -1;
    public short ProducerEpoch { get; private set; } = -1;
    public int BaseSequence { get; private set; } = -1;
    public bool HasSequence => BaseSequence >= 0;
    public int LastSequence => TransactionManager.IncrementSequence(BaseSequence, RecordCount - 1);
    /// <summary>Idempotent producer: when last sent, every batch before it was acknowledged.</summary>
    public bool SentInLine { get; set; }
    /// <summary>Idempotent producer: the partition's drain number of this batch.</summary>
    public long Drain { get; set; } = -1;

    public void SetProducerState(ProducerIdAndEpoch id, int baseSequence)
    {
        ProducerId = id.ProducerId;
        ProducerEpoch = id.Epoch;
        BaseSequence = baseSequence;
        RecordBatchHeader.StampProducer(MemoryMarshal.AsMemory(Bytes).Span, id.ProducerId, id.Epoch, baseSequence);
    }

    /// <summary>A recycled batch (reported, its callbacks cleared and its buffer taken back) becomes a new open one.</summary>
    public void Reuse(TopicPartition tp, long sequence, long createdAt)
    {
        TopicPartition = tp;
        Sequence = sequence;
        CreatedAt = createdAt;
        Lent = false;
        ReservedBytes = 0;
        Attempts = 0;
        LastError = null;
        ClearSequence();
    }

    /// <summary>The batch goes again as a new one: it gets the next sequence of the producer's bumped epoch when drained.</summary>
    public void ClearSequence()
    {
        ProducerId = -1;
        ProducerEpoch = -1;
        BaseSequence = -1;
        Drain = -1;
        SentInLine = false;
    }
}

/// <summary>One partition's open batch, its sealed batches waiting to go, and its requests in flight.</summary>
internal sealed class PartitionQueue(TopicPartition tp)
{
    public readonly Lock Sync = new();
    public TopicPartition TopicPartition { get; } = tp;
    public RecordBatchBuilder? Builder;
    public ProducerBatch? Open;
    public readonly PriorityQueue<ProducerBatch, long> Ready = new();
    public int InFlight;
    public long NextSequence;
    /// <summary>After RecordTooLarge on a request of several batches: one batch per request until the queue empties.</summary>
    public bool SendSingly;
    /// <summary>No request before this timestamp (retry backoff).</summary>
    public long NotBefore;
    /// <summary>After a retriable error: one request at a time until one succeeds, so retries keep their order.</summary>
    public bool Recovering;
    /// <summary>Idempotent producer: the id the partition's sequences belong to, the next base sequence, the last acknowledged one.</summary>
    public long SequenceProducerId = -1;
    public short SequenceProducerEpoch = -1;
    public int NextBaseSequence;
    public int LastAckedSequence = -1;
    public long LastAckedOrder = -1;
    /// <summary>Idempotent producer: a retried batch is in flight, alone.</summary>
    public bool RetryInFlight;
    /// <summary>
    /// Idempotent producer: drain numbers of the batches with a sequence not yet answered for good, oldest first. Orleans may
    /// answer a later call first, so a batch counts until it is resolved, not just while its call is out.
    /// </summary>
    public readonly List<long> Unresolved = new(ProducerConfig.MaxInFlightIdempotent);
    public long NextDrain;
    /// <summary>Idempotent producer: how far an open batch may grow while the partition cannot send (lowered after RecordTooLarge).</summary>
    public int GrowLimit = int.MaxValue;
}

/// <summary>
/// Kafka's RecordAccumulator: records go into the open batch of their partition (a <see cref="RecordBatchBuilder"/>)
/// until it reaches <c>batch.size</c> or has waited <c>linger.ms</c>; sealed batches wait in creation order for the
/// sender, which takes one or more consecutive ones per request. A batch's records are compressed with
/// <c>compression.type</c> when it is sealed.
/// </summary>
/// <remarks>
/// Idempotent (<paramref name="growBatchTo"/> above 0), a request carries one batch, and the broker remembers a
/// producer's last 5 batches, not bytes: so while the partition has a request in flight or a batch waiting, its open
/// batch keeps taking records past <c>batch.size</c>, up to <paramref name="growBatchTo"/>, and goes out whole when
/// the partition is idle again; only a batch that reached that size goes out beside one in flight (up to
/// max.in.flight). Kafka's client needs no such rule: its connection keeps requests in order, so 5 small batches in
/// flight pipeline. Orleans may deliver concurrent calls in any order, and each reordering costs the later batch a
/// retry (OutOfOrderSequenceNumber), so concurrent requests are kept for when a single one cannot carry the load.
/// </remarks>
internal sealed class RecordAccumulator(int batchSize, int lingerMs, TimeProvider time, int growBatchTo = 0,
    CompressionType compression = CompressionType.None, bool transactional = false)
{
    private readonly ConcurrentDictionary<TopicPartition, PartitionQueue> _partitions = new();
    /// <summary>Done batches with the builder whose buffer they went out in, for the next open batches.</summary>
    private readonly ConcurrentQueue<(ProducerBatch Batch, RecordBatchBuilder Builder)> _free = new();
    private readonly ArrayPool<Delivery> _deliveries = DeliveryList.NewPool();
    private long _pooledBytes;
    private readonly long _lingerTicks = Ticks.FromMs(time, lingerMs);

    /// <summary>Kafka's buffer.memory default: how much batch buffer the pool keeps for reuse, as Kafka's BufferPool does.</summary>
    private const long MaxPooledBytes = 32L << 20;

    /// <summary>Batch sequences are this far apart, so the pieces of a split batch fit between it and the next.</summary>
    internal const long SequenceStride = 1 << 20;

    public PartitionQueue Queue(TopicPartition tp) => _partitions.GetOrAdd(tp, static k => new PartitionQueue(k));

    /// <summary>The sequence of the partition's open batch, or -1 (the sticky partitioner moves on when it closes).</summary>
    public static long OpenSequence(PartitionQueue q) => Volatile.Read(ref q.Open) is { } open ? open.Sequence : -1;

    /// <summary>
    /// Adds a record to the partition's open batch, sealing the batch first if the record would not fit and after if
    /// it is full. Returns the sequence of the batch it went into; <paramref name="wake"/> says the sender has news
    /// (a new batch whose linger time it must track, or a sealed one).
    /// </summary>
    public long Append(
        TopicPartition tp, long timestampMs,
        ReadOnlySpan<byte> key, bool keyIsNull, ReadOnlySpan<byte> value, bool valueIsNull,
        IReadOnlyList<RecordHeader>? headers, int sizeEstimate, in Delivery delivery, out bool wake) =>
        Append(Queue(tp), timestampMs, key, keyIsNull, value, valueIsNull, headers, sizeEstimate, delivery, out wake);

    /// <summary>The same, for a partition whose queue the caller holds.</summary>
    public long Append(
        PartitionQueue q, long timestampMs,
        ReadOnlySpan<byte> key, bool keyIsNull, ReadOnlySpan<byte> value, bool valueIsNull,
        IReadOnlyList<RecordHeader>? headers, int sizeEstimate, in Delivery delivery, out bool wake)
    {
        wake = false;
        lock (q.Sync)
        {
            var limit = BatchLimitLocked(q);
            if (q.Open is not null && q.Builder!.SizeInBytes + sizeEstimate > limit)
            {
                SealLocked(q);
                wake = true;
                limit = BatchLimitLocked(q);
            }
            if (q.Open is null)
            {
                Volatile.Write(ref q.Open, OpenBatchLocked(q));
                q.NextSequence += SequenceStride;
                wake = true;
            }
            var batch = q.Open!;
            q.Builder!.Append(timestampMs, key, keyIsNull, value, valueIsNull, headers);
            batch.Callbacks.Add(delivery);
            batch.ReservedBytes += sizeEstimate;
            if (q.Builder.SizeInBytes >= limit)
            {
                SealLocked(q);
                wake = true;
            }
            return batch.Sequence;
        }
    }

    /// <summary>
    /// Seals every open batch that lingered long enough (all of them when <paramref name="flush"/>) on a partition that
    /// may send now, adds each partition with sealed batches to <paramref name="ready"/>, and returns when the next open
    /// batch's linger or backoff ends (<see cref="long.MaxValue"/> when none waits on time).
    /// </summary>
    /// <remarks>
    /// Like Kafka's sender, which drains a batch only when its request can go: while the partition's requests in flight
    /// are at <paramref name="maxInFlight"/>, a lingered batch stays open and later records join it, so with
    /// <c>linger.ms=0</c> one request carries one batch of everything that arrived during the previous one, not a
    /// batch per record. The finished request wakes the sender.
    /// </remarks>
    public long Collect(long now, bool flush, int maxInFlight, List<PartitionQueue> ready)
    {
        var next = long.MaxValue;
        foreach (var (_, q) in _partitions)
        {
            lock (q.Sync)
            {
                if (q.Open is { } open)
                {
                    var due = flush ? now : open.CreatedAt + _lingerTicks;
                    if (now < due) next = Math.Min(next, due);
                    else if (now < q.NotBefore) next = Math.Min(next, q.NotBefore);
                    else if (growBatchTo > 0 ? IdleLocked(q) : q.InFlight < (q.Recovering ? 1 : maxInFlight)) SealLocked(q);
                }
                if (q.Ready.Count > 0) ready.Add(q);
            }
        }
        return next;
    }

    /// <summary>Seals every open batch and adds every partition with sealed batches to <paramref name="ready"/> (the producer is closing).</summary>
    public void CollectAll(List<PartitionQueue> ready)
    {
        foreach (var (_, q) in _partitions)
        {
            lock (q.Sync)
            {
                if (q.Open is not null) SealLocked(q);
                if (q.Ready.Count > 0) ready.Add(q);
            }
        }
    }

    /// <summary>The size at which the open batch is sealed: batch.size, or more while an idempotent partition is busy.</summary>
    private int BatchLimitLocked(PartitionQueue q) =>
        growBatchTo > 0 && !IdleLocked(q) ? Math.Max(batchSize, Math.Min(growBatchTo, q.GrowLimit)) : batchSize;

    /// <summary>Idempotent: nothing of the partition is in flight or waiting, so a batch sealed now goes out at once.</summary>
    private static bool IdleLocked(PartitionQueue q) => q.Ready.Count == 0 && q.InFlight == 0;

    /// <summary>
    /// The broker keeps a producer's last 5 batches: a batch may be drained only while every batch back to the oldest
    /// unresolved one fits in them, so a retry whose answer was lost is still recognised as a duplicate. And a partition
    /// accepts any sequence from a producer it does not know (KIP-360) while Orleans may deliver a later call first: until
    /// the first batch under an id is acknowledged, it is the only one out.
    /// </summary>
    private static bool WindowOpenLocked(PartitionQueue q) =>
        q.Unresolved.Count == 0 || (q.LastAckedOrder >= 0 && q.NextDrain - q.Unresolved[0] < ProducerConfig.MaxInFlightIdempotent);

    /// <summary>
    /// Takes the next request's batches from <paramref name="q"/>: consecutive sealed batches up to
    /// <paramref name="maxRequestBytes"/> (always at least one), or none while the in-flight limit or backoff holds.
    /// With <paramref name="producerId"/> (idempotent producer) a request carries exactly one batch, as in Kafka's
    /// protocol, and a batch drained for the first time gets the partition's next sequence; a batch that has one
    /// keeps it for every retry.
    /// </summary>
    public List<ProducerBatch>? TakeRequest(PartitionQueue q, long now, int maxInFlight, int maxRequestBytes, bool idempotent = false,
        ProducerIdAndEpoch? producerId = null)
    {
        lock (q.Sync)
        {
            if (q.Ready.Count == 0 || now < q.NotBefore) return null;
            if (q.InFlight >= (q.Recovering ? 1 : maxInFlight)) return null;
            if (idempotent)
            {
                // Kafka's Sender: a batch that already has a sequence is a retry; it goes out alone once nothing else of the
                // partition is in flight, and nothing follows it until it is answered, so the broker still holds its
                // neighbours among a producer's last 5 batches and answers a duplicate rather than a gap.
                if (q.RetryInFlight) return null;
                if (q.Ready.Peek().HasSequence)
                {
                    if (q.InFlight > 0) return null;
                    q.RetryInFlight = true;
                }
                else if (!TryAssignSequenceLocked(q, producerId)) return null;
            }
            // Sized for every batch waiting, so a request of many batches does not grow its list step by step.
            var batches = new List<ProducerBatch>(idempotent || q.SendSingly ? 1 : Math.Min(q.Ready.Count, 64)) { q.Ready.Dequeue() };
            var first = batches[0];
            if (first.HasSequence)
                first.SentInLine = first.ProducerId == q.SequenceProducerId && first.ProducerEpoch == q.SequenceProducerEpoch
                    && first.BaseSequence == TransactionManager.IncrementSequence(q.LastAckedSequence, 1);
            var bytes = first.Bytes.Length;
            while (!idempotent && !q.SendSingly && q.Ready.TryPeek(out var nextBatch, out _) && bytes + nextBatch.Bytes.Length <= maxRequestBytes)
            {
                batches.Add(q.Ready.Dequeue());
                bytes += nextBatch.Bytes.Length;
            }
            if (q.Ready.Count == 0) q.SendSingly = false;
            q.InFlight++;
            return batches;
        }
    }

    private static bool TryAssignSequenceLocked(PartitionQueue q, ProducerIdAndEpoch? producerId)
    {
        if (producerId is null) return false;
        if (q.SequenceProducerId != producerId.ProducerId || q.SequenceProducerEpoch != producerId.Epoch)
        {
            // A new producer id restarts the partition's sequence once the requests under the old id are done.
            if (q.InFlight > 0) return false;
            q.SequenceProducerId = producerId.ProducerId;
            q.SequenceProducerEpoch = producerId.Epoch;
            q.NextBaseSequence = 0;
            q.LastAckedSequence = -1;
            q.LastAckedOrder = -1;
        }
        if (!WindowOpenLocked(q)) return false;
        var batch = q.Ready.Peek();
        batch.SetProducerState(producerId, q.NextBaseSequence);
        batch.Drain = q.NextDrain++;
        q.Unresolved.Add(batch.Drain);
        q.NextBaseSequence = TransactionManager.IncrementSequence(q.NextBaseSequence, batch.RecordCount);
        return true;
    }

    /// <summary>A batch with a sequence failed for good: it no longer holds back new batches.</summary>
    public static void Resolved(PartitionQueue q, ProducerBatch batch)
    {
        lock (q.Sync) q.Unresolved.Remove(batch.Drain);
    }

    /// <summary>The broker acknowledged <paramref name="batch"/> (written now or before, as a duplicate).</summary>
    public static void Acknowledged(PartitionQueue q, ProducerBatch batch)
    {
        lock (q.Sync)
        {
            q.Unresolved.Remove(batch.Drain);
            // A retry answered as a duplicate may come back after a later batch: the acknowledged sequence only moves forward.
            if (batch.HasSequence && batch.ProducerId == q.SequenceProducerId && batch.Sequence > q.LastAckedOrder)
            {
                q.LastAckedSequence = batch.LastSequence;
                q.LastAckedOrder = batch.Sequence;
            }
        }
    }

    /// <summary>
    /// Kafka's rule for OutOfOrderSequenceNumber and UnknownProducerId on an idempotent batch: retriable while an earlier
    /// batch of the partition was unacknowledged when it was sent (it may have arrived first: Orleans does not order
    /// calls, nor their answers); lost when it was next in line or its partition's sequence was already given up.
    /// </summary>
    public static bool IsSequenceLost(PartitionQueue q, ProducerBatch batch)
    {
        lock (q.Sync) return batch.ProducerId != q.SequenceProducerId || batch.ProducerEpoch != q.SequenceProducerEpoch || batch.SentInLine;
    }

    /// <summary>
    /// The partition's sequence under its producer id and epoch is broken: batches still out under them fail as they
    /// come back, and the next batch starts the bumped epoch's (or new producer id's) sequence at 0.
    /// </summary>
    public static void GiveUpSequence(PartitionQueue q, long producerId, short producerEpoch)
    {
        lock (q.Sync)
        {
            // Only the sequence of that id and epoch: the partition may already count under the epoch bumped after it.
            if (q.SequenceProducerId == producerId && q.SequenceProducerEpoch == producerEpoch) q.SequenceProducerId = -1;
        }
    }

    /// <summary>A request finished; <paramref name="succeeded"/> ends recovery mode.</summary>
    public void RequestDone(PartitionQueue q, bool succeeded)
    {
        lock (q.Sync)
        {
            q.InFlight--;
            q.RetryInFlight = false;
            if (succeeded) q.Recovering = false;
        }
    }

    /// <summary>Puts batches of a failed request back in creation order, to be retried not before <paramref name="notBefore"/>.</summary>
    public void Requeue(PartitionQueue q, List<ProducerBatch> batches, long notBefore, bool sendSingly)
    {
        lock (q.Sync)
        {
            foreach (var b in batches) q.Ready.Enqueue(b, b.Sequence);
            q.NotBefore = Math.Max(q.NotBefore, notBefore);
            q.Recovering = true;
            q.SendSingly |= sendSingly;
        }
    }

    /// <summary>Removes every sealed batch of <paramref name="q"/> whose records must fail now (their deadline passed, the topic is gone).</summary>
    public void TakeAll(PartitionQueue q, List<ProducerBatch> into, Func<ProducerBatch, bool>? where = null)
    {
        lock (q.Sync)
        {
            if (q.Ready.Count == 0) return;
            var keep = new List<ProducerBatch>();
            while (q.Ready.TryDequeue(out var b, out _))
            {
                if (where is null || where(b)) into.Add(b);
                else keep.Add(b);
            }
            foreach (var b in keep) q.Ready.Enqueue(b, b.Sequence);
        }
    }

    /// <summary>
    /// Rebuilds a sealed batch as smaller batches (same timestamps, keys, values, headers) of one record each, or of up to
    /// <paramref name="maxPieceBytes"/>, ordered between the batch and the next one. Records beyond
    /// <see cref="SequenceStride"/> - 1 share the last piece. A batch with a sequence (refused, so never written) keeps
    /// its sequence range: the pieces take it in order, as in Kafka's <c>ProducerBatch.split</c>. Pieces are compressed as the batch was.
    /// </summary>
    public static List<ProducerBatch> Split(ProducerBatch batch, int maxPieceBytes = 0)
    {
        var pieces = new List<ProducerBatch>();
        var header = RecordBatchHeader.Read(batch.Bytes.Span);
        var codec = header.Compression;
        using var plain = new PooledBuffer(batch.Bytes.Length, RecordBatchCompression.DefaultMaxDecompressedBytes);
        var records = RecordBatchCompression.Decompress(batch.Bytes.Span, plain);
        using var builder = new RecordBatchBuilder(Math.Min(records.Length, 1 << 20));
        var i = 0;
        ProducerBatch? piece = null;
        foreach (var record in RecordBatchReader.Batch(records).Records())
        {
            var full = maxPieceBytes <= 0 || builder.SizeInBytes +
                RecordBatchBuilder.EstimateSizeInBytes(record.Key.Length, record.Value.Length, record.HeaderCount) > maxPieceBytes;
            if (piece is null || (i < SequenceStride - 1 && full))
            {
                if (piece is not null) piece.Bytes = builder.ToArray();
                builder.Reset(isTransactional: header.IsTransactional, compression: codec);
                piece = new ProducerBatch(batch.TopicPartition, batch.Sequence + i, batch.CreatedAt, batch.Callbacks.Pool)
                {
                    Attempts = batch.Attempts,
                    LastError = batch.LastError,
                    ReservedBytes = i == 0 ? batch.ReservedBytes : 0,
                };
                pieces.Add(piece);
            }
            List<RecordHeader>? headers = null;
            if (record.HeaderCount > 0)
            {
                headers = new List<RecordHeader>(record.HeaderCount);
                foreach (var h in record.Headers) headers.Add(h.ToRecordHeader());
            }
            builder.Append(record.TimestampMs, record.Key, record.KeyIsNull, record.Value, record.ValueIsNull, headers);
            piece.Callbacks.Add(batch.Callbacks[i]);
            i++;
        }
        piece!.Bytes = builder.ToArray();
        if (batch.HasSequence)
        {
            var id = new ProducerIdAndEpoch(batch.ProducerId, batch.ProducerEpoch);
            var sequence = batch.BaseSequence;
            foreach (var p in pieces)
            {
                p.SetProducerState(id, sequence);
                p.Drain = batch.Drain;
                sequence = TransactionManager.IncrementSequence(sequence, p.RecordCount);
            }
        }
        return pieces;
    }

    /// <summary>Idempotent: the partition's batches stop growing past batch.size (the topic refused a grown one as too large).</summary>
    public void StopGrowing(PartitionQueue q)
    {
        lock (q.Sync) q.GrowLimit = batchSize;
    }

    /// <summary>The earliest batch creation time among sealed batches waiting, for expiry.</summary>
    public static long OldestReady(PartitionQueue q)
    {
        lock (q.Sync) return q.Ready.TryPeek(out var b, out _) ? b.CreatedAt : long.MaxValue;
    }

    private void SealLocked(PartitionQueue q)
    {
        var batch = q.Open!;
        var builder = q.Builder!;
        // The batch goes out in the builder's own buffer, which comes back to the pool when the batch is done (Recycle).
        batch.Bytes = builder.Seal();
        batch.Buffer = builder;
        Volatile.Write(ref q.Open, null);
        q.Builder = null;
        q.Ready.Enqueue(batch, batch.Sequence);
    }

    /// <summary>
    /// The batch is done (reported, or split into pieces; its callbacks cleared): it goes back to the pool with its
    /// buffer unless a call that may still read the buffer was given up (<see cref="ProducerBatch.Lent"/>). Taking
    /// <see cref="ProducerBatch.Buffer"/> first makes a second call do nothing.
    /// </summary>
    public void Recycle(ProducerBatch batch)
    {
        if (batch.Lent || batch.Buffer is not { } builder) return;
        batch.Buffer = null;
        batch.Bytes = default;
        if (Interlocked.Add(ref _pooledBytes, builder.Capacity) <= MaxPooledBytes) _free.Enqueue((batch, builder));
        else
        {
            Interlocked.Add(ref _pooledBytes, -builder.Capacity);
            builder.Dispose();
        }
    }

    /// <summary>A new open batch for <paramref name="q"/> and its builder, from the pool when one is there.</summary>
    private ProducerBatch OpenBatchLocked(PartitionQueue q)
    {
        ProducerBatch batch;
        RecordBatchBuilder builder;
        if (_free.TryDequeue(out var free))
        {
            (batch, builder) = free;
            Interlocked.Add(ref _pooledBytes, -builder.Capacity);
            batch.Reuse(q.TopicPartition, q.NextSequence, time.GetTimestamp());
        }
        else
        {
            batch = new ProducerBatch(q.TopicPartition, q.NextSequence, time.GetTimestamp(), _deliveries);
            builder = new RecordBatchBuilder(Math.Min(batchSize + 1024, 1 << 20));
        }
        builder.Reset(isTransactional: transactional, compression: compression);
        q.Builder = builder;
        return batch;
    }
}
