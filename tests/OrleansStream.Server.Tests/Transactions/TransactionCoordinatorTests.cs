using Microsoft.Extensions.Options;
using Orleans.Configuration;
using OrleansStream.Server.Transactions;
using static OrleansStream.Server.Tests.Transactions.TransactionCoordinatorHarness;

namespace OrleansStream.Server.Tests.Transactions;

/// <summary>
/// Kafka's coordinator operations and error codes (as its TransactionCoordinatorTest checks them), each change durable
/// before it takes effect; the harness plays the grain that stores and completes each write.
/// </summary>
public sealed class TransactionCoordinatorTests
{
    private readonly TransactionCoordinatorHarness _h = new();

    [Fact]
    public void InitProducerId_gives_a_new_transactional_id_a_producer_id_at_epoch_0_only_once_stored()
    {
        var op = C.InitProducerId(TxnId, TimeoutMs);
        Assert.NotNull(op.Write);
        Assert.Null(C.Describe(TxnId));
        Assert.Equal(ErrorCode.ConcurrentTransactions, C.InitProducerId(TxnId, TimeoutMs).Error);

        var done = _h.Store(op.Write);

        Assert.Equal((ErrorCode.None, 0L, (short)0), (done.Error, done.ProducerId, done.ProducerEpoch));
        var stored = Assert.Single(_h.Stored!.Transactions);
        Assert.Equal((TxnId, 0L, (short)0, TransactionState.Empty, TimeoutMs), (stored.TransactionalId, stored.ProducerId, stored.ProducerEpoch, stored.State, stored.TxnTimeoutMs));
        Assert.Equal(TransactionState.Empty, _h.Describe().TxnState);
    }

    [Fact]
    public void InitProducerId_again_bumps_the_epoch_of_the_same_producer_id_and_takes_the_new_timeout()
    {
        var first = _h.Run(C.InitProducerId(TxnId, TimeoutMs));
        var second = _h.Run(C.InitProducerId(TxnId, 5_000));

        Assert.Equal((first.ProducerId, (short)1), (second.ProducerId, second.ProducerEpoch));
        Assert.Equal((short)-1, _h.Describe().LastProducerEpoch);
        Assert.Equal(5_000, _h.Describe().TxnTimeoutMs);
    }

    [Fact]
    public void InitProducerId_checks_the_timeout_against_transaction_max_timeout_ms_and_the_id()
    {
        var h = new TransactionCoordinatorHarness(o => o.TransactionMaxTimeoutMs = 10_000);
        Assert.Equal(ErrorCode.InvalidTransactionTimeout, h.Coordinator.InitProducerId(TxnId, 10_001).Error);
        Assert.Equal(ErrorCode.InvalidTransactionTimeout, h.Coordinator.InitProducerId(TxnId, 0).Error);
        Assert.Equal(ErrorCode.InvalidRequest, h.Coordinator.InitProducerId("", 1000).Error);
        Assert.Equal(ErrorCode.None, h.Run(h.Coordinator.InitProducerId(TxnId, 10_000)).Error);
        Assert.Equal(900_000, new TransactionCoordinatorOptions().TransactionMaxTimeoutMs);
    }

    [Fact]
    public void The_marker_replication_timeout_must_stay_below_the_Orleans_response_timeout()
    {
        var validator = new TransactionCoordinatorOptionsValidator(Options.Create(new SiloMessagingOptions { ResponseTimeout = TimeSpan.FromSeconds(30) }));
        Assert.True(validator.Validate(null, new TransactionCoordinatorOptions()).Succeeded);
        Assert.True(validator.Validate(null, new TransactionCoordinatorOptions { TransactionMarkerReplicationTimeoutMs = 29_999 }).Succeeded);
        Assert.Contains("TransactionMarkerReplicationTimeoutMs",
            validator.Validate(null, new TransactionCoordinatorOptions { TransactionMarkerReplicationTimeoutMs = 30_000 }).FailureMessage);
        Assert.True(validator.Validate(null, new TransactionCoordinatorOptions { TransactionMarkerReplicationTimeoutMs = 0 }).Failed);
    }

