using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using OrleansStream.Records;

namespace OrleansStream.Storage.Tiering;

/// <summary>
/// The read path of a partition's tiered log (Kafka's RemoteLogReader): fetches and timestamp lookups below the local log
/// start, served from the tier through ranged reads and the <see cref="RemoteReadCache"/>. Like the manager, it touches
/// the <see cref="PartitionLog"/> only between awaits, on the caller's context.
/// </summary>
internal sealed class RemoteLogReader(
    string topic, int partition, PartitionLog log, ITierStore store, RemoteReadCache cache, RemoteLogMetadataManager metadata, IRemoteLogMetrics metrics)
{

    /// <summary>
    /// Reads whole batches from the tier starting with the one that holds <paramref name="offset"/> (or the first one
    /// after it when compaction removed it), like <see cref="PartitionLog.Read(long, int, long)"/>: up to
    /// <paramref name="maxBytes"/>, at least one batch, only batches wholly below <paramref name="maxOffsetExclusive"/>.
    /// </summary>
    public async Task<ReadOnlyMemory<byte>> ReadAsync(long offset, int maxBytes, long maxOffsetExclusive = long.MaxValue, CancellationToken cancellationToken = default)
    {
        var started = Stopwatch.GetTimestamp();
        while (true)
        {
            await metadata.GetAsync(cancellationToken);
            var segment = metadata.Current.FindSegmentFor(offset);
            if (segment is null || offset < log.LogStartOffset)
            {
                // The manifest may be stale (another leader tiered since): look once more before giving up.
                await metadata.ReloadAsync(cancellationToken);
                segment = metadata.Current.FindSegmentFor(offset);
                if (segment is null || offset < log.LogStartOffset)
                    throw new OrleansStreamException(ErrorCode.OffsetOutOfRange,
                        $"Offset {offset} of {topic}-{partition} is neither in the tier nor in the local log (log start {log.LogStartOffset}).");
            }
            if (segment.BaseOffset >= maxOffsetExclusive) return ReadOnlyMemory<byte>.Empty;

            var prefix = segment.KeyPrefix(topic, partition);
            var position = await LookupPositionAsync(prefix, segment, offset, cancellationToken);
            var result = await ReadBatchesAsync(prefix, segment, position, offset, maxBytes, maxOffsetExclusive, cancellationToken);
            if (result.IsEmpty && position > 0)
                result = await ReadBatchesAsync(prefix, segment, 0, offset, maxBytes, maxOffsetExclusive, cancellationToken);
            if (result.IsEmpty && segment.NextOffset < maxOffsetExclusive)
            {
                // Compaction emptied the rest of this segment: go on with the next one, in the tier or on local disk.
                offset = Math.Max(offset, segment.NextOffset);
                if (offset < log.LocalLogStartOffset) continue;
                result = log.Read(offset, maxBytes, maxOffsetExclusive);
            }
            metrics.RemoteFetchCompleted(Stopwatch.GetElapsedTime(started));
            return result;
        }
    }

    private async Task<ReadOnlyMemory<byte>> ReadBatchesAsync(
        string prefix, RemoteLogSegmentMetadata segment, int position, long offset, int maxBytes, long maxOffsetExclusive, CancellationToken cancellationToken)
    {
        var size = segment.SegmentSizeInBytes;
        var output = new ArrayBufferWriterLite();
        var startPosition = position;
        var headerBuffer = new byte[RecordBatchHeader.Size];
        while (position + RecordBatchHeader.LogOverhead <= size)
        {
            var headerLength = Math.Min(RecordBatchHeader.Size, size - position);
            await ReadRangeAsync(prefix, size, position, headerBuffer.AsMemory(0, headerLength), cancellationToken);
            if (headerLength < RecordBatchHeader.Size) break;
            var baseOffset = BinaryPrimitives.ReadInt64BigEndian(headerBuffer.AsSpan(RecordBatchHeader.BaseOffsetOffset));
            var batchSize = BinaryPrimitives.ReadInt32BigEndian(headerBuffer.AsSpan(RecordBatchHeader.BatchLengthOffset)) + RecordBatchHeader.LogOverhead;
            var lastOffset = baseOffset + BinaryPrimitives.ReadInt32BigEndian(headerBuffer.AsSpan(RecordBatchHeader.LastOffsetDeltaOffset));
            if (batchSize < RecordBatchHeader.Size || position + batchSize > size)
                throw new OrleansStreamException(ErrorCode.CorruptMessage, $"Tiered segment {prefix}.log has a torn batch at position {position}.");
            if (position == startPosition && position > 0 && baseOffset > offset)
                return ReadOnlyMemory<byte>.Empty; // the index pointed past the offset: the caller retries from the start
            if (lastOffset >= maxOffsetExclusive) break;
            if (lastOffset >= offset)
            {
                if (output.Length > 0 && output.Length + batchSize > maxBytes) break;
                var target = output.GetMemory(batchSize);
                await ReadRangeAsync(prefix, size, position, target, cancellationToken);
                output.Advance(batchSize);
                if (output.Length >= maxBytes) break;
            }
            position += batchSize;
        }
        return output.WrittenMemory;
    }

    /// <summary>Copies [position, position + destination.Length) of a remote log through the chunk cache.</summary>
    private async Task ReadRangeAsync(string prefix, int size, long position, Memory<byte> destination, CancellationToken cancellationToken)
    {
        var chunkBytes = cache.ChunkBytes;
        while (!destination.IsEmpty)
        {
            var chunkIndex = position / chunkBytes;
            var chunkKey = prefix + ".log#" + chunkIndex.ToString(CultureInfo.InvariantCulture);
            if (!cache.TryGet(chunkKey, out var chunk))
            {
                var chunkStart = chunkIndex * chunkBytes;
                chunk = new byte[(int)Math.Min(chunkBytes, size - chunkStart)];
                var read = await store.ReadAsync(prefix + ".log", chunkStart, chunk, cancellationToken);
                if (read != chunk.Length)
                    throw new OrleansStreamException(ErrorCode.KafkaStorageError, $"Tiered segment {prefix}.log is shorter than its manifest entry.");
                cache.Put(chunkKey, chunk);
            }
            var within = (int)(position - chunkIndex * chunkBytes);
            var n = Math.Min(destination.Length, chunk.Length - within);
            chunk.AsMemory(within, n).CopyTo(destination);
            destination = destination[n..];
            position += n;
        }
    }

    /// <summary>Kafka's OffsetIndex lookup on the remote index: the position of the last entry at or below the offset.</summary>
    private async Task<int> LookupPositionAsync(string prefix, RemoteLogSegmentMetadata segment, long offset, CancellationToken cancellationToken)
    {
        var index = await GetRemoteIndexAsync(prefix + ".index", cancellationToken);
        var position = OffsetIndex.LookupPosition(index, offset - segment.BaseOffset);
        return position >= 0 && position < segment.SegmentSizeInBytes ? position : 0;
    }

    /// <summary>
    /// Kafka's collectAbortedTransactions across the tier (its addAbortedTransactions for remote reads): the remote
    /// segments from the one holding <paramref name="startOffset"/>, then the local ones, until an entry's last stable
    /// offset reaches <paramref name="upperBoundOffset"/>. Null when none overlap.
    /// </summary>
    public async Task<IReadOnlyList<AbortedTxn>?> CollectAbortedTransactionsAsync(long startOffset, long upperBoundOffset, CancellationToken cancellationToken)
    {
        await metadata.GetAsync(cancellationToken);
        var aborted = new List<AbortedTxn>();
        var covered = startOffset;
        var complete = false;
        foreach (var segment in metadata.Current.Segments)
        {
            // Replaced copies may still be listed beside their compacted successor: each offset is searched once.
            if (segment.State != RemoteLogSegmentState.CopySegmentFinished || segment.NextOffset <= covered) continue;
            if (segment.BaseOffset >= log.LocalLogStartOffset) break;
            covered = segment.NextOffset;
            if (segment.TxnIndexEmpty) continue;
            var index = await GetRemoteIndexAsync(segment.KeyPrefix(topic, partition) + TransactionIndex.Suffix, cancellationToken);
            if (TransactionIndex.Collect(index, startOffset, upperBoundOffset, aborted))
            {
                complete = true;
                break;
            }
        }
        // A transaction that began in the tier may be aborted by a marker in the local log.
        if (!complete)
            log.CollectAbortedTransactions(Math.Max(startOffset, log.LocalLogStartOffset), upperBoundOffset, aborted);
        return aborted.Count == 0 ? null : aborted;
    }

    /// <summary>A whole remote index file (offset, time or transaction index) through the read cache; empty when it was never written.</summary>
    private async Task<byte[]> GetRemoteIndexAsync(string key, CancellationToken cancellationToken)
    {
        if (!cache.TryGet(key, out var index))
        {
            var obj = await store.GetAsync(key, cancellationToken);
            index = obj is null ? [] : obj.Content.ToArray();
            cache.Put(key, index);
        }
        return index;
    }

    /// <summary>
    /// Kafka's fetchOffsetByTimestamp for the tiered part of the log (ListOffsets below the local log start), like
    /// <see cref="PartitionLog.FindOffsetByTimestamp"/>: in the first remote-only batch at or after the log start whose
    /// max timestamp is at least <paramref name="timestampMs"/>, the first record stamped at or after it. The manifest's max timestamps pick the
    /// segment, its remote time index (Kafka's lookup: the last entry with a smaller timestamp) and offset index give
    /// where to start, and ranged reads of batch headers, through the read cache, find the batch. Null when no tiered
    /// batch below the local log start qualifies: the local log answers then.
    /// </summary>
    public async Task<TimestampOffset?> FindOffsetByTimestampAsync(long timestampMs, CancellationToken cancellationToken = default)
    {
        await metadata.GetAsync(cancellationToken);
        var localStart = log.LocalLogStartOffset;
        var logStart = log.LogStartOffset;
        var header = new byte[RecordBatchHeader.Size];
        foreach (var segment in RemoteOnlySegments(logStart, localStart))
        {
            if (segment.MaxTimestampMs < timestampMs) continue;
            var prefix = segment.KeyPrefix(topic, partition);
            var timeIndex = await GetRemoteIndexAsync(prefix + ".timeindex", cancellationToken);
            var startOffset = Math.Max(segment.BaseOffset + TimeIndex.LookupStartRelativeOffset(timeIndex, timestampMs), logStart);
            var size = segment.SegmentSizeInBytes;
            for (long position = await LookupPositionAsync(prefix, segment, startOffset, cancellationToken); position + RecordBatchHeader.Size <= size;)
            {
                await ReadRangeAsync(prefix, size, position, header, cancellationToken);
                var batch = RecordBatchHeader.Read(header);
                if (batch.TotalSize < RecordBatchHeader.Size || position + batch.TotalSize > size)
                    throw new OrleansStreamException(ErrorCode.CorruptMessage, $"Tiered segment {prefix}.log has a torn batch at position {position}.");
                if (batch.LastOffset >= logStart && batch.BaseOffset < localStart && batch.MaxTimestamp >= timestampMs)
                {
                    var whole = new byte[batch.TotalSize];
                    await ReadRangeAsync(prefix, size, position, whole, cancellationToken);
                    if (TimestampSearch.FirstRecord(whole, timestampMs, logStart) is { } found)
                        return found;
                }
                position += batch.TotalSize;
            }
        }
        return null;
    }

    /// <summary>
    /// The largest max timestamp of the tiered segments holding records between the log start and the local log start,
    /// from the manifest; -1 if none. KIP-734's MAX_TIMESTAMP over the tier is the first record at or after it.
    /// </summary>
    public async Task<long> MaxTimestampAsync(CancellationToken cancellationToken = default)
    {
        await metadata.GetAsync(cancellationToken);
        var max = -1L;
        foreach (var segment in RemoteOnlySegments(log.LogStartOffset, log.LocalLogStartOffset))
            max = Math.Max(max, segment.MaxTimestampMs);
        return max;
    }

    /// <summary>The copied segments, in offset order, with records at or after the log start and below the local log start.</summary>
    private IEnumerable<RemoteLogSegmentMetadata> RemoteOnlySegments(long logStart, long localStart)
    {
        foreach (var segment in metadata.Current.Segments)
        {
            if (segment.State != RemoteLogSegmentState.CopySegmentFinished || segment.NextOffset <= logStart) continue;
            if (segment.BaseOffset >= localStart) yield break;
            yield return segment;
        }
    }

    /// <summary>A growable byte buffer handing out its written prefix without a copy.</summary>
    private sealed class ArrayBufferWriterLite
    {
        private byte[] _buffer = [];

        public int Length { get; private set; }

        public ReadOnlyMemory<byte> WrittenMemory => _buffer.AsMemory(0, Length);

        public Memory<byte> GetMemory(int size)
        {
            if (_buffer.Length - Length < size)
                Array.Resize(ref _buffer, Math.Max(_buffer.Length * 2, Length + size));
            return _buffer.AsMemory(Length, size);
        }

        public void Advance(int count) => Length += count;
    }
}
