using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace OrleansStream.Records;

/// <summary>A record header: a UTF-8 key (never null, as in Kafka) and an optional value.</summary>
public readonly record struct RecordHeader(string Key, byte[]? Value);

/// <summary>
/// Builds one Kafka RecordBatch v2 into a pooled buffer that grows as records are appended (Kafka's
/// MemoryRecordsBuilder); a codec compresses the records when the batch is sealed. Reusable: <see cref="Reset"/> starts the next batch in the same buffer,
/// so a producer appends millions of records without allocating per record. Not thread-safe.
/// </summary>
public sealed class RecordBatchBuilder : IDisposable
{
    /// <summary>Largest record framing besides key, value and headers: length(5) attributes(1) timestampDelta(10)
    /// offsetDelta(5) keyLength(5) valueLength(5) headerCount(5).</summary>
    private const int MaxRecordOverhead = 5 + 1 + 10 + 5 + 5 + 5 + 5;

    private byte[] _buffer;
    private int _position;
    private int _count;
    private long _baseTimestamp;
    private long _maxTimestamp;
    private long _producerId;
    private short _producerEpoch;
    private int _baseSequence;
    private short _attributes;
    private CompressionType _compression;
    private PooledBuffer? _compressed;

    public RecordBatchBuilder(int initialCapacity = 16384)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(initialCapacity);
        _buffer = ArrayPool<byte>.Shared.Rent(Math.Max(initialCapacity, RecordBatchHeader.Size + MaxRecordOverhead));
        Reset();
    }

    /// <summary>Records appended since the last <see cref="Reset"/>.</summary>
    public int Count => _count;

    /// <summary>Size of the batch if it were sealed now, header included, before compression.</summary>
    public int SizeInBytes => _position;

    /// <summary>Bytes of buffer the builder holds (what pooling it keeps alive).</summary>
    public int Capacity => _buffer.Length + (_compressed?.Capacity ?? 0);

    /// <summary>Timestamp of the first record (the batch's baseTimestamp), or -1 when empty.</summary>
    public long BaseTimestamp => _count == 0 ? -1 : _baseTimestamp;

    /// <summary>Codec applied to the records when the batch is sealed.</summary>
    public CompressionType Compression => _compression;

    /// <summary>
    /// Starts a new, empty batch. Memory returned by an earlier <see cref="Seal"/> becomes invalid.
    /// A <paramref name="compression"/> id Kafka does not define throws <see cref="ErrorCode.UnsupportedCompressionType"/>.
    /// </summary>
    public void Reset(long producerId = -1, short producerEpoch = -1, int baseSequence = -1, bool isTransactional = false, bool isControl = false,
        CompressionType compression = CompressionType.None)
    {
        ObjectDisposedException.ThrowIf(_buffer.Length == 0, this);
        RecordBatchCompression.ThrowIfUnsupported(compression);
        _compression = compression;
        _position = RecordBatchHeader.Size;
        _count = 0;
        _baseTimestamp = -1;
        _maxTimestamp = -1;
        _producerId = producerId;
        _producerEpoch = producerEpoch;
        _baseSequence = baseSequence;
        _attributes = (short)((isTransactional ? RecordBatchHeader.TransactionalFlagMask : 0)
            | (isControl ? RecordBatchHeader.ControlFlagMask : 0)
            | (int)compression);
    }

    /// <summary>
    /// Upper bound of the bytes one record adds to a batch, for deciding whether it still fits (Kafka's
    /// estimateSizeInBytesUpperBound). Counts header framing only: add the header keys' UTF-8 and values' bytes,
    /// or use the overload that takes the headers.
    /// </summary>
    public static int EstimateSizeInBytes(int keyLength, int valueLength, int headerCount) =>
        MaxRecordOverhead + Math.Max(keyLength, 0) + Math.Max(valueLength, 0) + headerCount * (2 * Varint.MaxVarintBytes);

    /// <summary>Upper bound of the bytes one record with these headers adds to a batch.</summary>
    public static int EstimateSizeInBytes(int keyLength, int valueLength, IReadOnlyList<RecordHeader>? headers)
    {
        int size = EstimateSizeInBytes(keyLength, valueLength, 0);
        if (headers is not null)
            size += HeadersSize(headers);
        return size;
    }

    /// <summary>Appends a record; <paramref name="key"/> or <paramref name="value"/> null means a null field.</summary>
    public void Append(long timestampMs, byte[]? key, byte[]? value, IReadOnlyList<RecordHeader>? headers = null) =>
        Append(timestampMs, key, key is null, value, value is null, headers);

    /// <summary>
    /// Appends a record. A null key/value (flag set) differs from an empty one, as in Kafka: null is written as length -1.
    /// </summary>
    public void Append(long timestampMs, ReadOnlySpan<byte> key, bool keyIsNull, ReadOnlySpan<byte> value, bool valueIsNull,
        IReadOnlyList<RecordHeader>? headers = null)
    {
        if (_count == 0)
            _baseTimestamp = timestampMs;
        if (_count == int.MaxValue)
            throw new OrleansStreamException(ErrorCode.RecordListTooLarge, "A record batch holds at most int.MaxValue records.");

        long timestampDelta = timestampMs - _baseTimestamp;
        int keyLength = keyIsNull ? -1 : key.Length;
        int valueLength = valueIsNull ? -1 : value.Length;
        int headersSize = headers is null ? Varint.SizeOfVarint(0) : HeadersSize(headers);

        long bodyLong = 1L + Varint.SizeOfVarlong(timestampDelta) + Varint.SizeOfVarint(_count)
            + Varint.SizeOfVarint(keyLength) + Math.Max(keyLength, 0)
            + Varint.SizeOfVarint(valueLength) + Math.Max(valueLength, 0)
            + headersSize;
        if (bodyLong + Varint.MaxVarintBytes + _position > int.MaxValue - 64)
            throw new OrleansStreamException(ErrorCode.RecordTooLarge, $"Record of {bodyLong} bytes does not fit in a batch.");
        int bodySize = (int)bodyLong;
        EnsureCapacity(_position + Varint.SizeOfVarint(bodySize) + bodySize);

        Span<byte> dest = _buffer.AsSpan(_position);
        int p = Varint.WriteVarint(dest, bodySize);
        dest[p++] = 0; // record attributes: unused in v2
        p += Varint.WriteVarlong(dest[p..], timestampDelta);
        p += Varint.WriteVarint(dest[p..], _count);
        p += Varint.WriteVarint(dest[p..], keyLength);
        if (keyLength > 0)
        {
            key.CopyTo(dest[p..]);
            p += keyLength;
        }
        p += Varint.WriteVarint(dest[p..], valueLength);
        if (valueLength > 0)
        {
            value.CopyTo(dest[p..]);
            p += valueLength;
        }
        if (headers is null)
        {
            p += Varint.WriteVarint(dest[p..], 0);
        }
        else
        {
            p += Varint.WriteVarint(dest[p..], headers.Count);
            for (int i = 0; i < headers.Count; i++)
            {
                RecordHeader header = headers[i];
                int headerKeyLength = Encoding.UTF8.GetByteCount(header.Key);
                p += Varint.WriteVarint(dest[p..], headerKeyLength);
                p += Encoding.UTF8.GetBytes(header.Key, dest[p..]);
                if (header.Value is null)
                {
                    p += Varint.WriteVarint(dest[p..], -1);
                }
                else
                {
                    p += Varint.WriteVarint(dest[p..], header.Value.Length);
                    header.Value.CopyTo(dest[p..]);
                    p += header.Value.Length;
                }
            }
        }

        _position += p;
        _count++;
        if (_count == 1 || timestampMs > _maxTimestamp)
            _maxTimestamp = timestampMs;
    }

    /// <summary>
    /// Writes the batch header (baseOffset 0, partitionLeaderEpoch -1, CRC-32C) and returns the whole batch. The memory
    /// stays valid until the next <see cref="Reset"/> or <see cref="Append(long, byte[], byte[], IReadOnlyList{RecordHeader})"/>.
    /// Appending after sealing continues the same batch; seal again to include the new records.
    /// </summary>
    public ReadOnlyMemory<byte> Seal()
    {
        ObjectDisposedException.ThrowIf(_buffer.Length == 0, this);
        if (_count == 0)
            throw new OrleansStreamException(ErrorCode.InvalidRecord, "Cannot seal a record batch without records.");
        Memory<byte> target = _buffer.AsMemory(0, _position);
        if (_compression != CompressionType.None)
        {
            // Compressed records go to a second buffer so that appending after Seal still works on the plain ones.
            _compressed ??= new PooledBuffer(_buffer.Length);
            _compressed.Clear();
            _compressed.Write(_buffer.AsSpan(0, RecordBatchHeader.Size));
            RecordBatchCompression.CompressRecords(_compression, _buffer.AsSpan(RecordBatchHeader.Size, _position - RecordBatchHeader.Size), _compressed);
            target = _compressed.WrittenMemoryMutable;
        }
        int size = target.Length;
        Span<byte> header = target.Span[..RecordBatchHeader.Size];
        BinaryPrimitives.WriteInt64BigEndian(header, 0);
        BinaryPrimitives.WriteInt32BigEndian(header[RecordBatchHeader.BatchLengthOffset..], size - RecordBatchHeader.LogOverhead);
        BinaryPrimitives.WriteInt32BigEndian(header[RecordBatchHeader.PartitionLeaderEpochOffset..], -1);
        header[RecordBatchHeader.MagicOffset] = RecordBatchHeader.CurrentMagic;
        BinaryPrimitives.WriteInt16BigEndian(header[RecordBatchHeader.AttributesOffset..], _attributes);
        BinaryPrimitives.WriteInt32BigEndian(header[RecordBatchHeader.LastOffsetDeltaOffset..], _count - 1);
        BinaryPrimitives.WriteInt64BigEndian(header[RecordBatchHeader.BaseTimestampOffset..], _baseTimestamp);
        BinaryPrimitives.WriteInt64BigEndian(header[RecordBatchHeader.MaxTimestampOffset..], _maxTimestamp);
        BinaryPrimitives.WriteInt64BigEndian(header[RecordBatchHeader.ProducerIdOffset..], _producerId);
        BinaryPrimitives.WriteInt16BigEndian(header[RecordBatchHeader.ProducerEpochOffset..], _producerEpoch);
        BinaryPrimitives.WriteInt32BigEndian(header[RecordBatchHeader.BaseSequenceOffset..], _baseSequence);
        BinaryPrimitives.WriteInt32BigEndian(header[RecordBatchHeader.RecordsCountOffset..], _count);
        BinaryPrimitives.WriteUInt32BigEndian(header[RecordBatchHeader.CrcOffset..], RecordBatchHeader.ComputeCrc(target.Span));
        return target;
    }

    /// <summary>Seals and copies the batch into a new array that outlives the builder.</summary>
    public byte[] ToArray() => Seal().ToArray();

    /// <summary>Returns the buffer to the pool. The builder cannot be used afterwards.</summary>
    public void Dispose()
    {
        byte[] buffer = _buffer;
        if (buffer.Length == 0)
            return;
        _buffer = [];
        ArrayPool<byte>.Shared.Return(buffer);
        _compressed?.Dispose();
    }

    private static int HeadersSize(IReadOnlyList<RecordHeader> headers)
    {
        int size = Varint.SizeOfVarint(headers.Count);
        for (int i = 0; i < headers.Count; i++)
        {
            RecordHeader header = headers[i];
            if (header.Key is null)
                throw new OrleansStreamException(ErrorCode.InvalidRecord, "A record header key cannot be null.");
            int keyLength = Encoding.UTF8.GetByteCount(header.Key);
            int valueLength = header.Value is null ? -1 : header.Value.Length;
            size += Varint.SizeOfVarint(keyLength) + keyLength + Varint.SizeOfVarint(valueLength) + Math.Max(valueLength, 0);
        }
        return size;
    }

    private void EnsureCapacity(int required)
    {
        ObjectDisposedException.ThrowIf(_buffer.Length == 0, this);
        if (required <= _buffer.Length)
            return;
        int newSize = (int)Math.Min(Math.Max((long)_buffer.Length * 2, required), Array.MaxLength);
        byte[] grown = ArrayPool<byte>.Shared.Rent(newSize);
        _buffer.AsSpan(0, _position).CopyTo(grown);
        ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = grown;
    }
}
