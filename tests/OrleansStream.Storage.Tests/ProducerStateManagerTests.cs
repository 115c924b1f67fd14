using System.Buffers.Binary;
using Microsoft.Extensions.Time.Testing;
using OrleansStream.Records;
using OrleansStream.Storage.Producers;
using static OrleansStream.Storage.Tests.ProducerBatches;

namespace OrleansStream.Storage.Tests;

public sealed class ProducerStateManagerTests : IDisposable
{
    private const long Pid = 1000;
    private readonly TempDirectory _dir = new();
    private readonly FakeTimeProvider _time = new(DateTimeOffset.FromUnixTimeMilliseconds(T0));
    private long _next;

    public void Dispose() => _dir.Dispose();

    private ProducerStateManager NewManager(ProducerStateManagerConfig? config = null)
    {
        var manager = new ProducerStateManager(_dir.Path, config, _time);
        manager.TruncateAndReload(0, _next);
        return manager;
    }

    /// <summary>Appends one batch as a partition would: analyze with its offsets, then complete (or not) the append.</summary>
    private static ProducerAppendCheck Append(ProducerStateManager manager, byte[] batch, AppendOrigin origin = AppendOrigin.Client)
    {
        var check = manager.Analyze(batch, origin);
        if (check.IsAppendable)
            manager.CompleteAppend(RecordBatchHeader.Read(batch).NextOffset);
        return check;
    }

    /// <summary>A data batch at the log end; the end moves only if the manager accepts it.</summary>
    private ProducerAppendCheck Send(ProducerStateManager manager, long producerId, short epoch, int baseSequence, int count = 1,
        bool transactional = false, AppendOrigin origin = AppendOrigin.Client, long timestamp = T0)
    {
        var check = Append(manager, Data(_next, producerId, epoch, baseSequence, count, transactional, timestamp), origin);
        if (check.IsAppendable)
            _next += count;
        return check;
    }

    private ReadOnlySpan<TxnCompletion> EndTxn(ProducerStateManager manager, long producerId, short epoch, bool commit,
        int coordinatorEpoch = 0, AppendOrigin origin = AppendOrigin.Coordinator)
    {
        var check = manager.Analyze(Marker(_next, producerId, epoch, commit, coordinatorEpoch), origin);
        Assert.Equal(ErrorCode.None, check.Error);
        return manager.CompleteAppend(++_next);
    }

    [Fact]
    public void In_sequence_batches_are_appended_and_the_entry_keeps_the_last_five()
    {
        var manager = NewManager();
        for (var i = 0; i < 7; i++)
            Assert.True(Send(manager, Pid, 0, baseSequence: i * 3, count: 3).IsAppendable);

        Assert.True(manager.TryGetLastEntry(Pid, out var entry));
        Assert.Equal(0, entry.ProducerEpoch);
        Assert.Equal(ProducerStateEntry.NumBatchesToRetain, entry.BatchCount);
        Assert.Equal(new BatchMetadata(LastSeq: 8, LastOffset: 8, OffsetDelta: 2, T0), entry.Batch(0));
        Assert.Equal(6, entry.FirstSeq);
        Assert.Equal(20, entry.LastSeq);
        Assert.Equal(6, entry.FirstDataOffset);
        Assert.Equal(20, entry.LastDataOffset);
        Assert.Equal(21, manager.MapEndOffset);
    }

    [Fact]
    public void A_retry_of_any_of_the_last_five_batches_is_answered_with_its_original_offsets()
    {
        var manager = NewManager();
        Send(manager, 7, 0, 0); // another producer moves the offsets apart from the sequences
        for (var i = 0; i < 6; i++)
            Send(manager, Pid, 0, baseSequence: i * 2, count: 2);

        for (var i = 1; i < 6; i++)
        {
            var check = manager.Analyze(Data(_next, Pid, 0, i * 2, 2), AppendOrigin.Client);
            Assert.True(check.IsDuplicate);
            Assert.Equal(ErrorCode.None, check.Error);
            Assert.Equal(1 + i * 2, check.Duplicate!.Value.FirstOffset);
            Assert.Equal(2 + i * 2, check.Duplicate.Value.LastOffset);
        }
        // The sixth-newest batch has left the window: Kafka answers OutOfOrderSequenceNumber.
        Assert.Equal(ErrorCode.OutOfOrderSequenceNumber, manager.Analyze(Data(_next, Pid, 0, 0, 2), AppendOrigin.Client).Error);
        // Same first sequence, different length: not the same batch.
        Assert.Equal(ErrorCode.OutOfOrderSequenceNumber, manager.Analyze(Data(_next, Pid, 0, 10, 1), AppendOrigin.Client).Error);
        Assert.Equal(13, manager.MapEndOffset);
        Assert.True(Send(manager, Pid, 0, 12).IsAppendable);
    }

