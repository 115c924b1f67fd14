using System.Buffers.Binary;
using Microsoft.Extensions.Time.Testing;
using OrleansStream.Records;
using OrleansStream.Storage.Producers;
using static OrleansStream.Storage.Tests.ProducerBatches;

namespace OrleansStream.Storage.Tests;

/// <summary>
/// The read side of transactions in the log: the last stable offset, the per-segment <c>.txnindex</c> of aborted
/// transactions (Kafka's TransactionIndex format), read_committed reads and what truncation, recovery, retention and
/// compaction do to them.
/// </summary>
public sealed class TransactionIndexTests : IDisposable
{
    private const long A = 1, B = 2;
    private readonly TempDirectory _dir = new();
    private readonly FakeTimeProvider _time = new(DateTimeOffset.FromUnixTimeMilliseconds(T0));

    public void Dispose() => _dir.Dispose();

    private string LogDir => Path.Combine(_dir.Path, "log");

    private PartitionLog Open(LogConfig? config = null, string? directory = null, TaskScheduler? scheduler = null) =>
        PartitionLog.Open(directory ?? LogDir, config ?? new LogConfig(), _time, scheduler);

    private static LogAppendInfo Send(PartitionLog log, long producerId, int sequence, int count = 1) =>
        log.AppendAsLeader(Data(0, producerId, 0, sequence, count, transactional: true), 0);

    private static LogAppendInfo End(PartitionLog log, long producerId, bool commit) =>
        log.AppendAsLeader(Marker(0, producerId, 0, commit), 0, AppendOrigin.Coordinator);

    private static LogAppendInfo Plain(PartitionLog log, string key = "k", string value = "v") =>
        log.AppendAsLeader(TestBatches.Create(TestRecord.Of(key, value)), 0);

    private static string TxnIndexFile(string directory, long baseOffset) => Path.Combine(directory, $"{baseOffset:D20}.txnindex");

    /// <summary>The entries of a <c>.txnindex</c> file decoded by hand from Kafka's layout (34 bytes each).</summary>
    private static List<AbortedTxn> ReadEntries(string path)
    {
        var bytes = File.ReadAllBytes(path);
        Assert.Equal(0, bytes.Length % 34);
        var entries = new List<AbortedTxn>();
        for (var p = 0; p < bytes.Length; p += 34)
        {
            Assert.Equal(0, BinaryPrimitives.ReadInt16BigEndian(bytes.AsSpan(p)));
            entries.Add(new AbortedTxn(
                BinaryPrimitives.ReadInt64BigEndian(bytes.AsSpan(p + 2)),
                BinaryPrimitives.ReadInt64BigEndian(bytes.AsSpan(p + 10)),
                BinaryPrimitives.ReadInt64BigEndian(bytes.AsSpan(p + 18)),
                BinaryPrimitives.ReadInt64BigEndian(bytes.AsSpan(p + 26))));
        }
        return entries;
    }

    private static long[] BaseOffsets(ReadOnlyMemory<byte> records) => TestBatches.Walk(records.Span).Select(b => b.Base).ToArray();

    private static List<(long BaseOffset, int Records, bool IsControl)> Headers(ReadOnlyMemory<byte> records)
    {
        var headers = new List<(long, int, bool)>();
        foreach (var (baseOffset, _, _) in TestBatches.Walk(records.Span))
        {
            var position = TestBatches.Walk(records.Span).TakeWhile(b => b.Base != baseOffset).Sum(b => b.Size);
            var header = RecordBatchHeader.Read(records.Span[position..]);
            headers.Add((header.BaseOffset, header.RecordCount, header.IsControl));
        }
        return headers;
    }

    /// <summary>
    /// 0 plain | 1-2 A | 3 B | 4 A | 5 ABORT A | 6 B | 7 COMMIT B: the layout most tests build on.
    /// </summary>
    private static void Interleave(PartitionLog log)
    {
        Plain(log);
        Send(log, A, 0, count: 2);
        Send(log, B, 0);
        Send(log, A, 2);
        End(log, A, commit: false);
        Send(log, B, 1);
        End(log, B, commit: true);
    }

