namespace OrleansStream.Server.Groups;

/// <summary>
/// Kafka's <c>OffsetMetadataManager</c> for one group: the committed offsets, the checks a commit passes (the group's
/// generation fencing, <c>offset.metadata.max.bytes</c>), offset expiry (<c>offsets.retention.minutes</c>) and the group
/// commit to storage. A commit takes effect at once and is acknowledged when a write that includes it has succeeded;
/// commits arriving while a write is in flight share the next write, so concurrent commits cost one write, not one each.
/// A failed write fails every commit in it and puts their partitions back to what storage holds.
/// Transactional offsets (KIP-98, KIP-447) are held per producer id until the transaction's marker: COMMIT makes them
/// the committed offsets, ABORT drops them; both ride the same group commit. Called from one thread at a time, like
/// the <see cref="ClassicGroup"/>.
/// </summary>
/// <param name="write">Stores the group, offsets included (<see cref="CopyTo"/>), then reports it with <see cref="Written"/>.</param>
internal sealed class OffsetMetadataManager(ClassicGroup group, Consumer.ConsumerGroup consumer, ConsumerGroupOptions options, TimeProvider time, Func<Task> write)
{
    private readonly Dictionary<TopicPartition, StoredOffset> _offsets = [];
    // What the last successful write stored: a failed write puts its commits back to these.
    private readonly Dictionary<TopicPartition, StoredOffset> _durable = [];
    // Per transactional producer id: its epochs and pending offsets, and what the last successful write stored of them.
    private readonly Dictionary<long, TxnOffsets> _txn = [];
    private readonly Dictionary<long, TxnOffsets> _durableTxn = [];
    private CommitBatch? _nextBatch;
    private long _lastWriteOrder;
    private bool _flushing;

    public IReadOnlyDictionary<TopicPartition, StoredOffset> Offsets => _offsets;

    public int Count => _offsets.Count;

    /// <summary>No committed offsets and no transactional producer state: nothing to keep.</summary>
    public bool IsEmpty => _offsets.Count == 0 && _txn.Count == 0;

    /// <summary>Takes over the offsets storage holds.</summary>
    public void Load(IEnumerable<StoredOffset> stored, IEnumerable<StoredTxnOffsets>? txnOffsets = null)
    {
        foreach (var o in stored)
        {
            _offsets[new TopicPartition(o.Topic, o.Partition)] = _durable[new TopicPartition(o.Topic, o.Partition)] = o;
            _lastWriteOrder = Math.Max(_lastWriteOrder, o.WriteOrder);
        }
        foreach (var t in txnOffsets ?? [])
        {
            _txn[t.ProducerId] = _durableTxn[t.ProducerId] = TxnOffsets.From(t);
            foreach (var o in t.Pending) _lastWriteOrder = Math.Max(_lastWriteOrder, o.WriteOrder);
        }
    }

    // ---- validation --------------------------------------------------------------------------------------------

    /// <summary>
    /// Kafka's <c>validateOffsetCommit</c>: a group that does not exist takes a commit with a negative generation (a
    /// simple commit) and refuses any other with IllegalGeneration (GroupIdNotFound when the request asks for it, as
    /// OffsetCommit v9 does); a group that exists, or is being removed, checks the committer
    /// (<see cref="ClassicGroup.ValidateOffsetCommit"/>).
    /// </summary>
    public OffsetCommitResponse? ValidateCommitter(OffsetCommitRequest request, bool groupExists) =>
        Validate(request.MemberId, request.GenerationId, request.GroupInstanceId, transactional: false, groupExists,
            request.Version9OrLater ? ErrorCode.GroupIdNotFound : ErrorCode.IllegalGeneration, version9OrLater: request.Version9OrLater);

    private OffsetCommitResponse? Validate(string? memberId, int generationId, string? groupInstanceId, bool transactional, bool groupExists,
        ErrorCode whenAbsent = ErrorCode.IllegalGeneration, bool version9OrLater = true) =>
        !groupExists && generationId >= 0 && !group.IsBeingRemoved
            ? new OffsetCommitResponse(whenAbsent, [], $"group '{group.GroupId}' does not exist, so generation {generationId} is not its")
            : consumer.MemberCount > 0 && !group.IsBeingRemoved
            ? consumer.ValidateOffsetCommit(memberId, generationId, transactional, version9OrLater)
            : group.ValidateOffsetCommit(memberId, generationId, groupInstanceId, transactional);

