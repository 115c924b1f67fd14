using System.Buffers;

namespace OrleansStream.Records;

/// <summary>
/// A growable byte buffer rented from <see cref="ArrayPool{T}.Shared"/>, for codecs and batch rewriting on hot paths:
/// reused across batches (<see cref="Clear"/>), so steady traffic allocates nothing. <see cref="MaxLength"/> bounds
/// what it may hold, which is how decompression refuses a bomb. Not thread-safe.
/// </summary>
public sealed class PooledBuffer : IBufferWriter<byte>, IDisposable
{
    private byte[] _array;
    private int _length;

    public PooledBuffer(int initialCapacity = 16384, int maxLength = int.MaxValue)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(initialCapacity);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxLength);
        MaxLength = maxLength;
        _array = ArrayPool<byte>.Shared.Rent(Math.Max(Math.Min(initialCapacity, maxLength), 256));
    }

    /// <summary>The most bytes the buffer may hold; asking for more throws <see cref="ErrorCode.RecordTooLarge"/>.</summary>
    public int MaxLength { get; set; }

    public int Length => _length;

    /// <summary>Bytes of the rented array.</summary>
    public int Capacity => _array.Length;

    public ReadOnlySpan<byte> WrittenSpan => _array.AsSpan(0, _length);

    public ReadOnlyMemory<byte> WrittenMemory => _array.AsMemory(0, _length);

    /// <summary>The written bytes, writable (a header rewritten in place).</summary>
    public Span<byte> WrittenSpanMutable => _array.AsSpan(0, _length);

    internal Memory<byte> WrittenMemoryMutable => _array.AsMemory(0, _length);

    /// <summary>Forgets the content, keeping the rented array for the next use.</summary>
    public void Clear() => _length = 0;

    /// <summary>Cuts the content back to <paramref name="length"/> bytes.</summary>
    public void Truncate(int length)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan((uint)length, (uint)_length);
        _length = length;
    }

    public void Write(ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(GetSpan(bytes.Length));
        _length += bytes.Length;
    }

    public void Advance(int count)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan((uint)count, (uint)(_array.Length - _length));
        _length += count;
    }

    public Memory<byte> GetMemory(int sizeHint = 0)
    {
        Ensure(sizeHint);
        return _array.AsMemory(_length);
    }

    public Span<byte> GetSpan(int sizeHint = 0)
    {
        Ensure(sizeHint);
        return _array.AsSpan(_length);
    }

    /// <summary>
    /// Free space after the content for up to <paramref name="sizeHint"/> bytes or more, never past
    /// <see cref="MaxLength"/>: empty once the buffer is full, so a decoder can tell a bomb from an exact fit.
    /// </summary>
    internal Span<byte> GetBoundedSpan(int sizeHint)
    {
        int hint = Math.Min(Math.Max(sizeHint, 1), MaxLength - _length);
        if (hint <= 0)
            return [];
        Ensure(hint);
        return _array.AsSpan(_length, Math.Min(_array.Length, MaxLength) - _length);
    }

    public void Dispose()
    {
        byte[] array = _array;
        if (array.Length == 0)
            return;
        _array = [];
        _length = 0;
        ArrayPool<byte>.Shared.Return(array);
    }

    private void Ensure(int sizeHint)
    {
        ObjectDisposedException.ThrowIf(_array.Length == 0, this);
        long required = (long)_length + Math.Max(sizeHint, 1);
        if (required > MaxLength)
            throw new OrleansStreamException(ErrorCode.RecordTooLarge, $"Buffer would grow past its limit of {MaxLength} bytes.");
        if (required <= _array.Length)
            return;
        int size = (int)Math.Min(Math.Max((long)_array.Length * 2, required), Math.Min(Array.MaxLength, MaxLength));
        byte[] grown = ArrayPool<byte>.Shared.Rent(size);
        _array.AsSpan(0, _length).CopyTo(grown);
        ArrayPool<byte>.Shared.Return(_array);
        _array = grown;
    }
}
