using OrleansStream.Records;

namespace OrleansStream.Storage.Producers;

/// <summary>The producer-state verdict on one batch of an append.</summary>
public readonly record struct ProducerAppendCheck(ErrorCode Error, string? Message, BatchMetadata? Duplicate)
{
    public static ProducerAppendCheck Appendable => default;

    /// <summary>The batch repeats one of the producer's last batches: do not write it, answer with these offsets.</summary>
    public bool IsDuplicate => Duplicate.HasValue;

    public bool IsAppendable => Error == ErrorCode.None && !IsDuplicate;

    internal static ProducerAppendCheck Fail(ErrorCode error, string message) => new(error, message, null);
}

/// <summary>
/// Kafka's ProducerAppendInfo: validates one producer's batches of an append against its state after the previous
/// append and accumulates the updated state, which <see cref="ProducerStateManager"/> applies once the log append
/// succeeded. Instances are pooled by the manager and reused, so validating allocates nothing.
/// </summary>
internal sealed class ProducerAppendInfo
{
    private readonly ProducerStateEntry _updated = new(ProducerSequence.NoProducerId);
    private readonly List<long> _startedTransactions = [];
    private short _currentEpoch;

    internal ProducerAppendInfo()
    {
    }

    public long ProducerId => _updated.ProducerId;

    public AppendOrigin Origin { get; private set; }

    /// <summary>The producer's state as it will be once the append is applied.</summary>
    public ProducerStateEntry UpdatedEntry => _updated;

    /// <summary>First offsets of the transactions this append started.</summary>
    public IReadOnlyList<long> StartedTransactions => _startedTransactions;

    internal void Reset(long producerId, ProducerStateEntry? current, AppendOrigin origin)
    {
        if (current is null)
            _updated.Clear(producerId);
        else
            _updated.CopyFrom(current);
        _currentEpoch = _updated.ProducerEpoch;
        Origin = origin;
        _startedTransactions.Clear();
    }

    /// <summary>Kafka's appendDataBatch: epoch and (for clients) sequence checks, then the batch joins the producer's state.</summary>
    public ProducerAppendCheck AppendDataBatch(short epoch, int firstSeq, int lastSeq, long lastTimestamp, long firstOffset,
        long lastOffset, bool isTransactional)
    {
        if (!IsEpochValid(epoch))
            return InvalidEpoch(epoch, firstOffset);
        if (Origin == AppendOrigin.Client)
        {
            var sequenceError = CheckSequence(epoch, firstSeq, firstOffset);
            if (sequenceError is not null)
                return ProducerAppendCheck.Fail(ErrorCode.OutOfOrderSequenceNumber, sequenceError);
        }
        _updated.AddBatch(epoch, lastSeq, lastOffset, (int)(lastOffset - firstOffset), lastTimestamp);

        if (_updated.CurrentTxnFirstOffset is not null && !isTransactional)
        {
            return ProducerAppendCheck.Fail(ErrorCode.InvalidTxnState,
                $"Expected transactional write from producer {ProducerId} at offset {firstOffset}.");
        }
        if (_updated.CurrentTxnFirstOffset is null && isTransactional)
        {
            _updated.SetCurrentTxnFirstOffset(firstOffset);
            _startedTransactions.Add(firstOffset);
        }
        return ProducerAppendCheck.Appendable;
    }

    /// <summary>
    /// Kafka's appendEndTxnMarker with the rules of transaction versions 0 and 1: the marker's epoch may not be older than
    /// the producer's, nor its coordinator epoch older than the last marker's. Ends the open transaction, if any.
    /// </summary>
    public ProducerAppendCheck AppendEndTxnMarker(EndTransactionMarker marker, short producerEpoch, long offset, long timestamp,
        out CompletedTxn? completedTxn)
    {
        completedTxn = null;
        if (!IsEpochValid(producerEpoch))
            return InvalidEpoch(producerEpoch, offset);
        if (_updated.CoordinatorEpoch > marker.CoordinatorEpoch && Origin != AppendOrigin.Replication)
        {
            return ProducerAppendCheck.Fail(ErrorCode.TransactionCoordinatorFenced,
                $"Invalid coordinator epoch for producer {ProducerId} at offset {offset}: {marker.CoordinatorEpoch} (zombie), " +
                $"{_updated.CoordinatorEpoch} (current).");
        }
        // A marker without data in this partition does not move the last stable offset and needs no .txnindex entry.
        if (_updated.CurrentTxnFirstOffset is { } firstOffset)
            completedTxn = new CompletedTxn(ProducerId, firstOffset, offset, marker.IsAbort);
        _updated.EndTransaction(producerEpoch, marker.CoordinatorEpoch, timestamp);
        return ProducerAppendCheck.Appendable;
    }

    // Followers take the leader's word for epochs (Kafka only logs an older one), so replication never fails here.
    private bool IsEpochValid(short epoch) => epoch >= _updated.ProducerEpoch || Origin == AppendOrigin.Replication;

    private ProducerAppendCheck InvalidEpoch(short epoch, long offset) =>
        ProducerAppendCheck.Fail(ErrorCode.InvalidProducerEpoch,
            $"Epoch of producer {ProducerId} at offset {offset} is {epoch}, which is smaller than the last seen epoch {_updated.ProducerEpoch}.");

    /// <summary>Kafka's checkSequence; null when the batch is in sequence.</summary>
    private string? CheckSequence(short epoch, int firstSeq, long offset)
    {
        if (epoch != _updated.ProducerEpoch)
        {
            // A bumped epoch restarts the sequence at 0; a producer the partition does not know may start anywhere.
            if (firstSeq != 0 && _updated.ProducerEpoch != ProducerSequence.NoProducerEpoch)
            {
                return $"Invalid sequence number for new epoch of producer {ProducerId} at offset {offset}: {epoch} (request epoch), " +
                    $"{firstSeq} (seq. number), {_updated.ProducerEpoch} (current producer epoch).";
            }
            return null;
        }
        var currentLastSeq = _updated.IsEmpty ? ProducerSequence.NoSequence : _updated.LastSeq;
        // With no epoch on record (its batches were all deleted by retention or DeleteRecords) any sequence is accepted.
        if (_currentEpoch == ProducerSequence.NoProducerEpoch || ProducerSequence.InSequence(currentLastSeq, firstSeq))
            return null;
        return $"Out of order sequence number for producer {ProducerId} at offset {offset}: {firstSeq} (incoming seq. number), " +
            $"{currentLastSeq} (current end sequence number).";
    }
}
