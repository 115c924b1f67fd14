namespace OrleansStream.Client;

/// <summary>Told once how one record ended.</summary>
internal interface IDeliveryCallback
{
    void OnDelivered(TopicPartition tp, long offset, long logAppendTimeMs, PersistenceStatus status, Error error);
}

/// <summary>For records nobody waits for (delivery reports off); the producer still counts them for Flush.</summary>
internal sealed class NoDeliveryCallback : IDeliveryCallback
{
    public static readonly NoDeliveryCallback Instance = new();

    public void OnDelivered(TopicPartition tp, long offset, long logAppendTimeMs, PersistenceStatus status, Error error) { }
}

/// <summary>One ProduceAsync: the task and what its result needs, in one allocation.</summary>
internal sealed class AsyncDelivery<TKey, TValue>(Message<TKey, TValue> message, long timestampMs)
    : TaskCompletionSource<DeliveryResult<TKey, TValue>>(TaskCreationOptions.RunContinuationsAsynchronously), IDeliveryCallback
{
    public void OnDelivered(TopicPartition tp, long offset, long logAppendTimeMs, PersistenceStatus status, Error error)
    {
        var result = new DeliveryResult<TKey, TValue>
        {
            Topic = tp.Topic,
            Partition = tp.Partition,
            Offset = offset,
            Status = status,
            Message = DeliveredMessage.With(message, timestampMs, logAppendTimeMs),
        };
        if (error.IsError) TrySetException(new ProduceException<TKey, TValue>(error, result));
        else TrySetResult(result);
    }
}

/// <summary>One Produce with a handler.</summary>
internal sealed class HandlerDelivery<TKey, TValue>(Message<TKey, TValue> message, long timestampMs, Action<DeliveryReport<TKey, TValue>> handler)
    : IDeliveryCallback
{
    public void OnDelivered(TopicPartition tp, long offset, long logAppendTimeMs, PersistenceStatus status, Error error)
    {
        var report = new DeliveryReport<TKey, TValue>
        {
            Topic = tp.Topic,
            Partition = tp.Partition,
            Offset = offset,
            Status = status,
            Message = DeliveredMessage.With(message, timestampMs, logAppendTimeMs),
            Error = error,
        };
        try
        {
            handler(report);
        }
        catch (Exception)
        {
            // A throwing handler must not stop the reports of the other records of its batch.
        }
    }
}

internal static class DeliveredMessage
{
    /// <summary>
    /// The message as delivered, with the timestamp the log holds. The caller's object is not touched (it is often
    /// reused for the next Produce); a copy is made only when the timestamp differs from the one it carries.
    /// </summary>
    public static Message<TKey, TValue> With<TKey, TValue>(Message<TKey, TValue> message, long createTimeMs, long logAppendTimeMs)
    {
        var ts = logAppendTimeMs >= 0
            ? new Timestamp(logAppendTimeMs, TimestampType.LogAppendTime)
            : new Timestamp(createTimeMs, TimestampType.CreateTime);
        return message.Timestamp == ts
            ? message
            : new Message<TKey, TValue> { Key = message.Key, Value = message.Value, Headers = message.Headers, Timestamp = ts };
    }
}
