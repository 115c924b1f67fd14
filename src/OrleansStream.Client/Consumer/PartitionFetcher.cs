using System.Threading.Channels;
using OrleansStream.Records;

namespace OrleansStream.Client;

internal enum FetchItemKind
{
    Records,
    PartitionEof,
    Error,
    /// <summary>No data: wakes a waiting Consume so the consumer group can act (a rebalance finished).</summary>
    Wakeup,
}

/// <summary>
/// What a fetcher hands the consumer: fetched batches (with the aborted transactions they overlap, read_committed),
/// the end of the partition, or an error. The consumer disposes <see cref="Records"/> once it has read them (or drops
/// them unread).
/// </summary>
internal sealed class FetchItem(PartitionFetcher fetcher, FetchItemKind kind, PooledRecords records, long offset, Error? error = null,
    IReadOnlyList<AbortedTransaction>? abortedTransactions = null)
{
    public PartitionFetcher Fetcher { get; } = fetcher;
    public FetchItemKind Kind { get; } = kind;
    public PooledRecords Records { get; } = records;
    /// <summary>The fetch offset (records), the end offset (EOF), or the offset that failed (error).</summary>
    public long Offset { get; } = offset;
    public Error? Error { get; } = error;
    public IReadOnlyList<AbortedTransaction>? AbortedTransactions { get; } = abortedTransactions;
}

/// <summary>
/// Resolves where a partition starts (committed offset, <c>auto.offset.reset</c>). The groups part of the SDK
/// provides the committed offsets; without it there are none.
/// </summary>
internal delegate Task<long> CommittedOffsetResolver(TopicPartition tp, CancellationToken cancellationToken);

/// <summary>
/// Prefetches one assigned partition in the background: long-polling fetches on the leader, at most
/// <c>queued.max.fetches.per.partition</c> answers waiting for Consume. One instance per assignment or seek, so
/// anything an old instance queued is recognisably stale.
/// </summary>
internal sealed class PartitionFetcher
{
    private readonly ConsumerSettings _settings;
    private readonly MetadataCache _cache;
    private readonly ChannelWriter<FetchItem> _output;
    private readonly TimeProvider _time;
    private readonly CommittedOffsetResolver? _committed;
    private readonly CancellationTokenSource _stop = new();
    private readonly SemaphoreSlim _credits;
    private readonly AsyncSignal _resumed = new();
    private ErrorCode _lastReported;
    private long _low = Offset.Unset;
    private long _high = Offset.Unset;
    private volatile bool _paused;

    public PartitionFetcher(
        TopicPartition tp, long startOffset, ConsumerSettings settings, MetadataCache cache, ChannelWriter<FetchItem> output,
        TimeProvider time, CommittedOffsetResolver? committed)
    {
        TopicPartition = tp;
        _settings = settings;
        _cache = cache;
        _output = output;
        _time = time;
        _committed = committed;
        _credits = new SemaphoreSlim(settings.QueuedMaxFetchesPerPartition);
        Position = startOffset >= 0 ? startOffset : Offset.Unset;
        Loop = Task.Run(() => RunAsync(startOffset));
    }

    public TopicPartition TopicPartition { get; }

    /// <summary>Next offset Consume returns; written by the consumer thread, and by the loop once the start is resolved.</summary>
    public long Position;

    public bool Stopped => _stop.IsCancellationRequested;

    public Task Loop { get; }

    public WatermarkOffsets Watermarks => new(Interlocked.Read(ref _low), Interlocked.Read(ref _high));

    public bool Paused
    {
        get => _paused;
        set
        {
            _paused = value;
            if (!value) _resumed.Set();
        }
    }

    /// <summary>The consumer is done with one queued item of this fetcher.</summary>
    public void Consumed()
    {
        if (!Stopped) _credits.Release();
    }

    public void Stop()
    {
        if (Stopped) return;
        _stop.Cancel();
        _resumed.Set();
    }