    [Fact]
    public void A_sequence_gap_is_out_of_order_and_changes_nothing()
    {
        var manager = NewManager();
        Send(manager, Pid, 0, 0, count: 2);

        var check = manager.Analyze(Data(_next, Pid, 0, 3), AppendOrigin.Client);

        Assert.Equal(ErrorCode.OutOfOrderSequenceNumber, check.Error);
        Assert.Contains("3 (incoming seq. number), 1 (current end sequence number)", check.Message);
        manager.CompleteAppend(_next);
        Assert.True(manager.TryGetLastEntry(Pid, out var entry));
        Assert.Equal(1, entry.LastSeq);
        Assert.True(Send(manager, Pid, 0, 2).IsAppendable);
    }

    [Fact]
    public void Batches_of_one_append_are_checked_against_each_other_and_fail_or_duplicate_together()
    {
        var manager = NewManager();
        Send(manager, Pid, 0, 0);
        Assert.True(manager.Analyze(Data(1, Pid, 0, 1, 2), AppendOrigin.Client).IsAppendable);
        Assert.True(manager.Analyze(Data(3, Pid, 0, 3, 2), AppendOrigin.Client).IsAppendable);
        Assert.Equal(ErrorCode.OutOfOrderSequenceNumber, manager.Analyze(Data(5, Pid, 0, 9), AppendOrigin.Client).Error);
        manager.CompleteAppend(1);
        Assert.True(manager.TryGetLastEntry(Pid, out var entry));
        Assert.Equal(0, entry.LastSeq);

        Assert.True(manager.Analyze(Data(1, Pid, 0, 1, 2), AppendOrigin.Client).IsAppendable);
        Assert.Equal(ErrorCode.OutOfOrderSequenceNumber, manager.Analyze(Data(3, Pid, 0, 1, 2), AppendOrigin.Client).Error);
        Assert.True(manager.Analyze(Data(1, Pid, 0, 1, 2), AppendOrigin.Client).IsAppendable);
        Assert.True(manager.Analyze(Data(3, Pid, 0, 3, 2), AppendOrigin.Client).IsAppendable);
        manager.CompleteAppend(5);
        Assert.Equal(3, entry.BatchCount);
        Assert.Equal(4, entry.LastSeq);

        // A duplicate answers for the whole append: another producer's batch analyzed before it is dropped too.
        Assert.True(manager.Analyze(Data(5, 7, 0, 0), AppendOrigin.Client).IsAppendable);
        Assert.True(manager.Analyze(Data(6, Pid, 0, 3, 2), AppendOrigin.Client).IsDuplicate);
        manager.CompleteAppend(5);
        Assert.False(manager.TryGetLastEntry(7, out _));
    }

    [Fact]
    public void An_older_epoch_is_fenced_and_a_new_epoch_starts_over_at_sequence_zero()
    {
        var manager = NewManager();
        Send(manager, Pid, 3, 0, count: 5);

        Assert.Equal(ErrorCode.InvalidProducerEpoch, manager.Analyze(Data(_next, Pid, 2, 5), AppendOrigin.Client).Error);
        var bumpedMidSequence = manager.Analyze(Data(_next, Pid, 4, 5), AppendOrigin.Client);
        Assert.Equal(ErrorCode.OutOfOrderSequenceNumber, bumpedMidSequence.Error);
        Assert.Contains("new epoch", bumpedMidSequence.Message);

        Assert.True(Send(manager, Pid, 4, 0, count: 2).IsAppendable);
        Assert.True(manager.TryGetLastEntry(Pid, out var entry));
        Assert.Equal(4, entry.ProducerEpoch);
        Assert.Equal(1, entry.BatchCount);
        // The old epoch's batch is no longer a duplicate, only fenced.
        Assert.Equal(ErrorCode.InvalidProducerEpoch, manager.Analyze(Data(_next, Pid, 3, 0, 5), AppendOrigin.Client).Error);
        Assert.Equal(ErrorCode.InvalidProducerEpoch, manager.Analyze(Marker(_next, Pid, 3, commit: true), AppendOrigin.Coordinator).Error);
    }

