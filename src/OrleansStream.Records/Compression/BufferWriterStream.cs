namespace OrleansStream.Records;

/// <summary>A write-only stream appending to a <see cref="PooledBuffer"/>, for encoders that only speak Stream (GZipStream).</summary>
internal sealed class BufferWriterStream(PooledBuffer output) : Stream
{
    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => output.Length;
    public override long Position { get => output.Length; set => throw new NotSupportedException(); }

    public override void Write(ReadOnlySpan<byte> buffer) => output.Write(buffer);
    public override void Write(byte[] buffer, int offset, int count) => output.Write(buffer.AsSpan(offset, count));
    public override void WriteByte(byte value) => output.Write([value]);
    public override void Flush() { }
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
}