    private async Task RunAsync(long start)
    {
        var ct = _stop.Token;
        try
        {
            var offset = await ResolveStartAsync(start, ct).ConfigureAwait(false);
            if (offset < 0) return;
            Interlocked.CompareExchange(ref Position, offset, Offset.Unset);
            var eofReportedAt = -1L;
            while (!ct.IsCancellationRequested)
            {
                await _credits.WaitAsync(ct).ConfigureAwait(false);
                while (_paused && !ct.IsCancellationRequested)
                {
                    _resumed.Reset();
                    if (_paused) await _resumed.WaitAsync().WaitAsync(ct).ConfigureAwait(false);
                }
                var response = await FetchAsync(offset, ct).ConfigureAwait(false);
                if (ct.IsCancellationRequested) return;
                switch (response.Error)
                {
                    case ErrorCode.None:
                        _lastReported = ErrorCode.None;
                        Interlocked.Exchange(ref _low, response.LogStartOffset);
                        // read_committed ends at the last stable offset, as librdkafka's high watermark for such consumers.
                        var end = _settings.IsolationLevel == IsolationLevel.ReadCommitted && response.LastStableOffset >= 0
                            ? response.LastStableOffset
                            : response.HighWatermark;
                        Interlocked.Exchange(ref _high, end);
                        var next = NextOffset(response.Records.Span, offset);
                        if (next <= offset) response.Records.Dispose();
                        if (next > offset)
                        {
                            await _output.WriteAsync(new FetchItem(this, FetchItemKind.Records, response.Records, offset,
                                abortedTransactions: response.AbortedTransactions), ct).ConfigureAwait(false);
                            offset = next;
                        }
                        else if (_settings.EnablePartitionEof && offset >= end && eofReportedAt != offset)
                        {
                            eofReportedAt = offset;
                            await _output.WriteAsync(new FetchItem(this, FetchItemKind.PartitionEof, PooledRecords.Empty, offset), ct).ConfigureAwait(false);
                        }
                        else
                        {
                            _credits.Release();
                        }
                        break;
                    case ErrorCode.OffsetOutOfRange:
                        _credits.Release();
                        var reset = await ResetAsync(offset, ct).ConfigureAwait(false);
                        if (reset < 0) return;
                        offset = reset;
                        Interlocked.Exchange(ref Position, offset);
                        break;
                    default:
                        // Unknown topic and other lasting errors: tell the application once, keep trying (it may be created).
                        await ReportAsync(response.Error, response.ErrorMessage, offset, ct).ConfigureAwait(false);
                        _credits.Release();
                        await Task.Delay(TimeSpan.FromMilliseconds(Math.Max(_settings.RetryBackoffMs, 100)), _time, ct).ConfigureAwait(false);
                        break;
                }
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
        catch (ChannelClosedException)
        {
        }
        catch (ObjectDisposedException)
        {
            // The application disposed the Orleans client under the consumer: the consumer is closing.
        }
    }

    /// <summary>The offset after the last whole batch in <paramref name="records"/>, or <paramref name="offset"/> if there is none.</summary>
    internal static long NextOffset(ReadOnlySpan<byte> records, long offset)
    {
        var next = offset;
        while (records.Length >= RecordBatchHeader.Size)
        {
            var size = RecordBatchHeader.PeekTotalSize(records);
            if (size < RecordBatchHeader.Size || size > records.Length) break;
            var header = RecordBatchHeader.Read(records);
            next = Math.Max(next, header.NextOffset);
            records = records[size..];
        }
        return next;
    }

    private async Task<long> ResolveStartAsync(long start, CancellationToken ct)
    {
        if (start >= 0) return start;
        if (start == Offset.Beginning) return await ListOffsetAsync(ListOffsetsTimestamp.Earliest, ct).ConfigureAwait(false);
        if (start == Offset.End) return await ListOffsetAsync(ListOffsetsTimestamp.Latest, ct).ConfigureAwait(false);
        if (_committed is not null)
        {
            var committed = await _committed(TopicPartition, ct).ConfigureAwait(false);
            if (committed >= 0) return committed;
        }
        return _settings.AutoOffsetReset switch
        {
            AutoOffsetReset.Earliest => await ListOffsetAsync(ListOffsetsTimestamp.Earliest, ct).ConfigureAwait(false),
            AutoOffsetReset.Latest => await ListOffsetAsync(ListOffsetsTimestamp.Latest, ct).ConfigureAwait(false),
            _ => await FailAsync(ErrorCode.OffsetOutOfRange,
                $"{TopicPartition}: no committed offset and auto.offset.reset is error.", Offset.Unset, ct).ConfigureAwait(false),
        };
    }

    private async Task<long> ResetAsync(long offset, CancellationToken ct) => _settings.AutoOffsetReset switch
    {
        AutoOffsetReset.Earliest => await ListOffsetAsync(ListOffsetsTimestamp.Earliest, ct).ConfigureAwait(false),
        AutoOffsetReset.Latest => await ListOffsetAsync(ListOffsetsTimestamp.Latest, ct).ConfigureAwait(false),
        _ => await FailAsync(ErrorCode.OffsetOutOfRange,
            $"{TopicPartition}: offset {offset} is out of range and auto.offset.reset is error; Seek to a valid offset.", offset, ct).ConfigureAwait(false),
    };

    /// <summary>Reports an error that stops this fetcher until the application seeks or reassigns.</summary>
    private async Task<long> FailAsync(ErrorCode code, string reason, long offset, CancellationToken ct)
    {
        await _output.WriteAsync(new FetchItem(this, FetchItemKind.Error, PooledRecords.Empty, offset, new Error(code, reason)), ct).ConfigureAwait(false);
        return -1;
    }

    private async Task ReportAsync(ErrorCode code, string? reason, long offset, CancellationToken ct)
    {
        if (code == _lastReported) return;
        _lastReported = code;
        await _output.WriteAsync(new FetchItem(this, FetchItemKind.Error, PooledRecords.Empty, offset,
            new Error(code, $"{TopicPartition}: {reason ?? code.ToString()}")), ct).ConfigureAwait(false);
    }

    private async Task<long> ListOffsetAsync(long spec, CancellationToken ct)
    {
        while (true)
        {
            try
            {
                var r = await LeaderCalls.CallAsync(_cache, TopicPartition, _settings.AllowAutoCreateTopics, _settings.MetadataMaxAgeMs,
                    _settings.RetryBackoffMs, TimeSpan.FromMilliseconds(_settings.RequestTimeoutMs),
                    (leader, epoch) => leader.ListOffsets(new ListOffsetsRequest(spec, epoch, _settings.IsolationLevel)), static r => r.Error, _time, ct).ConfigureAwait(false);
                if (r.Error == ErrorCode.None) return r.Offset;
                await ReportAsync(r.Error, r.ErrorMessage, Offset.Unset, ct).ConfigureAwait(false);
            }
            catch (KafkaException ex)
            {
                await ReportAsync(ex.Error.Code, ex.Error.Reason, Offset.Unset, ct).ConfigureAwait(false);
            }
            await Task.Delay(TimeSpan.FromMilliseconds(Math.Max(_settings.RetryBackoffMs, 100)), _time, ct).ConfigureAwait(false);
        }
    }

    /// <summary>One fetch from the current leader, following leadership changes; errors other than stale metadata come back.</summary>
    private async Task<FetchResponse> FetchAsync(long offset, CancellationToken ct)
    {
        var stale = long.MaxValue;
        var refresh = false;
        while (true)
        {
            ct.ThrowIfCancellationRequested();
            TopicEntry entry;
            try
            {
                entry = refresh
                    ? await _cache.RefreshAsync(TopicPartition.Topic, _settings.AllowAutoCreateTopics, stale).ConfigureAwait(false)
                    : await _cache.GetAsync(TopicPartition.Topic, _settings.AllowAutoCreateTopics, _settings.MetadataMaxAgeMs).ConfigureAwait(false);
            }
            catch (Exception ex) when (LeaderCalls.IsTransient(ex))
            {
                entry = new TopicEntry(TopicPartition.Topic, -1, ErrorCode.LeaderNotAvailable, ex.Message, [], 0);
            }
            var code = entry.Error;
            string? message = entry.ErrorMessage;
            if (code == ErrorCode.None && (uint)TopicPartition.Partition >= (uint)entry.PartitionCount)
            {
                code = ErrorCode.UnknownTopicOrPartition;
                message = $"Partition {TopicPartition.Partition} does not exist; topic '{TopicPartition.Topic}' has {entry.PartitionCount}.";
            }
            if (code is not (ErrorCode.None or ErrorCode.LeaderNotAvailable))
                return new FetchResponse(code, -1, -1, PooledRecords.Empty, message);
            var p = code == ErrorCode.None ? entry.Partitions[TopicPartition.Partition] : null;
            if (p?.LeaderGrain is { } leader)
            {
                FetchResponse response;
                try
                {
                    response = await _cache.Calls.Call(leader.Fetch(new FetchRequest(offset, _settings.PartitionFetchBytes, _settings.FetchMinBytes,
                        _settings.FetchWaitMaxMs, p.LeaderEpoch, _settings.IsolationLevel)), TimeSpan.FromMilliseconds(_settings.FetchWaitMaxMs)).ConfigureAwait(false);
                }
                catch (Exception ex) when (LeaderCalls.IsTransient(ex))
                {
                    response = new FetchResponse(ErrorCode.RequestTimedOut, -1, -1, PooledRecords.Empty, ex.Message);
                }
                if (!Error.InvalidatesMetadata(response.Error) && response.Error != ErrorCode.RequestTimedOut) return response;
            }
            refresh = true;
            stale = entry.Version;
            await Task.Delay(TimeSpan.FromMilliseconds(Math.Max(_settings.RetryBackoffMs, 1)), _time, ct).ConfigureAwait(false);
        }
    }
}