    [Fact]
    public void InitProducerId_without_a_transactional_id_hands_out_fresh_ids_at_epoch_0_with_nothing_stored()
    {
        var a = C.InitProducerId(null, 0);
        var b = C.InitProducerId(null, 0);

        Assert.Equal((ErrorCode.None, (short)0, (short)0), (a.Error, a.ProducerEpoch, b.ProducerEpoch));
        Assert.NotEqual(a.ProducerId, b.ProducerId);
        Assert.Equal(0, _h.Writes);
        _h.ProducerIds.Available = false;
        Assert.Equal(ErrorCode.CoordinatorNotAvailable, C.InitProducerId(null, 0).Error);
        Assert.Equal(ErrorCode.CoordinatorNotAvailable, C.InitProducerId(TxnId, TimeoutMs).Error);
    }

    [Fact]
    public void A_commit_adds_partitions_and_a_group_prepares_writes_every_marker_then_completes()
    {
        var producer = _h.BeginTransaction(0, 1);
        var offsets = _h.Run(C.AddOffsetsToTxn(TxnId, producer.ProducerId, producer.Epoch, "g"));
        Assert.Equal(ErrorCode.None, offsets.Error);
        Assert.Equal(TransactionState.Ongoing, _h.Describe().TxnState);
        Assert.Equal(_h.NowMs, _h.Describe().TxnStartTimestamp);

        var end = _h.Run(C.EndTxn(TxnId, producer.ProducerId, producer.Epoch, TransactionResult.Commit));

        Assert.Equal(ErrorCode.None, end.Error);
        Assert.Equal(TransactionState.PrepareCommit, _h.Stored!.Transactions[0].State);
        var markers = Assert.IsType<TxnMarkerRequest>(end.Markers);
        Assert.Equal(
            new[]
            {
                new TxnMarker(TxnParticipant.OfGroup("g"), producer.ProducerId, producer.Epoch, C.CoordinatorEpoch, TransactionResult.Commit),
                new TxnMarker(TxnParticipant.Of(P(0)), producer.ProducerId, producer.Epoch, C.CoordinatorEpoch, TransactionResult.Commit),
                new TxnMarker(TxnParticipant.Of(P(1)), producer.ProducerId, producer.Epoch, C.CoordinatorEpoch, TransactionResult.Commit),
            },
            markers.Markers);
        Assert.Equal(ErrorCode.ConcurrentTransactions, C.AddPartitionsToTxn(TxnId, producer.ProducerId, producer.Epoch, [P(2)]).Error);
        Assert.Equal(ErrorCode.ConcurrentTransactions, C.InitProducerId(TxnId, TimeoutMs).Error);
        Assert.Equal(ErrorCode.ConcurrentTransactions, C.EndTxn(TxnId, producer.ProducerId, producer.Epoch, TransactionResult.Commit).Error);
        Assert.Equal(ErrorCode.InvalidTxnState, C.EndTxn(TxnId, producer.ProducerId, producer.Epoch, TransactionResult.Abort).Error);

        Assert.Null(C.OnMarkersWritten(markers, [TxnParticipant.Of(P(0)), TxnParticipant.OfGroup("g")]));
        var complete = C.OnMarkersWritten(markers, [TxnParticipant.Of(P(1))]);
        Assert.NotNull(complete);
        Assert.Equal(ErrorCode.None, _h.Store(complete).Error);

        Assert.Equal(TransactionState.CompleteCommit, _h.Describe().TxnState);
        Assert.Empty(_h.Describe().Participants);
        Assert.Empty(C.PendingMarkers());
        Assert.Equal(ErrorCode.None, C.EndTxn(TxnId, producer.ProducerId, producer.Epoch, TransactionResult.Commit).Error);
        Assert.Equal(ErrorCode.InvalidTxnState, C.EndTxn(TxnId, producer.ProducerId, producer.Epoch, TransactionResult.Abort).Error);
    }