    /// <summary>
    /// The checks each offset passes on its own (Kafka's coordinator checks only the metadata's size): a partition, and
    /// metadata within <c>offset.metadata.max.bytes</c>, counted as Kafka counts it (Java's <c>String.length()</c>: UTF-16
    /// code units, not bytes). Any offset is taken, negative or beyond the log end, as Kafka takes it.
    /// </summary>
    public List<PartitionError>? ValidateOffsets(IReadOnlyList<OffsetToCommit> offsets)
    {
        List<PartitionError>? errors = null;
        foreach (var o in offsets)
        {
            if (o is null || string.IsNullOrEmpty(o.TopicPartition.Topic) || o.TopicPartition.Partition < 0)
                (errors ??= []).Add(new PartitionError(o?.TopicPartition ?? default, ErrorCode.UnknownTopicOrPartition, "no such partition"));
            else if (o.Metadata is not null && o.Metadata.Length > options.OffsetMetadataMaxBytes)
                (errors ??= []).Add(new PartitionError(o.TopicPartition, ErrorCode.OffsetMetadataTooLarge,
                    $"metadata is longer than offset.metadata.max.bytes ({options.OffsetMetadataMaxBytes})"));
        }
        return errors;
    }

    // ---- commit ------------------------------------------------------------------------------------------------

    /// <summary>Applies <paramref name="offsets"/> now and completes when a write holding them succeeded; throws the write's failure.</summary>
    public Task CommitAsync(IReadOnlyList<OffsetToCommit> offsets)
    {
        if (offsets.Count == 0) return Task.CompletedTask;
        var now = NowMs;
        var batch = _nextBatch ??= new CommitBatch();
        foreach (var o in offsets)
            batch.Applied.Add((o.TopicPartition, Apply(ToStored(o, now))));
        return Flush(batch);
    }

    /// <summary>
    /// Removes the offsets of <paramref name="partitions"/> now (Kafka writes their tombstones) and completes when a write
    /// without them succeeded; a failed write puts them back.
    /// </summary>
    public Task DeleteAsync(IReadOnlyList<TopicPartition> partitions)
    {
        CommitBatch? batch = null;
        foreach (var tp in partitions)
            if (_offsets.Remove(tp)) (batch = _nextBatch ??= new CommitBatch()).Applied.Add((tp, null));
        return batch is null ? Task.CompletedTask : Flush(batch);
    }

    private StoredOffset ToStored(OffsetToCommit o, long commitTimestampMs) =>
        new(o.TopicPartition.Topic, o.TopicPartition.Partition, o.Offset, o.Metadata, o.LeaderEpoch, commitTimestampMs, ++_lastWriteOrder);

    private StoredOffset Apply(StoredOffset stored)
    {
        _offsets[new TopicPartition(stored.Topic, stored.Partition)] = stored;
        return stored;
    }

    private long NowMs => time.GetUtcNow().ToUnixTimeMilliseconds();

    private Task Flush(CommitBatch batch)
    {
        if (!_flushing) _ = FlushAsync();
        return batch.Written.Task;
    }

    // ---- transactional offsets ---------------------------------------------------------------------------------

    /// <summary>
    /// Kafka's <c>validateTransactionalOffsetCommit</c>: as <see cref="ValidateCommitter"/>, and KIP-447's member and
    /// generation checks when the request names them (v3); one naming neither (a producer outside the group, or before
    /// v3) is taken while the group has members, and so is one while the group completes a rebalance.
    /// </summary>
    public OffsetCommitResponse? ValidateTxnCommitter(TxnOffsetCommitRequest request, bool groupExists) =>
        Validate(request.MemberId, request.GenerationId, request.GroupInstanceId, transactional: true, groupExists);

    /// <summary>ProducerFenced for an epoch older than the producer's last one here (the partition's producer-epoch rule).</summary>
    public ErrorCode CheckTxnProducer(long producerId, short producerEpoch) =>
        _txn.TryGetValue(producerId, out var t) && producerEpoch < t.ProducerEpoch ? ErrorCode.ProducerFenced : ErrorCode.None;

    /// <summary>Whether the producer's transaction of this epoch already holds offsets here (so it was verified before).</summary>
    public bool HasPendingTxnOffsets(long producerId, short producerEpoch) =>
        _txn.TryGetValue(producerId, out var t) && t.ProducerEpoch == producerEpoch && t.Pending.Count > 0;

    /// <summary>Holds <paramref name="offsets"/> pending for the producer; completes when a write holding them succeeded.</summary>
    public Task TxnCommitAsync(long producerId, short producerEpoch, IReadOnlyList<OffsetToCommit> offsets)
    {
        var now = NowMs;
        _txn.TryGetValue(producerId, out var current);
        var pending = current is not null && current.ProducerEpoch == producerEpoch ? current.Pending : [];
        var updated = new Dictionary<TopicPartition, StoredOffset>(pending);
        foreach (var o in offsets) updated[o.TopicPartition] = ToStored(o, now);
        return ApplyTxn(producerId, new TxnOffsets(producerEpoch, current?.CoordinatorEpoch ?? -1, updated, now), _nextBatch ??= new CommitBatch());
    }