    [Fact]
    public void The_last_stable_offset_waits_for_every_producers_open_transaction_and_for_the_marker_to_be_replicated()
    {
        using var log = Open();
        Plain(log);
        log.UpdateHighWatermark(log.LogEndOffset);
        Assert.Equal(1, log.LastStableOffset);

        Send(log, A, 0, count: 2);     // 1-2
        Send(log, B, 0);               // 3
        Send(log, A, 2);               // 4
        log.UpdateHighWatermark(log.LogEndOffset);
        Assert.Equal((5L, 1L), (log.HighWatermark, log.LastStableOffset));

        End(log, A, commit: false);    // 5: A is decided, but its marker is above the high watermark
        Assert.Equal(1, log.LastStableOffset);
        log.UpdateHighWatermark(log.LogEndOffset);
        Assert.Equal(3, log.LastStableOffset); // B's transaction is still open

        Send(log, B, 1);               // 6
        End(log, B, commit: true);     // 7
        log.UpdateHighWatermark(7);
        Assert.Equal(3, log.LastStableOffset);
        log.UpdateHighWatermark(8);
        Assert.Equal(8, log.LastStableOffset);
    }

    [Fact]
    public void An_abort_writes_Kafkas_34_byte_entry_and_a_commit_writes_none()
    {
        using (var log = Open())
        {
            Interleave(log);
            Assert.Equal([new AbortedTxn(A, 1, 5, 3)], ReadEntries(TxnIndexFile(LogDir, 0)));
        }
        Assert.Equal(34, new FileInfo(TxnIndexFile(LogDir, 0)).Length);

        using var reopened = Open();
        reopened.UpdateHighWatermark(reopened.LogEndOffset);
        var aborted = new List<AbortedTxn>();
        Assert.False(reopened.CollectAbortedTransactions(0, 8, aborted));
        Assert.Equal([new AbortedTxn(A, 1, 5, 3)], aborted);
    }

    [Fact]
    public void Read_committed_stops_at_the_last_stable_offset_and_names_the_aborted_transactions_it_overlaps()
    {
        using var log = Open();
        Plain(log);
        Send(log, A, 0, count: 2);
        Send(log, B, 0);
        Send(log, A, 2);
        End(log, A, commit: false);
        log.UpdateHighWatermark(log.LogEndOffset);

        var uncommitted = log.Read(0, 1 << 20, FetchIsolation.HighWatermark);
        Assert.Equal([0L, 1, 3, 4, 5], BaseOffsets(uncommitted.Records.Memory));
        Assert.Null(uncommitted.AbortedTransactions);

        var committed = log.Read(0, 1 << 20, FetchIsolation.TxnCommitted);
        Assert.Equal([0L, 1], BaseOffsets(committed.Records.Memory));
        Assert.Equal([new AbortedTxn(A, 1, 5, 3)], committed.AbortedTransactions);
        Assert.True(log.Read(3, 1 << 20, FetchIsolation.TxnCommitted).Records.IsEmpty);

        Send(log, B, 1);
        End(log, B, commit: true);
        log.UpdateHighWatermark(log.LogEndOffset);
        var rest = log.Read(3, 1 << 20, FetchIsolation.TxnCommitted);
        Assert.Equal([3L, 4, 5, 6, 7], BaseOffsets(rest.Records.Memory));
        Assert.Equal([new AbortedTxn(A, 1, 5, 3)], rest.AbortedTransactions);
        // Past A's marker nothing of A is left to skip.
        Assert.Null(log.Read(6, 1 << 20, FetchIsolation.TxnCommitted).AbortedTransactions);
    }

