using Microsoft.Extensions.Time.Testing;
using OrleansStream.Records;
using OrleansStream.Storage.Producers;
using static OrleansStream.Storage.Tests.ProducerBatches;

namespace OrleansStream.Storage.Tests;

/// <summary>The producer state as <see cref="PartitionLog"/> keeps it: appends, rolls, reopen, truncation, retention.</summary>
public sealed class PartitionLogProducerStateTests : IDisposable
{
    private const long Pid = 1000;
    private readonly TempDirectory _dir = new();
    private readonly FakeTimeProvider _time = new(DateTimeOffset.FromUnixTimeMilliseconds(T0));

    public void Dispose() => _dir.Dispose();

    private string LogDir => Path.Combine(_dir.Path, "log");

    private PartitionLog Open(string? directory = null) => PartitionLog.Open(directory ?? LogDir, new LogConfig(), _time);

    // A client's batch: the base offset is the leader's to assign, so 0 here.
    private static byte[] Client(long producerId, short epoch, int baseSequence, int count = 1, bool transactional = false) =>
        Data(0, producerId, epoch, baseSequence, count, transactional);

    private static OrleansStreamException Rejected(PartitionLog log, byte[] batch) =>
        Assert.Throws<OrleansStreamException>(() => log.AppendAsLeader(batch, 0));

    private string[] SnapshotFiles(string? directory = null) =>
        Directory.GetFiles(directory ?? LogDir, "*" + ProducerStateSnapshot.Suffix).Select(Path.GetFileName).Order().ToArray()!;

    [Fact]
    public void A_retried_batch_is_written_once_and_answered_with_the_original_offsets()
    {
        using var log = Open();
        log.AppendAsLeader(TestBatches.Create(TestRecord.Of("a", "x")), 0);
        var batch = Client(Pid, 0, 0, count: 3);

        var first = log.AppendAsLeader(batch, 0);
        log.AppendAsLeader(TestBatches.Create(TestRecord.Of("b", "y")), 0);
        var size = log.SizeInBytes;
        var retry = log.AppendAsLeader(batch, 0);

        Assert.False(first.IsDuplicate);
        Assert.Equal((1L, 3L), (first.FirstOffset, first.LastOffset));
        Assert.True(retry.IsDuplicate);
        Assert.Equal((1L, 3L, 0), (retry.FirstOffset, retry.LastOffset, retry.RecordCount));
        Assert.Equal(first.MaxTimestamp, retry.MaxTimestamp);
        Assert.Equal(5, log.LogEndOffset);
        Assert.Equal(size, log.SizeInBytes);
        Assert.Equal(5, log.AppendAsLeader(Client(Pid, 0, 3), 0).FirstOffset);
    }

    [Fact]
    public void A_sequence_gap_or_an_old_epoch_is_refused_and_leaves_the_log_unchanged()
    {
        using var log = Open();
        log.AppendAsLeader(Client(Pid, 1, 0, count: 2), 0);
        var size = log.SizeInBytes;

        Assert.Equal(ErrorCode.OutOfOrderSequenceNumber, Rejected(log, Client(Pid, 1, 3)).Code);
        Assert.Equal(ErrorCode.InvalidProducerEpoch, Rejected(log, Client(Pid, 0, 2)).Code);

        Assert.Equal((2L, size), (log.LogEndOffset, log.SizeInBytes));
        Assert.True(log.ProducerStateManager.TryGetLastEntry(Pid, out var entry));
        Assert.Equal(1, entry.LastSeq);
        Assert.Equal(2, log.AppendAsLeader(Client(Pid, 1, 2), 0).FirstOffset);
    }

    [Fact]
    public void Clients_may_not_write_control_batches_nor_idempotent_batches_without_a_sequence_or_beside_others()
    {
        using var log = Open();

        Assert.Equal(ErrorCode.InvalidRecord, Rejected(log, Marker(0, Pid, 0, commit: true)).Code);
        Assert.Equal(ErrorCode.InvalidRecord, Rejected(log, Client(Pid, 0, -1)).Code);
        Assert.Equal(ErrorCode.InvalidRecord,
            Rejected(log, TestBatches.Concat(Client(Pid, 0, 0), TestBatches.Create(TestRecord.Of("k", "v")))).Code);
        Assert.Equal(0, log.LogEndOffset);
        log.AppendAsLeader(Marker(0, Pid, 0, commit: false), 0, AppendOrigin.Coordinator);
        Assert.Equal(1, log.LogEndOffset);
    }