    /// <summary>
    /// The marker's checks: TransactionCoordinatorFenced for a coordinator epoch older than the producer's last marker
    /// here, InvalidProducerEpoch for a producer epoch older than its last one.
    /// </summary>
    public ErrorCode CheckTxnMarker(long producerId, short producerEpoch, int coordinatorEpoch) =>
        !_txn.TryGetValue(producerId, out var t) ? ErrorCode.None
        : coordinatorEpoch < t.CoordinatorEpoch ? ErrorCode.TransactionCoordinatorFenced
        : producerEpoch < t.ProducerEpoch ? ErrorCode.InvalidProducerEpoch
        : ErrorCode.None;

    /// <summary>
    /// The transaction's marker: COMMIT makes the producer's pending offsets the committed ones, except where an offset
    /// was committed after the TxnOffsetCommit (Kafka keeps the later record of <c>__consumer_offsets</c>); ABORT drops them.
    /// </summary>
    public Task CompleteTxnAsync(long producerId, short producerEpoch, int coordinatorEpoch, bool commit)
    {
        var now = NowMs;
        var batch = _nextBatch ??= new CommitBatch();
        if (commit && _txn.TryGetValue(producerId, out var current))
            foreach (var (tp, pending) in current.Pending)
                if (!_offsets.TryGetValue(tp, out var committed) || committed.WriteOrder < pending.WriteOrder)
                    batch.Applied.Add((tp, Apply(pending with { CommitTimestampMs = now })));
        return ApplyTxn(producerId, new TxnOffsets(producerEpoch, coordinatorEpoch, [], now), batch);
    }

    private Task ApplyTxn(long producerId, TxnOffsets updated, CommitBatch batch)
    {
        _txn[producerId] = updated;
        batch.TxnApplied.Add((producerId, updated));
        return Flush(batch);
    }

    /// <summary>Whether any of <paramref name="partitions"/> (all when null) has offsets pending in an open transaction.</summary>
    public bool HasPendingOffsets(IReadOnlyList<TopicPartition>? partitions)
    {
        foreach (var t in _txn.Values)
            foreach (var tp in t.Pending.Keys)
                if (partitions is null || Contains(partitions, tp)) return true;
        return false;
    }

    private static bool Contains(IReadOnlyList<TopicPartition> partitions, TopicPartition tp)
    {
        foreach (var p in partitions)
            if (p == tp) return true;
        return false;
    }

    /// <summary>What a write stores of the transactional producers.</summary>
    public void CopyTxnTo(List<StoredTxnOffsets> stored)
    {
        stored.Clear();
        foreach (var (producerId, t) in _txn) stored.Add(t.ToStored(producerId));
    }

    /// <summary>The write of <paramref name="stored"/> (from <see cref="CopyTxnTo"/>) succeeded.</summary>
    public void TxnWritten(IReadOnlyList<StoredTxnOffsets> stored)
    {
        _durableTxn.Clear();
        foreach (var t in stored) _durableTxn[t.ProducerId] = TxnOffsets.From(t);
    }

    private async Task FlushAsync()
    {
        _flushing = true;
        try
        {
            while (_nextBatch is { } batch)
            {
                _nextBatch = null;
                try
                {
                    await write();
                    batch.Written.TrySetResult();
                }
                catch (Exception ex)
                {
                    // Nothing half-committed. A partition a later commit (next batch) has set again keeps that value.
                    foreach (var (tp, applied) in batch.Applied)
                    {
                        // A deletion (applied null) is undone only while the partition has no offset again.
                        if (!ReferenceEquals(_offsets.GetValueOrDefault(tp), applied)) continue;
                        if (_durable.TryGetValue(tp, out var durable)) _offsets[tp] = durable; else _offsets.Remove(tp);
                    }
                    foreach (var (producerId, applied) in batch.TxnApplied)
                    {
                        if (!_txn.TryGetValue(producerId, out var current) || !ReferenceEquals(current, applied)) continue;
                        if (_durableTxn.TryGetValue(producerId, out var durable)) _txn[producerId] = durable; else _txn.Remove(producerId);
                    }
                    batch.Written.TrySetException(ex);
                }
            }
        }
        finally
        {
            _flushing = false;
        }
    }

    /// <summary>What a write stores: every offset as it stands now.</summary>
    public void CopyTo(List<StoredOffset> stored)
    {
        stored.Clear();
        foreach (var o in _offsets.Values) stored.Add(o);
    }

