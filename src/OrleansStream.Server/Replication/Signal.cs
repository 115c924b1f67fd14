namespace OrleansStream.Server.Replication;

/// <summary>
/// Wakes the long-polls of one grain: a waiter awaits <see cref="Next"/>; <see cref="Fire"/> completes it and arms the
/// next one. Used on the grain's turn only, so it needs no synchronisation.
/// </summary>
internal sealed class Signal
{
    private TaskCompletionSource _next = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Task Next => _next.Task;

    public void Fire()
    {
        var fired = _next;
        _next = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        fired.TrySetResult();
    }
}