    [Fact]
    public void A_follower_that_becomes_leader_dedupes_a_retry_of_what_the_old_leader_wrote()
    {
        using var leader = Open();
        using var follower = Open(Path.Combine(_dir.Path, "follower"));
        var batch = Client(Pid, 0, 0, count: 2);
        leader.AppendAsLeader(TestBatches.Create(TestRecord.Of("a", "x")), 0);
        var written = leader.AppendAsLeader(batch, 0);
        // The old leader dies before it answers: the follower has replicated the batch, the producer retries it.
        follower.AppendAsFollower(leader.Read(0, 1 << 20).Span);

        var retry = follower.AppendAsLeader(batch, 1);

        Assert.True(retry.IsDuplicate);
        Assert.Equal((written.FirstOffset, written.LastOffset), (retry.FirstOffset, retry.LastOffset));
        Assert.Equal(3, follower.LogEndOffset);
        Assert.Equal(ErrorCode.OutOfOrderSequenceNumber, Rejected(follower, Client(Pid, 0, 5)).Code);
        Assert.Equal(3, follower.AppendAsLeader(Client(Pid, 0, 2), 1).FirstOffset);
    }

    [Fact]
    public void A_roll_snapshots_the_state_and_a_crashed_log_replays_only_what_follows()
    {
        var crashed = Path.Combine(_dir.Path, "crashed");
        using (var log = Open())
        {
            log.AppendAsLeader(Client(Pid, 0, 0, count: 2), 0);
            log.AppendAsLeader(Client(Pid, 0, 2, count: 2), 0);
            log.Roll();
            Assert.Equal([ProducerStateSnapshot.FileName(4)], SnapshotFiles());
            log.AppendAsLeader(Client(7, 3, 0, transactional: true), 0);
            log.AppendAsLeader(Client(Pid, 0, 4, count: 3), 0);
            // A crash: the files as they are, without the clean-shutdown marker or a snapshot at the log end.
            LogFiles.CopyAsCrashed(LogDir, crashed);
        }

        using var reopened = Open(crashed);

        var state = reopened.ProducerStateManager;
        Assert.Equal(8, state.MapEndOffset);
        Assert.Equal([4L, 8L], state.SnapshotOffsets);
        Assert.Equal(4, state.FirstUndecidedOffset);
        reopened.UpdateHighWatermark(8);
        Assert.Equal(4, reopened.LastStableOffset);
        Assert.True(state.TryGetLastEntry(Pid, out var entry));
        Assert.Equal(6, entry.LastSeq);
        Assert.Equal(2, entry.BatchCount); // the snapshot's last batch, then the replayed one
        Assert.True(reopened.AppendAsLeader(Client(Pid, 0, 2, count: 2), 0).IsDuplicate);
        var replayed = reopened.AppendAsLeader(Client(Pid, 0, 4, count: 3), 0);
        Assert.Equal((5L, 7L, true), (replayed.FirstOffset, replayed.LastOffset, replayed.IsDuplicate));
        Assert.Equal(8, reopened.AppendAsLeader(Client(Pid, 0, 7), 0).FirstOffset);
    }

    [Fact]
    public void A_clean_close_snapshots_the_log_end_so_the_next_open_replays_nothing()
    {
        using (var log = Open())
        {
            log.AppendAsLeader(Client(Pid, 2, 0, count: 3), 0);
            log.UpdateHighWatermark(3);
        }
        Assert.Equal([ProducerStateSnapshot.FileName(3)], SnapshotFiles());

        using var reopened = Open();

        Assert.Equal([3L], reopened.ProducerStateManager.SnapshotOffsets);
        Assert.True(reopened.AppendAsLeader(Client(Pid, 2, 0, count: 3), 0).IsDuplicate);
        Assert.Equal(ErrorCode.InvalidProducerEpoch, Rejected(reopened, Client(Pid, 1, 3)).Code);
    }

    [Fact]
    public void Truncation_reloads_the_state_the_log_still_holds()
    {
        using var log = Open();
        log.AppendAsLeader(Client(Pid, 0, 0), 0);
        log.Roll();
        log.AppendAsLeader(Client(Pid, 0, 1), 0);
        log.Roll();
        log.AppendAsLeader(Client(7, 0, 0, transactional: true), 0);
        log.AppendAsLeader(Client(Pid, 0, 2), 0);
        log.UpdateHighWatermark(2);
        Assert.Equal(2, log.LastStableOffset);

        log.TruncateTo(2);

        var state = log.ProducerStateManager;
        Assert.Equal(2, state.MapEndOffset);
        Assert.Equal([1L, 2L], state.SnapshotOffsets);
        Assert.Null(state.FirstUnstableOffset);
        Assert.False(state.TryGetLastEntry(7, out _));
        Assert.True(state.TryGetLastEntry(Pid, out var entry));
        Assert.Equal(1, entry.LastSeq);
        // The truncated batch is no duplicate any more: the producer's retry is written again, at the new log end.
        var rewritten = log.AppendAsLeader(Client(Pid, 0, 2), 0);
        Assert.Equal((2L, false), (rewritten.FirstOffset, rewritten.IsDuplicate));

        log.TruncateFullyAndStartAt(10);
        Assert.Equal(0, log.ProducerStateManager.ProducerIdCount);
        Assert.Empty(SnapshotFiles());
        Assert.Equal(10, log.AppendAsLeader(Client(Pid, 0, 9), 0).FirstOffset);
    }

