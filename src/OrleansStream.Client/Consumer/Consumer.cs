using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Threading.Channels;
using OrleansStream.Records;

namespace OrleansStream.Client;

/// <summary>
/// The consumer: one <see cref="PartitionFetcher"/> per assigned partition prefetching into one queue; Consume walks
/// the fetched batches record by record. Assignment changes all go through <see cref="ApplyAssignment"/>, which is
/// what consumer groups call on a rebalance.
/// </summary>
internal sealed partial class Consumer<TKey, TValue> : IConsumer<TKey, TValue>, IRecordPoller
{
    private readonly ConsumerSettings _settings;
    private readonly MetadataCache _cache;
    private readonly IDeserializer<TKey> _keyDeserializer;
    private readonly IDeserializer<TValue> _valueDeserializer;
    private readonly TimeProvider _time;
    private readonly Lock _sync = new();
    private readonly Dictionary<TopicPartition, PartitionFetcher> _fetchers = [];
    private readonly Channel<FetchItem> _queue = Channel.CreateUnbounded<FetchItem>(new UnboundedChannelOptions { SingleReader = false });
    private bool _closed;

    // The item being consumed and the batch within it, decoded into slots so Consume resumes without re-parsing.
    private FetchItem? _item;
    private int _itemPosition;
    private AbortedTransactionFilter? _aborted;
    private ReadOnlyMemory<byte> _batch;
    /// <summary>The current batch's records when it came compressed; reused from batch to batch.</summary>
    private PooledBuffer? _plain;
    private RecordSlot[] _slots = new RecordSlot[64];
    private int _slotCount;
    private int _slotIndex;
    private int _batchLeaderEpoch;

    public Consumer(string name, ConsumerSettings settings, MetadataCache cache, IDeserializer<TKey> keyDeserializer,
        IDeserializer<TValue> valueDeserializer, TimeProvider time)
    {
        Name = name;
        _settings = settings;
        _cache = cache;
        _keyDeserializer = keyDeserializer;
        _valueDeserializer = valueDeserializer;
        _time = time;
    }

    public string Name { get; }

    internal ConsumerSettings Settings => _settings;

    /// <summary>Fetched items and wakeups waiting for Consume.</summary>
    internal int QueuedItems => _queue.Reader.Count;

    internal MetadataCache Metadata => _cache;

    /// <summary>Where a partition without an explicit offset starts; consumer groups set it to read committed offsets.</summary>
    internal CommittedOffsetResolver? CommittedOffsets { get; set; }

    public List<TopicPartition> Assignment
    {
        get
        {
            lock (_sync) return [.. _fetchers.Keys];
        }
    }

    public void Assign(TopicPartition partition) => Assign([new TopicPartitionOffset(partition, Offset.Unset)]);

    public void Assign(TopicPartitionOffset partition) => Assign([partition]);

    public void Assign(IEnumerable<TopicPartition> partitions) => Assign(WithUnset(partitions));

    public void Assign(IEnumerable<TopicPartitionOffset> partitions)
    {
        ArgumentNullException.ThrowIfNull(partitions);
        var added = new List<TopicPartitionOffset>(partitions);
        lock (_sync) ApplyAssignment(added, [.. _fetchers.Keys]);
    }

    public void IncrementalAssign(IEnumerable<TopicPartition> partitions) => IncrementalAssign(WithUnset(partitions));

    public void IncrementalAssign(IEnumerable<TopicPartitionOffset> partitions)
    {
        ArgumentNullException.ThrowIfNull(partitions);
        var added = new List<TopicPartitionOffset>(partitions);
        lock (_sync)
        {
            foreach (var tpo in added)
                if (_fetchers.ContainsKey(tpo.TopicPartition))
                    throw new KafkaException(new Error(ErrorCode.InvalidRequest, $"{tpo.TopicPartition} is already assigned."));
            ApplyAssignment(added, []);
        }
    }

    public void IncrementalUnassign(IEnumerable<TopicPartition> partitions)
    {
        ArgumentNullException.ThrowIfNull(partitions);
        ApplyAssignment([], new List<TopicPartition>(partitions));
    }

    public void Unassign()
    {
        lock (_sync) ApplyAssignment([], [.. _fetchers.Keys]);
    }

