using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using OrleansStream.Records;

namespace OrleansStream.Protocol;

/// <summary>
/// Writes Kafka's protocol primitives into a pooled, growing buffer; one writer per connection is reused for every
/// response (<see cref="Reset"/>). A response begins with <see cref="BeginFrame"/> and ends with <see cref="EndFrame"/>,
/// which fills in the size prefix. Large bytes fields (a fetch's record batches) can be written by reference
/// (<see cref="WriteBytesByReference"/>): the frame is then the writer's bytes with those between them
/// (<see cref="WrittenSequence"/>), so a multi-megabyte response is not copied into the writer before it is sent.
/// </summary>
public sealed class KafkaWriter : IBufferWriter<byte>, IDisposable
{
    private byte[] _buffer;
    private int _length;

    private readonly int _initialCapacity;

    /// <summary>Bytes written by reference, each with the writer position it goes before; null until the first.</summary>
    private List<(int Position, ReadOnlyMemory<byte> Bytes)>? _references;
    private List<IDisposable>? _owners;
    private long _referencedLength;

    /// <summary>Bytes fields shorter than this are copied: a reference costs more than copying a few KiB.</summary>
    public const int MinReferencedBytes = 16 * 1024;

    public KafkaWriter(int initialCapacity = 4096)
    {
        _initialCapacity = initialCapacity;
        _buffer = ArrayPool<byte>.Shared.Rent(initialCapacity);
    }

    /// <summary>The writer's own bytes, without those written by reference.</summary>
    public int Length => _length;

    /// <summary>Every byte of what was written: the writer's own and those written by reference.</summary>
    public long TotalLength => _length + _referencedLength;

    /// <summary>True when some bytes were written by reference: read the result with <see cref="WrittenSequence"/>.</summary>
    public bool HasReferences => _references is { Count: > 0 };

    /// <summary>The bytes the writer holds now, written or not.</summary>
    public int Capacity => _buffer.Length;

    /// <summary>What was written, when nothing was written by reference (otherwise <see cref="WrittenSequence"/>).</summary>
    public ReadOnlyMemory<byte> WrittenMemory => HasReferences
        ? throw new InvalidOperationException("Bytes were written by reference: read WrittenSequence.")
        : _buffer.AsMemory(0, _length);

    public ReadOnlySpan<byte> WrittenSpan => WrittenMemory.Span;

    /// <summary>Everything written, in order: the writer's own bytes and, between them, the bytes written by reference.</summary>
    public ReadOnlySequence<byte> WrittenSequence
    {
        get
        {
            if (!HasReferences) return new ReadOnlySequence<byte>(_buffer, 0, _length);
            Chunk? first = null, last = null;
            var from = 0;
            foreach (var (position, bytes) in _references!)
            {
                Append(ref first, ref last, _buffer.AsMemory(from, position - from));
                Append(ref first, ref last, bytes);
                from = position;
            }
            Append(ref first, ref last, _buffer.AsMemory(from, _length - from));
            return new ReadOnlySequence<byte>(first!, 0, last!, last!.Memory.Length);
        }
    }

    private static void Append(ref Chunk? first, ref Chunk? last, ReadOnlyMemory<byte> memory)
    {
        if (memory.IsEmpty && first is not null) return;
        var chunk = new Chunk(memory, last is null ? 0 : last.RunningIndex + last.Memory.Length);
        if (last is null) first = chunk;
        else last.SetNext(chunk);
        last = chunk;
    }

    public void Reset()
    {
        _length = 0;
        _references?.Clear();
        _referencedLength = 0;
        ReleaseOwners();
    }

    /// <summary>
    /// Disposes <paramref name="owner"/>, which holds bytes written by reference (a fetch's pooled record batches), at
    /// the next reset: the connection resets its writer only once the response is in the pipe.
    /// </summary>
    public void DisposeOnReset(IDisposable owner) => (_owners ??= []).Add(owner);

    private void ReleaseOwners()
    {
        if (_owners is not { Count: > 0 } owners) return;
        foreach (var owner in owners) owner.Dispose();
        owners.Clear();
    }

