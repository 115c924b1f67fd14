using System.Buffers;
using System.Runtime.CompilerServices;

namespace OrleansStream.Client;

/// <summary>
/// Told how records ended. One instance serves every record of its kind: what is the record's own (its message, its
/// handler or task) travels in its <see cref="Delivery"/>, so a record costs the producer no object of its own.
/// </summary>
internal interface IDeliveryCallback
{
    void OnDelivered(in Delivery delivery, TopicPartition tp, long offset, long logAppendTimeMs, PersistenceStatus status, Error error);
}

/// <summary>One record's report: who hears it and what it needs, held by value in its batch's <see cref="DeliveryList"/>.</summary>
internal readonly record struct Delivery(IDeliveryCallback Callback, object? Message = null, object? State = null, long TimestampMs = 0)
{
    public void Report(TopicPartition tp, long offset, long logAppendTimeMs, PersistenceStatus status, Error error) =>
        Callback.OnDelivered(this, tp, offset, logAppendTimeMs, status, error);
}

/// <summary>For records nobody waits for (delivery reports off); the producer still counts them for Flush.</summary>
internal sealed class NoDeliveryCallback : IDeliveryCallback
{
    public static readonly Delivery Delivery = new(new NoDeliveryCallback());

    public void OnDelivered(in Delivery delivery, TopicPartition tp, long offset, long logAppendTimeMs, PersistenceStatus status, Error error) { }
}

/// <summary>ProduceAsync: the record's state is its task's completion source (the one object the Task-returning API needs).</summary>
internal sealed class AsyncDelivery<TKey, TValue> : IDeliveryCallback
{
    private static readonly AsyncDelivery<TKey, TValue> s_instance = new();

    public static Delivery For(Message<TKey, TValue> message, long timestampMs, TaskCompletionSource<DeliveryResult<TKey, TValue>> completion) =>
        new(s_instance, message, completion, timestampMs);

    public void OnDelivered(in Delivery delivery, TopicPartition tp, long offset, long logAppendTimeMs, PersistenceStatus status, Error error)
    {
        // The types are this class's own by construction (For), so the casts need no check.
        var completion = Unsafe.As<TaskCompletionSource<DeliveryResult<TKey, TValue>>>(delivery.State!);
        var result = new DeliveryResult<TKey, TValue>
        {
            Topic = tp.Topic,
            Partition = tp.Partition,
            Offset = offset,
            Status = status,
            Message = DeliveredMessage.With(Unsafe.As<Message<TKey, TValue>>(delivery.Message!), delivery.TimestampMs, logAppendTimeMs),
        };
        if (error.IsError) completion.TrySetException(new ProduceException<TKey, TValue>(error, result));
        else completion.TrySetResult(result);
    }
}

/// <summary>Produce with a handler: the record's state is the caller's handler; the report is the caller's to keep.</summary>
internal sealed class HandlerDelivery<TKey, TValue> : IDeliveryCallback
{
    /// <summary>The one instance; a record's <see cref="Delivery.State"/> is its <c>Action&lt;DeliveryReport&gt;</c>.</summary>
    public static readonly HandlerDelivery<TKey, TValue> Instance = new();

    public void OnDelivered(in Delivery delivery, TopicPartition tp, long offset, long logAppendTimeMs, PersistenceStatus status, Error error)
    {
        var report = new DeliveryReport<TKey, TValue>
        {
            Topic = tp.Topic,
            Partition = tp.Partition,
            Offset = offset,
            Status = status,
            Message = DeliveredMessage.With(Unsafe.As<Message<TKey, TValue>>(delivery.Message!), delivery.TimestampMs, logAppendTimeMs),
            Error = error,
        };
        try
        {
            // The types are this class's own by construction (For), so the casts need no check.
            Unsafe.As<Action<DeliveryReport<TKey, TValue>>>(delivery.State!)(report);
        }
        catch (Exception)
        {
            // A throwing handler must not stop the reports of the other records of its batch.
        }
    }
}

/// <summary>
/// Produce with an <see cref="IDeliveryHandler{TKey,TValue}"/>: the record's state is the caller's handler, told the outcome
/// as parameters, so delivering costs no object either.
/// </summary>
internal sealed class InterfaceDelivery<TKey, TValue> : IDeliveryCallback
{
    /// <summary>The one instance; a record's <see cref="Delivery.State"/> is its handler.</summary>
    public static readonly InterfaceDelivery<TKey, TValue> Instance = new();

    public void OnDelivered(in Delivery delivery, TopicPartition tp, long offset, long logAppendTimeMs, PersistenceStatus status, Error error)
    {
        try
        {
            // The types are this class's own by construction (Producer.Produce), so the casts need no check.
            Unsafe.As<IDeliveryHandler<TKey, TValue>>(delivery.State!).OnDelivered(Unsafe.As<Message<TKey, TValue>>(delivery.Message!),
                new TopicPartitionOffset(tp, offset), DeliveredMessage.TimestampOf(delivery.TimestampMs, logAppendTimeMs), status, error);
        }
        catch (Exception)
        {
            // A throwing handler must not stop the reports of the other records of its batch.
        }
    }
}

/// <summary>
/// A batch's deliveries in record order, in an array from its producer's pool (<see cref="NewPool"/>), which gets it
/// back once the batch is reported.
/// </summary>
internal sealed class DeliveryList(ArrayPool<Delivery> pool)
{
    private Delivery[] _items = [];
    private int _count;

    /// <summary>
    /// A producer's own pool, sized for its batches in flight (the shared pool keeps only a few arrays per size, and
    /// other producers of the process would take them).
    /// </summary>
    public static ArrayPool<Delivery> NewPool() => ArrayPool<Delivery>.Create(1 << 20, 1024);

    public ArrayPool<Delivery> Pool => pool;

    public int Count => _count;

    public ref readonly Delivery this[int index]
    {
        get
        {
            ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)index, (uint)_count, nameof(index));
            return ref _items[index];
        }
    }

    public void Add(in Delivery delivery)
    {
        if (_count == _items.Length) Grow();
        _items[_count++] = delivery;
    }

    /// <summary>Empties the list and gives its array back.</summary>
    public void Clear()
    {
        if (_items.Length > 0) pool.Return(_items, clearArray: true);
        _items = [];
        _count = 0;
    }

    private void Grow()
    {
        var grown = pool.Rent(Math.Max(64, _items.Length * 2));
        _items.AsSpan(0, _count).CopyTo(grown);
        if (_items.Length > 0) pool.Return(_items, clearArray: true);
        _items = grown;
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
        var ts = TimestampOf(createTimeMs, logAppendTimeMs);
        return message.Timestamp == ts
            ? message
            : new Message<TKey, TValue> { Key = message.Key, Value = message.Value, Headers = message.Headers, Timestamp = ts };
    }

    /// <summary>The timestamp the log holds: the broker's log append time when the topic uses it, else the create time.</summary>
    public static Timestamp TimestampOf(long createTimeMs, long logAppendTimeMs) => logAppendTimeMs >= 0
        ? new Timestamp(logAppendTimeMs, TimestampType.LogAppendTime)
        : new Timestamp(createTimeMs, TimestampType.CreateTime);
}
