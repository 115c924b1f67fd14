using OrleansStream.Server.Controller;
using OrleansStream.Server.Diagnostics;
using OrleansStream.Server.Groups;

namespace OrleansStream.Server.Transactions.Markers;

/// <summary>How writing one marker ended.</summary>
internal enum TxnMarkerOutcome
{
    /// <summary>The participant has the marker (or the partition no longer exists, as Kafka drops its marker).</summary>
    Written,

    /// <summary>The marker phase it belonged to is no longer current here (a reload, a newer request): stop.</summary>
    Stale,

    /// <summary>The participant has seen a newer coordinator epoch: this activation is a zombie.</summary>
    Fenced,
}

/// <summary>
/// Kafka's TransactionMarkerChannelManager for one coordinator shard: writes one marker to its participant until it is
/// acknowledged. A partition's marker goes to the partition's current leader (found through the controller, as the SDK
/// finds it), a group's to the group's grain. Errors and failed calls are retried with exponential backoff; at most one
/// call per participant and producer is outstanding, across marker phases too, so a given-up call never overtakes its
/// retry. Runs on the coordinator grain's turns.
/// </summary>
internal sealed partial class TxnMarkerWriter(IGrainFactory grains, TimeProvider time, TransactionCoordinatorMetrics metrics, ILogger logger)
{
    public static readonly TimeSpan InitialBackoff = TimeSpan.FromMilliseconds(50);
    public static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(1);

    private readonly Dictionary<(TxnParticipant Participant, long ProducerId), Task> _outstanding = [];
    private readonly Dictionary<TopicPartition, PartitionState> _leaders = [];

    /// <summary>Writes <paramref name="marker"/> until acknowledged, or until <paramref name="isCurrent"/> turns false.</summary>
    public async Task<TxnMarkerOutcome> WriteAsync(TxnMarker marker, Func<bool> isCurrent)
    {
        var key = (marker.Participant, marker.ProducerId);
        while (_outstanding.TryGetValue(key, out var previous))
            await previous.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing | ConfigureAwaitOptions.ContinueOnCapturedContext);
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _outstanding[key] = done.Task;
        try
        {
            return await RetryUntilAcknowledgedAsync(marker, isCurrent);
        }
        finally
        {
            _outstanding.Remove(key);
            done.SetResult();
        }
    }

    private async Task<TxnMarkerOutcome> RetryUntilAcknowledgedAsync(TxnMarker marker, Func<bool> isCurrent)
    {
        var backoff = InitialBackoff;
        for (var attempt = 1; ; attempt++)
        {
            if (!isCurrent()) return TxnMarkerOutcome.Stale;
            ErrorCode error;
            try
            {
                error = marker.Participant.IsGroup ? await WriteToGroupAsync(marker) : await WriteToPartitionAsync(marker);
                // Asked here, where a failed call is retried like any other: an exception out of this loop would end it.
                if (error == ErrorCode.UnknownTopicOrPartition && !marker.Participant.IsGroup && await IsDeletedAsync(marker.Participant.Partition))
                {
                    LogPartitionGone(marker.Participant.ToString(), marker.ProducerId);
                    return TxnMarkerOutcome.Written;
                }
            }
            catch (Exception e)
            {
                LogMarkerCallFailed(e, marker.Participant.ToString(), marker.ProducerId, attempt);
                if (!marker.Participant.IsGroup) _leaders.Remove(marker.Participant.Partition);
                error = ErrorCode.RequestTimedOut;
            }
            switch (error)
            {
                case ErrorCode.None:
                    metrics.MarkerWritten(marker.Result);
                    return TxnMarkerOutcome.Written;
                case ErrorCode.TransactionCoordinatorFenced:
                    LogMarkerFenced(marker.Participant.ToString(), marker.ProducerId, marker.CoordinatorEpoch);
                    return TxnMarkerOutcome.Fenced;
            }
            metrics.MarkerRetried();
            if (attempt == 1 || attempt % 20 == 0) LogMarkerRetry(marker.Participant.ToString(), marker.ProducerId, error, attempt);
            await Task.Delay(backoff, time);
            backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, MaxBackoff.Ticks));
        }
    }

    private async Task<ErrorCode> WriteToPartitionAsync(TxnMarker marker)
    {
        var tp = marker.Participant.Partition;
        if (!_leaders.TryGetValue(tp, out var state))
        {
            if (await grains.GetGrain<IControllerInternalGrain>(GrainKeys.Controller).GetPartitionState(tp.Topic, tp.Partition) is not { } found)
                return ErrorCode.UnknownTopicOrPartition;
            state = found;
            if (state.Leader < 0) return ErrorCode.LeaderNotAvailable;
            _leaders[tp] = state;
        }
        var error = await grains.GetGrain<IPartitionReplicaGrain>(GrainKeys.Replica(tp.Topic, tp.Partition, state.Leader))
            .WriteTxnMarker(new WriteTxnMarkerRequest(marker.ProducerId, marker.ProducerEpoch, marker.CoordinatorEpoch,
                marker.Result == TransactionResult.Commit, state.LeaderEpoch));
        if (error != ErrorCode.None) _leaders.Remove(tp);
        return error;
    }

    private Task<ErrorCode> WriteToGroupAsync(TxnMarker marker) =>
        grains.GetGrain<ITxnOffsetsGrain>(marker.Participant.GroupId!)
            .WriteTxnMarker(marker.ProducerId, marker.ProducerEpoch, marker.CoordinatorEpoch, marker.Result == TransactionResult.Commit);

    private async Task<bool> IsDeletedAsync(TopicPartition tp) =>
        await grains.GetGrain<IControllerInternalGrain>(GrainKeys.Controller).GetPartitionState(tp.Topic, tp.Partition) is null;

    [LoggerMessage(Level = LogLevel.Debug, Message = "Transaction marker call to {Participant} for producer {ProducerId} failed (attempt {Attempt}); retrying")]
    private partial void LogMarkerCallFailed(Exception e, string participant, long producerId, int attempt);

    [LoggerMessage(Level = LogLevel.Information, Message = "Transaction marker for producer {ProducerId} not yet written to {Participant}: {Error} (attempt {Attempt}); retrying")]
    private partial void LogMarkerRetry(string participant, long producerId, ErrorCode error, int attempt);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Participant} refused the transaction marker of producer {ProducerId}: coordinator epoch {CoordinatorEpoch} is fenced")]
    private partial void LogMarkerFenced(string participant, long producerId, int coordinatorEpoch);

    [LoggerMessage(Level = LogLevel.Information, Message = "{Participant} no longer exists; the transaction marker of producer {ProducerId} is dropped")]
    private partial void LogPartitionGone(string participant, long producerId);
}