    [Fact]
    public void EndTxn_checks_producer_id_epoch_and_state()
    {
        Assert.Equal(ErrorCode.InvalidProducerIdMapping, C.EndTxn(TxnId, 0, 0, TransactionResult.Commit).Error);
        var init = _h.Run(C.InitProducerId(TxnId, TimeoutMs));
        Assert.Equal(ErrorCode.InvalidTxnState, C.EndTxn(TxnId, init.ProducerId, init.ProducerEpoch, TransactionResult.Commit).Error);
        Assert.Equal(ErrorCode.InvalidProducerIdMapping, C.EndTxn(TxnId, init.ProducerId + 1, init.ProducerEpoch, TransactionResult.Commit).Error);
        Assert.Equal(ErrorCode.ProducerFenced, C.EndTxn(TxnId, init.ProducerId, (short)(init.ProducerEpoch + 1), TransactionResult.Commit).Error);
        Assert.Equal(ErrorCode.InvalidRequest, C.EndTxn("", init.ProducerId, init.ProducerEpoch, TransactionResult.Commit).Error);
    }

    [Fact]
    public void AddPartitionsToTxn_checks_the_producer_and_answers_partitions_already_in_the_transaction_without_a_write()
    {
        Assert.Equal(ErrorCode.InvalidProducerIdMapping, C.AddPartitionsToTxn(TxnId, 0, 0, [P(0)]).Error);
        var producer = _h.BeginTransaction(0, 1);
        var writes = _h.Writes;

        Assert.Equal(ErrorCode.None, C.AddPartitionsToTxn(TxnId, producer.ProducerId, producer.Epoch, [P(1)]).Error);
        Assert.Null(C.AddPartitionsToTxn(TxnId, producer.ProducerId, producer.Epoch, [P(1)]).Write);
        Assert.Equal(writes, _h.Writes);
        Assert.Equal(ErrorCode.ProducerFenced, C.AddPartitionsToTxn(TxnId, producer.ProducerId, (short)(producer.Epoch - 1), [P(2)]).Error);
        Assert.Equal(ErrorCode.InvalidProducerIdMapping, C.AddPartitionsToTxn(TxnId, producer.ProducerId + 7, producer.Epoch, [P(2)]).Error);
        Assert.Equal(ErrorCode.InvalidGroupId, C.AddOffsetsToTxn(TxnId, producer.ProducerId, producer.Epoch, "").Error);
        // Whitespace is no grain key either: its markers could never reach the group (GroupKeys.IsAddressable).
        Assert.Equal(ErrorCode.InvalidGroupId, C.AddOffsetsToTxn(TxnId, producer.ProducerId, producer.Epoch, " ").Error);

        var start = _h.Describe().TxnStartTimestamp;
        _h.Time.Advance(TimeSpan.FromSeconds(1));
        _h.Add(producer.ProducerId, producer.Epoch, 2);
        Assert.Equal(start, _h.Describe().TxnStartTimestamp);
        Assert.Equal(3, _h.Describe().Participants.Count);
    }

    [Fact]
    public void InitProducerId_during_an_open_transaction_aborts_it_with_a_bumped_epoch_that_fences_the_old_producer()
    {
        var old = _h.BeginTransaction(0);

        var fence = _h.Run(C.InitProducerId(TxnId, TimeoutMs));

        Assert.Equal(ErrorCode.ConcurrentTransactions, fence.Error);
        var stored = Assert.Single(_h.Stored!.Transactions);
        Assert.Equal((TransactionState.PrepareAbort, (short)(old.Epoch + 1), (short)-1), (stored.State, stored.ProducerEpoch, stored.LastProducerEpoch));
        var marker = Assert.Single(fence.Markers!.Markers);
        Assert.Equal((TransactionResult.Abort, (short)(old.Epoch + 1)), (marker.Result, marker.ProducerEpoch));
        Assert.Equal(ErrorCode.ProducerFenced, C.EndTxn(TxnId, old.ProducerId, old.Epoch, TransactionResult.Commit).Error);
        Assert.Equal(ErrorCode.ProducerFenced, C.AddPartitionsToTxn(TxnId, old.ProducerId, old.Epoch, [P(1)]).Error);
        Assert.Equal(ErrorCode.ConcurrentTransactions, C.InitProducerId(TxnId, TimeoutMs).Error);

        _h.WriteAllMarkers(fence.Markers);
        Assert.Equal(TransactionState.CompleteAbort, _h.Describe().TxnState);
        var retry = _h.Run(C.InitProducerId(TxnId, TimeoutMs));

        Assert.Equal((ErrorCode.None, old.ProducerId, (short)(old.Epoch + 2)), (retry.Error, retry.ProducerId, retry.ProducerEpoch));
        // The fenced producer cannot recover with KIP-360: its epoch is neither the current nor the last one.
        Assert.Equal(ErrorCode.ProducerFenced, C.InitProducerId(TxnId, TimeoutMs, old).Error);
    }