    [Fact]
    public void Aborts_are_indexed_in_the_segment_of_their_marker_and_the_search_stops_once_complete()
    {
        using var log = Open();
        Send(log, A, 0);               // 0
        log.Roll();
        Send(log, A, 1);               // 1
        End(log, A, commit: false);    // 2: the transaction began in segment 0
        log.Roll();
        Send(log, B, 0);               // 3
        End(log, B, commit: false);    // 4
        Send(log, A, 2);               // 5
        End(log, A, commit: false);    // 6
        log.UpdateHighWatermark(log.LogEndOffset);

        Assert.False(File.Exists(TxnIndexFile(LogDir, 0)));
        Assert.Equal([new AbortedTxn(A, 0, 2, 3)], ReadEntries(TxnIndexFile(LogDir, 1)));
        Assert.Equal([new AbortedTxn(B, 3, 4, 5), new AbortedTxn(A, 5, 6, 7)], ReadEntries(TxnIndexFile(LogDir, 3)));

        var aborted = new List<AbortedTxn>();
        Assert.True(log.CollectAbortedTransactions(0, 3, aborted));
        Assert.Equal([new AbortedTxn(A, 0, 2, 3)], aborted);
        aborted.Clear();
        Assert.True(log.CollectAbortedTransactions(3, 5, aborted));
        Assert.Equal([new AbortedTxn(B, 3, 4, 5)], aborted);
    }

    [Fact]
    public void Truncating_below_a_marker_drops_its_entry_and_reopens_the_transaction()
    {
        using var log = Open();
        Interleave(log);
        log.UpdateHighWatermark(log.LogEndOffset);

        log.TruncateTo(5);

        Assert.Equal(0, new FileInfo(TxnIndexFile(LogDir, 0)).Length);
        Assert.Equal(1, log.LastStableOffset);
        var aborted = new List<AbortedTxn>();
        log.CollectAbortedTransactions(0, 5, aborted);
        Assert.Empty(aborted);

        End(log, A, commit: false);    // 5 again
        Assert.Equal([new AbortedTxn(A, 1, 5, 3)], ReadEntries(TxnIndexFile(LogDir, 0)));
    }

    [Fact]
    public void Recovery_after_a_crash_rebuilds_the_index_of_every_segment_it_replays_and_drops_markers_cut_with_the_tail()
    {
        var config = new LogConfig { SegmentBytes = 400 };
        var crashed = Path.Combine(_dir.Path, "crashed");
        var scheduler = new HeldTaskScheduler();
        List<AbortedTxn> expected;
        using (var log = Open(config, scheduler: scheduler))
        {
            for (var i = 0; i < 6; i++)
            {
                Send(log, A, 2 * i);
                Send(log, B, i);
                Send(log, A, 2 * i + 1);
                End(log, A, commit: false);
                End(log, B, commit: i % 2 == 0);
            }
            Assert.True(log.SegmentCount >= 3);
            expected = [];
            log.CollectAbortedTransactions(0, log.LogEndOffset, expected);
            Assert.Equal(9, expected.Count);
            // A crash before any flush: the files as they are, no checkpoint beyond the start, no clean shutdown marker.
            LogFiles.CopyAsCrashed(LogDir, crashed, static file => !file.EndsWith(".txnindex", StringComparison.Ordinal));
            scheduler.RunPending();
        }
        File.Delete(Path.Combine(crashed, "partition-offsets-checkpoint"));

        using (var recovered = Open(config, crashed))
        {
            var rebuilt = new List<AbortedTxn>();
            recovered.CollectAbortedTransactions(0, recovered.LogEndOffset, rebuilt);
            Assert.Equal(expected, rebuilt);
        }

        // Cut the active segment's last batch (B's last ABORT): its entry goes with it.
        var active = Directory.GetFiles(crashed, "*.log").Order().Last();
        var activeBase = long.Parse(Path.GetFileNameWithoutExtension(active));
        var batches = TestBatches.Walk(File.ReadAllBytes(active));
        var cutAt = batches[^1];
        using (var handle = File.OpenHandle(active, FileMode.Open, FileAccess.Write))
            RandomAccess.SetLength(handle, batches.Take(batches.Count - 1).Sum(b => b.Size));
        File.Delete(Path.Combine(crashed, PartitionLog.CleanShutdownFileName));

        using var cut = Open(config, crashed);
        Assert.Equal(cutAt.Base, cut.LogEndOffset);
        var left = new List<AbortedTxn>();
        cut.CollectAbortedTransactions(0, long.MaxValue, left);
        Assert.Equal(expected.Where(t => t.LastOffset < cutAt.Base), left);
        Assert.Equal(expected.Count - 1, left.Count);
        Assert.All(ReadEntries(TxnIndexFile(crashed, activeBase)), t => Assert.True(t.LastOffset < cutAt.Base));
    }