    /// <summary>
    /// The one place the assignment changes: stops the fetchers of <paramref name="removed"/>, then starts one per
    /// <paramref name="added"/> partition at its offset (a partition in both is restarted).
    /// </summary>
    internal void ApplyAssignment(IReadOnlyCollection<TopicPartitionOffset> added, IReadOnlyCollection<TopicPartition> removed)
    {
        foreach (var tpo in added) Validate(tpo);
        lock (_sync)
        {
            ObjectDisposedException.ThrowIf(_closed, this);
            foreach (var tp in removed)
            {
                if (_fetchers.Remove(tp, out var f)) f.Stop();
            }
            foreach (var tpo in added)
            {
                if (_fetchers.Remove(tpo.TopicPartition, out var old)) old.Stop();
                _fetchers[tpo.TopicPartition] = NewFetcher(tpo.TopicPartition, tpo.Offset);
            }
        }
    }

    public void Seek(TopicPartitionOffset tpo)
    {
        Validate(tpo);
        lock (_sync)
        {
            if (!_fetchers.Remove(tpo.TopicPartition, out var old))
                throw new KafkaException(new Error(ErrorCode.UnknownTopicOrPartition, $"Seek: {tpo.TopicPartition} is not assigned."));
            old.Stop();
            var fetcher = NewFetcher(tpo.TopicPartition, tpo.Offset);
            fetcher.Paused = old.Paused;
            _fetchers[tpo.TopicPartition] = fetcher;
        }
    }

    public long Position(TopicPartition partition)
    {
        lock (_sync)
            return _fetchers.TryGetValue(partition, out var f)
                ? Interlocked.Read(ref f.Position)
                : throw new KafkaException(new Error(ErrorCode.UnknownTopicOrPartition, $"Position: {partition} is not assigned."));
    }

    public void Pause(IEnumerable<TopicPartition> partitions)
    {
        lock (_sync)
            foreach (var tp in partitions)
                if (_fetchers.TryGetValue(tp, out var f)) f.Paused = true;
    }

    public void Resume(IEnumerable<TopicPartition> partitions)
    {
        lock (_sync)
            foreach (var tp in partitions)
                if (_fetchers.TryGetValue(tp, out var f)) f.Paused = false;
    }

    private PartitionFetcher NewFetcher(TopicPartition tp, long offset) =>
        new(tp, offset, _settings, _cache, _queue.Writer, _time, CommittedOffsets);

    private static void Validate(TopicPartitionOffset tpo)
    {
        ArgumentException.ThrowIfNullOrEmpty(tpo.TopicPartition.Topic);
        if (tpo.TopicPartition.Partition < 0)
            throw new KafkaException(new Error(ErrorCode.UnknownTopicOrPartition, $"Partition {tpo.TopicPartition.Partition} is not a partition."));
        if (tpo.Offset < 0 && tpo.Offset is not (Offset.Beginning or Offset.End or Offset.Unset or Offset.Stored))
            throw new KafkaException(new Error(ErrorCode.OffsetOutOfRange,
                $"{tpo}: an offset is >= 0 or one of Offset.Beginning, Offset.End, Offset.Stored, Offset.Unset."));
    }

    private static IEnumerable<TopicPartitionOffset> WithUnset(IEnumerable<TopicPartition> partitions)
    {
        ArgumentNullException.ThrowIfNull(partitions);
        foreach (var tp in partitions) yield return new TopicPartitionOffset(tp, Offset.Unset);
    }

    public ConsumeResult<TKey, TValue>? Consume(int millisecondsTimeout) => Consume(TimeSpan.FromMilliseconds(millisecondsTimeout));

    public ConsumeResult<TKey, TValue>? Consume(TimeSpan timeout)
    {
        var deadline = DeadlineOf(timeout);
        while (true)
        {
            if (TryNext(out var result)) return result;
            switch (WaitForFetched(deadline))
            {
                case Fetched.More:
                    continue;
                case Fetched.TimedOut:
                    return TryNext(out result) ? result : null;
                default:
                    return null;
            }
        }
    }

    public ConsumeResult<TKey, TValue> Consume(CancellationToken cancellationToken = default)
    {
        while (true)
        {
            if (TryNext(out var result)) return result!;
            var wait = _queue.Reader.WaitToReadAsync(cancellationToken);
            var more = wait.IsCompleted ? wait.Result : wait.AsTask().GetAwaiter().GetResult();
            if (!more) throw new ObjectDisposedException(Name, "The consumer is closed.");
        }
    }

