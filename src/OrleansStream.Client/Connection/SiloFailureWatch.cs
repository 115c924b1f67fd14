using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

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
/// <para>
/// A gateway connection that closes (its silo was killed: the host resets it at once) gives up every call in flight as
/// a departure does, and starts the settle time, as Kafka's client fails the requests in flight on a connection that
/// closes. It does not wait for the membership: a client whose first look at the membership comes after the silo was
/// already declared dead (a new client, or the CLI, that started during a failover) sees no departure at all, and its
/// calls through that gateway would wait for Orleans' response timeout. Orleans does not say which connection carried a
/// call, so calls through the other gateways are given up too and made again.
/// </para>
/// </summary>
internal sealed partial class SiloFailureWatch
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
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<PendingCall, byte> _pending = new();
    private HashSet<SiloAddress>? _active;
    private long _version = -1;
    private long _departures;
    private long _settleUntil = long.MinValue;
    private long _observedAt = long.MinValue;
    private int _polling;

    internal SiloFailureWatch(IGrainFactory grains, TimeProvider time, ILogger? logger = null)
    {
        _grains = new WeakReference<IGrainFactory>(grains);
        _time = time;
        _logger = logger ?? NullLogger.Instance;
    }

    /// <summary>The watch shared by every producer, consumer and admin client of one client (or grain factory).</summary>
    public static SiloFailureWatch For(IGrainFactory grains) =>
        s_watches.GetValue(grains, static g => new SiloFailureWatch(g, TimeProvider.System,
            (g as IClusterClient)?.ServiceProvider.GetService<ILogger<SiloFailureWatch>>()));

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
            throw new SiloUnavailableException(pending.Reason);
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
                LogPollFailed(ex.GetType().Name, ex.Message);
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
        if (previous is null)
        {
            if (view.SinceDeparture is { } since && since < SettleTime)
                FirstViewAfterDeparture(view.Version, active.Count, since);
            else
                LogFirstView(view.Version, active.Count);
            return;
        }
        if (previous.IsSubsetOf(active)) return;
        Interlocked.Increment(ref _departures);
        StartSettling();
        // Only calls already in flight when the previous view was seen can have been waiting on the silo that left. The
        // watch polls only while calls are in flight, so a departure seen now may predate a call that began after an
        // idle spell: giving that one up would only retry it (a CreateTopics then answers TopicAlreadyExists). Calls
        // begun since are left to the settle rule and to a closed gateway connection.
        LogDeparture(view.Version, previous.Count, active.Count, GiveUpBegunBy(Interlocked.Read(ref _observedAt), DepartureReason));
    }

    /// <summary>
    /// A client that starts during a failover (a CLI command) gets a first view that already lacks the dead silo, so it
    /// sees no departure; but the calls it sent before the silo that answered learned of the death may have gone to the
    /// dead silo through a gateway that is alive, and no connection of the client closes: as for a departure, they are
    /// given up, and the cluster is taken to be settling since the departure.
    /// </summary>
    private void FirstViewAfterDeparture(long version, int active, TimeSpan since)
    {
        var departedAt = _time.GetTimestamp() - since.Ticks * _time.TimestampFrequency / TimeSpan.TicksPerSecond;
        Interlocked.Increment(ref _departures);
        StartSettling(departedAt);
        LogFirstViewAfterDeparture(version, active, since.TotalMilliseconds, GiveUpBegunBy(departedAt, DepartureReason));
    }

    /// <summary>
    /// Orleans closed a connection to a gateway: the calls in flight are given up (any of them may have gone through it,
    /// and Orleans answers them only at its response timeout), and the cluster is taken to be settling. The callers
    /// resume on the thread pool, not on Orleans' connection thread.
    /// </summary>
    public void GatewayConnectionClosed()
    {
        var closedAt = _time.GetTimestamp();
        StartSettling();
        ThreadPool.QueueUserWorkItem(static s => s.Watch.LogConnectionClosed(s.Watch.GiveUpBegunBy(s.ClosedAt, ConnectionClosedReason)),
            (Watch: this, ClosedAt: closedAt), preferLocal: false);
    }

    /// <summary>Gives up the calls in flight that began by <paramref name="timestamp"/>; how many it gave up.</summary>
    private int GiveUpBegunBy(long timestamp, string reason)
    {
        var givenUp = 0;
        foreach (var pending in _pending.Keys)
            if (pending.Started <= timestamp && pending.GiveUp(reason)) givenUp++;
        return givenUp;
    }

    private const string DepartureReason = "A silo left the cluster while this call was unanswered; it may have been the call's target or gateway.";
    private const string ConnectionClosedReason = "A gateway connection closed while this call was unanswered; it may have carried the call.";
    private const string SettleReason = "The call went unanswered while the cluster settled after a silo left; its message may have been dropped.";

    private void StartSettling() => StartSettling(_time.GetTimestamp());

    private void StartSettling(long since) =>
        Interlocked.Exchange(ref _settleUntil, since + SettleTime.Ticks * _time.TimestampFrequency / TimeSpan.TicksPerSecond);

    private void GiveUpStuckWhileSettling()
    {
        var now = _time.GetTimestamp();
        if (now >= Interlocked.Read(ref _settleUntil)) return;
        var limit = SettleCallTimeout.Ticks * _time.TimestampFrequency / TimeSpan.TicksPerSecond;
        var givenUp = 0;
        foreach (var pending in _pending.Keys)
            if (now - pending.AnswerDue > limit && pending.GiveUp(SettleReason)) givenUp++;
        if (givenUp > 0) LogGivenUpWhileSettling(givenUp);
    }

    /// <summary>A call in flight; <see cref="AnswerDue"/> is when it would be answered at the latest on a healthy cluster.</summary>
    private sealed class PendingCall(long started, long answerDue)
    {
        public long Started { get; } = started;

        public long AnswerDue { get; } = answerDue;

        public CancellationTokenSource GivenUp { get; } = new();

        /// <summary>Why it was given up: the first reason wins.</summary>
        public string Reason { get; private set; } = DepartureReason;

        /// <summary>True when this gave the call up (it was neither answered nor given up before).</summary>
        public bool GiveUp(string reason)
        {
            if (Interlocked.Exchange(ref _givenUp, 1) != 0) return false;
            Reason = reason;
            try
            {
                GivenUp.Cancel();
                return true;
            }
            catch (ObjectDisposedException)
            {
                return false; // answered meanwhile
            }
        }

        private int _givenUp;
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Membership view {Version}: {Active} active silos, the first this client saw (no departure can be told from it)")]
    private partial void LogFirstView(long version, int active);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Membership view {Version}: {Active} active silos, the first this client saw, from a silo that saw a silo leave {SinceMs:F0} ms ago; {GivenUp} call(s) in flight given up")]
    private partial void LogFirstViewAfterDeparture(long version, int active, double sinceMs, int givenUp);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Membership view {Version}: a silo left the cluster ({Before} active silos before, {After} now); {GivenUp} call(s) in flight given up")]
    private partial void LogDeparture(long version, int before, int after, int givenUp);

    [LoggerMessage(Level = LogLevel.Debug, Message = "A gateway connection closed: {GivenUp} call(s) in flight given up")]
    private partial void LogConnectionClosed(int givenUp);

    [LoggerMessage(Level = LogLevel.Debug, Message = "{GivenUp} call(s) unanswered while the cluster settles given up")]
    private partial void LogGivenUpWhileSettling(int givenUp);

    [LoggerMessage(Level = LogLevel.Debug, Message = "The membership poll failed ({Error}: {Reason}); the next one tries again")]
    private partial void LogPollFailed(string error, string reason);
}