    [Fact]
    public void Retention_deletes_a_segments_txnindex_with_it()
    {
        using var log = Open(new LogConfig { RetentionBytes = 1 });
        Send(log, A, 0);
        End(log, A, commit: false);
        log.Roll();
        Plain(log);
        log.UpdateHighWatermark(log.LogEndOffset);
        Assert.True(File.Exists(TxnIndexFile(LogDir, 0)));

        Assert.Equal(1, log.DeleteOldSegments().SegmentsDeleted);

        Assert.False(File.Exists(TxnIndexFile(LogDir, 0)));
    }

    [Fact]
    public async Task Compaction_drops_aborted_data_which_never_hides_a_committed_value_and_keeps_the_markers()
    {
        using var log = Open(new LogConfig { CleanupPolicy = CleanupPolicy.Compact });
        Plain(log, "k0", "committed");                                           // 0
        log.AppendAsLeader(Data(0, A, 0, 0, count: 1, transactional: true), 0);  // 1: key k0, aborted
        End(log, A, commit: false);                                              // 2
        log.Roll();
        Plain(log, "other", "x");                                                // 3
        log.UpdateHighWatermark(log.LogEndOffset);

        var result = await log.CompactAsync();

        Assert.Equal(1, result.RecordsRemoved);
        // k0=committed stays; A's data batch is kept as an empty header (A's last data batch), its marker whole.
        Assert.Equal([(0L, 1, false), (1L, 0, false), (2L, 1, true)], Headers(log.Read(0, 1 << 20, FetchIsolation.HighWatermark).Records.Memory));
        Assert.Equal([new AbortedTxn(A, 1, 2, 3)], ReadEntries(TxnIndexFile(LogDir, 0)));
    }

    [Fact]
    public async Task Compaction_waits_for_an_open_transaction()
    {
        using var log = Open(new LogConfig { CleanupPolicy = CleanupPolicy.Compact });
        Plain(log, "k0", "old");                                                  // 0
        log.AppendAsLeader(Data(0, A, 0, 0, count: 1, transactional: true), 0);  // 1: key k0, undecided
        log.Roll();
        Plain(log, "k1", "x");                                                   // 2
        log.UpdateHighWatermark(log.LogEndOffset);

        Assert.Equal(0, (await log.CompactAsync()).RecordsRemoved);

        End(log, A, commit: false);
        log.Roll();
        log.UpdateHighWatermark(log.LogEndOffset);
        Assert.Equal(1, (await log.CompactAsync()).RecordsRemoved);
        Assert.Equal([(0L, 1, false), (1L, 0, false)], Headers(log.Read(0, 1 << 20, FetchIsolation.HighWatermark).Records.Memory)[..2]);
    }

    [Fact]
    public void A_follower_builds_the_same_index_and_last_stable_offset_from_the_replicated_batches()
    {
        using var leader = Open();
        Interleave(leader);
        using var follower = Open(directory: Path.Combine(_dir.Path, "follower"));

        follower.AppendAsFollower(leader.Read(0, 1 << 20).Span);
        follower.UpdateHighWatermark(5);
        Assert.Equal(1, follower.LastStableOffset);
        follower.UpdateHighWatermark(8);

        Assert.Equal(8, follower.LastStableOffset);
        Assert.Equal(File.ReadAllBytes(TxnIndexFile(LogDir, 0)), File.ReadAllBytes(TxnIndexFile(follower.Directory, 0)));
        Assert.Equal([new AbortedTxn(A, 1, 5, 3)], follower.Read(0, 1 << 20, FetchIsolation.TxnCommitted).AbortedTransactions);
    }
}