    /// <summary>
    /// Empties the writer and, when it grew past <paramref name="maxRetainedBytes"/> (one large fetch response), gives
    /// the big buffer back for one of the initial size, so a connection does not hold its largest response for life.
    /// </summary>
    public void ResetAndTrim(int maxRetainedBytes)
    {
        Reset();
        if (_buffer.Length <= maxRetainedBytes) return;
        ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = ArrayPool<byte>.Shared.Rent(_initialCapacity);
    }

    /// <summary>Reserves the int32 size prefix of a frame; returns where it is.</summary>
    public int BeginFrame()
    {
        var at = _length;
        WriteInt32(0);
        return at;
    }

    public void EndFrame(int frameStart)
    {
        var size = (long)_length - frameStart - 4;
        if (_references is { } references)
            foreach (var (position, bytes) in references)
                if (position > frameStart) size += bytes.Length;
        BinaryPrimitives.WriteInt32BigEndian(_buffer.AsSpan(frameStart), checked((int)size));
    }

    public Span<byte> GetSpan(int sizeHint = 0)
    {
        Ensure(Math.Max(sizeHint, 1));
        return _buffer.AsSpan(_length);
    }

    public Memory<byte> GetMemory(int sizeHint = 0)
    {
        Ensure(Math.Max(sizeHint, 1));
        return _buffer.AsMemory(_length);
    }

    public void Advance(int count) => _length += count;

    private void Ensure(int count)
    {
        if (_buffer.Length - _length >= count) return;
        var bigger = ArrayPool<byte>.Shared.Rent(Math.Max(_buffer.Length * 2, _length + count));
        _buffer.AsSpan(0, _length).CopyTo(bigger);
        ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = bigger;
    }

    private Span<byte> Reserve(int count)
    {
        Ensure(count);
        var span = _buffer.AsSpan(_length, count);
        _length += count;
        return span;
    }

    public void WriteInt8(sbyte value) => Reserve(1)[0] = (byte)value;

    public void WriteBoolean(bool value) => Reserve(1)[0] = value ? (byte)1 : (byte)0;

    public void WriteInt16(short value) => BinaryPrimitives.WriteInt16BigEndian(Reserve(2), value);

    public void WriteInt32(int value) => BinaryPrimitives.WriteInt32BigEndian(Reserve(4), value);

    public void WriteInt64(long value) => BinaryPrimitives.WriteInt64BigEndian(Reserve(8), value);

    /// <summary>Kafka's float64: a big-endian IEEE 754 double.</summary>
    public void WriteFloat64(double value) => BinaryPrimitives.WriteDoubleBigEndian(Reserve(8), value);

    public void WriteUuid(Guid value) => value.TryWriteBytes(Reserve(16), bigEndian: true, out _);

    public void WriteUnsignedVarint(uint value)
    {
        Ensure(5);
        _length += Varint.WriteUnsignedVarint(_buffer.AsSpan(_length), value);
    }

    public void WriteVarint(int value) => WriteUnsignedVarint(Varint.ZigZag(value));

    public void WriteVarlong(long value)
    {
        Ensure(10);
        _length += Varint.WriteVarlong(_buffer.AsSpan(_length), value);
    }

    private void WriteLength(int length, bool flexible, bool wide)
    {
        if (flexible) WriteUnsignedVarint((uint)(length + 1));
        else if (wide) WriteInt32(length);
        else if (length > MaxStringBytes)
            // A request's string answered back can outgrow its field: a name read as 32,767 bytes of invalid UTF-8 is
            // written as U+FFFD, three bytes each. Kafka's serializer refuses such a string too; the connection closes.
            throw new KafkaProtocolException($"A string of {length} bytes does not fit the {MaxStringBytes} bytes of a non-flexible string.");
        else WriteInt16((short)length);
    }

    /// <summary>The most UTF-8 bytes a non-flexible string (int16 length) holds.</summary>
    public const int MaxStringBytes = short.MaxValue;

    // A UTF-16 char is at most 3 UTF-8 bytes (a surrogate pair 4 for 2): a string this short fits without counting.
    private const int MaxCharsThatAlwaysFit = MaxStringBytes / 3;

    /// <summary>Whether <paramref name="value"/> fits a non-flexible string, as Kafka stores group ids and answers them.</summary>
    public static bool FitsString(string value) => value.Length <= MaxCharsThatAlwaysFit || Encoding.UTF8.GetByteCount(value) <= MaxStringBytes;