    [Fact]
    public void KIP_360_a_producer_naming_its_current_epoch_gets_a_bump_and_a_retry_of_that_bump_gets_the_same_epoch()
    {
        var first = _h.Run(C.InitProducerId(TxnId, TimeoutMs));
        var mine = new ProducerIdAndEpoch(first.ProducerId, first.ProducerEpoch);

        var bumped = _h.Run(C.InitProducerId(TxnId, TimeoutMs, mine));
        Assert.Equal((ErrorCode.None, (short)1), (bumped.Error, bumped.ProducerEpoch));
        Assert.Equal((short)0, _h.Describe().LastProducerEpoch);

        var retried = _h.Run(C.InitProducerId(TxnId, TimeoutMs, mine));
        Assert.Equal((ErrorCode.None, first.ProducerId, (short)1), (retried.Error, retried.ProducerId, retried.ProducerEpoch));

        Assert.Equal(ErrorCode.ProducerFenced, C.InitProducerId(TxnId, TimeoutMs, new ProducerIdAndEpoch(first.ProducerId + 50, 1)).Error);
        // Another producer's plain InitProducerId forgets the last epoch: the first producer is fenced from then on.
        _h.Run(C.InitProducerId(TxnId, TimeoutMs));
        Assert.Equal(ErrorCode.ProducerFenced, C.InitProducerId(TxnId, TimeoutMs, mine).Error);
    }

    [Fact]
    public void An_exhausted_epoch_rotates_to_a_new_producer_id_at_epoch_0_and_a_retry_of_the_rotation_is_answered_again()
    {
        var exhausted = (short)(short.MaxValue - 1);
        _h.InitializeStoredAs(t => t with { ProducerEpoch = exhausted, State = TransactionState.CompleteCommit, TxnStartTimestamp = 0 });
        var oldId = _h.Describe().ProducerId;

        var rotated = _h.Run(C.InitProducerId(TxnId, TimeoutMs, new ProducerIdAndEpoch(oldId, exhausted)));

        Assert.Equal(ErrorCode.None, rotated.Error);
        Assert.NotEqual(oldId, rotated.ProducerId);
        Assert.Equal((short)0, rotated.ProducerEpoch);
        Assert.Equal((oldId, exhausted), (_h.Describe().LastProducerId, _h.Describe().LastProducerEpoch));
        var retried = _h.Run(C.InitProducerId(TxnId, TimeoutMs, new ProducerIdAndEpoch(oldId, exhausted)));
        Assert.Equal((rotated.ProducerId, (short)0), (retried.ProducerId, retried.ProducerEpoch));
    }

