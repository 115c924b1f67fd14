namespace OrleansStream.Client;

/// <summary>
/// Kafka's <c>BufferPool</c> limits, as <c>queue.buffering.max.kbytes</c> and <c>queue.buffering.max.messages</c>:
/// a record reserves its bytes and a message slot before it enters the accumulator and gives them back once reported;
/// a full buffer makes the producer wait up to <c>message.timeout.ms</c>. It accounts; the batches own their memory.
/// </summary>
internal sealed class BufferPool(ProducerSettings settings, TimeProvider time)
{
    private readonly long _messageTimeoutTicks = Ticks.FromMs(time, settings.MessageTimeoutMs);
    private long _buffered;
    private long _bufferedMessages;
    private TaskCompletionSource _spaceFreed = NewTcs();
    /// <summary>1 while a record may be waiting on <see cref="_spaceFreed"/>: a release swaps it only then, not per batch.</summary>
    private int _waiting;

    /// <summary>
    /// Waits while the buffer is over <c>queue.buffering.max.kbytes</c> or holds <c>queue.buffering.max.messages</c>,
    /// then reserves one message of <paramref name="bytes"/>.
    /// </summary>
    public ValueTask ReserveAsync(int bytes, CancellationToken cancellationToken)
    {
        if (TryReserve(bytes)) return ValueTask.CompletedTask;
        return new ValueTask(ReserveSlowAsync(bytes, cancellationToken));
    }

    public bool TryReserve(int bytes)
    {
        var maxMessages = settings.QueueBufferingMaxMessages;
        if (maxMessages > 0)
        {
            while (true)
            {
                var messages = Interlocked.Read(ref _bufferedMessages);
                if (messages >= maxMessages) return false;
                if (Interlocked.CompareExchange(ref _bufferedMessages, messages + 1, messages) == messages) break;
            }
        }
        else
        {
            Interlocked.Increment(ref _bufferedMessages);
        }
        while (true)
        {
            var current = Interlocked.Read(ref _buffered);
            if (current > 0 && current + bytes > settings.QueueBufferingMaxBytes)
            {
                // Only this call saw its message slot; a record waiting for a slot meanwhile waits for the next release.
                Interlocked.Decrement(ref _bufferedMessages);
                return false;
            }
            if (Interlocked.CompareExchange(ref _buffered, current + bytes, current) == current) return true;
        }
    }

    private async Task ReserveSlowAsync(int bytes, CancellationToken cancellationToken)
    {
        var deadline = time.GetTimestamp() + _messageTimeoutTicks;
        while (true)
        {
            var freed = Volatile.Read(ref _spaceFreed);
            // Flagged before the check, as Release frees before it reads the flag: a release this check misses sees the flag.
            Interlocked.Exchange(ref _waiting, 1);
            if (TryReserve(bytes)) return;
            var left = deadline - time.GetTimestamp();
            if (left <= 0)
                throw new KafkaException(new Error(ErrorCode.RequestTimedOut,
                    $"The producer buffer stayed full (queue.buffering.max.kbytes, queue.buffering.max.messages) for {settings.MessageTimeoutMs} ms."));
            await freed.Task.WaitAsync(TimeSpan.FromMilliseconds(Math.Max(1, Ticks.ToMs(time, left))), time, cancellationToken)
                .ContinueWith(static _ => { }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default)
                .ConfigureAwait(false);
            cancellationToken.ThrowIfCancellationRequested();
        }
    }

    /// <summary>Gives back what records reserved: their bytes and their message count.</summary>
    public void Release(long bytes, int messages)
    {
        if (messages == 0 && bytes == 0) return;
        Interlocked.Add(ref _buffered, -bytes);
        Interlocked.Add(ref _bufferedMessages, -messages);
        if (Volatile.Read(ref _waiting) != 0 && Interlocked.Exchange(ref _waiting, 0) != 0)
            Interlocked.Exchange(ref _spaceFreed, NewTcs()).TrySetResult();
    }

    /// <summary>Messages reserved and not yet reported (for tests).</summary>
    internal long BufferedMessages => Interlocked.Read(ref _bufferedMessages);

    private static TaskCompletionSource NewTcs() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