    [Fact]
    public void An_unknown_producer_may_start_at_any_sequence_and_is_strict_afterwards()
    {
        var manager = NewManager();

        Assert.True(Send(manager, Pid, 0, baseSequence: 42, count: 3).IsAppendable);
        Assert.True(Send(manager, 7, 5, baseSequence: 0).IsAppendable);

        Assert.Equal(ErrorCode.OutOfOrderSequenceNumber, Send(manager, Pid, 0, 46).Error);
        Assert.Equal(ErrorCode.OutOfOrderSequenceNumber, Send(manager, Pid, 0, 0).Error);
        Assert.True(Send(manager, Pid, 0, 45).IsAppendable);
    }

    [Fact]
    public void An_unknown_producers_first_append_is_not_sequence_checked_even_across_its_batches()
    {
        var manager = NewManager();
        Assert.True(manager.Analyze(Data(0, Pid, 0, 10, 2), AppendOrigin.Client).IsAppendable);
        // Kafka checks against the producer's state before the append, which has no epoch: the gap is accepted.
        Assert.True(manager.Analyze(Data(2, Pid, 0, 20), AppendOrigin.Client).IsAppendable);
        manager.CompleteAppend(3);

        Assert.True(manager.TryGetLastEntry(Pid, out var entry));
        Assert.Equal(20, entry.LastSeq);
        Assert.Equal(ErrorCode.OutOfOrderSequenceNumber, manager.Analyze(Data(3, Pid, 0, 30), AppendOrigin.Client).Error);
    }

    [Fact]
    public void After_an_epoch_bumping_marker_the_producer_must_start_at_sequence_zero()
    {
        var manager = NewManager();
        Send(manager, Pid, 0, 0, count: 3, transactional: true);
        EndTxn(manager, Pid, 1, commit: false);

        Assert.True(manager.TryGetLastEntry(Pid, out var entry));
        Assert.True(entry.IsEmpty);
        Assert.Equal(ErrorCode.OutOfOrderSequenceNumber, Send(manager, Pid, 1, 3).Error);
        Assert.True(Send(manager, Pid, 1, 0).IsAppendable);
    }

    [Fact]
    public void Sequences_wrap_from_int_max_to_zero()
    {
        var manager = NewManager();
        Send(manager, Pid, 0, int.MaxValue - 4, count: 3);
        // This batch's sequences are MaxValue-1, MaxValue, 0.
        Assert.True(Send(manager, Pid, 0, int.MaxValue - 1, count: 3).IsAppendable);
        Assert.True(manager.TryGetLastEntry(Pid, out var entry));
        Assert.Equal(0, entry.LastSeq);
        Assert.Equal(int.MaxValue - 1, entry.Batch(1).FirstSeq);

        var retry = manager.Analyze(Data(_next, Pid, 0, int.MaxValue - 1, 3), AppendOrigin.Client);
        Assert.True(retry.IsDuplicate);
        Assert.Equal(3, retry.Duplicate!.Value.FirstOffset);
        Assert.True(Send(manager, Pid, 0, 1, count: 2).IsAppendable);

        var exact = NewManagerAt(Pid, int.MaxValue);
        Assert.True(Send(exact, Pid, 0, 0).IsAppendable);
    }

    private ProducerStateManager NewManagerAt(long producerId, int lastSeq)
    {
        var manager = NewManager();
        manager.TruncateFullyAndStartAt(_next);
        Send(manager, producerId, 0, lastSeq);
        return manager;
    }

    [Fact]
    public void Coordinator_writes_check_epochs_but_not_sequences()
    {
        var manager = NewManager();
        Send(manager, Pid, 2, 0);

        Assert.True(Send(manager, Pid, 2, 99, origin: AppendOrigin.Coordinator).IsAppendable);
        Assert.Equal(ErrorCode.InvalidProducerEpoch, Send(manager, Pid, 1, 100, origin: AppendOrigin.Coordinator).Error);
    }