    [Fact]
    public void Fencing_at_the_last_client_epoch_reaches_short_MaxValue_and_the_retry_rotates_the_producer_id()
    {
        _h.InitializeStoredAs(t => t with { ProducerEpoch = short.MaxValue - 2 });
        var producer = _h.BeginTransaction(0);
        Assert.Equal(short.MaxValue - 1, producer.Epoch);

        var fence = _h.Run(C.InitProducerId(TxnId, TimeoutMs));
        Assert.Equal(short.MaxValue, fence.Markers!.Markers[0].ProducerEpoch);
        _h.WriteAllMarkers(fence.Markers);
        var retry = _h.Run(C.InitProducerId(TxnId, TimeoutMs));

        Assert.NotEqual(producer.ProducerId, retry.ProducerId);
        Assert.Equal((short)0, retry.ProducerEpoch);
        Assert.Equal((short)-1, _h.Describe().LastProducerEpoch);
    }

    [Fact]
    public void A_producer_fenced_at_the_last_client_epoch_cannot_recover_with_KIP_360_and_gets_ProducerFenced()
    {
        _h.InitializeStoredAs(t => t with { ProducerEpoch = short.MaxValue - 2 });
        var zombie = _h.BeginTransaction(0);
        _h.WriteAllMarkers(_h.Run(C.InitProducerId(TxnId, TimeoutMs)).Markers!);

        Assert.Equal(ErrorCode.ProducerFenced, C.InitProducerId(TxnId, TimeoutMs, zombie).Error);
        Assert.Equal((TransactionState.CompleteAbort, short.MaxValue), (_h.Describe().TxnState, _h.Describe().ProducerEpoch));
    }

    [Fact]
    public void A_first_InitProducerId_whose_write_failed_leaves_nothing_behind()
    {
        var op = C.InitProducerId(TxnId, TimeoutMs);

        C.FailWrite(op.Write!, ErrorCode.CoordinatorNotAvailable);

        Assert.Equal(0, C.StateManager.Count);
        Assert.Equal(ErrorCode.None, _h.Run(C.InitProducerId(TxnId, TimeoutMs)).Error);
    }

    [Fact]
    public void A_transaction_open_longer_than_its_timeout_is_aborted_with_a_bumped_epoch()
    {
        var producer = _h.BeginTransaction(0);
        _h.Time.Advance(TimeSpan.FromMilliseconds(TimeoutMs));
        Assert.Empty(C.AbortTimedOutTransactions());

        _h.Time.Advance(TimeSpan.FromMilliseconds(1));
        var write = Assert.Single(C.AbortTimedOutTransactions());
        Assert.Empty(C.AbortTimedOutTransactions());
        var aborted = _h.Store(write);

        Assert.Equal(ErrorCode.None, aborted.Error);
        Assert.Equal((TransactionState.PrepareAbort, (short)(producer.Epoch + 1)), (_h.Describe().TxnState, _h.Describe().ProducerEpoch));
        Assert.Equal(TransactionResult.Abort, aborted.Markers!.Result);
        Assert.Equal(ErrorCode.ProducerFenced, C.EndTxn(TxnId, producer.ProducerId, producer.Epoch, TransactionResult.Commit).Error);
        _h.WriteAllMarkers(aborted.Markers);
        Assert.Equal(TransactionState.CompleteAbort, _h.Describe().TxnState);
        Assert.Empty(C.AbortTimedOutTransactions());
    }

    [Fact]
    public void A_transaction_loaded_by_a_new_activation_times_out_from_its_stored_start_not_from_the_load()
    {
        var producer = _h.BeginTransaction(0);
        var started = _h.Describe().TxnStartTimestamp;

        // Several coordinator moves during the transaction: each activation loads it from storage, later each time.
        for (var move = 0; move < 4; move++)
        {
            _h.Time.Advance(TimeSpan.FromMilliseconds(TimeoutMs / 5));
            _h.Activate();
            Assert.Equal((TransactionState.Ongoing, started), (_h.Describe().TxnState, _h.Describe().TxnStartTimestamp));
            Assert.Empty(C.AbortTimedOutTransactions());
        }
        _h.Time.Advance(TimeSpan.FromMilliseconds(TimeoutMs / 5 + 1));
        _h.Activate();

        var write = Assert.Single(C.AbortTimedOutTransactions());
        var aborted = _h.Store(write);
        Assert.Equal((TransactionState.PrepareAbort, (short)(producer.Epoch + 1)), (_h.Describe().TxnState, _h.Describe().ProducerEpoch));
        _h.WriteAllMarkers(aborted.Markers!);
        Assert.Equal(TransactionState.CompleteAbort, _h.Describe().TxnState);
    }

