using Microsoft.Extensions.Options;
using Orleans.Configuration;
using OrleansStream.Server.Transactions;
using static OrleansStream.Server.Tests.Transactions.TransactionCoordinatorHarness;

namespace OrleansStream.Server.Tests.Transactions;

/// <summary>
/// Transactions v2 (KIP-890 part 2) at the coordinator: every EndTxn bumps the producer epoch, its markers carry the
/// bumped epoch, the answer names the id and epoch of the next transaction, a retry is told from the next transaction's
/// EndTxn by its epoch being one below, and a bump that exhausts the epoch moves to a new producer id.
/// </summary>
public sealed class TransactionsV2CoordinatorTests
{
    private const short V2 = 2;

    private readonly TransactionCoordinatorHarness _h = new();

    private TransactionCoordinator C => _h.Coordinator;

    /// <summary>InitProducerId, then the partitions added as a partition leader adds them for a v2 producer.</summary>
    private ProducerIdAndEpoch BeginV2(params int[] partitions)
    {
        var init = _h.Run(C.InitProducerId(TxnId, TimeoutMs));
        Assert.Equal(ErrorCode.None, init.Error);
        AddV2(init.ProducerId, init.ProducerEpoch, partitions);
        return new ProducerIdAndEpoch(init.ProducerId, init.ProducerEpoch);
    }

    private void AddV2(long producerId, short epoch, params int[] partitions)
    {
        var list = new List<TopicPartition>();
        foreach (var p in partitions) list.Add(P(p));
        Assert.Equal(ErrorCode.None, _h.Run(C.AddPartitionsToTxn(TxnId, producerId, epoch, list, V2)).Error);
    }

    [Fact]
    public void EndTxn_bumps_the_epoch_its_markers_carry_answers_it_for_the_next_transaction_and_a_retry_gets_it_again()
    {
        var producer = BeginV2(0);
        var (id, epoch) = (producer.ProducerId, producer.Epoch);
        Assert.Equal(V2, _h.Describe().ClientTransactionVersion);

        var end = _h.Run(C.EndTxn(TxnId, id, epoch, TransactionResult.Commit, V2));

        Assert.Equal((ErrorCode.None, id, (short)(epoch + 1)), (end.Error, end.ProducerId, end.ProducerEpoch));
        var markers = Assert.IsType<TxnMarkerRequest>(end.Markers);
        Assert.Equal([new TxnMarker(TxnParticipant.Of(P(0)), id, (short)(epoch + 1), C.CoordinatorEpoch, TransactionResult.Commit)], markers.Markers);
        var stored = _h.Stored!.Transactions[0];
        Assert.Equal((TransactionState.PrepareCommit, (short)(epoch + 1), epoch, V2),
            (stored.State, stored.ProducerEpoch, stored.LastProducerEpoch, stored.ClientTransactionVersion));
        // While the markers are written a retry (its epoch one below) waits; the next transaction cannot start yet.
        Assert.Equal(ErrorCode.ConcurrentTransactions, C.EndTxn(TxnId, id, epoch, TransactionResult.Commit, V2).Error);
        Assert.Equal(ErrorCode.ConcurrentTransactions, C.AddPartitionsToTxn(TxnId, id, (short)(epoch + 1), [P(1)], V2).Error);

        _h.WriteAllMarkers(markers);

        var retry = C.EndTxn(TxnId, id, epoch, TransactionResult.Commit, V2);
        Assert.Equal((ErrorCode.None, id, (short)(epoch + 1)), (retry.Error, retry.ProducerId, retry.ProducerEpoch));
        Assert.Null(retry.Write);
        Assert.Equal(ErrorCode.InvalidTxnState, C.EndTxn(TxnId, id, epoch, TransactionResult.Abort, V2).Error);
        // The ended transaction's epoch can add nothing more: a late first write of it is fenced.
        Assert.Equal(ErrorCode.ProducerFenced, C.AddPartitionsToTxn(TxnId, id, epoch, [P(1)], V2).Error);
        // Nothing added at the new epoch: its EndTxn is no retry and no transaction, Kafka's ProducerFenced.
        Assert.Equal(ErrorCode.ProducerFenced, C.EndTxn(TxnId, id, (short)(epoch + 1), TransactionResult.Commit, V2).Error);

        AddV2(id, (short)(epoch + 1), 1);
        var abort = _h.Run(C.EndTxn(TxnId, id, (short)(epoch + 1), TransactionResult.Abort, V2));
        Assert.Equal((ErrorCode.None, id, (short)(epoch + 2)), (abort.Error, abort.ProducerId, abort.ProducerEpoch));
        Assert.Equal((short)(epoch + 2), abort.Markers!.Markers[0].ProducerEpoch);
    }

