using System.Numerics;
using System.Runtime.CompilerServices;

namespace OrleansStream.Records;

/// <summary>
/// Kafka's variable-length integers (ByteUtils): 7 bits per byte, least significant group first, high bit = more.
/// Signed values are zig-zag encoded so small negatives stay short; a varint takes at most 5 bytes, a varlong 10.
/// </summary>
public static class Varint
{
    public const int MaxVarintBytes = 5;
    public const int MaxVarlongBytes = 10;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint ZigZag(int value) => (uint)((value << 1) ^ (value >> 31));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong ZigZag(long value) => (ulong)((value << 1) ^ (value >> 63));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int UnZigZag(uint value) => (int)(value >> 1) ^ -(int)(value & 1);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static long UnZigZag(ulong value) => (long)(value >> 1) ^ -(long)(value & 1);

    /// <summary>Bytes of an unsigned varint: one per started group of 7 bits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int SizeOfUnsignedVarint(uint value) => (38 - BitOperations.LeadingZeroCount(value | 1)) / 7;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int SizeOfUnsignedVarlong(ulong value) => (70 - BitOperations.LeadingZeroCount(value | 1)) / 7;

    /// <summary>Bytes of a zig-zag varint (Kafka's ByteUtils.sizeOfVarint).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int SizeOfVarint(int value) => SizeOfUnsignedVarint(ZigZag(value));

    /// <summary>Bytes of a zig-zag varlong (Kafka's ByteUtils.sizeOfVarlong).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int SizeOfVarlong(long value) => SizeOfUnsignedVarlong(ZigZag(value));

    /// <summary>Writes an unsigned varint; returns the bytes written. The destination must hold them.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int WriteUnsignedVarint(Span<byte> destination, uint value)
    {
        int i = 0;
        while (value >= 0x80)
        {
            destination[i++] = (byte)(value | 0x80);
            value >>= 7;
        }
        destination[i++] = (byte)value;
        return i;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int WriteUnsignedVarlong(Span<byte> destination, ulong value)
    {
        int i = 0;
        while (value >= 0x80)
        {
            destination[i++] = (byte)(value | 0x80);
            value >>= 7;
        }
        destination[i++] = (byte)value;
        return i;
    }

    /// <summary>Writes a zig-zag varint; returns the bytes written.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int WriteVarint(Span<byte> destination, int value) => WriteUnsignedVarint(destination, ZigZag(value));

    /// <summary>Writes a zig-zag varlong; returns the bytes written.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int WriteVarlong(Span<byte> destination, long value) => WriteUnsignedVarlong(destination, ZigZag(value));

    /// <summary>
    /// Reads an unsigned varint of at most 5 bytes. Returns false when the source ends first or the fifth byte still
    /// has its continuation bit (Kafka's "Varint is too long"); bits beyond 32 are dropped as Kafka does.
    /// </summary>
    public static bool TryReadUnsignedVarint(ReadOnlySpan<byte> source, out uint value, out int bytesRead)
    {
        uint result = 0;
        for (int i = 0; i < MaxVarintBytes && i < source.Length; i++)
        {
            uint b = source[i];
            result |= (b & 0x7F) << (7 * i);
            if (b < 0x80)
            {
                value = result;
                bytesRead = i + 1;
                return true;
            }
        }
        value = 0;
        bytesRead = 0;
        return false;
    }

    /// <summary>Reads an unsigned varlong of at most 10 bytes; false when truncated or too long.</summary>
    public static bool TryReadUnsignedVarlong(ReadOnlySpan<byte> source, out ulong value, out int bytesRead)
    {
        ulong result = 0;
        for (int i = 0; i < MaxVarlongBytes && i < source.Length; i++)
        {
            ulong b = source[i];
            result |= (b & 0x7F) << (7 * i);
            if (b < 0x80)
            {
                value = result;
                bytesRead = i + 1;
                return true;
            }
        }
        value = 0;
        bytesRead = 0;
        return false;
    }

    public static bool TryReadVarint(ReadOnlySpan<byte> source, out int value, out int bytesRead)
    {
        bool ok = TryReadUnsignedVarint(source, out uint raw, out bytesRead);
        value = UnZigZag(raw);
        return ok;
    }

    public static bool TryReadVarlong(ReadOnlySpan<byte> source, out long value, out int bytesRead)
    {
        bool ok = TryReadUnsignedVarlong(source, out ulong raw, out bytesRead);
        value = UnZigZag(raw);
        return ok;
    }

    /// <summary>Reads a zig-zag varint or throws <see cref="ErrorCode.CorruptMessage"/>.</summary>
    public static int ReadVarint(ReadOnlySpan<byte> source, out int bytesRead) =>
        TryReadVarint(source, out int value, out bytesRead) ? value : throw Malformed("varint");

    /// <summary>Reads a zig-zag varlong or throws <see cref="ErrorCode.CorruptMessage"/>.</summary>
    public static long ReadVarlong(ReadOnlySpan<byte> source, out int bytesRead) =>
        TryReadVarlong(source, out long value, out bytesRead) ? value : throw Malformed("varlong");

    public static uint ReadUnsignedVarint(ReadOnlySpan<byte> source, out int bytesRead) =>
        TryReadUnsignedVarint(source, out uint value, out bytesRead) ? value : throw Malformed("unsigned varint");

    internal static OrleansStreamException Malformed(string what) =>
        new(ErrorCode.CorruptMessage, $"Malformed {what}: truncated or longer than its maximum size.");
}