    [Fact]
    public void A_transactional_id_at_rest_expires_after_transactional_id_expiration_ms_and_is_forgotten_once_stored()
    {
        var h = new TransactionCoordinatorHarness(o => o.TransactionalIdExpirationMs = 100_000);
        var producer = h.BeginTransaction(0);
        h.Run(h.Coordinator.AddPartitionsToTxn("other", 0, 0, [P(0)]));
        h.Time.Advance(TimeSpan.FromMilliseconds(200_000));
        Assert.Empty(h.Coordinator.RemoveExpiredTransactionalIds());
        h.WriteAllMarkers(h.Run(h.Coordinator.EndTxn(TxnId, producer.ProducerId, producer.Epoch, TransactionResult.Commit)).Markers!);

        h.Time.Advance(TimeSpan.FromMilliseconds(99_999));
        Assert.Empty(h.Coordinator.RemoveExpiredTransactionalIds());
        h.Time.Advance(TimeSpan.FromMilliseconds(1));
        var write = Assert.Single(h.Coordinator.RemoveExpiredTransactionalIds());
        Assert.Equal(ErrorCode.ConcurrentTransactions, h.Coordinator.InitProducerId(TxnId, TimeoutMs).Error);
        Assert.Equal(ErrorCode.None, h.Store(write).Error);

        Assert.Empty(h.Stored!.Transactions);
        Assert.Null(h.Coordinator.Describe(TxnId));
        var again = h.Run(h.Coordinator.InitProducerId(TxnId, TimeoutMs));
        Assert.Equal((short)0, again.ProducerEpoch);
        Assert.NotEqual(producer.ProducerId, again.ProducerId);
    }

    [Fact]
    public void A_failed_write_leaves_the_state_in_force_and_the_id_takes_requests_again()
    {
        var producer = _h.BeginTransaction(0);
        var end = C.EndTxn(TxnId, producer.ProducerId, producer.Epoch, TransactionResult.Commit);

        Assert.Equal(ErrorCode.CoordinatorNotAvailable, C.FailWrite(end.Write!, ErrorCode.CoordinatorNotAvailable).Error);

        Assert.Equal(TransactionState.Ongoing, _h.Describe().TxnState);
        Assert.Equal(TransactionState.Ongoing, _h.Stored!.Transactions[0].State);
        Assert.Equal(ErrorCode.NotCoordinator, C.CompleteWrite(end.Write!).Error);
        Assert.Equal(TransactionState.Ongoing, _h.Describe().TxnState);
        Assert.Equal(ErrorCode.None, _h.Run(C.EndTxn(TxnId, producer.ProducerId, producer.Epoch, TransactionResult.Commit)).Error);
        Assert.Equal(TransactionState.PrepareCommit, _h.Describe().TxnState);
    }

    [Fact]
    public void A_write_completed_twice_applies_once()
    {
        var producer = _h.BeginTransaction(0);
        var end = C.EndTxn(TxnId, producer.ProducerId, producer.Epoch, TransactionResult.Abort);
        var first = _h.Store(end.Write!);

        Assert.Equal(ErrorCode.None, first.Error);
        Assert.Equal(ErrorCode.NotCoordinator, C.CompleteWrite(end.Write!).Error);
        Assert.Same(first.Markers, Assert.Single(C.PendingMarkers()));
    }