    [Fact]
    public void A_follower_applies_replicated_batches_without_judging_them_and_as_leader_knows_every_producer()
    {
        var leader = NewManager();
        var follower = new ProducerStateManager(Path.Combine(_dir.Path, "follower"), time: _time);
        var start = _next;
        Send(leader, Pid, 0, 0, count: 2);
        Send(leader, Pid, 0, 2, count: 2);
        Send(leader, 7, 1, 0, transactional: true);
        Send(leader, Pid, 0, 4);
        var log = new List<byte[]>();
        for (var offset = start; offset < _next;)
        {
            var batch = offset switch
            {
                0 => Data(0, Pid, 0, 0, 2),
                2 => Data(2, Pid, 0, 2, 2),
                4 => Data(4, 7, 1, 0, transactional: true),
                _ => Data(5, Pid, 0, 4),
            };
            log.Add(batch);
            offset = RecordBatchHeader.Read(batch).NextOffset;
        }
        foreach (var batch in log)
            Append(follower, batch, AppendOrigin.Replication);

        AssertSameState(leader, follower);
        Assert.Equal(4, follower.FirstUnstableOffset);
        // Promoted, the follower answers the old leader's retry as a duplicate and keeps checking sequences.
        var retry = follower.Analyze(Data(_next, Pid, 0, 2, 2), AppendOrigin.Client);
        Assert.Equal(2, retry.Duplicate!.Value.FirstOffset);
        Assert.Equal(ErrorCode.OutOfOrderSequenceNumber, follower.Analyze(Data(_next, Pid, 0, 9), AppendOrigin.Client).Error);

        // Replication trusts the leader even where a client would be refused: gaps, older epochs, fenced coordinators.
        Assert.True(Append(follower, Data(6, Pid, 0, 50), AppendOrigin.Replication).IsAppendable);
        Assert.True(Append(follower, Data(7, 7, 0, 0, transactional: true), AppendOrigin.Replication).IsAppendable);
        Assert.True(follower.TryGetLastEntry(7, out var entry));
        Assert.Equal(0, entry.ProducerEpoch);
    }

    private static void AssertSameState(ProducerStateManager expected, ProducerStateManager actual)
    {
        Assert.Equal(expected.ProducerIdCount, actual.ProducerIdCount);
        Assert.Equal(expected.MapEndOffset, actual.MapEndOffset);
        Assert.Equal(expected.FirstUnstableOffset, actual.FirstUnstableOffset);
        foreach (var (producerId, e) in expected.ActiveProducers)
        {
            Assert.True(actual.TryGetLastEntry(producerId, out var a));
            Assert.Equal(e.ToString(), a.ToString());
            for (var i = 0; i < e.BatchCount; i++)
                Assert.Equal(e.Batch(i), a.Batch(i));
        }
    }

    [Fact]
    public void An_abandoned_append_changes_nothing()
    {
        var manager = NewManager();
        Assert.True(manager.Analyze(Data(0, Pid, 0, 0, transactional: true), AppendOrigin.Client).IsAppendable);
        manager.AbandonAppend();
        manager.CompleteAppend(0);

        Assert.False(manager.TryGetLastEntry(Pid, out _));
        Assert.Null(manager.FirstUnstableOffset);
        Assert.True(manager.IsEmpty);
    }

    [Fact]
    public void Interleaved_transactions_hold_the_first_unstable_offset_until_their_markers_are_replicated()
    {
        const long a = 1, b = 2;
        var manager = NewManager();
        Send(manager, 9, 0, 0);                               // 0: idempotent, not transactional
        Send(manager, a, 0, 0, transactional: true);          // 1: A's transaction starts
        Send(manager, b, 0, 0, transactional: true);          // 2: B's transaction starts
        Send(manager, a, 0, 1, transactional: true);          // 3
        Assert.Equal(1, manager.FirstUnstableOffset);
        Assert.Equal(1, manager.FirstUndecidedOffset);

        var commitA = EndTxn(manager, a, 0, commit: true);    // 4: A commits; B still open at 2
        Assert.Equal(new TxnCompletion(new CompletedTxn(a, 1, 4, IsAborted: false), LastStableOffset: 2), Assert.Single(commitA.ToArray()));
        Assert.Equal(1, manager.FirstUnstableOffset);         // A's marker is not replicated yet
        Assert.Equal(2, manager.FirstUndecidedOffset);
        manager.OnHighWatermarkUpdated(4);
        Assert.Equal(1, manager.FirstUnstableOffset);
        manager.OnHighWatermarkUpdated(5);
        Assert.Equal(2, manager.FirstUnstableOffset);

        Send(manager, a, 0, 2, transactional: true);          // 5: A's second transaction
        var abortB = EndTxn(manager, b, 0, commit: false);    // 6: B aborts; A open at 5
        Assert.Equal(new TxnCompletion(new CompletedTxn(b, 2, 6, IsAborted: true), LastStableOffset: 5), Assert.Single(abortB.ToArray()));
        manager.OnHighWatermarkUpdated(7);
        Assert.Equal(5, manager.FirstUnstableOffset);

        var commitA2 = EndTxn(manager, a, 0, commit: true);   // 7
        Assert.Equal(8, Assert.Single(commitA2.ToArray()).LastStableOffset);
        Assert.Equal(5, manager.FirstUnstableOffset);
        Assert.Null(manager.FirstUndecidedOffset);
        manager.OnHighWatermarkUpdated(8);
        Assert.Null(manager.FirstUnstableOffset);

        // A marker with no open transaction completes nothing; a non-transactional write inside one is refused.
        Assert.Equal(0, EndTxn(manager, a, 0, commit: false).Length);
        Send(manager, b, 0, 1, transactional: true);
        Assert.Equal(ErrorCode.InvalidTxnState, Send(manager, b, 0, 2).Error);
    }

