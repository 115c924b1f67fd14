using System.Text;

namespace OrleansStream.Server.Groups;

/// <summary>
/// Kafka's <c>OffsetMetadataManager</c> for one group: the committed offsets, the checks a commit passes (the group's
/// generation fencing, <c>offset.metadata.max.bytes</c>), offset expiry (<c>offsets.retention.minutes</c>) and the group
/// commit to storage. A commit takes effect at once and is acknowledged when a write that includes it has succeeded;
/// commits arriving while a write is in flight share the next write, so concurrent commits cost one write, not one each.
/// A failed write fails every commit in it and puts their partitions back to what storage holds.
/// Offsets change only through <see cref="Apply"/>, so transactional offsets (held per producer until the transaction's
/// marker) can join the same path later. Called from one thread at a time, like the <see cref="ClassicGroup"/>.
/// </summary>
/// <param name="write">Stores the group, offsets included (<see cref="CopyTo"/>), then reports it with <see cref="Written"/>.</param>
internal sealed class OffsetMetadataManager(ClassicGroup group, ConsumerGroupOptions options, TimeProvider time, Func<Task> write)
{
    private readonly Dictionary<TopicPartition, StoredOffset> _offsets = [];
    // What the last successful write stored: a failed write puts its commits back to these.
    private readonly Dictionary<TopicPartition, StoredOffset> _durable = [];
    private CommitBatch? _nextBatch;
    private bool _flushing;

    public IReadOnlyDictionary<TopicPartition, StoredOffset> Offsets => _offsets;

    public int Count => _offsets.Count;

    /// <summary>Takes over the offsets storage holds.</summary>
    public void Load(IEnumerable<StoredOffset> stored)
    {
        foreach (var o in stored)
            _offsets[new TopicPartition(o.Topic, o.Partition)] = _durable[new TopicPartition(o.Topic, o.Partition)] = o;
    }

    // ---- validation --------------------------------------------------------------------------------------------

    /// <summary>
    /// The group's generation fencing (Kafka's <c>validateOffsetCommit</c>): a member of the current generation, or a
    /// simple commit (no member id, generation below 0) while the group has no members.
    /// </summary>
    public OffsetCommitResponse? ValidateCommitter(OffsetCommitRequest request) =>
        group.ValidateOffsetCommit(request.MemberId, request.GenerationId, IsSimple(request));

    /// <summary>A member commits only partitions it owns (or just gave up) in the current generation.</summary>
    public OffsetCommitResponse? ValidateAssignment(OffsetCommitRequest request)
    {
        if (IsSimple(request)) return null;
        List<PartitionError>? unowned = null;
        foreach (var o in request.Offsets ?? [])
            if (!group.MayCommit(request.MemberId, o.TopicPartition))
                (unowned ??= []).Add(new PartitionError(o.TopicPartition, ErrorCode.IllegalGeneration,
                    $"{o.TopicPartition} is not assigned to member '{request.MemberId}' in generation {group.GenerationId}"));
        return unowned is null ? null : new OffsetCommitResponse(ErrorCode.IllegalGeneration, unowned, unowned[0].ErrorMessage);
    }

    /// <summary>The checks each offset passes on its own: a partition, an offset not below 0, metadata within <c>offset.metadata.max.bytes</c>.</summary>
    public List<PartitionError>? ValidateOffsets(IReadOnlyList<OffsetToCommit> offsets)
    {
        List<PartitionError>? errors = null;
        foreach (var o in offsets)
        {
            if (o is null || string.IsNullOrEmpty(o.TopicPartition.Topic) || o.TopicPartition.Partition < 0)
                (errors ??= []).Add(new PartitionError(o?.TopicPartition ?? default, ErrorCode.UnknownTopicOrPartition, "no such partition"));
            else if (o.Offset < 0)
                (errors ??= []).Add(new PartitionError(o.TopicPartition, ErrorCode.OffsetOutOfRange, $"offset {o.Offset} is negative"));
            else if (o.Metadata is not null && Encoding.UTF8.GetByteCount(o.Metadata) > options.OffsetMetadataMaxBytes)
                (errors ??= []).Add(new PartitionError(o.TopicPartition, ErrorCode.InvalidCommitOffsetSize,
                    $"metadata is longer than offset.metadata.max.bytes ({options.OffsetMetadataMaxBytes})"));
        }
        return errors;
    }

    private static bool IsSimple(OffsetCommitRequest request) => string.IsNullOrEmpty(request.MemberId) && request.GenerationId < 0;

    // ---- commit ------------------------------------------------------------------------------------------------

    /// <summary>Applies <paramref name="offsets"/> now and completes when a write holding them succeeded; throws the write's failure.</summary>
    public Task CommitAsync(IReadOnlyList<OffsetToCommit> offsets)
    {
        if (offsets.Count == 0) return Task.CompletedTask;
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var batch = _nextBatch ??= new CommitBatch();
        foreach (var o in offsets)
            batch.Applied.Add((o.TopicPartition, Apply(o, now)));
        if (!_flushing) _ = FlushAsync();
        return batch.Written.Task;
    }

    private StoredOffset Apply(OffsetToCommit o, long commitTimestampMs)
    {
        var stored = new StoredOffset(o.TopicPartition.Topic, o.TopicPartition.Partition, o.Offset, o.Metadata, o.LeaderEpoch, commitTimestampMs);
        _offsets[o.TopicPartition] = stored;
        return stored;
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
                        if (!_offsets.TryGetValue(tp, out var current) || !ReferenceEquals(current, applied)) continue;
                        if (_durable.TryGetValue(tp, out var durable)) _offsets[tp] = durable; else _offsets.Remove(tp);
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
        if (group.State != GroupState.Empty || group.MemberCount > 0 || _offsets.Count == 0) return 0;
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var retentionMs = (long)options.OffsetsRetentionMinutes * 60_000;
        List<TopicPartition>? expired = null;
        foreach (var (tp, o) in _offsets)
            if (now >= Math.Max(group.EmptySinceMs, o.CommitTimestampMs) + retentionMs)
                (expired ??= []).Add(tp);
        if (expired is null) return 0;
        foreach (var tp in expired) _offsets.Remove(tp);
        return expired.Count;
    }

    /// <summary>The group is being removed: its offsets go with it.</summary>
    public void Clear() => _offsets.Clear();

    /// <summary>The removal is stored: storage holds no offsets.</summary>
    public void Removed() => _durable.Clear();

    private sealed class CommitBatch
    {
        public TaskCompletionSource Written { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public List<(TopicPartition Tp, StoredOffset Applied)> Applied { get; } = [];
    }
}