    [Fact]
    public void A_write_prepared_before_a_reload_is_stale_and_changes_nothing()
    {
        var producer = _h.BeginTransaction(0);
        var end = C.EndTxn(TxnId, producer.ProducerId, producer.Epoch, TransactionResult.Commit);
        var epoch = C.CoordinatorEpoch;

        _h.Reload();

        Assert.Equal(epoch + 1, C.CoordinatorEpoch);
        Assert.Equal(ErrorCode.NotCoordinator, C.CompleteWrite(end.Write!).Error);
        Assert.Equal(TransactionState.Ongoing, _h.Describe().TxnState);
        // Nothing of the stale prepare is pending: the id takes EndTxn at once, under the new epoch.
        var write = C.EndTxn(TxnId, producer.ProducerId, producer.Epoch, TransactionResult.Commit).Write!;
        Assert.Equal(epoch + 1, write.CoordinatorEpoch);
        Assert.Equal(ErrorCode.NotCoordinator, C.FailWrite(end.Write!, ErrorCode.NotCoordinator).Error);
        Assert.Equal(ErrorCode.None, _h.Store(write).Error);
    }

    [Fact]
    public void A_new_activation_resumes_the_marker_phase_of_every_prepared_transaction_under_its_own_coordinator_epoch()
    {
        var producer = _h.BeginTransaction(0, 1);
        var before = _h.Run(C.EndTxn(TxnId, producer.ProducerId, producer.Epoch, TransactionResult.Commit)).Markers!;
        Assert.Null(C.OnMarkersWritten(before, [TxnParticipant.Of(P(0))]));

        _h.Activate();

        var resumed = Assert.Single(C.PendingMarkers());
        Assert.Equal(C.CoordinatorEpoch, resumed.CoordinatorEpoch);
        Assert.All(resumed.Markers, m => Assert.Equal(C.CoordinatorEpoch, m.CoordinatorEpoch));
        Assert.Equal(2, resumed.Unwritten.Count);
        Assert.Null(C.OnMarkersWritten(before, [TxnParticipant.Of(P(1))]));
        // A stale activation may still send its markers: partitions refuse them by their lower coordinator epoch.
        Assert.True(before.CoordinatorEpoch < resumed.CoordinatorEpoch);
        var complete = C.OnMarkersWritten(resumed, [TxnParticipant.Of(P(0)), TxnParticipant.Of(P(1))]);
        Assert.NotNull(complete);
        _h.Store(complete);
        Assert.Equal(TransactionState.CompleteCommit, _h.Describe().TxnState);
    }

    [Fact]
    public void Marker_reports_are_idempotent_and_a_late_report_of_an_earlier_transaction_cannot_complete_the_next()
    {
        var producer = _h.BeginTransaction(0);
        var first = _h.Run(C.EndTxn(TxnId, producer.ProducerId, producer.Epoch, TransactionResult.Commit)).Markers!;
        var complete = C.OnMarkersWritten(first, [TxnParticipant.Of(P(0))])!;
        Assert.Null(C.OnMarkersWritten(first, [TxnParticipant.Of(P(0))]));
        _h.Store(complete);
        Assert.Null(C.OnMarkersWritten(first, [TxnParticipant.Of(P(0))]));

        _h.Add(producer.ProducerId, producer.Epoch, 0);
        var second = _h.Run(C.EndTxn(TxnId, producer.ProducerId, producer.Epoch, TransactionResult.Commit)).Markers!;
        Assert.Equal(first.Markers, second.Markers);

        Assert.Null(C.OnMarkersWritten(first, [TxnParticipant.Of(P(0))]));
        Assert.Equal(TransactionState.PrepareCommit, _h.Describe().TxnState);
        Assert.Single(second.Unwritten);
    }

    [Fact]
    public void A_failed_completion_write_is_prepared_again_by_the_next_report()
    {
        var producer = _h.BeginTransaction(0);
        var markers = _h.Run(C.EndTxn(TxnId, producer.ProducerId, producer.Epoch, TransactionResult.Abort)).Markers!;
        var complete = C.OnMarkersWritten(markers, [TxnParticipant.Of(P(0))])!;
        Assert.Null(C.OnMarkersWritten(markers, []));

        C.FailWrite(complete, ErrorCode.CoordinatorNotAvailable);
        Assert.Equal(TransactionState.PrepareAbort, _h.Describe().TxnState);
        var again = C.OnMarkersWritten(markers, []);

        Assert.NotNull(again);
        _h.Store(again);
        Assert.Equal(TransactionState.CompleteAbort, _h.Describe().TxnState);
    }

