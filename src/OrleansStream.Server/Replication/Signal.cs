namespace OrleansStream.Server.Replication;

/// <summary>
/// Wakes the long-polls of one grain: a waiter awaits <see cref="WaitAsync"/>; <see cref="Fire"/> completes every
/// waiter and arms the next round. Used on the grain's turn only, so it needs no synchronisation.
/// </summary>
/// <remarks>
/// A waiter's own task completes straight onto the grain's scheduler. <c>Task.WaitAsync(timeout)</c> on one shared
/// task instead took a thread-pool hop between the fire and the grain, a queue wait on every follower fetch and so on
/// every acks=all produce.
/// </remarks>
internal sealed class Signal
{
    private readonly List<Waiter> _waiters = [];
    // Armed when an observer asks for it: the leader fires on every append, and a task per fire that nobody awaits was
    // most of the partition's own allocation per produce request.
    private TaskCompletionSource? _next;

    /// <summary>Completes at the next <see cref="Fire"/> (for observers; long-polls use <see cref="WaitAsync"/>).</summary>
    public Task Next => (_next ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;

    /// <summary>Long-polls parked now.</summary>
    internal int Waiting => _waiters.Count;

    /// <summary>Completes at the next <see cref="Fire"/> or after <paramref name="timeout"/>, whichever comes first.</summary>
    public async Task WaitAsync(TimeSpan timeout, TimeProvider time)
    {
        if (timeout <= TimeSpan.Zero) return;
        var waiter = new Waiter(timeout, time);
        _waiters.Add(waiter);
        try
        {
            await waiter.Task;
        }
        finally
        {
            // A timed-out waiter leaves on the grain's turn. A fired one is gone already, and leaves the list alone:
            // outside a grain its continuation may run on another thread while Fire still walks the list.
            if (!waiter.Fired) _waiters.Remove(waiter);
        }
    }

    public void Fire()
    {
        foreach (var waiter in _waiters) waiter.Wake();
        _waiters.Clear();
        var fired = _next;
        _next = null;
        fired?.TrySetResult();
    }

    private sealed class Waiter : TaskCompletionSource
    {
        private readonly ITimer _timeout;

        public Waiter(TimeSpan timeout, TimeProvider time) : base(TaskCreationOptions.RunContinuationsAsynchronously) =>
            _timeout = time.CreateTimer(static self => ((Waiter)self!).TrySetResult(), this, timeout, Timeout.InfiniteTimeSpan);

        public bool Fired { get; private set; }

        public void Wake()
        {
            Fired = true;
            _timeout.Dispose();
            TrySetResult();
        }
    }
}
