using System.Diagnostics;
using System.Runtime.InteropServices;

namespace OrleansStream.Records;

/// <summary>
/// Whole record batches that cross a grain call (Kafka's MemoryRecords: a produce request's records, a fetch answer's):
/// either <em>owned</em>, in an array rented from <see cref="RecordsBufferPool.Default"/> that <see cref="Dispose"/> returns,
/// or a <em>view</em> of memory its lender keeps (<see cref="Borrow"/>, <see cref="Lend"/>), for which <see cref="Dispose"/>
/// does nothing.
/// <para>
/// Ownership goes with the call: whoever receives one disposes it once done (the grain after the append, the caller
/// after reading a fetch answer), and the sender never touches an owned one again. Between silos the serializer writes
/// the bytes and disposes the sender's copy, and the receiver gets a copy of its own rented at the exact length; within
/// a silo the receiver gets the same instance. A call the caller gave up on may still run, so a lender keeps a view's
/// memory until it has the answer, and never reuses it after a call that ended without one.
/// </para>
/// </summary>
public sealed class PooledRecords : IDisposable
{
    /// <summary>No records; a view, so it is shared and never returned.</summary>
    public static readonly PooledRecords Empty = new(ReadOnlyMemory<byte>.Empty);

    private readonly ReadOnlyMemory<byte> _view;
    private byte[]? _rented;
    private int _length;
    private readonly bool _owned;
    private readonly bool _lent;

    private PooledRecords(ReadOnlyMemory<byte> view, bool lent = false)
    {
        _view = view;
        _length = view.Length;
        _lent = lent;
    }

    private PooledRecords(byte[] rented, int length)
    {
        _rented = rented;
        _length = length;
        _owned = true;
    }

    /// <summary>An owned buffer of <paramref name="length"/> bytes for the caller to fill through <see cref="WritableSpan"/>.</summary>
    public static PooledRecords Rent(int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        return length == 0 ? Empty : new PooledRecords(RecordsBufferPool.Default.Rent(length), length);
    }

    /// <summary>A view of <paramref name="memory"/>, which its lender keeps and must not change until the call is answered.</summary>
    public static PooledRecords Borrow(ReadOnlyMemory<byte> memory) => memory.IsEmpty ? Empty : new PooledRecords(memory);

    /// <summary>
    /// A view of <paramref name="memory"/> that the receiver may write into, as the leader stamps a produce request's
    /// offsets and epoch: its lender keeps the memory as for <see cref="Borrow"/> and reads it no more after the call.
    /// </summary>
    public static PooledRecords Lend(Memory<byte> memory) => memory.IsEmpty ? Empty : new PooledRecords(memory, lent: true);

    public static implicit operator PooledRecords(ReadOnlyMemory<byte> memory) => Borrow(memory);

    public static implicit operator PooledRecords(byte[] array) => Borrow(array);

    /// <summary>True when <see cref="Dispose"/> returns a rented array (false for a view).</summary>
    public bool IsOwned => _owned;

    public int Length => _length;

    public bool IsEmpty => _length == 0;

    public ReadOnlyMemory<byte> Memory => _owned ? RentedOrThrow().AsMemory(0, _length) : _view;

    public ReadOnlySpan<byte> Span => _owned ? RentedOrThrow().AsSpan(0, _length) : _view.Span;

    /// <summary>True for an owned buffer and a lent view (<see cref="WritableSpan"/>), false for a borrowed view.</summary>
    public bool IsWritable => _owned || _lent;

    /// <summary>The owned buffer, for its owner to fill before handing it on; a lent view, for its receiver.</summary>
    public Span<byte> WritableSpan => _owned ? RentedOrThrow().AsSpan(0, _length)
        : _lent ? MemoryMarshal.AsMemory(_view).Span
        : throw new InvalidOperationException("A borrowed view is read-only.");

    /// <summary>Keeps the first <paramref name="length"/> bytes only (a read that filled less than it rented).</summary>
    public void Truncate(int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(length, _length);
        if (!_owned) throw new InvalidOperationException("A borrowed view keeps its length.");
        _length = length;
    }

    /// <summary>Returns an owned array to the pool, once; a view's memory stays with its lender.</summary>
    public void Dispose()
    {
        if (!_owned) return;
        var rented = Interlocked.Exchange(ref _rented, null);
        if (rented is null)
        {
            DisposedTwice();
            return;
        }
        Poison(rented);
        RecordsBufferPool.Default.Return(rented);
    }

    /// <summary>
    /// A second dispose means two owners, one of which may still read what the pool hands to someone else: debug builds
    /// (the tests) throw; release builds return the array once and carry on.
    /// </summary>
    [Conditional("DEBUG")]
    private static void DisposedTwice() => throw new InvalidOperationException("PooledRecords disposed twice: the records had two owners.");

    /// <summary>Debug builds overwrite a returned array, so a reader that outlived its ownership sees a batch that fails its CRC.</summary>
    [Conditional("DEBUG")]
    private void Poison(byte[] rented) => rented.AsSpan(0, _length).Fill(0xDE);

    private byte[] RentedOrThrow() => _rented ?? throw new ObjectDisposedException(nameof(PooledRecords), "The records were returned to the pool.");

    public override string ToString() => $"{_length} bytes of records ({(_owned ? "pooled" : _lent ? "lent" : "borrowed")})";
}