    [Fact]
    public void A_commit_whose_bump_exhausts_the_epoch_moves_to_a_new_producer_id_at_epoch_0_across_a_reload_and_its_retry_gets_the_same()
    {
        var last = (short)(short.MaxValue - 1);
        _h.InitializeStoredAs(t => t with { ProducerEpoch = last, State = TransactionState.CompleteCommit, TxnStartTimestamp = 0 });
        var oldId = _h.Describe().ProducerId;
        AddV2(oldId, last, 0);

        var end = _h.Run(C.EndTxn(TxnId, oldId, last, TransactionResult.Commit, V2));

        Assert.Equal(ErrorCode.None, end.Error);
        var newId = end.ProducerId;
        Assert.NotEqual(oldId, newId);
        Assert.Equal((short)0, end.ProducerEpoch);
        Assert.Equal((oldId, short.MaxValue), (end.Markers!.Markers[0].ProducerId, end.Markers.Markers[0].ProducerEpoch));
        Assert.Equal(newId, _h.Stored!.Transactions[0].NextProducerId);

        // A new activation resumes the markers and completes onto the next producer id.
        _h.Activate();
        var pending = Assert.Single(C.PendingMarkers());
        _h.WriteAllMarkers(pending);
        var described = _h.Describe();
        Assert.Equal((newId, (short)0, oldId, TransactionState.CompleteCommit),
            (described.ProducerId, described.ProducerEpoch, described.LastProducerId, described.TxnState));
        Assert.Null(_h.Stored!.Transactions[0].NextProducerId);

        var retry = C.EndTxn(TxnId, oldId, last, TransactionResult.Commit, V2);
        Assert.Equal((ErrorCode.None, newId, (short)0), (retry.Error, retry.ProducerId, retry.ProducerEpoch));
        AddV2(newId, 0, 0);
    }

    [Fact]
    public void Fencing_a_v2_transaction_bumps_its_epoch_twice_so_that_the_fenced_producers_EndTxn_is_no_retry()
    {
        var producer = BeginV2(0);

        var fence = _h.Run(C.InitProducerId(TxnId, TimeoutMs));

        Assert.Equal(ErrorCode.ConcurrentTransactions, fence.Error);
        Assert.Equal((short)(producer.Epoch + 2), fence.Markers!.Markers[0].ProducerEpoch);
        _h.WriteAllMarkers(fence.Markers);
        Assert.Equal(ErrorCode.ProducerFenced, C.EndTxn(TxnId, producer.ProducerId, producer.Epoch, TransactionResult.Abort, V2).Error);
        Assert.Equal(ErrorCode.ProducerFenced, C.EndTxn(TxnId, producer.ProducerId, producer.Epoch, TransactionResult.Commit, V2).Error);
        var retry = _h.Run(C.InitProducerId(TxnId, TimeoutMs));
        Assert.Equal((short)(producer.Epoch + 3), retry.ProducerEpoch);
    }

    [Fact]
    public void Transaction_version_defaults_to_2_and_takes_0_to_2_only()
    {
        var validator = new TransactionCoordinatorOptionsValidator(Options.Create(new SiloMessagingOptions()));
        Assert.Equal(2, new TransactionCoordinatorOptions().TransactionVersion);
        foreach (short level in new short[] { 0, 1, 2 })
            Assert.True(validator.Validate(null, new TransactionCoordinatorOptions { TransactionVersion = level }).Succeeded);
        Assert.Contains("transaction.version", validator.Validate(null, new TransactionCoordinatorOptions { TransactionVersion = 3 }).FailureMessage);
        Assert.True(validator.Validate(null, new TransactionCoordinatorOptions { TransactionVersion = -1 }).Failed);
    }

    [Fact]
    public void A_transaction_of_v1_keeps_its_epoch_at_EndTxn_and_its_retry_is_the_same_epoch()
    {
        var producer = _h.BeginTransaction(0);

        var end = _h.Run(C.EndTxn(TxnId, producer.ProducerId, producer.Epoch, TransactionResult.Commit));

        Assert.Equal(producer.Epoch, end.Markers!.Markers[0].ProducerEpoch);
        Assert.Equal((short)0, _h.Stored!.Transactions[0].ClientTransactionVersion);
        _h.WriteAllMarkers(end.Markers);
        Assert.Equal(ErrorCode.None, C.EndTxn(TxnId, producer.ProducerId, producer.Epoch, TransactionResult.Commit).Error);
        Assert.Equal(ErrorCode.ProducerFenced, C.EndTxn(TxnId, producer.ProducerId, (short)(producer.Epoch - 1), TransactionResult.Commit).Error);
    }
}
