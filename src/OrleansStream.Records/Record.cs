using System.Text;

namespace OrleansStream.Records;

/// <summary>
/// Enumerates the records of one uncompressed batch, parsing Kafka's DefaultRecord framing in place:
/// length, attributes, timestampDelta, offsetDelta, key, value, headers. Allocates nothing.
/// </summary>
public ref struct RecordEnumerator
{
    private readonly ReadOnlySpan<byte> _batch;
    private readonly long _baseOffset;
    private readonly long _baseTimestamp;
    private readonly long _logAppendTime;
    private readonly int _count;
    private int _position;
    private int _index;
    private Record _current;

    internal RecordEnumerator(ReadOnlySpan<byte> batch, RecordBatchHeader header)
    {
        _batch = batch;
        _baseOffset = header.BaseOffset;
        _baseTimestamp = header.BaseTimestamp;
        // With LogAppendTime every record carries the broker's time, kept once in maxTimestamp.
        _logAppendTime = header.IsLogAppendTime ? header.MaxTimestamp : long.MinValue;
        _count = header.RecordCount;
        _position = RecordBatchHeader.Size;
        _index = 0;
        _current = default;
    }

    public readonly Record Current => _current;

    public readonly RecordEnumerator GetEnumerator() => this;

    public bool MoveNext()
    {
        if (_index == _count)
        {
            if (_position != _batch.Length)
                throw Corrupt($"{_batch.Length - _position} bytes follow the last of {_count} records");
            return false;
        }
        ReadOnlySpan<byte> rest = _batch[_position..];
        if (!Varint.TryReadVarint(rest, out int length, out int n) || length < 0 || length > rest.Length - n)
            throw Corrupt($"record {_index} has a bad length");
        ReadOnlySpan<byte> body = rest.Slice(n, length);
        _position += n + length;
        _index++;

        int p = 1; // attributes byte, unused in v2
        if (body.Length < 1
            || !Varint.TryReadVarlong(body[p..], out long timestampDelta, out n))
            throw Corrupt("record timestamp delta is malformed");
        p += n;
        if (!Varint.TryReadVarint(body[p..], out int offsetDelta, out n))
            throw Corrupt("record offset delta is malformed");
        p += n;
        ReadOnlySpan<byte> key = ReadBytes(body, ref p, out bool keyIsNull, "key");
        ReadOnlySpan<byte> value = ReadBytes(body, ref p, out bool valueIsNull, "value");
        if (!Varint.TryReadVarint(body[p..], out int headerCount, out n) || headerCount < 0)
            throw Corrupt("record header count is malformed");
        p += n;

        long timestamp = _logAppendTime != long.MinValue ? _logAppendTime : _baseTimestamp + timestampDelta;
        _current = new Record(_baseOffset + offsetDelta, timestamp, offsetDelta, body[0], key, keyIsNull, value, valueIsNull,
            headerCount, body[p..], length + Varint.SizeOfVarint(length));
        return true;
    }

    private static ReadOnlySpan<byte> ReadBytes(ReadOnlySpan<byte> body, scoped ref int p, out bool isNull, string what)
    {
        if (!Varint.TryReadVarint(body[p..], out int length, out int n) || length < -1 || length > body.Length - p - n)
            throw Corrupt($"record {what} length is malformed");
        p += n;
        isNull = length < 0;
        if (isNull)
            return default;
        ReadOnlySpan<byte> bytes = body.Slice(p, length);
        p += length;
        return bytes;
    }

    internal static OrleansStreamException Corrupt(string what) =>
        new(ErrorCode.CorruptMessage, $"Corrupt record batch: {what}.");
}