    [Fact]
    public void A_transaction_started_and_ended_in_one_append_completes_against_the_new_state()
    {
        var manager = NewManager();
        Assert.True(manager.Analyze(Data(0, 1, 0, 0, transactional: true), AppendOrigin.Replication).IsAppendable);
        Assert.True(manager.Analyze(Data(1, 2, 0, 0, transactional: true), AppendOrigin.Replication).IsAppendable);
        Assert.True(manager.Analyze(Marker(2, 1, 0, commit: true), AppendOrigin.Replication).IsAppendable);

        var completions = manager.CompleteAppend(3).ToArray();

        Assert.Equal(new TxnCompletion(new CompletedTxn(1, 0, 2, false), LastStableOffset: 1), Assert.Single(completions));
        Assert.Equal(0, manager.FirstUnstableOffset);
        manager.OnHighWatermarkUpdated(3);
        Assert.Equal(1, manager.FirstUnstableOffset);
    }

    [Fact]
    public void A_marker_from_an_older_coordinator_epoch_is_fenced_unless_replicated()
    {
        var manager = NewManager();
        Send(manager, Pid, 0, 0, transactional: true);
        EndTxn(manager, Pid, 0, commit: true, coordinatorEpoch: 5);
        Send(manager, Pid, 0, 1, transactional: true);

        Assert.Equal(ErrorCode.TransactionCoordinatorFenced,
            manager.Analyze(Marker(_next, Pid, 0, commit: true, coordinatorEpoch: 4), AppendOrigin.Coordinator).Error);
        Assert.Equal(2, manager.FirstUndecidedOffset);
        Assert.True(Append(manager, Marker(_next, Pid, 0, commit: true, coordinatorEpoch: 4), AppendOrigin.Replication).IsAppendable);
        Assert.Null(manager.FirstUndecidedOffset);
    }

    [Fact]
    public void A_marker_written_by_the_engines_own_builder_ends_the_transaction()
    {
        var manager = NewManager();
        Send(manager, Pid, 0, 0, transactional: true);
        using var builder = new RecordBatchBuilder();
        new EndTransactionMarker(ControlRecordType.Abort, 3).WriteBatch(builder, Pid, 0, T0 + 1);
        var marker = builder.ToArray();
        RecordBatchHeader.Stamp(marker, _next, 0);

        Assert.True(manager.Analyze(marker, AppendOrigin.Coordinator).IsAppendable);
        var completion = Assert.Single(manager.CompleteAppend(_next + 1).ToArray());

        Assert.True(completion.Txn.IsAborted);
        Assert.True(manager.TryGetLastEntry(Pid, out var entry));
        Assert.Equal(3, entry.CoordinatorEpoch);
        Assert.Equal(T0 + 1, entry.LastTimestamp);
    }

    [Fact]
    public void A_control_batch_that_is_not_a_marker_is_an_invalid_record()
    {
        var manager = NewManager();
        var leaderChange = Marker(0, Pid, 0, commit: true);
        leaderChange[RecordBatchHeader.Size + 8] = 2; // key type LEADER_CHANGE, CRC refreshed below
        BinaryPrimitives.WriteUInt32BigEndian(leaderChange.AsSpan(RecordBatchHeader.CrcOffset), RecordBatchHeader.ComputeCrc(leaderChange));
        Assert.Equal(ErrorCode.None, RecordBatchHeader.Validate(leaderChange, out _));

        Assert.Equal(ErrorCode.InvalidRecord, manager.Analyze(leaderChange, AppendOrigin.Coordinator).Error);
    }

    [Fact]
    public void Batches_without_a_producer_id_are_ignored_but_move_the_map_end()
    {
        var manager = NewManager();
        Assert.True(manager.Analyze(TestBatches.Create(0, TestRecord.Of("k", "v")), AppendOrigin.Client).IsAppendable);
        manager.CompleteAppend(1);

        Assert.True(manager.IsEmpty);
        Assert.Equal(1, manager.MapEndOffset);
    }

