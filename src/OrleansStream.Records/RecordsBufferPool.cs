using System.Buffers;
using System.Numerics;

namespace OrleansStream.Records;

/// <summary>
/// The pool of <see cref="PooledRecords"/>' arrays and of the Kafka listener's request frames: arrays of a power of two
/// from 1 KiB to 16 MiB, kept in one set of slots per size shared by every thread.
/// <para>
/// Such an array is rented on one thread (a connection's, reading a request) and returned on another (the grain's turn
/// that appended it). <see cref="ArrayPool{T}.Shared"/> parks a returned array in the returning thread's own slot first,
/// where only that thread rents it again, and loses it when the thread retires: under a thread pool that adds and
/// retires threads its rents miss, and each miss is a new array the size of a request. Here a returned array is at once
/// there for any thread's next rent. The slots are taken and filled with one interlocked exchange each, with no lock,
/// starting from the current processor's slot so that concurrent callers mostly touch different slots.
/// </para>
/// <para>
/// What the pool keeps is bounded by <see cref="MaxRetainedBytes"/>: a return beyond it, or of an array larger than the
/// largest size, leaves the array to the garbage collector, as does a rent that finds no array of its size.
/// </para>
/// </summary>
public sealed class RecordsBufferPool : ArrayPool<byte>
{
    /// <summary>
    /// 64 MiB: room for the batches of dozens of requests and fetch answers of a MiB in flight on a broker (Kafka's
    /// <c>max.partition.fetch.bytes</c>), a small part of a broker's memory, and a bound a client process can afford too.
    /// </summary>
    public const long DefaultMaxRetainedBytes = 64L << 20;

    private const int MinShift = 10;
    private const int MaxShift = 24;
    private const int SlotsPerSize = 64;

    /// <summary>The pool every <see cref="PooledRecords"/> and the Kafka listener's frames come from.</summary>
    public static RecordsBufferPool Default { get; } = new(DefaultMaxRetainedBytes);

    private readonly byte[]?[][] _sizes;
    private long _retainedBytes;

    public RecordsBufferPool(long maxRetainedBytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxRetainedBytes);
        MaxRetainedBytes = maxRetainedBytes;
        _sizes = new byte[]?[MaxShift - MinShift + 1][];
        for (var i = 0; i < _sizes.Length; i++) _sizes[i] = new byte[]?[SlotsPerSize];
    }

    /// <summary>The smallest array the pool hands out.</summary>
    public static int MinArrayLength => 1 << MinShift;

    /// <summary>The largest array the pool keeps; a longer rent gets an array of its exact length, not kept on return.</summary>
    public static int MaxArrayLength => 1 << MaxShift;

    public long MaxRetainedBytes { get; }

    /// <summary>The bytes of the arrays the pool holds now, ready to rent.</summary>
    public long RetainedBytes => Volatile.Read(ref _retainedBytes);

    /// <summary>An array of at least <paramref name="minimumLength"/> bytes, not cleared.</summary>
    public override byte[] Rent(int minimumLength)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(minimumLength);
        if (minimumLength == 0) return [];
        var size = SizeIndex(minimumLength);
        if (size >= _sizes.Length) return GC.AllocateUninitializedArray<byte>(minimumLength);
        var slots = _sizes[size];
        var start = Thread.GetCurrentProcessorId();
        for (var i = 0; i < SlotsPerSize; i++)
        {
            ref var slot = ref slots[(start + i) & (SlotsPerSize - 1)];
            if (Volatile.Read(ref slot) is not null && Interlocked.Exchange(ref slot, null) is { } array)
            {
                Interlocked.Add(ref _retainedBytes, -array.Length);
                return array;
            }
        }
        return GC.AllocateUninitializedArray<byte>(1 << (size + MinShift));
    }

    /// <summary>Takes back an array from <see cref="Rent"/>; another of a length the pool never hands out is refused.</summary>
    public override void Return(byte[] array, bool clearArray = false)
    {
        ArgumentNullException.ThrowIfNull(array);
        if (array.Length == 0 || array.Length > MaxArrayLength) return;
        if (array.Length < MinArrayLength || !BitOperations.IsPow2(array.Length))
            throw new ArgumentException($"An array of {array.Length} bytes did not come from this pool.", nameof(array));
        // The bytes are reserved before the array is placed, so what the slots hold never exceeds the bound.
        if (Interlocked.Add(ref _retainedBytes, array.Length) > MaxRetainedBytes)
        {
            Interlocked.Add(ref _retainedBytes, -array.Length);
            return;
        }
        if (clearArray) Array.Clear(array);
        var slots = _sizes[SizeIndex(array.Length)];
        var start = Thread.GetCurrentProcessorId();
        for (var i = 0; i < SlotsPerSize; i++)
        {
            ref var slot = ref slots[(start + i) & (SlotsPerSize - 1)];
            if (Volatile.Read(ref slot) is null && Interlocked.CompareExchange(ref slot, array, null) is null) return;
        }
        Interlocked.Add(ref _retainedBytes, -array.Length);
    }

    private static int SizeIndex(int length) =>
        length <= MinArrayLength ? 0 : BitOperations.Log2((uint)length - 1) + 1 - MinShift;
}
