using Orleans.Runtime.Messaging;

namespace OrleansStream.Client;

/// <summary>
/// Calls a partition's leader, following leadership: a stale leader or a missing one refreshes the metadata and the
/// call is retried after <c>retry.backoff.ms</c> until the deadline. Used by everything but the producer's hot path.
/// </summary>
internal static class LeaderCalls
{
    public static async Task<T> CallAsync<T>(
        MetadataCache cache,
        TopicPartition tp,
        bool allowAutoCreate,
        int maxAgeMs,
        int retryBackoffMs,
        TimeSpan timeout,
        Func<IPartitionReplicaGrain, int, Task<T>> call,
        Func<T, ErrorCode> errorOf,
        TimeProvider time,
        CancellationToken cancellationToken = default)
    {
        var started = time.GetTimestamp();
        var forceRefresh = false;
        var stale = long.MaxValue;
        while (true)
        {
            TopicEntry entry;
            try
            {
                entry = forceRefresh
                    ? await cache.RefreshAsync(tp.Topic, allowAutoCreate, stale).ConfigureAwait(false)
                    : await cache.GetAsync(tp.Topic, allowAutoCreate, maxAgeMs).ConfigureAwait(false);
            }
            catch (Exception ex) when (IsTransient(ex))
            {
                // The controller's silo may have died: its metadata is asked again like any leader's answer.
                if (time.GetElapsedTime(started) >= timeout)
                    throw new KafkaException(new Error(ErrorCode.RequestTimedOut, $"{tp}: {ex.Message}, still after {timeout.TotalMilliseconds:0} ms."), ex);
                forceRefresh = true;
                await Task.Delay(TimeSpan.FromMilliseconds(retryBackoffMs), time, cancellationToken).ConfigureAwait(false);
                continue;
            }
            ErrorCode error;
            string? reason = null;
            if (entry.Error != ErrorCode.None && entry.Error != ErrorCode.LeaderNotAvailable)
            {
                throw new KafkaException(new Error(entry.Error, entry.ErrorMessage ?? $"{entry.Error} for topic '{tp.Topic}'."));
            }
            if ((uint)tp.Partition >= (uint)entry.PartitionCount)
            {
                if (entry.PartitionCount > 0)
                    throw new KafkaException(new Error(ErrorCode.UnknownTopicOrPartition,
                        $"Partition {tp.Partition} does not exist; topic '{tp.Topic}' has {entry.PartitionCount}."));
                error = ErrorCode.LeaderNotAvailable;
            }
            else if (entry.Partitions[tp.Partition].LeaderGrain is { } leader)
            {
                var p = entry.Partitions[tp.Partition];
                try
                {
                    var result = await cache.Calls.Call(call(leader, p.LeaderEpoch)).ConfigureAwait(false);
                    error = errorOf(result);
                    if (error == ErrorCode.None || !Error.IsRetriableCode(error)) return result;
                }
                catch (Exception ex) when (IsTransient(ex))
                {
                    error = ErrorCode.RequestTimedOut;
                    reason = ex.Message;
                }
            }
            else
            {
                error = entry.Partitions[tp.Partition].Error;
            }

            if (time.GetElapsedTime(started) >= timeout)
                throw new KafkaException(new Error(error == ErrorCode.None ? ErrorCode.RequestTimedOut : error,
                    $"{tp}: {reason ?? error.ToString()}, still after {timeout.TotalMilliseconds:0} ms."));
            forceRefresh = true;
            stale = entry.Version;
            await Task.Delay(TimeSpan.FromMilliseconds(retryBackoffMs), time, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Failures of the transport or of the silo rather than of the request: worth a retry after a refresh. A
    /// cancellation no token asked for is the runtime's (a message that expired before its grain could be placed,
    /// as while a silo shuts down); the request never ran. A connection that failed is a gateway that died: the
    /// client sends the retry through another.
    /// </summary>
    public static bool IsTransient(Exception ex) =>
        ex is TimeoutException or SiloUnavailableException or OrleansMessageRejectionException or ConnectionFailedException
            or GatewayTooBusyException or ClientNotAvailableException or OrleansLifecycleCanceledException
            or OperationCanceledException { CancellationToken.IsCancellationRequested: false };
}