    [Fact]
    public void A_snapshot_is_written_in_Kafkas_format_and_reloads_the_state()
    {
        var manager = NewManager();
        Send(manager, Pid, 2, 0, count: 3, timestamp: T0 + 5);
        Send(manager, 7, 0, 0, transactional: true);
        EndTxn(manager, 7, 0, commit: true, coordinatorEpoch: 9);
        Send(manager, 7, 0, 1, count: 2, transactional: true);

        var path = manager.TakeSnapshot();

        Assert.Equal(Path.Combine(_dir.Path, "00000000000000000007.snapshot"), path);
        Assert.Null(manager.TakeSnapshot()); // nothing new since
        Assert.Equal([7L], manager.SnapshotOffsets);
        AssertKafkaSnapshotLayout(File.ReadAllBytes(path!));

        var reloaded = NewManager();
        Assert.Equal(7, reloaded.MapEndOffset);
        Assert.True(reloaded.TryGetLastEntry(Pid, out var p));
        Assert.Equal("ProducerStateEntry(producerId=1000, producerEpoch=2, currentTxnFirstOffset=, coordinatorEpoch=-1, lastTimestamp=1700000000005, batches=1, firstSeq=0, lastSeq=2)", p.ToString());
        Assert.Equal(new BatchMetadata(2, 2, 2, T0 + 5), p.Batch(0));
        Assert.True(reloaded.TryGetLastEntry(7, out var t));
        Assert.Equal(9, t.CoordinatorEpoch);
        Assert.Equal(5, t.CurrentTxnFirstOffset);
        Assert.Equal(5, reloaded.FirstUnstableOffset);
        Assert.True(reloaded.Analyze(Data(7, Pid, 2, 0, 3), AppendOrigin.Client).IsDuplicate);
        Assert.True(Send(reloaded, 7, 0, 3, transactional: true).IsAppendable);
    }

    /// <summary>Kafka's PID_SNAPSHOT_MAP_SCHEMA, read field by field: version, CRC-32C of the rest, the entry array.</summary>
    private static void AssertKafkaSnapshotLayout(byte[] bytes)
    {
        var span = bytes.AsSpan();
        Assert.Equal(1, BinaryPrimitives.ReadInt16BigEndian(span));
        Assert.Equal(Crc32C.HashToUInt32(span[6..]), BinaryPrimitives.ReadUInt32BigEndian(span[2..]));
        Assert.Equal(2, BinaryPrimitives.ReadInt32BigEndian(span[6..]));
        Assert.Equal(10 + 2 * 46, bytes.Length);
        var found = false;
        for (var e = span[10..]; e.Length > 0; e = e[46..])
        {
            if (BinaryPrimitives.ReadInt64BigEndian(e) != 7)
                continue;
            found = true;
            Assert.Equal(0, BinaryPrimitives.ReadInt16BigEndian(e[8..]));   // epoch
            Assert.Equal(2, BinaryPrimitives.ReadInt32BigEndian(e[10..]));  // last_sequence
            Assert.Equal(6, BinaryPrimitives.ReadInt64BigEndian(e[14..]));  // last_offset
            Assert.Equal(1, BinaryPrimitives.ReadInt32BigEndian(e[22..]));  // offset_delta
            Assert.Equal(T0, BinaryPrimitives.ReadInt64BigEndian(e[26..])); // timestamp
            Assert.Equal(9, BinaryPrimitives.ReadInt32BigEndian(e[34..]));  // coordinator_epoch
            Assert.Equal(5, BinaryPrimitives.ReadInt64BigEndian(e[38..]));  // current_txn_first_offset
        }
        Assert.True(found);
    }

