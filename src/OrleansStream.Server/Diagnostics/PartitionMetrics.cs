using System.Buffers.Binary;
using System.Diagnostics;
using OrleansStream.Records;
using OrleansStream.Storage;
using OrleansStream.Storage.Tiering;

namespace OrleansStream.Server.Diagnostics;

/// <summary>
/// One partition replica's view of the broker's instruments. Tags are built once here, so recording allocates
/// nothing; counters are per topic (Kafka's BrokerTopicMetrics), gauges per partition. Called from the replica's
/// turns and, for the tier, from its <see cref="RemoteLogManager"/>; gauges read the cached values from any thread.
/// </summary>
public sealed class PartitionMetrics : IRemoteLogMetrics, IDisposable
{
    private readonly OrleansStreamMetrics _owner;
    private readonly TagList _topicTags;
    private readonly TagList _consumerFetchTags;
    private readonly TagList _followerFetchTags;
    private long _replication; // leader bit 32, replicas bits 16-31, ISR bits 0-15: one word, so a gauge never sees a torn update
    private long _tierLagSegments = -1;
    private long _tierLagBytes;
    private readonly Lock _logs = new();
    private PartitionLog? _log;
    private long _writebackOfClosedLogs;

    internal PartitionMetrics(OrleansStreamMetrics owner, TopicPartition partition)
    {
        _owner = owner;
        Partition = partition;
        _topicTags = new TagList { { "topic", partition.Topic } };
        _consumerFetchTags = new TagList { { "topic", partition.Topic }, { "fetcher", "consumer" } };
        _followerFetchTags = new TagList { { "topic", partition.Topic }, { "fetcher", "follower" } };
        GaugeTags = [new("topic", partition.Topic), new("partition", partition.Partition)];
    }

    public TopicPartition Partition { get; }

    internal KeyValuePair<string, object?>[] GaugeTags { get; }

    internal (bool IsLeader, int Replicas, int Isr) Replication
    {
        get
        {
            var packed = Volatile.Read(ref _replication);
            return ((packed & (1L << 32)) != 0, (int)((packed >> 16) & 0xFFFF), (int)(packed & 0xFFFF));
        }
    }

    internal (long Segments, long Bytes) TierLag => (Volatile.Read(ref _tierLagSegments), Volatile.Read(ref _tierLagBytes));

    /// <summary>The leader appended one produce request of <paramref name="batches"/> record batches.</summary>
    public void Produced(int records, long bytes, int batches = 1)
    {
        _owner.ProduceRecords.Add(records, in _topicTags);
        _owner.ProduceBytes.Add(bytes, in _topicTags);
        _owner.ProduceBatches.Add(batches, in _topicTags);
        _owner.ProduceRequests.Add(1, in _topicTags);
    }

    /// <summary>A consumer fetch returned <paramref name="batches"/> (whole batches; records counted from their headers).</summary>
    public void Fetched(ReadOnlySpan<byte> batches) => RecordFetch(batches, in _consumerFetchTags);

    /// <summary>A follower's fetch returned <paramref name="batches"/>.</summary>
    public void ReplicaFetched(ReadOnlySpan<byte> batches) => RecordFetch(batches, in _followerFetchTags);

    /// <summary>The replica's partition state changed: only leaders count in the ISR and under-replicated gauges.</summary>
    public void ReportReplication(bool isLeader, int replicas, int inSyncReplicas) =>
        Volatile.Write(ref _replication, (isLeader ? 1L << 32 : 0) | ((long)(replicas & 0xFFFF) << 16) | (long)(inSyncReplicas & 0xFFFF));

    /// <summary>A tiering pass finished: bytes it copied and the upload lag it left.</summary>
    public void TieringPassCompleted(long bytesCopied, (int Segments, long Bytes) uploadLag)
    {
        if (bytesCopied > 0) _owner.TierUploadedBytes.Add(bytesCopied, in _topicTags);
        Volatile.Write(ref _tierLagBytes, uploadLag.Bytes);
        Volatile.Write(ref _tierLagSegments, uploadLag.Segments);
    }

    public void UploadFailed() => _owner.TierUploadFailures.Add(1, in _topicTags);

    public void RemoteFetchCompleted(TimeSpan elapsed) => _owner.RemoteFetchDuration.Record(elapsed.TotalSeconds, in _topicTags);

    /// <summary>
    /// The replica opened <paramref name="log"/>: the writeback counter reads it from now on, on top of what the logs
    /// this activation opened before had started (so the counter only grows).
    /// </summary>
    public void ObserveLog(PartitionLog log)
    {
        lock (_logs)
        {
            _writebackOfClosedLogs += _log?.WritebackStartedBytes ?? 0;
            _log = log;
        }
    }

    /// <summary>Bytes whose write-out to the device this replica's logs started (<see cref="PartitionLog.WritebackBytes"/>); -1 before a log opened.</summary>
    internal long WritebackStartedBytes
    {
        get
        {
            lock (_logs) return _log is null ? -1 : _writebackOfClosedLogs + _log.WritebackStartedBytes;
        }
    }

    /// <summary>The activation ends: its series leave the gauges (unless a newer activation replaced it already).</summary>
    public void Dispose() => _owner.Remove(this);

    private void RecordFetch(ReadOnlySpan<byte> batches, in TagList tags)
    {
        if (batches.IsEmpty) return;
        if (_owner.FetchRecords.Enabled || _owner.FetchBatches.Enabled)
        {
            var (records, count) = Count(batches);
            _owner.FetchRecords.Add(records, in tags);
            _owner.FetchBatches.Add(count, in tags);
        }
        _owner.FetchBytes.Add(batches.Length, in tags);
        _owner.FetchRequests.Add(1, in tags);
    }

    /// <summary>Sums the record counts of whole batches, one header read per batch.</summary>
    public static int CountRecords(ReadOnlySpan<byte> batches) => Count(batches).Records;

    private static (int Records, int Batches) Count(ReadOnlySpan<byte> batches)
    {
        int records = 0, count = 0;
        while (batches.Length >= RecordBatchHeader.Size)
        {
            var size = RecordBatchHeader.PeekTotalSize(batches);
            if (size < RecordBatchHeader.Size || size > batches.Length) break;
            records += BinaryPrimitives.ReadInt32BigEndian(batches[RecordBatchHeader.RecordsCountOffset..]);
            count++;
            batches = batches[size..];
        }
        return (records, count);
    }
}
