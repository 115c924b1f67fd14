using System.Globalization;
using Microsoft.Extensions.Options;
using Orleans.Concurrency;
using OrleansStream.Server.Cluster;
using OrleansStream.Server.Controller;
using OrleansStream.Server.Placement;
using OrleansStream.Server.Replication;
using OrleansStream.Server.Tiering;
using OrleansStream.Server.Transactions;
using OrleansStream.Server.Diagnostics;
using OrleansStream.Storage;
using OrleansStream.Records;
using OrleansStream.Storage.Producers;
using OrleansStream.Storage.Tiering;

namespace OrleansStream.Server.Partitions;

/// <summary>
/// One replica of one partition on its broker's silo: the request handlers, LeaderAndIsr and the timers. The leader
/// appends and serves fetches, its replication state is a <see cref="Partition"/>; a follower pulls from the leader
/// with a <see cref="ReplicaFetcher"/>. Reentrant so that long-polls and acks=all waits do not block appends: every state change is
/// synchronous (no await inside an append, a truncation or a state change), and code after an await re-checks
/// the role and epoch it relied on.
/// <para>
/// Orleans deactivates a replica (its silo's graceful stop, the death of the silo holding its directory entry,
/// <c>DeactivateOnIdle</c>) only once its running requests have ended, and holds every new call meanwhile, the
/// followers' fetches and the controller's LeaderAndIsr included: a parked acks=all produce could then never complete
/// and would hold the deactivation, and every producer behind it, for its whole request timeout. When the deactivation
/// starts (<see cref="IDeactivationListener"/>) the replica stops serving: parked produces answer
/// <see cref="ErrorCode.NotLeaderOrFollower"/>, as Kafka's broker does when leadership moves, parked fetches wake and
/// answer the same, and the clients retry at the partition's leader once the metadata says who (an idempotent
/// producer's retry is deduplicated).
/// </para>
/// </summary>
[GrainType("os-replica")]
[BrokerPlacement]
[Reentrant]
[KeepAlive]
internal sealed partial class PartitionReplicaGrain(
    IOptions<BrokerOptions> options,
    BrokerIdentity identity,
    TimeProvider time,
    RemoteLogManagerFactory tiering,
    OrleansStreamMetrics metrics,
    LocalPartitionDirectories directories,
    IOptions<TransactionCoordinatorOptions> transactions,
    SiloDepartures departures,
    ILogger<PartitionReplicaGrain> logger)
    : Grain, IPartitionReplicaGrain, IReplicaFetchGrain, IDeactivationListener, IDisposable
{
    private readonly BrokerOptions _options = options.Value;
    private string _topic = "";
    private int _partition;
    private int _replicaId;
    private PartitionState? _state;
    private PartitionLog? _log;
    private string? _logError;
    private IGrainTimer? _retentionTimer;
    private IGrainTimer? _producerExpirationTimer;
    private PartitionMetrics _metrics = null!;
    private TransactionVerifier _verifications = null!;

    // Leader with remote.storage.enable: copies closed segments to the tier, serves fetches below the local log start.
    // Follower: deletes local segments the tier holds, per local retention.
    private RemoteLogManager? _remote;
    private bool _remoteAsLeader;
    private IGrainTimer? _tieringTimer;

    private Partition _replication = null!;
    private ReplicaFetcher _fetcher = null!;
    private bool _isrChangeInFlight;
    // The last append of a topic with a compression.type: the next one waits for it, so appends keep arrival order.
    private Task _appendOrder = Task.CompletedTask;
    private IGrainTimer? _isrTimer;
    private bool _deactivating;
    private IGrainTimer? _openRetryTimer;
    private TimeSpan _openRetryDelay;
    // DeleteReplica ran: this activation serves no partition again, a late answer about the deleted incarnation (its
    // topic id) reopens nothing, and a directory another log held is deleted once it is free.
    private bool _deleted;
    private bool _deletePending;
    private Guid? _deletedTopicId;

    private static readonly TimeSpan MinOpenRetryDelay = TimeSpan.FromMilliseconds(50);
    private static readonly TimeSpan MaxOpenRetryDelay = TimeSpan.FromSeconds(1);

    // Below Orleans' 30 s response timeout, so the caller hears the answer.
    private const int MaxDelayedOperationMs = 15_000;

    private bool IsLeader => _state is { } s && s.Leader == _replicaId && _log is not null && !_deactivating;

    private int LeaderEpoch => _state?.LeaderEpoch ?? -1;

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        (_topic, _partition, _replicaId) = GrainKeys.ParseReplica(this.GetPrimaryKeyString());
        _metrics = metrics.ForPartition(_topic, _partition);
        _verifications = new TransactionVerifier(GrainFactory, departures, transactions);
        _replication = new Partition(_topic, _partition, _replicaId, _options.ReplicaLagTimeMaxMs, time);
        _fetcher = new ReplicaFetcher(this.GetPrimaryKeyString(), _replicaId, identity.BrokerId, _options, GrainFactory, _replication, tiering.Store, time, logger);
        await directories.WhenServingAsync(cancellationToken);
        var state = await departures.Call(GrainFactory.GetGrain<IControllerInternalGrain>(GrainKeys.Controller).GetPartitionState(_topic, _partition));
        // Orleans stops waiting for an activation it cancels while this code runs on, and never deactivates it: no log
        // may be opened then (see Dispose).
        cancellationToken.ThrowIfCancellationRequested();
        if (state is not null && _state is null) Apply(state);
        // Interleaving: compaction cleans on the thread pool while produce and fetch run; only the swap takes a turn.
        _retentionTimer = this.RegisterGrainTimer(
            static (self, _) => self.ApplyRetentionAsync(), this,
            new GrainTimerCreationOptions(TimeSpan.FromMilliseconds(_options.LogRetentionCheckIntervalMs), TimeSpan.FromMilliseconds(_options.LogRetentionCheckIntervalMs)) { Interleave = true });
        _producerExpirationTimer = this.RegisterGrainTimer(
            static (self, _) => self.RemoveExpiredProducers(), this,
            new GrainTimerCreationOptions(TimeSpan.FromMilliseconds(_options.ProducerIdExpirationCheckIntervalMs), TimeSpan.FromMilliseconds(_options.ProducerIdExpirationCheckIntervalMs)) { Interleave = true });
        _isrTimer = this.RegisterGrainTimer(
            static (self, _) => self.CheckIsrAsync(), this,
            new GrainTimerCreationOptions(TimeSpan.FromMilliseconds(_options.ReplicaLagTimeMaxMs / 2.0), TimeSpan.FromMilliseconds(_options.ReplicaLagTimeMaxMs / 2.0)) { Interleave = true });
    }

    public void OnDeactivating()
    {
        _deactivating = true;
        _replication?.StopLeading(ErrorCode.NotLeaderOrFollower); // null when deactivated before its activation ran
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        _deactivating = true;
        _openRetryTimer?.Dispose();
        _retentionTimer?.Dispose();
        _producerExpirationTimer?.Dispose();
        _isrTimer?.Dispose();
        _metrics.Dispose();
        StopTiering();
        await _fetcher.StopAsync();
        _replication.StopLeading(ErrorCode.NotLeaderOrFollower);
        // Kept alive, yet deactivated while its broker stays (Orleans' DirectoryFailure when the silo holding its
        // directory registration leaves, even gracefully): nothing else calls a follower, which would stop fetching
        // and hold the high watermark, and every acks=all produce, until the leader drops it from the ISR at
        // replica.lag.time.max.ms. It calls itself: Orleans holds the call until this deactivation completes and
        // then delivers it to the next activation, on this broker.
        if (CloseLog(reason.Description) && reason.ReasonCode != DeactivationReasonCode.ShuttingDown)
            GrainFactory.GetGrain<IPartitionReplicaGrain>(this.GetPrimaryKeyString()).GetStatus().Ignore();
    }

    /// <summary>
    /// Orleans disposes every activation it ends, and runs <see cref="OnDeactivateAsync"/> only for one whose activation
    /// completed: an activation it cancelled, or whose <see cref="OnActivateAsync"/> failed after the open, closes its
    /// log here, so that the directory's lock is released for the next activation.
    /// </summary>
    public void Dispose()
    {
        _deactivating = true;
        _openRetryTimer?.Dispose();
        if (_log is null) return;
        StopTiering();
        _fetcher?.Stop();
        _replication?.StopLeading(ErrorCode.NotLeaderOrFollower);
        CloseLog("activation ended before it completed");
    }

    /// <summary>Closes the open log, releasing its directory; false when none was open.</summary>
    private bool CloseLog(string why)
    {
        if (_log is not { } log) return false;
        _log = null;
        log.Dispose();
        LogClosed(this.GetPrimaryKeyString(), log.LogEndOffset, why);
        return true;
    }

    public Task<ErrorCode> LeaderAndIsr(PartitionState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        if (_state is { } current && state.IsOlderThan(current))
            return Task.FromResult(state.LeaderEpoch < current.LeaderEpoch ? ErrorCode.FencedLeaderEpoch : ErrorCode.InvalidUpdateVersion);
        Apply(state);
        if (_log is not null) return Task.FromResult(ErrorCode.None);
        return Task.FromResult(IsAssignedHere(state) ? ErrorCode.KafkaStorageError : ErrorCode.NotLeaderOrFollower);
    }

    public async Task DeleteReplica()
    {
        _retentionTimer?.Dispose();
        _producerExpirationTimer?.Dispose();
        _isrTimer?.Dispose();
        _metrics.Dispose();
        StopTiering();
        _deleted = true;
        _deletedTopicId = _state?.TopicId;
        _state = null;
        await _fetcher.StopAsync();
        _replication.StopLeading(ErrorCode.UnknownTopicOrPartition);
        if (_log is not null)
        {
            _log.Delete();
            _log = null;
            Deleted();
        }
        else DeleteDirectory();
    }

    /// <summary>
    /// Deletes the directory of a replica whose log is not open here, under the directory's lock: while another log
    /// holds it (a previous activation still closing, an open under way) the delete waits, as an open does, unless the
    /// topic is created again first (the new incarnation's open wipes the old data by its topic id).
    /// </summary>
    private void DeleteDirectory()
    {
        try
        {
            LogDirectoryLock.Delete(PartitionDirectory());
        }
        catch (LogDirectoryInUseException e)
        {
            _deletePending = true;
            RetryWhenDirectoryFree(e);
            return;
        }
        Deleted();
    }

    /// <summary>
    /// The topic was created again while this deleted activation lingers (its timers are gone): the next activation
    /// serves it, pulling its state from the controller; a call to itself starts that one once this one has ended.
    /// </summary>
    private void RestartForNewIncarnation()
    {
        // The new incarnation's open checks the topic id and wipes what the pending delete would have removed.
        _deletePending = false;
        DeactivateOnIdle();
        GrainFactory.GetGrain<IPartitionReplicaGrain>(this.GetPrimaryKeyString()).GetStatus().Ignore();
    }

    private void Deleted()
    {
        _deletePending = false;
        _openRetryDelay = TimeSpan.Zero;
        LogDeleted(this.GetPrimaryKeyString());
        DeactivateOnIdle();
    }

    /// <summary>
    /// Kafka's WriteTxnMarkers for this partition: the COMMIT or ABORT control batch, appended by the leader as the
    /// coordinator's (producer epoch and coordinator epoch checked, no sequence) and answered once the ISR has it.
    /// </summary>
    public async Task<ErrorCode> WriteTxnMarker(WriteTxnMarkerRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (CheckLeader(request.CurrentLeaderEpoch) is { } notLeader) return notLeader.Error;
        if (_replication.CheckEnoughReplicas() is { } notEnough) return notEnough.Error;
        var log = _log!;
        LogAppendInfo info;
        try
        {
            using var builder = new RecordBatchBuilder(64);
            new EndTransactionMarker(request.Commit ? ControlRecordType.Commit : ControlRecordType.Abort, request.CoordinatorEpoch)
                .WriteBatch(builder, request.ProducerId, request.ProducerEpoch, time.GetUtcNow().ToUnixTimeMilliseconds());
            info = _replication.AppendRecordsToLeader(builder.Seal().Span, AppendOrigin.Coordinator);
        }
        catch (OrleansStreamException e)
        {
            LogMarkerRefused(this.GetPrimaryKeyString(), request.ProducerId, e.Code, e.Message);
            return e.Code;
        }
        catch (IOException e)
        {
            LogStorageError(e, this.GetPrimaryKeyString());
            return ErrorCode.KafkaStorageError;
        }
        _verifications.OnMarker(request.ProducerId);
        if (log.HighWatermark <= info.LastOffset)
        {
            var delayed = _replication.DelayProduce(info.LastOffset, transactions.Value.TransactionMarkerReplicationTimeoutMs, departures.Token);
            await delayed.Task;
            if (_replication.CompleteDelayedProduce(delayed) is { } failed) return failed.Error;
        }
        return ErrorCode.None;
    }

    public async Task<ProduceResponse> Produce(ProduceRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        PartitionLog log;
        LogAppendInfo info;
        // The grain owns the records (from another silo, a copy of its own): appended or refused, they go back then.
        try
        {
            if (CheckLeader(request.CurrentLeaderEpoch) is { } notLeader) return ProduceError(notLeader.Error, notLeader.Message);
            if (request.Acks is not (Acks.None or Acks.Leader or Acks.All))
                return ProduceError(ErrorCode.InvalidRequiredAcks, $"acks must be 0, 1 or -1 (all), not {(short)request.Acks}.");
            if (request.Acks == Acks.All && _replication.CheckEnoughReplicas() is { } notEnough) return ProduceError(notEnough.Error, notEnough.Message);
            if (TransactionVerifier.NeedsVerification(request.TransactionalId, request.Records.Span, _log!.ProducerStateManager, out var txnBatch))
            {
                var (verifyError, guard) = await _verifications.VerifyAsync(request.TransactionalId!, txnBatch.ProducerId, txnBatch.ProducerEpoch,
                    TxnParticipant.Of(new TopicPartition(_topic, _partition)), request.TakesTransactionAbortable, request.AddsPartitionToTxn);
                if (verifyError != ErrorCode.None)
                    return ProduceError(verifyError, $"Partition {_topic}-{_partition} is not in the open transaction of '{request.TransactionalId}' (producer {txnBatch.ProducerId}, epoch {txnBatch.ProducerEpoch}): {verifyError}.");
                if (CheckLeader(request.CurrentLeaderEpoch) is { } lost) return ProduceError(lost.Error, lost.Message);
                if (!_verifications.IsStillValid(txnBatch.ProducerId, guard!))
                    return ProduceError(ErrorCode.InvalidTxnState, $"The transaction of producer {txnBatch.ProducerId} at {_topic}-{_partition} ended while it was verified.");
            }
            log = _log!;
            TaskCompletionSource? appended = null;
            PooledBuffer? recompressed = null;
            try
            {
                var records = request.Records.Memory;
                if (log.Config.TargetCompression is { } codec)
                {
                    // compression.type: batches in another codec are rewritten on the thread pool, off the turn, while the
                    // appends keep their arrival order (an idempotent producer's batches must land in sequence).
                    appended = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                    var previous = _appendOrder;
                    _appendOrder = appended.Task;
                    var rewriting = RecordBatchCompression.NeedsRecompression(records.Span, codec) ? RecompressOffTurn(records, codec) : null;
                    await previous;
                    if (rewriting is not null) records = (recompressed = await rewriting).WrittenMemory;
                    if (CheckLeader(request.CurrentLeaderEpoch) is { } lost) return ProduceError(lost.Error, lost.Message);
                    log = _log!;
                }
                // Records the grain may write (its own copy from another silo, the Kafka listener's lent frame) are
                // stamped where they lie; a borrowed view or a recompressed batch is copied into a rented buffer first.
                info = recompressed is null && request.Records.IsWritable
                    ? _replication.AppendOwnedRecordsToLeader(request.Records.WritableSpan)
                    : _replication.AppendRecordsToLeader(records.Span);
            }
            catch (OrleansStreamException e)
            {
                return ProduceError(e.Code, e.Message);
            }
            catch (IOException e)
            {
                LogStorageError(e, this.GetPrimaryKeyString());
                return ProduceError(ErrorCode.KafkaStorageError, e.Message);
            }
            finally
            {
                appended?.SetResult();
                recompressed?.Dispose();
            }
        }
        finally
        {
            request.Records.Dispose();
        }
        _metrics.Produced(info.RecordCount, info.Bytes, info.BatchCount);

        if (request.Acks == Acks.All && log.HighWatermark <= info.LastOffset)
        {
            var delayed = _replication.DelayProduce(info.LastOffset, request.TimeoutMs, departures.Token);
            await delayed.Task;
            if (_replication.CompleteDelayedProduce(delayed) is { } failed) return ProduceError(failed.Error, failed.Message);
        }
        return new ProduceResponse(ErrorCode.None, info.FirstOffset, info.LogAppendTimeMs, log.LogStartOffset);
    }

    // Its own method: a lambda in Produce would capture Produce's locals, a closure allocated on every produce.
    private static Task<PooledBuffer> RecompressOffTurn(ReadOnlyMemory<byte> records, CompressionType codec) =>
        Task.Run(() => Recompress(records, codec));

    private static PooledBuffer Recompress(ReadOnlyMemory<byte> records, CompressionType codec)
    {
        var output = new PooledBuffer(records.Length, RecordBatchCompression.DefaultMaxDecompressedBytes);
        try
        {
            using var scratch = new PooledBuffer(4 * records.Length, RecordBatchCompression.DefaultMaxDecompressedBytes);
            RecordBatchCompression.Recompress(records.Span, codec, output, scratch);
            return output;
        }
        catch
        {
            output.Dispose();
            throw;
        }
    }

    public async Task<FetchResponse> Fetch(FetchRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (CheckLeader(request.CurrentLeaderEpoch) is { } notLeader) return FetchError(notLeader.Error, notLeader.Message);
        if (request.MaxBytes < 0 || request.MinBytes < 0 || request.MaxWaitMs < 0)
            return FetchError(ErrorCode.InvalidRequest, "MaxBytes, MinBytes and MaxWaitMs must not be negative.");
        if (request.LastFetchedEpoch >= 0 && DivergingEpoch(request) is { } diverging) return diverging;
        var deadline = time.GetTimestamp() + (long)(request.MaxWaitMs * (time.TimestampFrequency / 1000.0));
        while (true)
        {
            if (CheckLeader(request.CurrentLeaderEpoch) is { } lost) return FetchError(lost.Error, lost.Message);
            var log = _log!;
            if (request.FetchOffset < log.LogStartOffset || request.FetchOffset > log.LogEndOffset)
                return FetchError(ErrorCode.OffsetOutOfRange,
                    $"Offset {request.FetchOffset} is outside [{log.LogStartOffset}, {log.LogEndOffset}] of {_topic}-{_partition}.");
            var hw = log.HighWatermark;
            var lso = log.LastStableOffset;
            var isolation = ToFetchIsolation(request.IsolationLevel);
            var upTo = log.FetchUpperBound(isolation);
            FetchDataInfo data = default;
            if (request.FetchOffset < upTo)
            {
                try
                {
                    data = _remote is { } remote && remote.IsRemote(request.FetchOffset)
                        ? await ReadRemoteAsync(remote, request, upTo, isolation)
                        : log.Read(request.FetchOffset, request.MaxBytes, isolation);
                }
                catch (OrleansStreamException e)
                {
                    return FetchError(e.Code, e.Message);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    LogStorageError(e, this.GetPrimaryKeyString());
                    return FetchError(ErrorCode.KafkaStorageError, $"Reading {_topic}-{_partition} at {request.FetchOffset} from the tier failed: {e.Message}");
                }
            }
            var remaining = time.GetElapsedTime(time.GetTimestamp(), deadline);
            var records = data.Records ?? PooledRecords.Empty;
            if (records.Length >= Math.Max(1, request.MinBytes) || remaining <= TimeSpan.Zero)
            {
                _metrics.Fetched(records.Span);
                return new FetchResponse(ErrorCode.None, hw, log.LogStartOffset, records, LastStableOffset: lso,
                    AbortedTransactions: ToAbortedTransactions(data.AbortedTransactions));
            }
            records.Dispose();
            // The last stable offset moves only with the high watermark (a transaction stays unstable until its marker
            // is below it), so read_committed long-polls wake on the same signal when a marker becomes stable.
            await _replication.WaitForHighWatermarkAsync(remaining);
        }
    }

    /// <summary>
    /// Kafka's check of a fetch that names the epoch of the last batch its client read (Partition.readRecords): where
    /// that epoch ended here, from the leader epoch cache as OffsetForLeaderEpoch answers. An epoch the cache cannot
    /// place, or an offset below the log start, is OffsetOutOfRange; a log that ended that epoch earlier than the
    /// client read, or never had it, answers the diverging epoch with no records. Null when the client's log agrees.
    /// </summary>
    private FetchResponse? DivergingEpoch(FetchRequest request)
    {
        var log = _log!;
        var (epoch, endOffset) = log.LeaderEpochCache.EndOffsetFor(request.LastFetchedEpoch);
        if (epoch == LeaderEpochFileCache.UndefinedEpoch || endOffset == LeaderEpochFileCache.UndefinedEpochOffset)
            return FetchError(ErrorCode.OffsetOutOfRange,
                $"Could not determine the end offset of the last fetched epoch {request.LastFetchedEpoch} of {_topic}-{_partition}.");
        if (request.FetchOffset < log.LogStartOffset)
            return FetchError(ErrorCode.OffsetOutOfRange, $"Offset {request.FetchOffset} is below the log start {log.LogStartOffset} of {_topic}-{_partition}.");
        if (epoch >= request.LastFetchedEpoch && endOffset >= request.FetchOffset) return null;
        return new FetchResponse(ErrorCode.None, log.HighWatermark, log.LogStartOffset, PooledRecords.Empty, LastStableOffset: log.LastStableOffset,
            DivergingEpoch: epoch, DivergingEndOffset: endOffset);
    }

    /// <summary>A fetch below the local log start: batches from the tier and, for read_committed, the aborted transactions they overlap.</summary>
    private static async Task<FetchDataInfo> ReadRemoteAsync(RemoteLogManager remote, FetchRequest request, long upTo, FetchIsolation isolation)
    {
        var records = await remote.ReadAsync(request.FetchOffset, request.MaxBytes, upTo);
        if (isolation != FetchIsolation.TxnCommitted || records.IsEmpty)
            return new FetchDataInfo(records);
        return new FetchDataInfo(records,
            await remote.CollectAbortedTransactionsAsync(request.FetchOffset, PartitionLog.NextOffsetAfter(records.Span)));
    }

    private static List<AbortedTransaction>? ToAbortedTransactions(IReadOnlyList<AbortedTxn>? aborted)
    {
        if (aborted is null)
            return null;
        var result = new List<AbortedTransaction>(aborted.Count);
        foreach (var txn in aborted)
            result.Add(new AbortedTransaction(txn.ProducerId, txn.FirstOffset));
        return result;
    }

    public async Task<ListOffsetsResponse> ListOffsets(ListOffsetsRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (CheckLeader(request.CurrentLeaderEpoch) is { } notLeader)
            return new ListOffsetsResponse(notLeader.Error, -1, -1, -1, notLeader.Message);
        if (request.Timestamp == ListOffsetsTimestamp.LatestTiered)
            return await LatestTieredAsync(request);
        if (request.Timestamp is >= 0 or ListOffsetsTimestamp.MaxTimestamp && _remote is { } remote && _log!.LocalLogStartOffset > _log.LogStartOffset)
        {
            // Below the local log start the tier's time indexes answer (through the manifest and the remote index cache).
            TimestampOffset? remoteFound;
            try
            {
                remoteFound = request.Timestamp >= 0
                    ? await remote.FindOffsetByTimestampAsync(request.Timestamp)
                    : await FindTieredMaxTimestampAsync(remote, _log);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                return TierLookupFailed(e, request.Timestamp);
            }
            if (CheckLeader(request.CurrentLeaderEpoch) is { } lost)
                return new ListOffsetsResponse(lost.Error, -1, -1, -1, lost.Message);
            if (remoteFound is { } f && f.Offset < _log!.FetchUpperBound(ToFetchIsolation(request.IsolationLevel)))
                return new ListOffsetsResponse(ErrorCode.None, f.Offset, f.Timestamp, EpochAt(f.Offset));
        }
        var log = _log!;
        var end = log.FetchUpperBound(ToFetchIsolation(request.IsolationLevel));
        return request.Timestamp switch
        {
            ListOffsetsTimestamp.Earliest => new ListOffsetsResponse(ErrorCode.None, log.LogStartOffset, -1, EpochAt(log.LogStartOffset)),
            ListOffsetsTimestamp.Latest => new ListOffsetsResponse(ErrorCode.None, end, -1, LeaderEpoch),
            ListOffsetsTimestamp.EarliestLocal => new ListOffsetsResponse(ErrorCode.None, log.LocalLogStartOffset, -1, EpochAt(log.LocalLogStartOffset)),
            ListOffsetsTimestamp.MaxTimestamp => Found(log.MaxTimestamp is var max and >= 0 ? log.FindOffsetByTimestamp(max) : null, end),
            < 0 => new ListOffsetsResponse(ErrorCode.InvalidRequest, -1, -1, -1,
                $"Timestamp {request.Timestamp} is neither -1 (latest), -2 (earliest), -3 (max timestamp), -4 (earliest local), -5 (latest tiered) nor a time."),
            _ => Found(log.FindOffsetByTimestamp(request.Timestamp), end),
        };
    }

    /// <summary>
    /// KIP-1005's LATEST_TIERED_TIMESTAMP (Kafka's <c>highestOffsetInRemoteStorage</c>): -1 with epoch -1 for a topic that
    /// does not tier or has nothing tiered yet. As for any lookup, an offset at or above the fetchable end (Kafka's
    /// lastFetchableOffset: the last stable offset for read_committed) is no answer.
    /// </summary>
    private async Task<ListOffsetsResponse> LatestTieredAsync(ListOffsetsRequest request)
    {
        if (_remote is not { } remote) return new ListOffsetsResponse(ErrorCode.None, -1, -1, -1);
        (long Offset, int LeaderEpoch) highest;
        try
        {
            highest = await remote.HighestOffsetInRemoteStorageAsync();
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            return TierLookupFailed(e, request.Timestamp);
        }
        if (CheckLeader(request.CurrentLeaderEpoch) is { } lost)
            return new ListOffsetsResponse(lost.Error, -1, -1, -1, lost.Message);
        return highest.Offset < _log!.FetchUpperBound(ToFetchIsolation(request.IsolationLevel))
            ? new ListOffsetsResponse(ErrorCode.None, highest.Offset, -1, highest.LeaderEpoch)
            : new ListOffsetsResponse(ErrorCode.None, -1, -1, -1);
    }

    private ListOffsetsResponse TierLookupFailed(Exception e, long timestamp)
    {
        if (e is OrleansStreamException known) return new ListOffsetsResponse(known.Code, -1, -1, -1, known.Message);
        LogStorageError(e, this.GetPrimaryKeyString());
        return new ListOffsetsResponse(ErrorCode.KafkaStorageError, -1, -1, -1, $"Looking up {timestamp} in the tier of {_topic}-{_partition} failed: {e.Message}");
    }

    /// <summary>A record found by timestamp, answered only below the fetchable end (Kafka's lastFetchableOffset), else no offset.</summary>
    private ListOffsetsResponse Found(TimestampOffset? found, long end) =>
        found is { } f && f.Offset < end
            ? new ListOffsetsResponse(ErrorCode.None, f.Offset, f.Timestamp, EpochAt(f.Offset))
            : new ListOffsetsResponse(ErrorCode.None, -1, -1, -1);

    /// <summary>
    /// KIP-734 over the tier: the first tiered record with the tier's largest timestamp, unless the local log holds a
    /// larger one; on a tie the tier's record is first in the log, as Kafka answers the first segment with the max.
    /// </summary>
    private static async Task<TimestampOffset?> FindTieredMaxTimestampAsync(RemoteLogManager remote, PartitionLog log)
    {
        var tierMax = await remote.MaxTimestampAsync();
        return tierMax < 0 || log.MaxTimestamp > tierMax ? null : await remote.FindOffsetByTimestampAsync(tierMax);
    }

    /// <summary>
    /// Kafka's DeleteRecords: the leader moves its log start, then answers once every in-sync replica has moved its own
    /// (Kafka's DelayedDeleteRecords on the low watermark), or <see cref="ErrorCode.RequestTimedOut"/>.
    /// </summary>
    public async Task<DeleteRecordsResponse> DeleteRecords(DeleteRecordsRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (CheckLeader(request.CurrentLeaderEpoch) is { } notLeader)
            return new DeleteRecordsResponse(notLeader.Error, -1, notLeader.Message);
        var log = _log!;
        if ((log.Config.CleanupPolicy & CleanupPolicy.Delete) == 0)
            return new DeleteRecordsResponse(ErrorCode.PolicyViolation, -1,
                $"Records of {_topic}-{_partition} cannot be deleted because it is a compacted topic.");
        var offset = request.Offset == -1 ? log.HighWatermark : request.Offset;
        if (offset < 0 || offset > log.HighWatermark)
            return new DeleteRecordsResponse(ErrorCode.OffsetOutOfRange, -1,
                $"Cannot delete the records of {_topic}-{_partition} before offset {request.Offset}: the high watermark is {log.HighWatermark}.");
        try
        {
            log.DeleteRecordsBefore(offset);
        }
        catch (IOException e)
        {
            LogStorageError(e, this.GetPrimaryKeyString());
            return new DeleteRecordsResponse(ErrorCode.KafkaStorageError, -1, e.Message);
        }
        LogRecordsDeleted(this.GetPrimaryKeyString(), log.LogStartOffset);
        _replication.LogStartAdvanced();
        var deleteTo = log.LogStartOffset;
        if (_replication.LowWatermark < deleteTo)
        {
            var delayed = _replication.DelayDeleteRecords(deleteTo, Math.Min(request.TimeoutMs, MaxDelayedOperationMs));
            await delayed.Task;
            if (_replication.CompleteDelayedDeleteRecords(delayed) is { } failed) return new DeleteRecordsResponse(failed.Error, -1, failed.Message);
        }
        return new DeleteRecordsResponse(ErrorCode.None, IsLeader ? _replication.LowWatermark : deleteTo);
    }

    /// <summary>A consumer reads below the last stable offset with read_committed, below the high watermark otherwise (Kafka's lastFetchableOffset).</summary>
    private static FetchIsolation ToFetchIsolation(IsolationLevel isolation) =>
        isolation == IsolationLevel.ReadCommitted ? FetchIsolation.TxnCommitted : FetchIsolation.HighWatermark;

    public Task<EpochEndOffsetResponse> OffsetForLeaderEpoch(int leaderEpoch, int currentLeaderEpoch)
    {
        if (CheckLeader(currentLeaderEpoch) is { } notLeader)
            return Task.FromResult(new EpochEndOffsetResponse(notLeader.Error, -1, -1, notLeader.Message));
        var (epoch, endOffset) = _log!.LeaderEpochCache.EndOffsetFor(leaderEpoch);
        return Task.FromResult(new EpochEndOffsetResponse(ErrorCode.None, epoch, endOffset));
    }

    public Task<ReplicaStatus> GetStatus()
    {
        var log = _log;
        return Task.FromResult(new ReplicaStatus(_replicaId, IsLeader, LeaderEpoch,
            log?.LogStartOffset ?? -1, log?.LogEndOffset ?? -1, log?.HighWatermark ?? -1, log?.SizeInBytes ?? 0, _state?.Isr));
    }

    public Task<DescribeProducersResponse> DescribeProducers()
    {
        if (_state is null)
            return Task.FromResult(new DescribeProducersResponse(ErrorCode.UnknownTopicOrPartition, [], $"{_topic}-{_partition} does not exist."));
        if (_log is not { } log)
            return Task.FromResult(new DescribeProducersResponse(ErrorCode.NotLeaderOrFollower, [],
                $"Replica {_replicaId} of {_topic}-{_partition} has no log on broker {identity.BrokerId}: {_logError}"));
        var producers = new List<ActiveProducer>(log.ProducerStateManager.ProducerIdCount);
        foreach (var (producerId, entry) in log.ProducerStateManager.ActiveProducers)
            producers.Add(new ActiveProducer(producerId, entry.ProducerEpoch, entry.LastSeq, entry.LastTimestamp, entry.CoordinatorEpoch, entry.CurrentTxnFirstOffset ?? -1));
        return Task.FromResult(new DescribeProducersResponse(ErrorCode.None, producers));
    }

    public async Task<ReplicaFetchResponse> ReplicaFetch(ReplicaFetchRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var deadline = time.GetTimestamp() + (long)(request.MaxWaitMs * (time.TimestampFrequency / 1000.0));
        while (true)
        {
            if (CheckLeader(request.LeaderEpoch) is { } notLeader)
                return new ReplicaFetchResponse(notLeader.Error, -1, -1, -1, PooledRecords.Empty);
            var log = _log!;
            if (!IsAssigned(_state!, request.ReplicaId, request.BrokerId))
                return new ReplicaFetchResponse(ErrorCode.NotLeaderOrFollower, -1, -1, -1, PooledRecords.Empty);

            // KIP-101/595: a follower whose last epoch ends earlier here (or is unknown here) truncates first.
            if (request.LastFetchedEpoch >= 0)
            {
                var (epoch, endOffset) = log.LeaderEpochCache.EndOffsetFor(request.LastFetchedEpoch);
                if (epoch != request.LastFetchedEpoch || endOffset < request.FetchOffset)
                    return new ReplicaFetchResponse(ErrorCode.None, log.HighWatermark, log.LogStartOffset, log.LogEndOffset,
                        PooledRecords.Empty, epoch, endOffset);
            }
            // Tiered history is not replicated: the follower restarts at the local log start (Kafka's OFFSET_MOVED_TO_TIERED_STORAGE).
            if (request.FetchOffset >= log.LogStartOffset && request.FetchOffset < log.LocalLogStartOffset)
                return new ReplicaFetchResponse(ErrorCode.OffsetOutOfRange, log.HighWatermark, log.LogStartOffset, log.LogEndOffset,
                    PooledRecords.Empty, LocalLogStartOffset: log.LocalLogStartOffset);
            if (request.FetchOffset < log.LogStartOffset || request.FetchOffset > log.LogEndOffset)
                return new ReplicaFetchResponse(ErrorCode.OffsetOutOfRange, log.HighWatermark, log.LogStartOffset, log.LogEndOffset, PooledRecords.Empty);

            if (_replication.UpdateFollowerFetchState(request.ReplicaId, request.FetchOffset, request.LogStartOffset) is { } expanded)
                _ = ChangeIsrAsync(expanded, "caught up");
            var remaining = time.GetElapsedTime(time.GetTimestamp(), deadline);
            // A follower behind the leader's log start (DeleteRecords) hears of it at once.
            if (request.FetchOffset < log.LogEndOffset || remaining <= TimeSpan.Zero || (request.LogStartOffset >= 0 && request.LogStartOffset < log.LogStartOffset))
            {
                var records = request.FetchOffset < log.LogEndOffset ? log.ReadPooled(request.FetchOffset, request.MaxBytes) : PooledRecords.Empty;
                _metrics.ReplicaFetched(records.Span);
                return new ReplicaFetchResponse(ErrorCode.None, log.HighWatermark, log.LogStartOffset, log.LogEndOffset, records);
            }
            // Caught up: park until the next append. A follower learns the HW with the next data or after MaxWaitMs,
            // as in Kafka; waking on every HW advance only re-ran this loop for a follower with nothing to fetch.
            await _replication.WaitForLogEndAsync(remaining);
        }
    }

    private void Apply(PartitionState state)
    {
        // An AlterPartition answer during the deactivation: the next activation reads the state from the controller.
        if (_deactivating) return;
        if (_deleted)
        {
            if (state.TopicId != _deletedTopicId) RestartForNewIncarnation();
            return;
        }
        var previous = _state;
        if (previous is not null && previous.TopicId != state.TopicId)
        {
            // The topic was deleted and created again under the same name while this activation lived.
            _replication.StopLeading(ErrorCode.NotLeaderOrFollower);
            _log?.Dispose();
            _log = null;
        }
        if (_log is not null && !IsAssignedHere(state))
        {
            MoveAway(state);
            return;
        }
        _state = state;
        if (_log is null) OpenLog(state);
        else
        {
            try
            {
                _log.UpdateConfig(TopicConfigs.ToLogConfig(state.Configs));
            }
            catch (OrleansStreamException e)
            {
                LogBadConfig(e, this.GetPrimaryKeyString());
            }
        }
        _metrics.ReportReplication(IsLeader, state.Replicas.Count, state.Isr.Count);
        if (_log is null)
        {
            _fetcher.Stop();
            return;
        }

        var becameLeader = state.Leader == _replicaId && (previous is null || previous.Leader != _replicaId || previous.LeaderEpoch != state.LeaderEpoch);
        if (state.Leader == _replicaId)
        {
            if (becameLeader)
            {
                _fetcher.Stop();
                LogBecameLeader(this.GetPrimaryKeyString(), state.LeaderEpoch, _log.LogEndOffset, _log.HighWatermark);
            }
            if (becameLeader || !_replication.IsLeader) _replication.MakeLeader(state, _log);
            else _replication.UpdateLeaderAndIsr(state);
            StartTiering(asLeader: true);
        }
        else
        {
            StartTiering(asLeader: false);
            _replication.StopLeading(ErrorCode.NotLeaderOrFollower);
            if (state.Leader >= 0 && IsReplica(state, _replicaId)) _fetcher.Follow(state, _log);
            else _fetcher.Stop();
        }
    }

    /// <summary>
    /// The controller moved this replica to another broker (this one was out of membership): it stops, and its data,
    /// which the new replica rebuilds from the leader, is removed so that it is never served or reused.
    /// </summary>
    private void MoveAway(PartitionState state)
    {
        _state = state;
        StopTiering();
        _fetcher.Stop();
        _replication.StopLeading(ErrorCode.NotLeaderOrFollower);
        _log!.Delete();
        _log = null;
        _logError = $"replica {_replicaId} was moved to another broker";
        LogMovedAway(this.GetPrimaryKeyString(), identity.BrokerId);
        DeactivateOnIdle();
    }

    private void OpenLog(PartitionState state)
    {
        if (!IsAssignedHere(state))
        {
            _logError = $"replica {_replicaId} is assigned to another broker than {identity.BrokerId}";
            DeactivateOnIdle();
            return;
        }
        var directory = PartitionDirectory();
        directories.MarkUsed(directory);
        try
        {
            var config = TopicConfigs.ToLogConfig(state.Configs);
            // The lock first: the topic id check may wipe the directory, which a closing predecessor may still hold.
            var directoryLock = LogDirectoryLock.Acquire(directory);
            try
            {
                PartitionMetadataFile.EnsureTopicId(directory, state.TopicId);
            }
            catch
            {
                directoryLock.Dispose();
                throw;
            }
            _log = PartitionLog.Open(directory, config, time,
                producerStateConfig: new ProducerStateManagerConfig { ProducerIdExpirationMs = _options.ProducerIdExpirationMs },
                directoryLock: directoryLock);
            _log.WritebackBytes = _options.SegmentWritebackBytes;
            _metrics.ObserveLog(_log);
            _logError = null;
            _openRetryDelay = TimeSpan.Zero;
            LogOpened(this.GetPrimaryKeyString(), _log.LogStartOffset, _log.LogEndOffset);
        }
        catch (LogDirectoryInUseException e)
        {
            _logError = e.Message;
            RetryWhenDirectoryFree(e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or OrleansStreamException)
        {
            _logError = e.Message;
            LogStorageError(e, this.GetPrimaryKeyString());
        }
    }

    /// <summary>
    /// The directory is still held by the log of a previous activation of this replica, whose deactivation Orleans let
    /// overlap this activation (it unregisters an activation before disposing it, and gives up waiting for an
    /// activation or deactivation past its timeouts while the grain's code runs on). Requests answer
    /// <see cref="ErrorCode.KafkaStorageError"/>, which clients retry, until the holder closes and the open (or the
    /// pending delete) succeeds.
    /// </summary>
    private void RetryWhenDirectoryFree(LogDirectoryInUseException e)
    {
        _openRetryDelay = _openRetryDelay == TimeSpan.Zero ? MinOpenRetryDelay : TimeSpan.FromTicks(Math.Min(_openRetryDelay.Ticks * 2, MaxOpenRetryDelay.Ticks));
        LogDirectoryHeld(this.GetPrimaryKeyString(), e.Message, _openRetryDelay);
        _openRetryTimer?.Dispose();
        _openRetryTimer = this.RegisterGrainTimer(
            static (self, _) =>
            {
                if (self._deactivating) return Task.CompletedTask;
                if (self._deletePending) self.DeleteDirectory();
                else if (self._log is null && self._state is { } state) self.Apply(state);
                return Task.CompletedTask;
            }, this,
            new GrainTimerCreationOptions(_openRetryDelay, Timeout.InfiniteTimeSpan) { Interleave = true });
    }

    private static bool IsReplica(PartitionState state, int replicaId)
    {
        foreach (var r in state.Replicas)
            if (r.ReplicaId == replicaId) return true;
        return false;
    }

    private static bool IsAssigned(PartitionState state, int replicaId, string brokerId)
    {
        foreach (var r in state.Replicas)
            if (r.ReplicaId == replicaId) return r.BrokerId == brokerId;
        return false;
    }

    private bool IsAssignedHere(PartitionState state) => IsAssigned(state, _replicaId, identity.BrokerId);

    private string PartitionDirectory() => directories.PathOf(_topic, _partition);

    private (ErrorCode Error, string Message)? CheckLeader(int requestEpoch)
    {
        if (_state is not { } state)
            return (ErrorCode.UnknownTopicOrPartition, $"{_topic}-{_partition} does not exist.");
        if (_log is null && !IsAssignedHere(state))
            return (ErrorCode.NotLeaderOrFollower, $"Replica {_replicaId} of {_topic}-{_partition} is not on broker {identity.BrokerId}.");
        if (_log is null)
            return (ErrorCode.KafkaStorageError, $"The log of {_topic}-{_partition} on broker {identity.BrokerId} cannot be opened: {_logError}");
        if (_deactivating)
            return (ErrorCode.NotLeaderOrFollower, $"Replica {_replicaId} of {_topic}-{_partition} on broker {identity.BrokerId} is deactivating; its next activation or the new leader serves.");
        if (requestEpoch >= 0 && requestEpoch < state.LeaderEpoch)
            return (ErrorCode.FencedLeaderEpoch, $"Leader epoch {requestEpoch} of {_topic}-{_partition} is older than {state.LeaderEpoch}.");
        if (requestEpoch > state.LeaderEpoch)
            return (ErrorCode.UnknownLeaderEpoch, $"Leader epoch {requestEpoch} of {_topic}-{_partition} is newer than {state.LeaderEpoch} here.");
        if (state.Leader != _replicaId)
            return (ErrorCode.NotLeaderOrFollower, $"Replica {_replicaId} of {_topic}-{_partition} is not the leader (replica {state.Leader} is, epoch {state.LeaderEpoch}).");
        return null;
    }

    private int EpochAt(long offset)
    {
        var entries = _log!.LeaderEpochCache.Entries;
        for (var i = entries.Count - 1; i >= 0; i--)
            if (entries[i].StartOffset <= offset) return entries[i].Epoch;
        return -1;
    }

    private async Task CheckIsrAsync()
    {
        if (!IsLeader || _isrChangeInFlight) return;
        if (_replication.MaybeShrinkIsr() is { } shrunk) await ChangeIsrAsync(shrunk, "lagging");
    }

    /// <summary>
    /// How long the leader waits for the controller's answer to AlterPartition. A call to a controller whose silo died
    /// is failed by Orleans only at the response timeout (30 s), and until it ends no other ISR change can start: the
    /// dead follower would hold the high watermark (and every acks=all produce) that long. Given up, the change is
    /// proposed again at the next ISR check; a late answer to the old one is fenced by the partition epoch.
    /// </summary>
    private static readonly TimeSpan AlterPartitionTimeout = TimeSpan.FromSeconds(3);

    /// <summary>Kafka's AlterPartition: the controller accepts it only from the current leader in its current epoch.</summary>
    private async Task ChangeIsrAsync(List<int> isr, string why)
    {
        if (_isrChangeInFlight || _state is not { } state) return;
        _isrChangeInFlight = true;
        try
        {
            LogIsrChange(this.GetPrimaryKeyString(), string.Join(",", state.Isr), string.Join(",", isr), why);
            var result = await GrainFactory.GetGrain<IControllerInternalGrain>(GrainKeys.Controller)
                .AlterPartition(_topic, _partition, _replicaId, state.LeaderEpoch, state.PartitionEpoch, isr).WaitAsync(AlterPartitionTimeout);
            // The answer may arrive after a newer LeaderAndIsr push; it must not undo it.
            if (result.State is { } updated && (_state is null || !updated.IsOlderThan(_state))) Apply(updated);
            if (result.Error != ErrorCode.None) LogIsrChangeRejected(this.GetPrimaryKeyString(), result.Error);
        }
        catch (Exception e)
        {
            LogIsrChangeFailed(e, this.GetPrimaryKeyString());
        }
        finally
        {
            _isrChangeInFlight = false;
        }
    }

    private void StartTiering(bool asLeader)
    {
        if (_log is not { Config.RemoteStorageEnable: true } log)
        {
            StopTiering();
            return;
        }
        // A manager that stops leading is disposed (fenced for good); a follower's never writes the manifest.
        if (_remote is not null && _remoteAsLeader != asLeader) StopTiering();
        _remoteAsLeader = asLeader;
        _remote ??= tiering.Create(_topic, _partition, log, _metrics);
        // Interleaving: uploads run between produce and fetch turns and never hold them up.
        _tieringTimer ??= this.RegisterGrainTimer(static (self, ct) => self.TierAsync(ct), this,
            new GrainTimerCreationOptions(tiering.TaskInterval, tiering.TaskInterval) { Interleave = true });
    }

    private void StopTiering()
    {
        _tieringTimer?.Dispose();
        _tieringTimer = null;
        _remote?.Dispose();
        _remote = null;
    }

    /// <summary>One tiering pass (Kafka's RLMTask) on this grain's scheduler; failures back off inside the manager.</summary>
    private async Task TierAsync(CancellationToken cancellationToken)
    {
        if (_remote is not { } remote) return;
        if (!_remoteAsLeader)
        {
            var local = await remote.MaybeRunAsFollowerAsync(cancellationToken);
            if (local.Error is { } failed) LogTieringFailed(failed, this.GetPrimaryKeyString());
            return;
        }
        if (!IsLeader) return;
        var pass = await remote.MaybeRunAsync(LeaderEpoch, cancellationToken);
        _metrics.TieringPassCompleted(pass.BytesCopied, remote.UploadLag());
        if (pass.Error is { } error) LogTieringFailed(error, this.GetPrimaryKeyString());
        else if (pass.Fenced) LogTieringFenced(this.GetPrimaryKeyString(), LeaderEpoch);
    }

    /// <summary>Kafka's removeExpiredProducers task: forgets producers idle past <c>producer.id.expiration.ms</c>.</summary>
    private Task RemoveExpiredProducers()
    {
        _log?.ProducerStateManager.RemoveExpiredProducers();
        return Task.CompletedTask;
    }

    private async Task ApplyRetentionAsync()
    {
        if (_log is not { } log) return;
        try
        {
            var retention = log.DeleteOldSegments();
            if (retention.SegmentsDeleted > 0) LogRetention(this.GetPrimaryKeyString(), retention.SegmentsDeleted, retention.LogStartOffset);
            if ((log.Config.CleanupPolicy & CleanupPolicy.Compact) != 0)
            {
                var compaction = await log.CompactAsync();
                if (compaction.SegmentsCleaned > 0) LogCompacted(this.GetPrimaryKeyString(), compaction.SegmentsCleaned, compaction.RecordsRemoved);
            }
        }
        catch (Exception e) when (e is IOException or OrleansStreamException)
        {
            LogStorageError(e, this.GetPrimaryKeyString());
        }
    }

    private static ProduceResponse ProduceError(ErrorCode error, string message) => new(error, -1, -1, -1, message);

    private static FetchResponse FetchError(ErrorCode error, string message) => new(error, -1, -1, PooledRecords.Empty, message);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Replica} refused the transaction marker of producer {ProducerId}: {Error} {Message}")]
    private partial void LogMarkerRefused(string replica, long producerId, ErrorCode error, string message);

    [LoggerMessage(Level = LogLevel.Information, Message = "Opened {Replica}: log start {StartOffset}, log end {EndOffset}")]
    private partial void LogOpened(string replica, long startOffset, long endOffset);

    [LoggerMessage(Level = LogLevel.Information, Message = "Closed {Replica} at log end {EndOffset} ({Reason})")]
    private partial void LogClosed(string replica, long endOffset, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Replica} was moved off broker {Broker}; its local copy is removed")]
    private partial void LogMovedAway(string replica, string broker);

    [LoggerMessage(Level = LogLevel.Information, Message = "Deleted {Replica}")]
    private partial void LogDeleted(string replica);

    [LoggerMessage(Level = LogLevel.Information, Message = "{Replica} leads in epoch {Epoch} from log end {EndOffset}, high watermark {HighWatermark}")]
    private partial void LogBecameLeader(string replica, int epoch, long endOffset, long highWatermark);

    [LoggerMessage(Level = LogLevel.Information, Message = "{Replica} waits for its log directory ({Why}); it tries again in {Delay}")]
    private partial void LogDirectoryHeld(string replica, string why, TimeSpan delay);

    [LoggerMessage(Level = LogLevel.Error, Message = "Storage error in {Replica}")]
    private partial void LogStorageError(Exception e, string replica);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Ignoring a bad topic config for {Replica}")]
    private partial void LogBadConfig(Exception e, string replica);

    [LoggerMessage(Level = LogLevel.Information, Message = "{Replica} asks to change ISR from [{Old}] to [{New}]: {Why}")]
    private partial void LogIsrChange(string replica, string old, string @new, string why);

    [LoggerMessage(Level = LogLevel.Information, Message = "The controller rejected the ISR change of {Replica}: {Error}")]
    private partial void LogIsrChangeRejected(string replica, ErrorCode error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "ISR change of {Replica} failed")]
    private partial void LogIsrChangeFailed(Exception e, string replica);

    [LoggerMessage(Level = LogLevel.Information, Message = "Compaction cleaned {Segments} segments of {Replica}, removing {Records} records")]
    private partial void LogCompacted(string replica, int segments, long records);

    [LoggerMessage(Level = LogLevel.Information, Message = "DeleteRecords moved the log start of {Replica} to {LogStartOffset}")]
    private partial void LogRecordsDeleted(string replica, long logStartOffset);

    [LoggerMessage(Level = LogLevel.Information, Message = "Retention removed {Segments} segments of {Replica}; log start now {LogStartOffset}")]
    private partial void LogRetention(string replica, int segments, long logStartOffset);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Tiering pass of {Replica} failed; it is retried with back-off")]
    private partial void LogTieringFailed(Exception e, string replica);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Tiering of {Replica} stopped: the remote manifest belongs to a leader newer than epoch {Epoch}")]
    private partial void LogTieringFenced(string replica, int epoch);
}