    [Fact]
    public void KIP_890_verification_accepts_only_partitions_durably_in_the_open_transaction_of_that_epoch()
    {
        var init = _h.Run(C.InitProducerId(TxnId, TimeoutMs));
        var add = C.AddPartitionsToTxn(TxnId, init.ProducerId, init.ProducerEpoch, [P(0)]);
        Assert.Equal(ErrorCode.TransactionAbortable, C.VerifyPartitionInTxn(TxnId, init.ProducerId, init.ProducerEpoch, P(0)));
        _h.Store(add.Write!);

        Assert.Equal(ErrorCode.None, C.VerifyPartitionInTxn(TxnId, init.ProducerId, init.ProducerEpoch, P(0)));
        Assert.Equal(ErrorCode.TransactionAbortable, C.VerifyPartitionInTxn(TxnId, init.ProducerId, init.ProducerEpoch, P(1)));
        Assert.Equal(ErrorCode.ProducerFenced, C.VerifyPartitionInTxn(TxnId, init.ProducerId, (short)(init.ProducerEpoch - 1), P(0)));
        Assert.Equal(ErrorCode.InvalidProducerIdMapping, C.VerifyPartitionInTxn(TxnId, init.ProducerId + 9, init.ProducerEpoch, P(0)));

        var markers = _h.Run(C.EndTxn(TxnId, init.ProducerId, init.ProducerEpoch, TransactionResult.Commit)).Markers!;
        Assert.Equal(ErrorCode.ConcurrentTransactions, C.VerifyPartitionInTxn(TxnId, init.ProducerId, init.ProducerEpoch, P(0)));
        _h.WriteAllMarkers(markers);
        // A produce of the committed transaction that arrives late is not let into whatever comes next.
        Assert.Equal(ErrorCode.TransactionAbortable, C.VerifyPartitionInTxn(TxnId, init.ProducerId, init.ProducerEpoch, P(0)));
    }

    /// <summary>
    /// Kafka's answers to the producer for the coordinator's (AddPartitionsToTxnManager, ReplicaManager.handleProduceAppend):
    /// TransactionAbortable only to a client that takes it (Produce v11+, genericError), InvalidTxnState to older ones;
    /// the coordinator's retriable errors NotEnoughReplicas and ProducerFenced InvalidProducerEpoch at every version.
    /// </summary>
    [Theory]
    [InlineData(ErrorCode.TransactionAbortable, false, ErrorCode.InvalidTxnState)]
    [InlineData(ErrorCode.TransactionAbortable, true, ErrorCode.TransactionAbortable)]
    [InlineData(ErrorCode.ConcurrentTransactions, false, ErrorCode.NotEnoughReplicas)]
    [InlineData(ErrorCode.ConcurrentTransactions, true, ErrorCode.NotEnoughReplicas)]
    [InlineData(ErrorCode.CoordinatorNotAvailable, true, ErrorCode.NotEnoughReplicas)]
    [InlineData(ErrorCode.CoordinatorLoadInProgress, true, ErrorCode.NotEnoughReplicas)]
    [InlineData(ErrorCode.NotCoordinator, false, ErrorCode.NotEnoughReplicas)]
    [InlineData(ErrorCode.ProducerFenced, true, ErrorCode.InvalidProducerEpoch)]
    [InlineData(ErrorCode.InvalidProducerIdMapping, true, ErrorCode.InvalidProducerIdMapping)]
    [InlineData(ErrorCode.None, false, ErrorCode.None)]
    public void KIP_890_verification_answers_reach_the_producer_as_Kafka_maps_them_by_version(ErrorCode coordinator, bool takesTransactionAbortable, ErrorCode client) =>
        Assert.Equal(client, TransactionVerifier.ForClient(coordinator, takesTransactionAbortable));

    /// <summary>The coordinator of the harness's current activation.</summary>
    private TransactionCoordinator C => _h.Coordinator;
}
