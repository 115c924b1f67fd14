namespace OrleansStream.Client;

/// <summary>
/// The blocking wrappers (Commit, Committed, GetMetadata, leave group...). On a grain's turn, a grain call can need that
/// grain's scheduler before it completes, or even before it is sent (Orleans addresses a grain whose location it has not
/// cached yet asynchronously, on the caller's scheduler); the blocked turn holds that scheduler. So when the caller runs
/// on a scheduler or synchronization context of its own, the operation starts on the thread pool instead.
/// </summary>
internal static class Blocking
{
    public static void Wait(Func<Task> operation)
    {
        if (OnCallersScheduler) Task.Run(operation).GetAwaiter().GetResult();
        else operation().GetAwaiter().GetResult();
    }

    public static T Wait<T>(Func<Task<T>> operation) =>
        OnCallersScheduler ? Task.Run(operation).GetAwaiter().GetResult() : operation().GetAwaiter().GetResult();

    private static bool OnCallersScheduler => TaskScheduler.Current != TaskScheduler.Default || SynchronizationContext.Current is not null;
}
