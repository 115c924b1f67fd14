using System.Collections.Concurrent;
using System.Runtime.CompilerServices;

namespace OrleansStream.Client;

/// <summary>
/// Kafka's client fails the requests in flight to a broker when that broker's connection closes, and its retry paths
/// take over. Orleans 10.4.2 fails a call in flight to a silo that dies (the target, or the gateway that forwarded it)
/// only at the response timeout, 30 s by default (dotnet/orleans#10165), and while the cluster settles after a death
/// (directory ranges move, grains are placed again) it may drop a call made to a live gateway too. Every grain call of
/// the SDK goes through <see cref="Call{T}"/>: while calls are in flight the watch polls the cluster's membership
/// (<see cref="IMembershipViewGrain"/>, answered from memory by whichever gateway the client reaches). When a silo
/// leaves the active set every call in flight is given up with <see cref="SiloUnavailableException"/>, a transient
/// error each caller already retries after refreshing what it knows; for <see cref="SettleTime"/> after that, a call
/// unanswered for <see cref="SettleCallTimeout"/> past what it may legitimately wait is given up too. Otherwise a call
/// is never given up for taking long, so long polls (Fetch's maxWait, JoinGroup during a rebalance) keep Orleans' own
/// timeout. A call given up on a live silo may still run: each caller's retry is one it already makes after a response
/// timeout (the idempotent producer's sequence numbers make its retries harmless).
/// </summary>
internal sealed class SiloFailureWatch
{
    private static readonly ConditionalWeakTable<IGrainFactory, SiloFailureWatch> s_watches = new();

    /// <summary>How often the membership is looked at while calls are in flight.</summary>
    public static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(500);

    /// <summary>How long after a silo leaves the cluster calls may still be dropped while it settles.</summary>
    public static readonly TimeSpan SettleTime = TimeSpan.FromSeconds(15);

    /// <summary>While the cluster settles: how long a call may go unanswered beyond its own wait before it is given up.</summary>
    public static readonly TimeSpan SettleCallTimeout = TimeSpan.FromSeconds(2);

    /// <summary>A poll unanswered this long went to a gateway that died; the next one goes to another.</summary>
    private static readonly TimeSpan PollTimeout = TimeSpan.FromSeconds(2);

    // Weak: the poll loop keeps the watch alive, and the watch must not keep a disposed client alive.
    private readonly WeakReference<IGrainFactory> _grains;
    private readonly TimeProvider _time;
    private readonly ConcurrentDictionary<PendingCall, byte> _pending = new();
    private HashSet<SiloAddress>? _active;
    private long _version = -1;
    private long _departures;
    private long _settleUntil = long.MinValue;
    private long _observedAt = long.MinValue;
    private int _polling;

    internal SiloFailureWatch(IGrainFactory grains, TimeProvider time)
    {
        _grains = new WeakReference<IGrainFactory>(grains);
        _time = time;
    }

    /// <summary>The watch shared by every producer, consumer and admin client of one client (or grain factory).</summary>
    public static SiloFailureWatch For(IGrainFactory grains) =>
        s_watches.GetValue(grains, static g => new SiloFailureWatch(g, TimeProvider.System));

    /// <summary>How many times a silo was seen to leave the cluster.</summary>
    public long Departures => Interlocked.Read(ref _departures);

