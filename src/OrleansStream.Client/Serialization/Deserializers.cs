using System.Buffers.Binary;
using System.Text;
using System.Text.Json;

namespace OrleansStream.Client;

/// <summary>Built-in deserializers, the mirror of <see cref="Serializers"/>.</summary>
public static class Deserializers
{
    public static readonly IDeserializer<string> Utf8 = new Utf8Deserializer();
    public static readonly IDeserializer<Null> Null = new NullDeserializer();
    public static readonly IDeserializer<Ignore> Ignore = new IgnoreDeserializer();
    public static readonly IDeserializer<byte[]> ByteArray = new ByteArrayDeserializer();
    public static readonly IDeserializer<int> Int32 = new Int32Deserializer();
    public static readonly IDeserializer<long> Int64 = new Int64Deserializer();
    public static readonly IDeserializer<float> Single = new SingleDeserializer();
    public static readonly IDeserializer<double> Double = new DoubleDeserializer();

    private sealed class Utf8Deserializer : IDeserializer<string>
    {
        public string Deserialize(ReadOnlySpan<byte> data, bool isNull, SerializationContext context) =>
            isNull ? null! : Encoding.UTF8.GetString(data);
    }

    private sealed class NullDeserializer : IDeserializer<Null>
    {
        public Null Deserialize(ReadOnlySpan<byte> data, bool isNull, SerializationContext context) =>
            isNull ? null! : throw new ArgumentException($"Deserializer<Null> got {data.Length} bytes of {context.Component}; expected null.");
    }

    private sealed class IgnoreDeserializer : IDeserializer<Ignore>
    {
        public Ignore Deserialize(ReadOnlySpan<byte> data, bool isNull, SerializationContext context) => null!;
    }

    private sealed class ByteArrayDeserializer : IDeserializer<byte[]>
    {
        public byte[] Deserialize(ReadOnlySpan<byte> data, bool isNull, SerializationContext context) => isNull ? null! : data.ToArray();
    }

    private sealed class Int32Deserializer : IDeserializer<int>
    {
        public int Deserialize(ReadOnlySpan<byte> data, bool isNull, SerializationContext context) =>
            !isNull && data.Length == 4 ? BinaryPrimitives.ReadInt32BigEndian(data) : throw Size(4, data.Length, isNull, context);
    }

    private sealed class Int64Deserializer : IDeserializer<long>
    {
        public long Deserialize(ReadOnlySpan<byte> data, bool isNull, SerializationContext context) =>
            !isNull && data.Length == 8 ? BinaryPrimitives.ReadInt64BigEndian(data) : throw Size(8, data.Length, isNull, context);
    }

    private sealed class SingleDeserializer : IDeserializer<float>
    {
        public float Deserialize(ReadOnlySpan<byte> data, bool isNull, SerializationContext context) =>
            !isNull && data.Length == 4 ? BinaryPrimitives.ReadSingleBigEndian(data) : throw Size(4, data.Length, isNull, context);
    }

    private sealed class DoubleDeserializer : IDeserializer<double>
    {
        public double Deserialize(ReadOnlySpan<byte> data, bool isNull, SerializationContext context) =>
            !isNull && data.Length == 8 ? BinaryPrimitives.ReadDoubleBigEndian(data) : throw Size(8, data.Length, isNull, context);
    }

    private static ArgumentException Size(int expected, int actual, bool isNull, SerializationContext context) =>
        new(isNull
            ? $"The {context.Component} is null; expected {expected} bytes."
            : $"The {context.Component} has {actual} bytes; expected {expected}.");

    internal static IDeserializer<T>? Default<T>() => (typeof(T) == typeof(string) ? Utf8
        : typeof(T) == typeof(byte[]) ? ByteArray
        : typeof(T) == typeof(Null) ? Null
        : typeof(T) == typeof(Ignore) ? Ignore
        : typeof(T) == typeof(int) ? Int32
        : typeof(T) == typeof(long) ? Int64
        : typeof(T) == typeof(float) ? Single
        : typeof(T) == typeof(double) ? (object)Double
        : null) as IDeserializer<T>;
}
