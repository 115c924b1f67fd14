using System.Diagnostics;
using Orleans.Runtime;

namespace OrleansStream.Server.Cluster;

/// <summary>
/// The broker's side of a silo's death. Orleans 10.4.2 fails a call in flight to a silo that dies only at the response
/// timeout, 30 s, unless the message was addressed to that silo itself (dotnet/orleans#10165); and it deactivates the
/// grains on live silos whose directory registration the dead silo held, which waits for their running requests: an
/// acks=all produce parked for the high watermark would hold its partition's leader (and every client of it) for its
/// whole request timeout. <see cref="Token"/> is cancelled when a silo leaves (Kafka's brokers see the connection
/// close), so parked requests end and the callers' retries find the new activation; <see cref="Call{T}"/> gives up a
/// call the broker itself has in flight when a silo leaves, as the SDK's watch does for clients. Calls are otherwise
/// never given up for taking long, so Orleans' own timeout still covers calls that legitimately run long; only a call
/// that answers promptly when its target is well is given a timeout of its own.
/// </summary>
internal sealed class SiloDepartures : ISiloStatusListener
{
    private CancellationTokenSource _departed = new();
    private long _lastDeparture;

    public SiloDepartures(ISiloStatusOracle oracle) => oracle.SubscribeToSiloStatusEvents(this);

    /// <summary>Cancelled when the next silo leaves the cluster; a fresh token is handed out after that.</summary>
    public CancellationToken Token => Volatile.Read(ref _departed).Token;

    /// <summary>How long ago this silo last saw a silo leave the cluster; null when none left since it started.</summary>
    public TimeSpan? SinceLastDeparture => Interlocked.Read(ref _lastDeparture) is var at and not 0 ? Stopwatch.GetElapsedTime(at) : null;

    public void SiloStatusChangeNotification(SiloAddress updatedSilo, SiloStatus status)
    {
        if (!status.IsTerminating()) return;
        Interlocked.Exchange(ref _lastDeparture, Stopwatch.GetTimestamp());
        var departed = Interlocked.Exchange(ref _departed, new CancellationTokenSource());
        departed.Cancel();
        departed.Dispose();
    }

    /// <summary>The call's result, or <see cref="SiloUnavailableException"/> once a silo leaves the cluster before it is answered.</summary>
    public async Task<T> Call<T>(Task<T> call)
    {
        await Call((Task)call);
        return await call;
    }

    /// <summary>The call's completion, or <see cref="SiloUnavailableException"/> once a silo leaves the cluster before it is answered.</summary>
    public Task Call(Task call) => Call(call, Timeout.InfiniteTimeSpan, TimeProvider.System);

    /// <summary>
    /// A call that answers promptly when its target is well (a broker asking the controller for producer ids): given up
    /// as <see cref="Call{T}(Task{T})"/> is, and with <see cref="TimeoutException"/> once unanswered for
    /// <paramref name="timeout"/>, for what no departure reveals (a call Orleans dropped while the cluster settles).
    /// </summary>
    public async Task<T> Call<T>(Task<T> call, TimeSpan timeout, TimeProvider time)
    {
        await Call((Task)call, timeout, time);
        return await call;
    }

    private async Task Call(Task call, TimeSpan timeout, TimeProvider time)
    {
        if (call.IsCompleted)
        {
            await call;
            return;
        }
        var token = Token;
        try
        {
            await call.WaitAsync(timeout, time, token);
        }
        catch (Exception e) when (e is TimeoutException or OperationCanceledException)
        {
            if (call.IsCompleted)
            {
                await call;
                return;
            }
            call.Ignore(); // it ends at the response timeout at the latest; its outcome no longer matters
            if (token.IsCancellationRequested)
                throw new SiloUnavailableException("A silo left the cluster while this call was unanswered; it may have been the call's target.");
            throw new TimeoutException($"The call was unanswered for {timeout.TotalSeconds:0.#} s; it is given up.");
        }
    }
}