/// <summary>One record, as spans over the batch it was read from; valid while that memory is.</summary>
public readonly ref struct Record
{
    private readonly ReadOnlySpan<byte> _headers;

    internal Record(long offset, long timestampMs, int offsetDelta, byte attributes, ReadOnlySpan<byte> key, bool keyIsNull,
        ReadOnlySpan<byte> value, bool valueIsNull, int headerCount, ReadOnlySpan<byte> headers, int sizeInBytes)
    {
        Offset = offset;
        TimestampMs = timestampMs;
        OffsetDelta = offsetDelta;
        Attributes = attributes;
        Key = key;
        KeyIsNull = keyIsNull;
        Value = value;
        ValueIsNull = valueIsNull;
        HeaderCount = headerCount;
        _headers = headers;
        SizeInBytes = sizeInBytes;
    }

    /// <summary>baseOffset + offsetDelta.</summary>
    public long Offset { get; }
    public long TimestampMs { get; }
    public int OffsetDelta { get; }
    /// <summary>The record's own attributes byte (unused by Kafka v2, kept for fidelity).</summary>
    public byte Attributes { get; }
    public ReadOnlySpan<byte> Key { get; }
    public bool KeyIsNull { get; }
    public ReadOnlySpan<byte> Value { get; }
    public bool ValueIsNull { get; }
    public int HeaderCount { get; }
    /// <summary>Encoded size including the length prefix.</summary>
    public int SizeInBytes { get; }

    public RecordHeaderEnumerator Headers => new(_headers, HeaderCount);

    /// <summary>The headers as encoded (after their count), to read again later with a <see cref="RecordHeaderEnumerator"/>.</summary>
    public ReadOnlySpan<byte> EncodedHeaders => _headers;

    /// <summary>Copies the key, or null for a null key.</summary>
    public byte[]? KeyToArray() => KeyIsNull ? null : Key.ToArray();

    /// <summary>Copies the value, or null for a null value (a tombstone).</summary>
    public byte[]? ValueToArray() => ValueIsNull ? null : Value.ToArray();
}

/// <summary>Enumerates a record's headers in place.</summary>
public ref struct RecordHeaderEnumerator
{
    private readonly ReadOnlySpan<byte> _span;
    private readonly int _count;
    private int _position;
    private int _index;
    private RecordHeaderView _current;

    /// <summary>Reads <paramref name="count"/> headers encoded in <paramref name="span"/> (a record's <see cref="Record.EncodedHeaders"/>).</summary>
    public RecordHeaderEnumerator(ReadOnlySpan<byte> span, int count)
    {
        _span = span;
        _count = count;
        _position = 0;
        _index = 0;
        _current = default;
    }

    public readonly RecordHeaderView Current => _current;

    public readonly RecordHeaderEnumerator GetEnumerator() => this;

    public bool MoveNext()
    {
        if (_index == _count)
        {
            if (_position != _span.Length)
                throw RecordEnumerator.Corrupt("bytes follow the last record header");
            return false;
        }
        ReadOnlySpan<byte> rest = _span[_position..];
        if (!Varint.TryReadVarint(rest, out int keyLength, out int n) || keyLength < 0 || keyLength > rest.Length - n)
            throw RecordEnumerator.Corrupt("record header key length is malformed");
        int p = n;
        ReadOnlySpan<byte> key = rest.Slice(p, keyLength);
        p += keyLength;
        if (!Varint.TryReadVarint(rest[p..], out int valueLength, out n) || valueLength < -1 || valueLength > rest.Length - p - n)
            throw RecordEnumerator.Corrupt("record header value length is malformed");
        p += n;
        ReadOnlySpan<byte> value = valueLength < 0 ? default : rest.Slice(p, valueLength);
        p += Math.Max(valueLength, 0);
        _current = new RecordHeaderView(key, value, valueLength < 0);
        _position += p;
        _index++;
        return true;
    }
}

/// <summary>A header as spans: the UTF-8 key and the value.</summary>
public readonly ref struct RecordHeaderView
{
    internal RecordHeaderView(ReadOnlySpan<byte> keyUtf8, ReadOnlySpan<byte> value, bool valueIsNull)
    {
        KeyUtf8 = keyUtf8;
        Value = value;
        ValueIsNull = valueIsNull;
    }

    public ReadOnlySpan<byte> KeyUtf8 { get; }
    public ReadOnlySpan<byte> Value { get; }
    public bool ValueIsNull { get; }

    /// <summary>Decodes the key (allocates a string).</summary>
    public string GetKey() => Encoding.UTF8.GetString(KeyUtf8);

    public RecordHeader ToRecordHeader() => new(GetKey(), ValueIsNull ? null : Value.ToArray());
}