    /// <summary>The write of <paramref name="stored"/> (from <see cref="CopyTo"/>) succeeded: a later failed commit goes back to these.</summary>
    public void Written(IReadOnlyList<StoredOffset> stored)
    {
        _durable.Clear();
        foreach (var o in stored) _durable[new TopicPartition(o.Topic, o.Partition)] = o;
    }

    // ---- OffsetFetch, expiry, removal --------------------------------------------------------------------------

    /// <summary>The committed offset of each of <paramref name="partitions"/> (-1 where none), or every committed offset in topic-partition order.</summary>
    public List<CommittedOffset> Fetch(IReadOnlyList<TopicPartition>? partitions)
    {
        var list = new List<CommittedOffset>();
        if (partitions is not null)
        {
            foreach (var tp in partitions)
                list.Add(_offsets.TryGetValue(tp, out var o)
                    ? new CommittedOffset(tp, o.Offset, o.Metadata, o.LeaderEpoch, o.CommitTimestampMs)
                    : new CommittedOffset(tp, -1, null, -1, -1));
        }
        else
        {
            foreach (var (tp, o) in _offsets)
                list.Add(new CommittedOffset(tp, o.Offset, o.Metadata, o.LeaderEpoch, o.CommitTimestampMs));
            list.Sort(static (a, b) => CompareTopicPartitions(a.TopicPartition, b.TopicPartition));
        }
        return list;
    }

    private static int CompareTopicPartitions(TopicPartition a, TopicPartition b)
    {
        var c = string.CompareOrdinal(a.Topic, b.Topic);
        return c != 0 ? c : a.Partition.CompareTo(b.Partition);
    }

    /// <summary>
    /// Kafka's <c>cleanupExpiredOffsets</c>: only while the group is empty, an offset expires <c>offsets.retention.minutes</c>
    /// after the later of its commit and the group becoming empty. Returns how many expired.
    /// </summary>
    public int RemoveExpiredOffsets()
    {
        var now = NowMs;
        var retentionMs = (long)options.OffsetsRetentionMinutes * 60_000;
        // A producer with nothing pending is remembered (for its epochs' fencing) as long as an offset would be.
        List<long>? idle = null;
        foreach (var (producerId, t) in _txn)
            if (t.Pending.Count == 0 && now >= t.LastUpdateMs + retentionMs) (idle ??= []).Add(producerId);
        foreach (var producerId in idle ?? []) _txn.Remove(producerId);
        var removed = idle?.Count ?? 0;
        if (group.State != GroupState.Empty || group.MemberCount > 0 || consumer.MemberCount > 0 || _offsets.Count == 0) return removed;
        var emptySinceMs = Math.Max(group.EmptySinceMs, consumer.EmptySinceMs);
        List<TopicPartition>? expired = null;
        foreach (var (tp, o) in _offsets)
            if (now >= Math.Max(emptySinceMs, o.CommitTimestampMs) + retentionMs)
                (expired ??= []).Add(tp);
        if (expired is null) return removed;
        foreach (var tp in expired) _offsets.Remove(tp);
        return removed + expired.Count;
    }

    /// <summary>The group is being removed: its offsets go with it.</summary>
    public void Clear()
    {
        _offsets.Clear();
        _txn.Clear();
    }

    /// <summary>The removal is stored: storage holds no offsets.</summary>
    public void Removed()
    {
        _durable.Clear();
        _durableTxn.Clear();
    }

    private sealed class CommitBatch
    {
        public TaskCompletionSource Written { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public List<(TopicPartition Tp, StoredOffset? Applied)> Applied { get; } = [];

        public List<(long ProducerId, TxnOffsets Applied)> TxnApplied { get; } = [];
    }

    /// <summary>A transactional producer's epochs and pending offsets; replaced, never changed, so a failed write can tell its own.</summary>
    private sealed record TxnOffsets(short ProducerEpoch, int CoordinatorEpoch, Dictionary<TopicPartition, StoredOffset> Pending, long LastUpdateMs)
    {
        public static TxnOffsets From(StoredTxnOffsets t)
        {
            var pending = new Dictionary<TopicPartition, StoredOffset>(t.Pending.Count);
            foreach (var o in t.Pending) pending[new TopicPartition(o.Topic, o.Partition)] = o;
            return new TxnOffsets(t.ProducerEpoch, t.CoordinatorEpoch, pending, t.LastUpdateMs);
        }

        public StoredTxnOffsets ToStored(long producerId) => new(producerId, ProducerEpoch, CoordinatorEpoch, [.. Pending.Values], LastUpdateMs);
    }
}
