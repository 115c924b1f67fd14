namespace OrleansStream.Records;

/// <summary>Walks concatenated RecordBatch v2 batches (a segment, a fetch response) without copying them.</summary>
public static class RecordBatchReader
{
    /// <summary>
    /// Enumerates the whole batches in <paramref name="buffer"/>. A trailing partial batch (a fetch cut at maxBytes,
    /// a torn tail) ends the enumeration; <see cref="RecordBatchEnumerator.BytesConsumed"/> tells where.
    /// A batch whose length field is impossible throws <see cref="ErrorCode.CorruptMessage"/>.
    /// </summary>
    public static RecordBatchEnumerator Batches(ReadOnlySpan<byte> buffer) => new(buffer);

    /// <summary>Reads the single batch that fills <paramref name="batch"/> exactly, after checking its length and magic.</summary>
    public static RecordBatchView Batch(ReadOnlySpan<byte> batch)
    {
        int size = RecordBatchHeader.PeekTotalSize(batch);
        if (size != batch.Length)
            throw new OrleansStreamException(ErrorCode.CorruptMessage, $"Record batch declares {size} bytes but {batch.Length} were given.");
        return RecordBatchView.Create(batch);
    }
}

/// <summary>Enumerator over concatenated batches; use with foreach.</summary>
public ref struct RecordBatchEnumerator
{
    private readonly ReadOnlySpan<byte> _buffer;
    private int _next;
    private RecordBatchView _current;

    internal RecordBatchEnumerator(ReadOnlySpan<byte> buffer)
    {
        _buffer = buffer;
        _next = 0;
        _current = default;
    }

    public readonly RecordBatchView Current => _current;

    /// <summary>Bytes of whole batches enumerated so far; after the end, where a partial tail (if any) starts.</summary>
    public readonly int BytesConsumed => _next;

    /// <summary>Once <see cref="MoveNext"/> returned false: true when bytes that do not form a whole batch remain.</summary>
    public readonly bool HasPartialTail => _next < _buffer.Length;

    public readonly RecordBatchEnumerator GetEnumerator() => this;

    public bool MoveNext()
    {
        ReadOnlySpan<byte> rest = _buffer[_next..];
        if (rest.Length < RecordBatchHeader.Size)
        {
            _current = default;
            return false;
        }
        int size = RecordBatchHeader.PeekTotalSize(rest);
        if (size < RecordBatchHeader.Size)
            throw new OrleansStreamException(ErrorCode.CorruptMessage, $"Record batch at byte {_next} declares an impossible size {size}.");
        if (size > rest.Length)
        {
            _current = default;
            return false;
        }
        _current = RecordBatchView.Create(rest[..size]);
        _next += size;
        return true;
    }
}

/// <summary>One whole batch: its parsed header and its bytes.</summary>
public readonly ref struct RecordBatchView
{
    private RecordBatchView(ReadOnlySpan<byte> span, RecordBatchHeader header)
    {
        Span = span;
        Header = header;
    }

    internal static RecordBatchView Create(ReadOnlySpan<byte> batch)
    {
        RecordBatchHeader header = RecordBatchHeader.Read(batch);
        if (header.Magic != RecordBatchHeader.CurrentMagic)
            throw new OrleansStreamException(ErrorCode.UnsupportedVersion, $"Record batch magic {header.Magic} is not supported; only v2 is.");
        return new RecordBatchView(batch, header);
    }

    public RecordBatchHeader Header { get; }

    /// <summary>The whole batch, header included, exactly as stored.</summary>
    public ReadOnlySpan<byte> Span { get; }

    public long BaseOffset => Header.BaseOffset;
    public long LastOffset => Header.LastOffset;
    public long NextOffset => Header.NextOffset;
    public int RecordCount => Header.RecordCount;
    public int SizeInBytes => Span.Length;
    public CompressionType Compression => Header.Compression;
    public bool IsTransactional => Header.IsTransactional;
    public bool IsControl => Header.IsControl;

    /// <summary>Checks length, magic, offsets and CRC (Kafka's check.crcs); never throws.</summary>
    public ErrorCode Validate() => RecordBatchHeader.Validate(Span, out _);

    /// <summary>True when the stored CRC matches the bytes.</summary>
    public bool IsCrcValid => RecordBatchHeader.ComputeCrc(Span) == Header.Crc;

    /// <summary>
    /// Enumerates the records of an uncompressed batch; a compressed one reads after
    /// <see cref="RecordBatchCompression.Decompress(ReadOnlySpan{byte}, PooledBuffer)"/>. Throws
    /// <see cref="ErrorCode.UnsupportedCompressionType"/> for a compressed batch (its header is still usable) and
    /// <see cref="ErrorCode.CorruptMessage"/> for malformed record framing.
    /// </summary>
    public RecordEnumerator Records()
    {
        CompressionType codec = Header.Compression;
        if (codec != CompressionType.None)
            throw new OrleansStreamException(ErrorCode.UnsupportedCompressionType, RecordBatchCompression.IsSupported(codec)
                ? $"Record batch at offset {Header.BaseOffset} is compressed with {codec}: read RecordBatchCompression.Decompress(batch) instead."
                : $"Record batch at offset {Header.BaseOffset} names unknown compression codec id {(int)codec}.");
        return new RecordEnumerator(Span, Header);
    }
}