    public async ValueTask<ConsumeResult<TKey, TValue>> ConsumeAsync(CancellationToken cancellationToken = default)
    {
        while (true)
        {
            if (TryNext(out var result)) return result!;
            if (!await _queue.Reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
                throw new ObjectDisposedException(Name, "The consumer is closed.");
        }
    }

    public ConsumerRecords Poll(int millisecondsTimeout) => Poll(TimeSpan.FromMilliseconds(millisecondsTimeout));

    public ConsumerRecords Poll(TimeSpan timeout)
    {
        var deadline = DeadlineOf(timeout);
        while (true)
        {
            if (TryAdvance(events: false, out _)) return new ConsumerRecords(this, _item!);
            switch (WaitForFetched(deadline))
            {
                case Fetched.More:
                    continue;
                case Fetched.TimedOut:
                    return TryAdvance(events: false, out _) ? new ConsumerRecords(this, _item!) : default;
                default:
                    return default;
            }
        }
    }

    bool IRecordPoller.TryTake(FetchItem item, out ConsumerRecord record)
    {
        if (!ReferenceEquals(_item, item) || item.Fetcher.Stopped || !FindRecord(item))
        {
            record = default;
            return false;
        }
        var tp = item.Fetcher.TopicPartition;
        ref readonly var slot = ref TakeRecord(item);
        var span = _batch.Span;
        record = new ConsumerRecord(tp, slot.Offset, new Timestamp(slot.TimestampMs, slot.TimestampType), _batchLeaderEpoch,
            KeyOf(span, slot), slot.KeyStart < 0, ValueOf(span, slot), slot.ValueStart < 0, span.Slice(slot.HeadersStart, slot.HeadersLength), slot.HeaderCount);
        StoreConsumed(tp, slot.Offset);
        return true;
    }

    private long DeadlineOf(TimeSpan timeout) => _time.GetTimestamp() + (long)(timeout.TotalSeconds * _time.TimestampFrequency);

    private enum Fetched
    {
        /// <summary>Something arrived: look again.</summary>
        More,
        /// <summary>The wait ended at the deadline: look once more.</summary>
        TimedOut,
        /// <summary>The deadline had passed, or the consumer is closed.</summary>
        GiveUp,
    }

    /// <summary>Waits until the fetchers queue something, the deadline passes or the consumer closes.</summary>
    private Fetched WaitForFetched(long deadline)
    {
        var left = deadline - _time.GetTimestamp();
        if (left <= 0) return Fetched.GiveUp;
        var wait = _queue.Reader.WaitToReadAsync();
        if (wait.IsCompleted) return wait.Result ? Fetched.More : Fetched.GiveUp;
        var waitTask = wait.AsTask();
        if (!waitTask.Wait(TimeSpan.FromMilliseconds(Math.Max(1, Ticks.ToMs(_time, left))))) return Fetched.TimedOut;
        return waitTask.Result ? Fetched.More : Fetched.GiveUp;
    }

    /// <summary>The next message or event that is ready, without waiting.</summary>
    private bool TryNext(out ConsumeResult<TKey, TValue>? result)
    {
        if (!TryAdvance(events: true, out var eof))
        {
            result = null;
            return false;
        }
        if (eof is not null)
        {
            result = new ConsumeResult<TKey, TValue>
            {
                TopicPartitionOffset = new TopicPartitionOffset(eof.Fetcher.TopicPartition, eof.Offset),
                IsPartitionEOF = true,
            };
            return true;
        }
        var item = _item!;
        ref readonly var slot = ref TakeRecord(item);
        result = Materialize(item.Fetcher.TopicPartition, slot);
        StoreConsumed(item.Fetcher.TopicPartition, slot.Offset);
        return true;
    }

    /// <summary>
    /// Without waiting, moves to the next record ready to hand out (true, <see cref="_item"/> positioned on it) or, with
    /// <paramref name="events"/>, the next partition EOF (true, in <paramref name="eof"/>); Poll passes EOFs by.
    /// Throws the fetchers' errors as <see cref="ConsumeException"/>.
    /// </summary>
    private bool TryAdvance(bool events, out FetchItem? eof)
    {
        PollGroup();
        eof = null;
        while (true)
        {
            if (_item is { } item)
            {
                if (!item.Fetcher.Stopped && FindRecord(item)) return true;
                DropItem();
                continue;
            }
            if (!_queue.Reader.TryRead(out var next)) return false;
            if (next.Kind == FetchItemKind.Wakeup)
            {
                // A wakeup asks for a group poll: the join it announces may have ended after the poll above, and
                // nothing else would come to this queue before the fetchers that poll starts.
                PollGroup();
                continue;
            }
            if (next.Fetcher.Stopped)
            {
                next.Records.Dispose();
                continue;
            }
            switch (next.Kind)
            {
                case FetchItemKind.Records:
                    _item = next;
                    _aborted = _settings.IsolationLevel == IsolationLevel.ReadCommitted ? AbortedTransactionFilter.For(next.AbortedTransactions) : null;
                    _itemPosition = 0;
                    _slotCount = _slotIndex = 0;
                    continue;
                case FetchItemKind.PartitionEof:
                    next.Fetcher.Consumed();
                    if (!events || Interlocked.Read(ref next.Fetcher.Position) != next.Offset) continue;
                    eof = next;
                    return true;
                default:
                    throw new ConsumeException(next.Error!, new TopicPartitionOffset(next.Fetcher.TopicPartition, next.Offset));
            }
        }
    }

    private void DropItem()
    {
        _item!.Fetcher.Consumed();
        _item.Records.Dispose();
        _item = null;
        _aborted = null;
        _batch = default;
        _slotCount = _slotIndex = 0;
    }

    /// <summary>Moves to the next record of <paramref name="item"/> at or after the partition's position; false when the item is used up.</summary>
    private bool FindRecord(FetchItem item)
    {
        var fetcher = item.Fetcher;
        while (true)
        {
            while (_slotIndex < _slotCount)
            {
                var position = Interlocked.Read(ref fetcher.Position);
                if (_slots[_slotIndex].Offset >= position || position < 0) return true;
                _slotIndex++;
            }
            var records = item.Records.Memory;
            if (_itemPosition >= records.Length || !DecodeNextBatch(records)) return false;
        }
    }

    /// <summary>Hands out the record <see cref="FindRecord"/> found: the partition's position moves past it.</summary>
    private ref readonly RecordSlot TakeRecord(FetchItem item)
    {
        ref readonly var slot = ref _slots[_slotIndex++];
        Interlocked.Exchange(ref item.Fetcher.Position, slot.Offset + 1);
        return ref slot;
    }

    /// <summary>Decodes the next whole batch of the item into slots; false when only a partial batch or nothing is left.</summary>
    private bool DecodeNextBatch(ReadOnlyMemory<byte> records)
    {
        var rest = records.Span[_itemPosition..];
        var size = RecordBatchHeader.PeekTotalSize(rest);
        if (size < RecordBatchHeader.Size || size > rest.Length) return false;
        _batch = records.Slice(_itemPosition, size);
        _itemPosition += size;
        _slotCount = _slotIndex = 0;
        var span = _batch.Span;
        var header = RecordBatchHeader.Read(span);
        // Markers never reach the application, nor (read_committed) aborted data; the position moves past both.
        var aborted = _aborted?.IsAborted(header, span) ?? false;
        if (header.IsControl || aborted || header.RecordCount == 0)
        {
            SkipPast(header);
            return true;
        }
        _batchLeaderEpoch = header.PartitionLeaderEpoch;
        if (_slots.Length < header.RecordCount) _slots = new RecordSlot[Math.Max(header.RecordCount, _slots.Length * 2)];
        try
        {
            if (header.Compression != CompressionType.None)
            {
                _plain ??= new PooledBuffer(4 * size, RecordBatchCompression.DefaultMaxDecompressedBytes);
                RecordBatchCompression.Decompress(span, _plain);
                _batch = _plain.WrittenMemory;
                span = _batch.Span;
            }
            ref var origin = ref MemoryMarshal.GetReference(span);
            foreach (var record in RecordBatchReader.Batch(span).Records())
            {
                if (_slotCount == _slots.Length) Array.Resize(ref _slots, _slots.Length * 2);
                ref var slot = ref _slots[_slotCount++];
                slot.Offset = record.Offset;
                slot.TimestampMs = record.TimestampMs;
                slot.TimestampType = header.IsLogAppendTime ? TimestampType.LogAppendTime : TimestampType.CreateTime;
                slot.KeyStart = record.KeyIsNull ? -1 : (int)Unsafe.ByteOffset(ref origin, ref MemoryMarshal.GetReference(record.Key));
                slot.KeyLength = record.Key.Length;
                slot.ValueStart = record.ValueIsNull ? -1 : (int)Unsafe.ByteOffset(ref origin, ref MemoryMarshal.GetReference(record.Value));
                slot.ValueLength = record.Value.Length;
                slot.HeaderCount = record.HeaderCount;
                slot.HeadersStart = (int)Unsafe.ByteOffset(ref origin, ref MemoryMarshal.GetReference(record.EncodedHeaders));
                slot.HeadersLength = record.EncodedHeaders.Length;
            }
        }
        catch (OrleansStreamException ex)
        {
            var tp = _item!.Fetcher.TopicPartition;
            throw new ConsumeException(new Error(ex.Code, $"{tp}: batch at offset {header.BaseOffset}: {ex.Message}"),
                new TopicPartitionOffset(tp, header.BaseOffset), ex);
        }
        return true;
    }

    /// <summary>Kafka's nextFetchOffset after a batch that yields nothing: the position passes it.</summary>
    private void SkipPast(in RecordBatchHeader header)
    {
        var fetcher = _item!.Fetcher;
        var position = Interlocked.Read(ref fetcher.Position);
        if (position >= 0 && position < header.NextOffset)
            Interlocked.Exchange(ref fetcher.Position, header.NextOffset);
    }

    private static ReadOnlySpan<byte> KeyOf(ReadOnlySpan<byte> batch, in RecordSlot slot) =>
        slot.KeyStart < 0 ? default : batch.Slice(slot.KeyStart, slot.KeyLength);

    private static ReadOnlySpan<byte> ValueOf(ReadOnlySpan<byte> batch, in RecordSlot slot) =>
        slot.ValueStart < 0 ? default : batch.Slice(slot.ValueStart, slot.ValueLength);

    private static Headers? HeadersOf(ReadOnlySpan<byte> batch, in RecordSlot slot)
    {
        if (slot.HeaderCount == 0) return null;
        var headers = new Headers();
        foreach (var h in new RecordHeaderEnumerator(batch.Slice(slot.HeadersStart, slot.HeadersLength), slot.HeaderCount))
            headers.Add(h.ToRecordHeader());
        return headers;
    }

    private ConsumeResult<TKey, TValue> Materialize(TopicPartition tp, in RecordSlot slot)
    {
        var span = _batch.Span;
        var key = KeyOf(span, slot);
        var value = ValueOf(span, slot);
        var tpo = new TopicPartitionOffset(tp, slot.Offset);
        Headers? headers;
        try
        {
            headers = HeadersOf(span, slot);
        }
        catch (OrleansStreamException ex)
        {
            throw new ConsumeException(new Error(ex.Code, $"{tpo}: {ex.Message}"), tpo, ex);
        }
        TKey k;
        TValue v;
        try
        {
            k = _keyDeserializer.Deserialize(key, slot.KeyStart < 0, new SerializationContext(MessageComponentType.Key, tp.Topic, headers));
            v = _valueDeserializer.Deserialize(value, slot.ValueStart < 0, new SerializationContext(MessageComponentType.Value, tp.Topic, headers));
        }
        catch (Exception ex)
        {
            throw new ConsumeException(new Error(ErrorCode.InvalidRecord, $"{tpo}: deserializing the message failed: {ex.Message}"), tpo, ex)
            {
                ConsumerRecord = new ConsumeResult<byte[]?, byte[]?>
                {
                    TopicPartitionOffset = tpo,
                    Message = new Message<byte[]?, byte[]?>
                    {
                        Key = slot.KeyStart < 0 ? null : key.ToArray(),
                        Value = slot.ValueStart < 0 ? null : value.ToArray(),
                        Timestamp = new Timestamp(slot.TimestampMs, slot.TimestampType),
                        Headers = headers,
                    },
                },
            };
        }
        return new ConsumeResult<TKey, TValue>
        {
            TopicPartitionOffset = tpo,
            LeaderEpoch = _batchLeaderEpoch,
            Message = new Message<TKey, TValue>
            {
                Key = k,
                Value = v,
                Timestamp = new Timestamp(slot.TimestampMs, slot.TimestampType),
                Headers = headers,
            },
        };
    }

    public WatermarkOffsets QueryWatermarkOffsets(TopicPartition topicPartition, TimeSpan timeout)
    {
        return Blocking.Wait(() => QueryWatermarkOffsetsAsync(topicPartition, timeout));
    }

    private async Task<WatermarkOffsets> QueryWatermarkOffsetsAsync(TopicPartition topicPartition, TimeSpan timeout)
    {
        var low = ListOffsetAsync(topicPartition, ListOffsetsTimestamp.Earliest, timeout);
        var high = ListOffsetAsync(topicPartition, ListOffsetsTimestamp.Latest, timeout);
        return new WatermarkOffsets(await low.ConfigureAwait(false), await high.ConfigureAwait(false));
    }

    public WatermarkOffsets GetWatermarkOffsets(TopicPartition topicPartition)
    {
        lock (_sync)
            return _fetchers.TryGetValue(topicPartition, out var f) ? f.Watermarks : new WatermarkOffsets(Offset.Unset, Offset.Unset);
    }

    public List<TopicPartitionOffset> OffsetsForTimes(IEnumerable<TopicPartitionTimestamp> timestampsToSearch, TimeSpan timeout)
    {
        ArgumentNullException.ThrowIfNull(timestampsToSearch);
        var searches = new List<TopicPartitionTimestamp>(timestampsToSearch);
        foreach (var t in searches)
            if (t.Timestamp.UnixTimestampMs < 0)
                throw new KafkaException(new Error(ErrorCode.InvalidTimestamp, $"{t.TopicPartition}: timestamp {t.Timestamp.UnixTimestampMs} is negative."));
        return Blocking.Wait(() => OffsetsForTimesAsync(searches, timeout));
    }

    private async Task<List<TopicPartitionOffset>> OffsetsForTimesAsync(List<TopicPartitionTimestamp> searches, TimeSpan timeout)
    {
        var lookups = new List<Task<long>>(searches.Count);
        foreach (var t in searches)
            lookups.Add(ListOffsetAsync(t.TopicPartition, t.Timestamp.UnixTimestampMs, timeout));
        var result = new List<TopicPartitionOffset>(searches.Count);
        for (var i = 0; i < searches.Count; i++)
        {
            var o = await lookups[i].ConfigureAwait(false);
            result.Add(new TopicPartitionOffset(searches[i].TopicPartition, o < 0 ? Offset.End : o));
        }
        return result;
    }

    private async Task<long> ListOffsetAsync(TopicPartition tp, long spec, TimeSpan timeout)
    {
        var response = await LeaderCalls.CallAsync(_cache, tp, _settings.AllowAutoCreateTopics, _settings.MetadataMaxAgeMs,
            _settings.RetryBackoffMs, timeout, (leader, epoch) => leader.ListOffsets(new ListOffsetsRequest(spec, epoch, _settings.IsolationLevel)),
            static r => r.Error, _time).ConfigureAwait(false);
        if (response.Error != ErrorCode.None)
            throw new KafkaException(new Error(response.Error, $"{tp}: {response.ErrorMessage ?? response.Error.ToString()}"));
        return response.Offset;
    }

    public void Close()
    {
        CloseGroup();
        List<PartitionFetcher> stopped;
        lock (_sync)
        {
            if (_closed) return;
            _closed = true;
            stopped = [.. _fetchers.Values];
            foreach (var f in stopped) f.Stop();
            _fetchers.Clear();
        }
        _queue.Writer.TryComplete();
        // The loops end once their fetch in flight returns (at most fetch.wait.max.ms plus a round trip).
        var loops = new Task[stopped.Count];
        for (var i = 0; i < loops.Length; i++) loops[i] = stopped[i].Loop;
        Task.WhenAll(loops).Wait(TimeSpan.FromMilliseconds(_settings.FetchWaitMaxMs + _settings.RequestTimeoutMs));
    }

    public void Dispose() => Close();

    private struct RecordSlot
    {
        public long Offset;
        public long TimestampMs;
        public TimestampType TimestampType;
        public int KeyStart;
        public int KeyLength;
        public int ValueStart;
        public int ValueLength;
        /// <summary>The encoded headers, read into a <see cref="Headers"/> only when Consume hands the record out.</summary>
        public int HeadersStart;
        public int HeadersLength;
        public int HeaderCount;
    }
}
