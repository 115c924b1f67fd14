using OrleansStream.Storage;
using OrleansStream.Storage.Tiering;

namespace OrleansStream.Server.Replication;

/// <summary>
/// Kafka's ReplicaFetcherThread for one follower replica, run on its grain's scheduler: fetches from the leader named
/// by the latest LeaderAndIsr, truncates where the logs diverged, appends, and learns the high watermark. One loop at
/// a time; a response to a fetch sent under an older state is dropped. The loop ends when it finds no leader to follow,
/// so a Follow that comes while a stopped loop's fetch is still out keeps that loop going with the new state.
/// </summary>
internal sealed partial class ReplicaFetcher(
    string replicaKey,
    int replicaId,
    string brokerId,
    BrokerOptions options,
    IGrainFactory grains,
    Partition partition,
    ITierStore tierStore,
    TimeProvider time,
    ILogger logger)
{
    private static readonly TimeSpan Backoff = TimeSpan.FromMilliseconds(100);

    private PartitionState? _state;
    private PartitionLog? _log;
    private Task? _loop;
    private PartitionState? _leaderOf;
    private string _leaderKey = "";
    private IReplicaFetchGrain? _leader;
    private readonly Signal _stateChanged = new();

    /// <summary>Follows the leader of <paramref name="state"/> into <paramref name="log"/>; starts the loop unless it runs.</summary>
    public void Follow(PartitionState state, PartitionLog log)
    {
        _state = state;
        _log = log;
        _stateChanged.Fire();
        if (_loop is not { IsCompleted: false }) _loop = RunAsync();
    }

    public void Stop()
    {
        _state = null;
        _log = null;
        _stateChanged.Fire();
    }

    public async Task StopAsync()
    {
        Stop();
        if (_loop is { } loop) await loop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing | ConfigureAwaitOptions.ContinueOnCapturedContext);
        _loop = null;
    }

    private async Task RunAsync()
    {
        // The loop outlives the call that started it (a LeaderAndIsr, whose request context carries the controller's
        // placement hint): its fetches carry none of that call's context. Cleared inside this async method, so the
        // caller's context is untouched.
        RequestContext.Clear();
        while (true)
        {
            if (_state is not { } state || _log is not { } log || state.Leader == replicaId || state.Leader < 0) return;
            var leader = LeaderOf(state);
            ReplicaFetchResponse response;
            try
            {
                response = await leader.ReplicaFetch(new ReplicaFetchRequest(
                    replicaId, brokerId, state.LeaderEpoch, log.LogEndOffset, log.LeaderEpochCache.LatestEpoch,
                    options.ReplicaFetchMaxBytes, options.ReplicaFetchWaitMaxMs, log.LogStartOffset));
            }
            catch (Exception e)
            {
                if (_state != state) continue;
                LogFetchFailed(e, replicaKey, _leaderKey);
                await WaitForStateChangeAsync();
                continue;
            }
            bool applied;
            try
            {
                applied = await ApplyAsync(state, log, response);
            }
            finally
            {
                // The fetched batches are the follower's: appended or dropped, they go back to the pool.
                response.Records.Dispose();
            }
            if (!applied) await WaitForStateChangeAsync();
        }
    }

    /// <summary>Applies a leader's answer if it is still for the current state; false when the follower should back off.</summary>
    private async Task<bool> ApplyAsync(PartitionState state, PartitionLog log, ReplicaFetchResponse response)
    {
        // The state may have changed while the fetch was out: act on it only if it was for the current leader.
        if (_state != state || _log != log) return true;
        ReadOnlyMemory<byte>? producerSnapshot = null;
        if (RestartsAtLeaderLocalLogStart(log, response))
        {
            producerSnapshot = await FetchProducerSnapshotAsync(state, response.LocalLogStartOffset);
            if (_state != state || _log != log) return true;
        }
        try
        {
            return ProcessFetchResponse(log, response, producerSnapshot);
        }
        catch (OrleansStreamException e)
        {
            LogFollowerAppendFailed(e, replicaKey);
            return false;
        }
    }

    /// <summary>The leader's grain, resolved once per partition state rather than once per fetch.</summary>
    private IReplicaFetchGrain LeaderOf(PartitionState state)
    {
        if (!ReferenceEquals(_leaderOf, state) || _leader is null)
        {
            _leaderKey = GrainKeys.Replica(state.Topic, state.Partition, state.Leader);
            _leader = grains.GetGrain<IReplicaFetchGrain>(_leaderKey);
            _leaderOf = state;
        }
        return _leader;
    }

    /// <summary>Kafka's OFFSET_MOVED_TO_TIERED_STORAGE: the follower's next offset lies below the leader's local log.</summary>
    private static bool RestartsAtLeaderLocalLogStart(PartitionLog log, ReplicaFetchResponse response) =>
        response.Error == ErrorCode.OffsetOutOfRange && response.LocalLogStartOffset > log.LogEndOffset && log.Config.RemoteStorageEnable;

    /// <summary>
    /// Kafka's buildRemoteLogAuxState reads the producer snapshot from the tier. Without it (none tiered, or the tier
    /// unreachable) the replica starts with no producer state, as before producer state existed.
    /// </summary>
    private async Task<ReadOnlyMemory<byte>?> FetchProducerSnapshotAsync(PartitionState state, long localLogStartOffset)
    {
        try
        {
            return await RemoteLogManager.FetchProducerSnapshotAsync(tierStore, state.Topic, state.Partition, localLogStartOffset);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            LogProducerSnapshotUnavailable(e, replicaKey, localLogStartOffset);
            return null;
        }
    }

    /// <summary>Applies a leader's answer; false when the follower should back off before fetching again.</summary>
    private bool ProcessFetchResponse(PartitionLog log, ReplicaFetchResponse response, ReadOnlyMemory<byte>? producerSnapshot)
    {
        switch (response.Error)
        {
            case ErrorCode.None:
                break;
            case ErrorCode.OffsetOutOfRange when RestartsAtLeaderLocalLogStart(log, response):
                log.TruncateFullyAndStartAt(response.LocalLogStartOffset, Math.Clamp(response.LogStartOffset, 0, response.LocalLogStartOffset));
                if (producerSnapshot is { } snapshot) log.RestoreProducerSnapshot(snapshot.Span);
                return true;
            case ErrorCode.OffsetOutOfRange when log.LogEndOffset < response.LogStartOffset:
                log.TruncateFullyAndStartAt(response.LogStartOffset);
                return true;
            case ErrorCode.OffsetOutOfRange when log.LogEndOffset > response.LogEndOffset:
                log.TruncateTo(Math.Max(response.HighWatermark, log.LogStartOffset));
                return true;
            default:
                return false;
        }
        if (response.DivergingEpoch >= 0 || response.DivergingEndOffset >= 0)
        {
            var truncateTo = response.DivergingEndOffset;
            if (response.DivergingEpoch >= 0)
            {
                var (ownEpoch, ownEnd) = log.LeaderEpochCache.EndOffsetFor(response.DivergingEpoch);
                if (ownEpoch == response.DivergingEpoch) truncateTo = Math.Min(truncateTo, ownEnd);
            }
            if (response.DivergingEpoch < 0 || truncateTo < log.LogStartOffset)
                log.TruncateFullyAndStartAt(Math.Max(response.LogStartOffset, 0));
            else
                log.TruncateTo(Math.Min(truncateTo, log.LogEndOffset));
            LogTruncated(replicaKey, log.LogEndOffset, response.DivergingEpoch);
            return true;
        }
        if (!response.Records.IsEmpty) partition.AppendRecordsToFollower(log, response.Records.Span);
        partition.UpdateFollowerHighWatermark(log, response.HighWatermark);
        // Kafka's maybeIncrementLogStartOffset: DeleteRecords (or the leader's retention) moved the leader's log start.
        if (response.LogStartOffset > log.LogStartOffset) log.DeleteRecordsBefore(Math.Min(response.LogStartOffset, log.LogEndOffset));
        return true;
    }

    private Task WaitForStateChangeAsync() => _stateChanged.WaitAsync(Backoff, time);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Replica} restarts at the leader's local log start {Offset} without producer state: the tier's snapshot could not be read")]
    private partial void LogProducerSnapshotUnavailable(Exception e, string replica, long offset);

    [LoggerMessage(Level = LogLevel.Debug, Message = "{Replica} could not fetch from {Leader}")]
    private partial void LogFetchFailed(Exception e, string replica, string leader);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Replica} could not append what the leader sent")]
    private partial void LogFollowerAppendFailed(Exception e, string replica);

    [LoggerMessage(Level = LogLevel.Information, Message = "{Replica} truncated to {EndOffset} after diverging in epoch {Epoch}")]
    private partial void LogTruncated(string replica, long endOffset, int epoch);
}
