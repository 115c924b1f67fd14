using System.Collections.Concurrent;

namespace OrleansStream.Storage.Tests;

/// <summary>
/// A scheduler for a log's background work (Kafka's tests use a MockScheduler the same way): work waits in the queue
/// until the test runs it, so a test can act while a flush or a clean is still pending.
/// </summary>
internal sealed class HeldTaskScheduler : TaskScheduler
{
    private readonly ConcurrentQueue<Task> _queue = new();

    /// <summary>Queued work not run yet (work a waiter ran itself stays queued, done).</summary>
    public int Pending => _queue.Count(task => !task.IsCompleted);

    /// <summary>
    /// When set, a thread that waits for held work runs it itself (as the thread pool lets a waiter do). Work queued
    /// behind other work (a second roll's flush) is not queued yet, so waiting on it still needs <see cref="RunPending"/>.
    /// </summary>
    public bool RunWhenWaitedOn { get; set; }

    /// <summary>Runs the held work, and work it queues, on the calling thread until none is left.</summary>
    public void RunPending()
    {
        while (_queue.TryDequeue(out var task))
            TryExecuteTask(task);
    }

    protected override void QueueTask(Task task) => _queue.Enqueue(task);

    protected override bool TryExecuteTaskInline(Task task, bool taskWasPreviouslyQueued) =>
        RunWhenWaitedOn && TryExecuteTask(task);

    protected override IEnumerable<Task> GetScheduledTasks() => _queue.ToArray();
}