    [Fact]
    public void A_corrupt_snapshot_is_deleted_and_the_state_reloads_from_an_earlier_one_plus_the_log()
    {
        var manager = NewManager();
        var log = new List<byte[]>();
        void SendLogged(long producerId, int seq)
        {
            var batch = Data(_next, producerId, 0, seq);
            Assert.True(Append(manager, batch).IsAppendable);
            log.Add(batch);
            _next++;
        }
        SendLogged(Pid, 0);
        SendLogged(Pid, 1);
        var early = manager.TakeSnapshot(sync: false)!;
        ProducerStateSnapshot.Flush(early);
        SendLogged(7, 0);
        SendLogged(Pid, 2);
        var late = manager.TakeSnapshot()!;
        var bytes = File.ReadAllBytes(late);
        bytes[^1] ^= 0xFF;
        File.WriteAllBytes(late, bytes);

        var reloaded = NewManager();

        Assert.False(File.Exists(late));
        Assert.True(File.Exists(early));
        Assert.Equal([2L], reloaded.SnapshotOffsets);
        Assert.Equal(2, reloaded.MapEndOffset);
        Assert.False(reloaded.TryGetLastEntry(7, out _));
        reloaded.LoadProducersFromRecords(TestBatches.Concat([.. log.Skip((int)reloaded.MapEndOffset)]));
        Assert.Equal(manager.MapEndOffset, reloaded.MapEndOffset);
        Assert.True(reloaded.TryGetLastEntry(7, out _));
        Assert.True(reloaded.TryGetLastEntry(Pid, out var entry));
        // The snapshot kept the last batch before it (Kafka's format); the replay added the ones after.
        Assert.Equal([new BatchMetadata(1, 1, 0, T0), new BatchMetadata(2, 3, 0, T0)], [entry.Batch(0), entry.Batch(1)]);
        Assert.True(reloaded.Analyze(Data(_next, Pid, 0, 2), AppendOrigin.Client).IsDuplicate);
        Assert.Equal(ErrorCode.OutOfOrderSequenceNumber, reloaded.Analyze(Data(_next, Pid, 0, 0), AppendOrigin.Client).Error);
    }

    [Fact]
    public void A_snapshot_with_a_wrong_version_or_size_is_corrupt()
    {
        var manager = NewManager();
        Send(manager, Pid, 0, 0);
        var path = manager.TakeSnapshot()!;
        var bytes = File.ReadAllBytes(path);

        var version = (byte[])bytes.Clone();
        version[1] = 2;
        File.WriteAllBytes(path, version);
        Assert.Contains("version", Assert.Throws<CorruptSnapshotException>(() => ProducerStateSnapshot.Read(path)).Message);

        File.WriteAllBytes(path, bytes[..20]);
        Assert.Throws<CorruptSnapshotException>(() => ProducerStateSnapshot.Read(path));
        File.WriteAllBytes(path, bytes[..4]);
        Assert.Throws<CorruptSnapshotException>(() => ProducerStateSnapshot.Read(path));
    }

    [Fact]
    public void Truncate_and_reload_drops_snapshots_past_the_new_end_and_reloads_from_the_one_below()
    {
        var manager = NewManager();
        Send(manager, Pid, 0, 0);
        Send(manager, Pid, 0, 1);
        manager.TakeSnapshot();                       // at 2
        Send(manager, Pid, 0, 2);
        Send(manager, 7, 0, 0, transactional: true);
        manager.TakeSnapshot();                       // at 4
        Send(manager, Pid, 0, 3);
        manager.TakeSnapshot();                       // at 5

        // A follower truncates to 3 after a leader change (the batches at 3 and 4 diverged).
        manager.TruncateAndReload(0, 3);

        Assert.Equal([2L], manager.SnapshotOffsets);
        Assert.False(File.Exists(Path.Combine(_dir.Path, ProducerStateSnapshot.FileName(4))));
        Assert.Equal(2, manager.MapEndOffset);
        Assert.Null(manager.FirstUnstableOffset);
        Assert.False(manager.TryGetLastEntry(7, out _));
        manager.LoadProducersFromRecords(Data(2, Pid, 0, 2));
        Assert.Equal(3, manager.MapEndOffset);
        Assert.True(manager.TryGetLastEntry(Pid, out var entry));
        Assert.Equal(2, entry.LastSeq);

        // At its own end it only moves the log start: snapshots at or below it go, the state stays.
        manager.TruncateAndReload(2, 3);
        Assert.Empty(manager.SnapshotOffsets);
        Assert.True(manager.TryGetLastEntry(Pid, out _));
    }

    [Fact]
    public void A_roll_snapshots_at_the_new_segments_base_offset()
    {
        var manager = NewManager();
        Send(manager, Pid, 0, 0, count: 3);

        manager.UpdateMapEndOffset(5); // the new segment starts past a compaction gap
        var path = manager.TakeSnapshot(sync: false);

        Assert.Equal(ProducerStateSnapshot.FileName(5), Path.GetFileName(path));
        ProducerStateSnapshot.Flush(path!);
        Assert.Equal(2, Assert.Single(ProducerStateSnapshot.Read(path!)).LastSeq);
    }

