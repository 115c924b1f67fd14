using OrleansStream.Records;

namespace OrleansStream.Client;

/// <summary>
/// What <see cref="IConsumer{TKey,TValue}.Poll(TimeSpan)"/> hands out: the records of one partition's fetch answer, read
/// in place from the consumer's pooled fetch buffer, one <see cref="ConsumerRecord"/> at a time. Enumerating hands a
/// record out as <c>Consume</c> would: the partition's position moves past it and, with <c>enable.auto.offset.store</c>,
/// its offset + 1 is stored for the next commit. Records a later <c>Poll</c> or <c>Consume</c> call already moved past,
/// or of a partition that was sought or revoked meanwhile, are not handed out.
/// </summary>
public readonly ref struct ConsumerRecords
{
    private readonly IRecordPoller? _poller;
    private readonly FetchItem? _item;

    internal ConsumerRecords(IRecordPoller poller, FetchItem item)
    {
        _poller = poller;
        _item = item;
    }

    /// <summary>True when the poll timed out with nothing to hand out.</summary>
    public bool IsEmpty => _item is null;

    /// <summary>The partition the records belong to (default when <see cref="IsEmpty"/>).</summary>
    public TopicPartition TopicPartition => _item?.Fetcher.TopicPartition ?? default;

    public Enumerator GetEnumerator() => new(_poller, _item);

    /// <summary>Hands the records out in offset order; each <see cref="Current"/> is valid until the next <see cref="MoveNext"/>.</summary>
    public ref struct Enumerator
    {
        private readonly IRecordPoller? _poller;
        private readonly FetchItem? _item;
        private ConsumerRecord _current;

        internal Enumerator(IRecordPoller? poller, FetchItem? item)
        {
            _poller = poller;
            _item = item;
            _current = default;
        }

        public readonly ConsumerRecord Current => _current;

        public bool MoveNext() => _poller is not null && _poller.TryTake(_item!, out _current);
    }
}

/// <summary>
/// A consumed record as spans over the consumer's fetch buffer, without deserialization or an object of its own:
/// the allocation-free counterpart of <see cref="ConsumeResult{TKey,TValue}"/>. Copy what must outlive the enumeration step.
/// </summary>
public readonly ref struct ConsumerRecord
{
    private readonly ReadOnlySpan<byte> _headers;

    internal ConsumerRecord(TopicPartition topicPartition, long offset, Timestamp timestamp, int leaderEpoch, ReadOnlySpan<byte> key, bool keyIsNull,
        ReadOnlySpan<byte> value, bool valueIsNull, ReadOnlySpan<byte> headers, int headerCount)
    {
        TopicPartition = topicPartition;
        Offset = offset;
        Timestamp = timestamp;
        LeaderEpoch = leaderEpoch;
        Key = key;
        KeyIsNull = keyIsNull;
        Value = value;
        ValueIsNull = valueIsNull;
        _headers = headers;
        HeaderCount = headerCount;
    }

    public TopicPartition TopicPartition { get; }

    public long Offset { get; }

    public TopicPartitionOffset TopicPartitionOffset => new(TopicPartition, Offset);

    public Timestamp Timestamp { get; }

    /// <summary>The leader epoch of the record's batch.</summary>
    public int LeaderEpoch { get; }

    /// <summary>The key's bytes; empty and <see cref="KeyIsNull"/> for a null key.</summary>
    public ReadOnlySpan<byte> Key { get; }

    public bool KeyIsNull { get; }

    /// <summary>The value's bytes; empty and <see cref="ValueIsNull"/> for a null value (a tombstone).</summary>
    public ReadOnlySpan<byte> Value { get; }

    public bool ValueIsNull { get; }

    public int HeaderCount { get; }

    /// <summary>The headers in order, as spans (a key's string only if asked for with <see cref="RecordHeaderView.GetKey"/>).</summary>
    public RecordHeaderEnumerator Headers => new(_headers, HeaderCount);
}

/// <summary>The consumer's side of <see cref="ConsumerRecords"/>, without its key and value types.</summary>
internal interface IRecordPoller
{
    /// <summary>Hands out the next record of <paramref name="item"/>; false once it is used up or no longer the consumer's current fetch.</summary>
    bool TryTake(FetchItem item, out ConsumerRecord record);
}