    /// <summary>
    /// An error message (a nullable string): cut to what a non-flexible string holds, since a message may quote a
    /// client's name at length and is for people to read; everything else is written whole or refused.
    /// </summary>
    public void WriteErrorMessage(string? message, bool flexible)
    {
        if (!flexible && message is not null && !FitsString(message))
            message = message[..(char.IsHighSurrogate(message[MaxCharsThatAlwaysFit - 1]) ? MaxCharsThatAlwaysFit - 1 : MaxCharsThatAlwaysFit)];
        WriteNullableString(message, flexible);
    }

    public void WriteString(string value, bool flexible) => WriteNullableString(value, flexible);

    public void WriteNullableString(string? value, bool flexible)
    {
        if (value is null)
        {
            WriteLength(-1, flexible, wide: false);
            return;
        }
        var size = Encoding.UTF8.GetByteCount(value);
        WriteLength(size, flexible, wide: false);
        Encoding.UTF8.GetBytes(value, Reserve(size));
    }

    public void WriteBytes(ReadOnlySpan<byte> value, bool flexible)
    {
        WriteLength(value.Length, flexible, wide: true);
        value.CopyTo(Reserve(value.Length));
    }

    /// <summary>
    /// A bytes field whose content is not copied when it is <see cref="MinReferencedBytes"/> or longer: the writer keeps
    /// the reference and the frame reads it from <see cref="WrittenSequence"/>, so it must stay unchanged until the
    /// writer is <see cref="Reset"/>.
    /// </summary>
    public void WriteBytesByReference(ReadOnlyMemory<byte> value, bool flexible)
    {
        if (value.Length < MinReferencedBytes)
        {
            WriteBytes(value.Span, flexible);
            return;
        }
        WriteLength(value.Length, flexible, wide: true);
        (_references ??= []).Add((_length, value));
        _referencedLength += value.Length;
    }

    public void WriteNullBytes(bool flexible) => WriteLength(-1, flexible, wide: true);

    /// <summary>An array's element count; -1 writes a null array.</summary>
    public void WriteArrayLength(int count, bool flexible) => WriteLength(count, flexible, wide: true);

    public void WriteInt32Array(IReadOnlyList<int> values, bool flexible)
    {
        WriteArrayLength(values.Count, flexible);
        for (var i = 0; i < values.Count; i++) WriteInt32(values[i]);
    }

    /// <summary>
    /// Kafka's usual nesting, topics each with their partitions: the topic array, each topic's name, its partition
    /// array and each partition by <paramref name="writePartition"/> (static lambdas: the version is passed, not captured).
    /// A <paramref name="flexible"/> version's arrays and names are compact, and each partition and topic ends with
    /// its (empty) tagged fields.
    /// </summary>
    public void WriteTopics<TTopic, TPartition>(IReadOnlyList<TTopic> topics, short version, Func<TTopic, string> name,
        Func<TTopic, IReadOnlyList<TPartition>> partitions, Action<KafkaWriter, TPartition, short> writePartition, bool flexible = false)
    {
        ArgumentNullException.ThrowIfNull(topics);
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(partitions);
        ArgumentNullException.ThrowIfNull(writePartition);
        WriteArrayLength(topics.Count, flexible);
        foreach (var t in topics)
        {
            WriteString(name(t), flexible);
            var list = partitions(t);
            WriteArrayLength(list.Count, flexible);
            for (var i = 0; i < list.Count; i++)
            {
                writePartition(this, list[i], version);
                if (flexible) WriteEmptyTaggedFields();
            }
            if (flexible) WriteEmptyTaggedFields();
        }
    }

    /// <summary>A flexible version's tagged fields: this broker writes none.</summary>
    public void WriteEmptyTaggedFields() => Reserve(1)[0] = 0;

    public void Dispose()
    {
        ReleaseOwners();
        var buffer = Interlocked.Exchange(ref _buffer, []);
        if (buffer.Length > 0) ArrayPool<byte>.Shared.Return(buffer);
    }

    private sealed class Chunk : ReadOnlySequenceSegment<byte>
    {
        public Chunk(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public void SetNext(Chunk next) => Next = next;
    }
}