    [Fact]
    public void Truncating_fully_forgets_everything()
    {
        var manager = NewManager();
        Send(manager, Pid, 0, 0, transactional: true);
        manager.TakeSnapshot();

        manager.TruncateFullyAndStartAt(100);

        Assert.True(manager.IsEmpty);
        Assert.Null(manager.FirstUnstableOffset);
        Assert.Equal(100, manager.MapEndOffset);
        Assert.Empty(Directory.GetFiles(_dir.Path, "*.snapshot"));
        Assert.Equal("00000000000000000100.snapshot", Path.GetFileName(manager.TakeSnapshot()));
    }

    [Fact]
    public void Snapshots_below_an_offset_and_stray_snapshots_are_deleted()
    {
        var manager = NewManager();
        for (var i = 0; i < 4; i++)
        {
            Send(manager, Pid, 0, i);
            manager.TakeSnapshot();
        }
        manager.DeleteSnapshotsBefore(2);
        Assert.Equal([2L, 3L, 4L], manager.SnapshotOffsets);

        // Segments at 0 and 3: the snapshot at 3 matches, 4 is the clean-shutdown one above every segment, 2 is stray.
        manager.RemoveStraySnapshots([0L, 3L]);
        Assert.Equal([3L, 4L], manager.SnapshotOffsets);
        manager.RemoveStraySnapshots([0L, 3L, 5L]);
        Assert.Equal([3L], manager.SnapshotOffsets);
        Assert.Equal(["00000000000000000003.snapshot"], Directory.GetFiles(_dir.Path).Select(Path.GetFileName));
    }

    [Fact]
    public void Producers_idle_past_the_expiration_are_forgotten_unless_a_transaction_is_open()
    {
        var config = new ProducerStateManagerConfig { ProducerIdExpirationMs = 60_000 };
        var manager = NewManager(config);
        Send(manager, 1, 0, 0, timestamp: T0);
        Send(manager, 2, 0, 0, timestamp: T0 + 30_000);
        Send(manager, 3, 0, 0, transactional: true, timestamp: T0);
        Assert.Equal(86_400_000, new ProducerStateManagerConfig().ProducerIdExpirationMs);

        _time.Advance(TimeSpan.FromMilliseconds(59_999));
        manager.RemoveExpiredProducers();
        Assert.Equal(3, manager.ProducerIdCount);

        _time.Advance(TimeSpan.FromMilliseconds(1));
        manager.RemoveExpiredProducers();
        Assert.False(manager.TryGetLastEntry(1, out _));
        Assert.True(manager.TryGetLastEntry(2, out _));
        Assert.True(manager.TryGetLastEntry(3, out _));
        // Forgotten, producer 1 is unknown again: any sequence is accepted.
        Assert.True(Send(manager, 1, 0, 17, timestamp: T0 + 60_000).IsAppendable);

        manager.TakeSnapshot();
        _time.Advance(TimeSpan.FromMilliseconds(30_000));
        var reloaded = NewManager(config);
        Assert.False(reloaded.TryGetLastEntry(2, out _));
        Assert.True(reloaded.TryGetLastEntry(1, out _));
        Assert.True(reloaded.TryGetLastEntry(3, out _));
    }

    [Fact]
    public void Validating_and_applying_a_known_producers_batch_allocates_nothing()
    {
        var manager = NewManager();
        const int perWindow = 500;
        const int count = perWindow * ThreadAllocations.Windows;
        var batches = new byte[count + 10][];
        for (var i = 0; i < batches.Length; i++)
            batches[i] = Data(i, Pid, 0, i, transactional: false);
        for (var i = 0; i < 10; i++)
            Append(manager, batches[i]); // warm up: JIT, the entry, the pooled append info

        // Each window takes the next 500 batches of the producer's sequence.
        var allocated = ThreadAllocations.Least(window =>
        {
            for (var i = 10 + window * perWindow; i < 10 + (window + 1) * perWindow; i++)
            {
                if (!manager.Analyze(batches[i], AppendOrigin.Client).IsAppendable)
                    throw new InvalidOperationException("rejected");
                manager.CompleteAppend(i + 1);
                if (!manager.Analyze(batches[i], AppendOrigin.Client).IsDuplicate)
                    throw new InvalidOperationException("a retry was not recognized");
            }
        });

        Assert.Equal(0, allocated);
        Assert.True(manager.TryGetLastEntry(Pid, out var entry));
        Assert.Equal(count + 9, entry.LastSeq);
    }
}
