using System.Buffers.Binary;
using System.Text;
using OrleansStream.Records;

namespace OrleansStream.Storage.Tests;

/// <summary>A record for <see cref="TestBatches"/>: null key or value allowed, timestamp absolute.</summary>
public sealed record TestRecord(byte[]? Key, byte[]? Value, long Timestamp)
{
    public static TestRecord Of(string? key, string? value, long timestamp = 1_700_000_000_000) =>
        new(key is null ? null : Encoding.UTF8.GetBytes(key), value is null ? null : Encoding.UTF8.GetBytes(value), timestamp);
}

/// <summary>
/// Builds RecordBatch v2 bytes by hand from the Kafka protocol spec (DefaultRecordBatch / DefaultRecord), independent
/// of the Records encoder, so the engine is tested against the format rather than against our own writer.
/// </summary>
public static class TestBatches
{
    public static byte[] Create(params TestRecord[] records) => Create(baseOffset: 0, records);

    public static byte[] Create(long baseOffset, params TestRecord[] records)
    {
        var body = new List<byte>();
        var baseTimestamp = records.Length == 0 ? 0 : records.Min(r => r.Timestamp);
        var maxTimestamp = records.Length == 0 ? -1 : records.Max(r => r.Timestamp);
        for (var i = 0; i < records.Length; i++)
        {
            var r = records[i];
            var record = new List<byte> { 0 }; // attributes
            WriteVarlong(record, r.Timestamp - baseTimestamp);
            WriteVarlong(record, i);
            WriteBytes(record, r.Key);
            WriteBytes(record, r.Value);
            WriteVarlong(record, 0); // header count
            WriteVarlong(body, record.Count);
            body.AddRange(record);
        }
        var batch = new byte[RecordBatchHeader.Size + body.Count];
        var span = batch.AsSpan();
        BinaryPrimitives.WriteInt64BigEndian(span, baseOffset);
        BinaryPrimitives.WriteInt32BigEndian(span[8..], batch.Length - 12);
        BinaryPrimitives.WriteInt32BigEndian(span[12..], -1); // partitionLeaderEpoch
        span[16] = 2; // magic
        BinaryPrimitives.WriteInt16BigEndian(span[21..], 0); // attributes
        BinaryPrimitives.WriteInt32BigEndian(span[23..], Math.Max(0, records.Length - 1)); // lastOffsetDelta
        BinaryPrimitives.WriteInt64BigEndian(span[27..], baseTimestamp);
        BinaryPrimitives.WriteInt64BigEndian(span[35..], maxTimestamp);
        BinaryPrimitives.WriteInt64BigEndian(span[43..], -1); // producerId
        BinaryPrimitives.WriteInt16BigEndian(span[51..], -1); // producerEpoch
        BinaryPrimitives.WriteInt32BigEndian(span[53..], -1); // baseSequence
        BinaryPrimitives.WriteInt32BigEndian(span[57..], records.Length);
        body.CopyTo(batch, RecordBatchHeader.Size);
        BinaryPrimitives.WriteUInt32BigEndian(span[17..], Crc32C.HashToUInt32(span[21..]));
        return batch;
    }

    /// <summary>A batch of <paramref name="count"/> records "k{i}" → <paramref name="valueSize"/> bytes, all at <paramref name="timestamp"/>.</summary>
    public static byte[] Sized(int count, int valueSize, long timestamp = 1_700_000_000_000, int keySeed = 0)
    {
        var records = new TestRecord[count];
        for (var i = 0; i < count; i++)
        {
            var value = new byte[valueSize];
            value.AsSpan().Fill((byte)(i + keySeed));
            records[i] = new TestRecord(Encoding.UTF8.GetBytes("k" + (keySeed + i)), value, timestamp);
        }
        return Create(records);
    }

    public static byte[] Concat(params byte[][] batches) => batches.SelectMany(b => b).ToArray();

    public static long BaseOffset(ReadOnlySpan<byte> batch) => BinaryPrimitives.ReadInt64BigEndian(batch);

    public static int LeaderEpoch(ReadOnlySpan<byte> batch) => BinaryPrimitives.ReadInt32BigEndian(batch[12..]);

    /// <summary>(baseOffset, lastOffset, size) of each batch in concatenated bytes.</summary>
    public static List<(long Base, long Last, int Size)> Walk(ReadOnlySpan<byte> bytes)
    {
        var result = new List<(long, long, int)>();
        while (bytes.Length > 0)
        {
            var header = RecordBatchHeader.Read(bytes);
            Assert.Equal(ErrorCode.None, RecordBatchHeader.Validate(bytes[..header.TotalSize], out _));
            result.Add((header.BaseOffset, header.LastOffset, header.TotalSize));
            bytes = bytes[header.TotalSize..];
        }
        return result;
    }

    private static void WriteBytes(List<byte> output, byte[]? bytes)
    {
        if (bytes is null)
        {
            WriteVarlong(output, -1);
            return;
        }
        WriteVarlong(output, bytes.Length);
        output.AddRange(bytes);
    }

    private static void WriteVarlong(List<byte> output, long value)
    {
        var zigzag = (ulong)((value << 1) ^ (value >> 63));
        while (zigzag >= 0x80)
        {
            output.Add((byte)(zigzag | 0x80));
            zigzag >>= 7;
        }
        output.Add((byte)zigzag);
    }
}

/// <summary>A temporary directory removed at the end of a test.</summary>
public sealed class TempDirectory : IDisposable
{
    public TempDirectory()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "os-storage-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public void Dispose()
    {
        if (Directory.Exists(Path))
            Directory.Delete(Path, recursive: true);
    }
}

public static class LogFiles
{
    /// <summary>
    /// The files of an open log copied as a crash leaves them, <paramref name="include"/> choosing which; its
    /// <see cref="LogDirectoryLock"/> file is held (unreadable) and a crashed process's lock is gone anyway.
    /// </summary>
    public static void CopyAsCrashed(string from, string to, Func<string, bool>? include = null)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.GetFiles(from))
        {
            if (Path.GetFileName(file) != LogDirectoryLock.FileName && (include is null || include(file)))
                File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
        }
    }
}
