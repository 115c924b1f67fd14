using System.Buffers;
using Microsoft.Win32.SafeHandles;
using OrleansStream.Records;

namespace OrleansStream.Storage;

/// <summary>Reads a segment's batches in order through a pooled buffer, a chunk of the file at a time.</summary>
internal sealed class SegmentBatchReader : IDisposable
{
    private const int ChunkBytes = 1 << 20;
    private readonly SafeFileHandle _file;
    private readonly long _end;
    private byte[] _buffer;
    private long _bufferPosition;
    private int _bufferLength;
    private int _next;

    public SegmentBatchReader(SafeFileHandle file, long end)
    {
        _file = file;
        _end = end;
        _buffer = ArrayPool<byte>.Shared.Rent(ChunkBytes);
    }

    /// <summary>The next whole batch, or false at the end. A batch whose length runs past the end is corruption.</summary>
    public bool TryReadNext(out ReadOnlySpan<byte> batch)
    {
        batch = default;
        var position = _bufferPosition + _next;
        if (position >= _end)
            return false;
        var available = _bufferLength - _next;
        var size = available >= RecordBatchHeader.LogOverhead ? RecordBatchHeader.PeekTotalSize(_buffer.AsSpan(_next, available)) : -1;
        if (size < 0 || size > available)
        {
            if (size > _buffer.Length)
            {
                ArrayPool<byte>.Shared.Return(_buffer);
                _buffer = ArrayPool<byte>.Shared.Rent(size);
            }
            _bufferPosition = position;
            _next = 0;
            _bufferLength = IndexFile.ReadFully(_file, _buffer.AsSpan(0, (int)Math.Min(_buffer.Length, _end - position)), position);
            size = RecordBatchHeader.PeekTotalSize(_buffer.AsSpan(0, _bufferLength));
        }
        if (size < RecordBatchHeader.Size || size > _bufferLength - _next)
            throw new OrleansStreamException(ErrorCode.KafkaStorageError, $"Damaged record batch at position {position}.");
        batch = _buffer.AsSpan(_next, size);
        _next += size;
        return true;
    }

    public void Dispose() => ArrayPool<byte>.Shared.Return(_buffer);
}
