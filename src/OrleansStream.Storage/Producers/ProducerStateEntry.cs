namespace OrleansStream.Storage.Producers;

/// <summary>
/// Kafka's ProducerStateEntry: one producer id's epoch, its last <see cref="NumBatchesToRetain"/> batches (oldest first,
/// kept in a fixed ring so an append allocates nothing), the coordinator epoch of its last marker and the first offset
/// of its open transaction. Changed only by <see cref="ProducerStateManager"/>.
/// </summary>
public sealed class ProducerStateEntry
{
    /// <summary>Kafka's NUM_BATCHES_TO_RETAIN: the producer's max.in.flight.requests.per.connection limit with idempotence.</summary>
    public const int NumBatchesToRetain = 5;

    private readonly BatchMetadata[] _batches = new BatchMetadata[NumBatchesToRetain];
    private int _head;
    private int _count;

    public ProducerStateEntry(long producerId)
        : this(producerId, ProducerSequence.NoProducerEpoch, -1, ProducerSequence.NoTimestamp, null, null)
    {
    }

    public ProducerStateEntry(long producerId, short producerEpoch, int coordinatorEpoch, long lastTimestamp,
        long? currentTxnFirstOffset, BatchMetadata? firstBatch)
    {
        ProducerId = producerId;
        ProducerEpoch = producerEpoch;
        CoordinatorEpoch = coordinatorEpoch;
        LastTimestamp = lastTimestamp;
        CurrentTxnFirstOffset = currentTxnFirstOffset;
        if (firstBatch is { } batch)
            AddBatchMetadata(batch);
    }

    public long ProducerId { get; private set; }

    public short ProducerEpoch { get; private set; }

    /// <summary>The epoch of the transaction coordinator that wrote this producer's last marker; -1 before any.</summary>
    public int CoordinatorEpoch { get; private set; }

    /// <summary>Max timestamp of the producer's last batch or marker; drives <c>producer.id.expiration.ms</c>.</summary>
    public long LastTimestamp { get; private set; }

    public long? CurrentTxnFirstOffset { get; private set; }

    public int BatchCount => _count;

    public bool IsEmpty => _count == 0;

    public int FirstSeq => IsEmpty ? ProducerSequence.NoSequence : Batch(0).FirstSeq;

    public int LastSeq => IsEmpty ? ProducerSequence.NoSequence : Batch(_count - 1).LastSeq;

    public long FirstDataOffset => IsEmpty ? -1 : Batch(0).FirstOffset;

    public long LastDataOffset => IsEmpty ? -1 : Batch(_count - 1).LastOffset;

    public int LastOffsetDelta => IsEmpty ? 0 : Batch(_count - 1).OffsetDelta;

    /// <summary>The retained batch at <paramref name="index"/>, 0 the oldest.</summary>
    public BatchMetadata Batch(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, _count);
        return _batches[(_head + index) % NumBatchesToRetain];
    }

    /// <summary>Kafka's findDuplicateBatch: a retained batch of the same epoch with exactly this sequence range.</summary>
    public bool TryFindDuplicateBatch(short producerEpoch, int firstSeq, int lastSeq, out BatchMetadata duplicate)
    {
        if (producerEpoch == ProducerEpoch)
        {
            for (var i = 0; i < _count; i++)
            {
                var batch = Batch(i);
                if (batch.FirstSeq == firstSeq && batch.LastSeq == lastSeq)
                {
                    duplicate = batch;
                    return true;
                }
            }
        }
        duplicate = default;
        return false;
    }

    internal void AddBatch(short producerEpoch, int lastSeq, long lastOffset, int offsetDelta, long timestamp)
    {
        MaybeUpdateProducerEpoch(producerEpoch);
        AddBatchMetadata(new BatchMetadata(lastSeq, lastOffset, offsetDelta, timestamp));
        LastTimestamp = timestamp;
    }

    /// <summary>Kafka's update(epoch, coordinatorEpoch, timestamp) on an end-of-transaction marker.</summary>
    internal void EndTransaction(short producerEpoch, int coordinatorEpoch, long timestamp)
    {
        MaybeUpdateProducerEpoch(producerEpoch);
        CoordinatorEpoch = coordinatorEpoch;
        CurrentTxnFirstOffset = null;
        LastTimestamp = timestamp;
    }

    internal void SetCurrentTxnFirstOffset(long firstOffset) => CurrentTxnFirstOffset = firstOffset;

    /// <summary>Makes this entry an exact copy of <paramref name="other"/>, reusing the ring.</summary>
    internal void CopyFrom(ProducerStateEntry other)
    {
        ProducerId = other.ProducerId;
        ProducerEpoch = other.ProducerEpoch;
        CoordinatorEpoch = other.CoordinatorEpoch;
        LastTimestamp = other.LastTimestamp;
        CurrentTxnFirstOffset = other.CurrentTxnFirstOffset;
        other._batches.AsSpan().CopyTo(_batches);
        _head = other._head;
        _count = other._count;
    }

    /// <summary>Resets this entry to an unknown producer (Kafka's ProducerStateEntry.empty).</summary>
    internal void Clear(long producerId)
    {
        ProducerId = producerId;
        ProducerEpoch = ProducerSequence.NoProducerEpoch;
        CoordinatorEpoch = -1;
        LastTimestamp = ProducerSequence.NoTimestamp;
        CurrentTxnFirstOffset = null;
        _head = 0;
        _count = 0;
    }

    private void MaybeUpdateProducerEpoch(short producerEpoch)
    {
        if (ProducerEpoch == producerEpoch)
            return;
        // A new epoch starts a new sequence space: the old epoch's batches can no longer be duplicates.
        _head = 0;
        _count = 0;
        ProducerEpoch = producerEpoch;
    }

    private void AddBatchMetadata(BatchMetadata batch)
    {
        if (_count == NumBatchesToRetain)
        {
            _batches[_head] = batch;
            _head = (_head + 1) % NumBatchesToRetain;
            return;
        }
        _batches[(_head + _count) % NumBatchesToRetain] = batch;
        _count++;
    }

    public override string ToString() =>
        $"ProducerStateEntry(producerId={ProducerId}, producerEpoch={ProducerEpoch}, currentTxnFirstOffset={CurrentTxnFirstOffset}, " +
        $"coordinatorEpoch={CoordinatorEpoch}, lastTimestamp={LastTimestamp}, batches={_count}, firstSeq={FirstSeq}, lastSeq={LastSeq})";
}
