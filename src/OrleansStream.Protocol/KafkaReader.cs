using System.Buffers.Binary;
using System.Text;
using OrleansStream.Records;

namespace OrleansStream.Protocol;

/// <summary>Reads one partition entry of a topic array.</summary>
public delegate T PartitionReader<out T>(ref KafkaReader reader, short version);

/// <summary>
/// Reads Kafka's protocol primitives (big-endian fixed widths, varints, strings, bytes, arrays, tagged fields) from one
/// request frame. <paramref name="flexible"/> arguments pick the compact forms of the flexible versions. Anything that
/// runs past the frame or has an impossible length throws <see cref="KafkaProtocolException"/>.
/// </summary>
public ref struct KafkaReader(ReadOnlySpan<byte> frame)
{
    private readonly ReadOnlySpan<byte> _frame = frame;
    private int _position;

    public readonly int Position => _position;

    public readonly int Remaining => _frame.Length - _position;

    private ReadOnlySpan<byte> Take(int count)
    {
        if ((uint)count > (uint)(_frame.Length - _position))
            throw new KafkaProtocolException($"The frame ends at {_frame.Length} bytes; {count} more were needed at {_position}.");
        var span = _frame.Slice(_position, count);
        _position += count;
        return span;
    }

    public sbyte ReadInt8() => (sbyte)Take(1)[0];

    public bool ReadBoolean() => Take(1)[0] != 0;

    public short ReadInt16() => BinaryPrimitives.ReadInt16BigEndian(Take(2));

    public int ReadInt32() => BinaryPrimitives.ReadInt32BigEndian(Take(4));

    public long ReadInt64() => BinaryPrimitives.ReadInt64BigEndian(Take(8));

    /// <summary>Kafka's float64: a big-endian IEEE 754 double.</summary>
    public double ReadFloat64() => BinaryPrimitives.ReadDoubleBigEndian(Take(8));

    public Guid ReadUuid() => new(Take(16), bigEndian: true);

    public uint ReadUnsignedVarint()
    {
        if (!Varint.TryReadUnsignedVarint(_frame[_position..], out var value, out var read))
            throw new KafkaProtocolException($"Malformed unsigned varint at {_position}.");
        _position += read;
        return value;
    }

    public int ReadVarint() => Varint.UnZigZag(ReadUnsignedVarint());

    public long ReadVarlong()
    {
        if (!Varint.TryReadVarlong(_frame[_position..], out var value, out var read))
            throw new KafkaProtocolException($"Malformed varlong at {_position}.");
        _position += read;
        return value;
    }

    /// <summary>A length prefix: int16 (strings) or int32 (bytes, arrays), or a compact unsigned varint of length + 1; -1 is null.</summary>
    private int ReadLength(bool flexible, bool wide)
    {
        int length = flexible ? (int)ReadUnsignedVarint() - 1 : wide ? ReadInt32() : ReadInt16();
        if (length < -1) throw new KafkaProtocolException($"Negative length {length} at {_position}.");
        return length;
    }

    public string ReadString(bool flexible) =>
        ReadNullableString(flexible) ?? throw new KafkaProtocolException($"A null string where one is required, at {_position}.");

    public string? ReadNullableString(bool flexible)
    {
        var length = ReadLength(flexible, wide: false);
        return length < 0 ? null : Encoding.UTF8.GetString(Take(length));
    }

    /// <summary>Where a bytes field lies in the frame (so the caller slices its own memory without copying); Length -1 for null.</summary>
    public (int Start, int Length) ReadNullableBytesRange(bool flexible)
    {
        var length = ReadLength(flexible, wide: true);
        if (length < 0) return (_position, -1);
        var start = _position;
        Take(length);
        return (start, length);
    }

    /// <summary>Bytes of the frame by position, as <see cref="ReadNullableBytesRange"/> gave them.</summary>
    public readonly ReadOnlySpan<byte> Slice(int start, int length) => _frame.Slice(start, length);

    public ReadOnlySpan<byte> ReadBytes(bool flexible)
    {
        var length = ReadLength(flexible, wide: true);
        if (length < 0) throw new KafkaProtocolException($"Null bytes where they are required, at {_position}.");
        return Take(length);
    }

    /// <summary>An array's element count, -1 for null. Each element takes at least one byte, which bounds the count by the frame.</summary>
    public int ReadArrayLength(bool flexible)
    {
        var count = ReadLength(flexible, wide: true);
        if (count > Remaining) throw new KafkaProtocolException($"An array of {count} elements cannot fit the {Remaining} bytes left.");
        return count;
    }

    public int[] ReadInt32Array(bool flexible)
    {
        var count = ReadArrayLength(flexible);
        if (count <= 0) return [];
        var values = new int[count];
        for (var i = 0; i < count; i++) values[i] = ReadInt32();
        return values;
    }

    /// <summary>
    /// Reads Kafka's usual nesting, topics each with their partitions (the reverse of <see cref="KafkaWriter.WriteTopics"/>);
    /// a <paramref name="flexible"/> version's arrays and names are compact and each partition and topic ends with tagged fields.
    /// </summary>
    public TTopic[] ReadTopics<TTopic, TPartition>(short version, PartitionReader<TPartition> readPartition, Func<string, TPartition[], TTopic> topic, bool flexible = false)
    {
        ArgumentNullException.ThrowIfNull(readPartition);
        ArgumentNullException.ThrowIfNull(topic);
        var topics = new TTopic[Math.Max(ReadArrayLength(flexible), 0)];
        for (var t = 0; t < topics.Length; t++)
        {
            var name = ReadString(flexible);
            var partitions = new TPartition[Math.Max(ReadArrayLength(flexible), 0)];
            for (var p = 0; p < partitions.Length; p++)
            {
                partitions[p] = readPartition(ref this, version);
                if (flexible) SkipTaggedFields();
            }
            if (flexible) SkipTaggedFields();
            topics[t] = topic(name, partitions);
        }
        return topics;
    }

    /// <summary>Skips <paramref name="count"/> bytes (a tagged field whose tag the reader does not know).</summary>
    public void Skip(int count)
    {
        if ((uint)count > (uint)Remaining) throw new KafkaProtocolException($"A field of {count} bytes cannot fit the {Remaining} bytes left.");
        Take(count);
    }

    /// <summary>Skips a flexible version's tagged fields (none of which this broker reads).</summary>
    public void SkipTaggedFields()
    {
        var count = ReadUnsignedVarint();
        for (var i = 0u; i < count; i++)
        {
            ReadUnsignedVarint();
            var size = ReadUnsignedVarint();
            if (size > (uint)Remaining) throw new KafkaProtocolException($"A tagged field of {size} bytes cannot fit the {Remaining} bytes left.");
            Take((int)size);
        }
    }
}