    [Fact]
    public void Moving_the_log_start_deletes_the_snapshots_of_removed_segments()
    {
        using var log = Open();
        for (var seq = 0; seq < 3; seq++)
        {
            log.AppendAsLeader(Client(Pid, 0, seq), 0);
            log.Roll();
        }
        Assert.Equal([1L, 2L, 3L], log.ProducerStateManager.SnapshotOffsets);
        log.UpdateHighWatermark(3);

        log.DeleteRecordsBefore(2);

        Assert.Equal([2L, 3L], log.ProducerStateManager.SnapshotOffsets);
        Assert.Equal([ProducerStateSnapshot.FileName(2), ProducerStateSnapshot.FileName(3)], SnapshotFiles());
        Assert.True(log.AppendAsLeader(Client(Pid, 0, 2), 0).IsDuplicate);
    }

    [Fact]
    public void The_last_stable_offset_stops_at_an_open_transaction()
    {
        using var log = Open();
        log.AppendAsLeader(Client(Pid, 0, 0), 0);
        log.AppendAsLeader(Client(7, 0, 0, transactional: true), 0);
        log.AppendAsLeader(Client(Pid, 0, 1), 0);

        log.UpdateHighWatermark(3);
        Assert.Equal(1, log.LastStableOffset);

        log.AppendAsLeader(Marker(0, 7, 0, commit: true), 0, AppendOrigin.Coordinator);
        log.UpdateHighWatermark(3);
        // The marker at 3 is not below the high watermark yet: the transaction still holds the last stable offset.
        Assert.Equal(1, log.LastStableOffset);
        Assert.Null(log.ProducerStateManager.FirstUndecidedOffset);
        log.UpdateHighWatermark(4);
        Assert.Equal(4, log.LastStableOffset);
    }

    [Fact]
    public void Checking_an_idempotent_batch_allocates_nothing_beyond_what_a_plain_append_does()
    {
        using var log = Open();
        const int count = 200;
        var plain = TestBatches.Create(TestRecord.Of("k", "v"));
        var idempotent = new byte[count + 10][];
        for (var i = 0; i < idempotent.Length; i++)
            idempotent[i] = Client(Pid, 0, i);
        for (var i = 0; i < 10; i++)
        {
            log.AppendAsLeader(plain, 0);
            log.AppendAsLeader(idempotent[i], 0); // warm up: JIT, the producer's entry, the pooled append info
        }

        // The least of three windows each: a background collection can charge one a lump it never allocated (ThreadAllocations).
        const int perWindow = count / ThreadAllocations.Windows;
        var plainAllocated = ThreadAllocations.Least(_ =>
        {
            for (var i = 0; i < perWindow; i++)
            {
                log.AppendAsLeader(plain, 0);
                log.UpdateHighWatermark(log.LogEndOffset);
            }
        });
        var idempotentAllocated = ThreadAllocations.Least(window =>
        {
            for (var i = 10 + window * perWindow; i < 10 + (window + 1) * perWindow; i++)
            {
                log.AppendAsLeader(idempotent[i], 0);
                log.UpdateHighWatermark(log.LogEndOffset);
            }
        });

        Assert.True(idempotentAllocated <= plainAllocated, $"idempotent appends allocated {idempotentAllocated} bytes, plain ones {plainAllocated}");
        Assert.True(log.ProducerStateManager.TryGetLastEntry(Pid, out var entry));
        Assert.Equal(9 + ThreadAllocations.Windows * perWindow, entry.LastSeq);
    }

    [Fact]
    public void Batches_without_a_producer_id_leave_the_state_alone()
    {
        using var log = Open();
        for (var i = 0; i < 3; i++)
            log.AppendAsLeader(TestBatches.Create(TestRecord.Of("k", "v")), 0);
        log.Roll();

        Assert.True(log.ProducerStateManager.IsEmpty);
        Assert.Equal(3, log.ProducerStateManager.MapEndOffset);
    }
}