    /// <summary>
    /// The call's result, or <see cref="SiloUnavailableException"/> once a silo leaves the cluster before it is answered.
    /// <paramref name="mayWait"/> is how long the call may legitimately wait on the silo (a long poll's maxWait).
    /// </summary>
    public async Task<T> Call<T>(Task<T> call, TimeSpan mayWait = default)
    {
        if (call.IsCompleted) return await call.ConfigureAwait(false);
        var now = _time.GetTimestamp();
        var pending = new PendingCall(now, now + mayWait.Ticks * _time.TimestampFrequency / TimeSpan.TicksPerSecond);
        _pending.TryAdd(pending, 0);
        EnsurePolling();
        try
        {
            return await call.WaitAsync(pending.GivenUp.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (pending.GivenUp.IsCancellationRequested)
        {
            if (call.IsCompleted) return await call.ConfigureAwait(false);
            call.Ignore(); // it ends at Orleans' response timeout at the latest; its outcome no longer matters
            throw new SiloUnavailableException("A silo left the cluster while this call was unanswered; it may have been the call's target or gateway.");
        }
        finally
        {
            _pending.TryRemove(pending, out _);
            pending.GivenUp.Dispose();
        }
    }

    private void EnsurePolling()
    {
        if (Interlocked.CompareExchange(ref _polling, 1, 0) == 0) _ = Task.Run(PollAsync);
    }

    private async Task PollAsync()
    {
        while (_grains.TryGetTarget(out var grains))
        {
            try
            {
                var view = await grains.GetGrain<IMembershipViewGrain>(0).GetView(Interlocked.Read(ref _version))
                    .WaitAsync(PollTimeout, _time).ConfigureAwait(false);
                Apply(view);
                Interlocked.Exchange(ref _observedAt, _time.GetTimestamp());
            }
            catch (ObjectDisposedException)
            {
                break; // the client was disposed
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                // A gateway that died or a cluster still starting: the next poll tries again.
            }
            grains = null!;
            GiveUpStuckWhileSettling();
            await Task.Delay(PollInterval, _time).ConfigureAwait(false);
            if (!_pending.IsEmpty) continue;
            Volatile.Write(ref _polling, 0);
            // A call that began after the check above must not be left unwatched.
            if (_pending.IsEmpty || Interlocked.CompareExchange(ref _polling, 1, 0) != 0) return;
        }
        Volatile.Write(ref _polling, 0);
    }

    /// <summary>A newer view: when a silo of the previous one is gone, the calls in flight are given up.</summary>
    internal void Apply(MembershipView view)
    {
        if (view.ActiveSilos is not { } silos || view.Version <= Interlocked.Read(ref _version)) return;
        var active = new HashSet<SiloAddress>(silos);
        var previous = _active;
        _active = active;
        Interlocked.Exchange(ref _version, view.Version);
        if (previous is null || previous.IsSubsetOf(active)) return;
        Interlocked.Increment(ref _departures);
        var now = _time.GetTimestamp();
        Interlocked.Exchange(ref _settleUntil, now + SettleTime.Ticks * _time.TimestampFrequency / TimeSpan.TicksPerSecond);
        // Only calls already in flight when the previous view was seen can have been waiting on the silo that left. The
        // watch polls only while calls are in flight, so a departure seen now may predate a call that began after an
        // idle spell: giving that one up would only retry it (a CreateTopics then answers TopicAlreadyExists). Calls
        // begun since are left to the settle rule.
        var seenAt = Interlocked.Read(ref _observedAt);
        foreach (var pending in _pending.Keys)
            if (pending.Started <= seenAt) pending.GiveUp();
    }

    private void GiveUpStuckWhileSettling()
    {
        var now = _time.GetTimestamp();
        if (now >= Interlocked.Read(ref _settleUntil)) return;
        var limit = SettleCallTimeout.Ticks * _time.TimestampFrequency / TimeSpan.TicksPerSecond;
        foreach (var pending in _pending.Keys)
            if (now - pending.AnswerDue > limit) pending.GiveUp();
    }

    /// <summary>A call in flight; <see cref="AnswerDue"/> is when it would be answered at the latest on a healthy cluster.</summary>
    private sealed class PendingCall(long started, long answerDue)
    {
        public long Started { get; } = started;

        public long AnswerDue { get; } = answerDue;

        public CancellationTokenSource GivenUp { get; } = new();

        public void GiveUp()
        {
            try
            {
                GivenUp.Cancel();
            }
            catch (ObjectDisposedException)
            {
                // Answered meanwhile.
            }
        }
    }
}
