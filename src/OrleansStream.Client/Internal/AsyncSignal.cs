namespace OrleansStream.Client;

/// <summary>
/// A wake-up for one waiting loop: <see cref="Set"/> from anywhere; the loop calls <see cref="Reset"/> before it looks
/// for work and awaits <see cref="WaitAsync"/> after, so a Set in between is never lost.
/// </summary>
internal sealed class AsyncSignal
{
    private TaskCompletionSource _tcs = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public void Set() => Volatile.Read(ref _tcs).TrySetResult();

    public void Reset()
    {
        if (Volatile.Read(ref _tcs).Task.IsCompleted)
            Volatile.Write(ref _tcs, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
    }

    public Task WaitAsync() => Volatile.Read(ref _tcs).Task;
}

/// <summary>Converts between <see cref="TimeProvider"/> timestamps and milliseconds.</summary>
internal static class Ticks
{
    public static long FromMs(TimeProvider time, long ms) => ms * time.TimestampFrequency / 1000;

    public static long ToMs(TimeProvider time, long ticks) => ticks * 1000 / time.TimestampFrequency;
}
