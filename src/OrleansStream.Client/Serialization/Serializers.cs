using System.Buffers.Binary;
using System.Text;
using System.Text.Json;

namespace OrleansStream.Client;

public enum MessageComponentType
{
    Key = 1,
    Value = 2,
}

/// <summary>What a serializer is told about the data it handles.</summary>
public readonly record struct SerializationContext(MessageComponentType Component, string Topic, Headers? Headers = null);

public interface ISerializer<in T>
{
    /// <summary>Null means a null key or value (a tombstone).</summary>
    byte[]? Serialize(T data, SerializationContext context);
}

public interface IDeserializer<out T>
{
    T Deserialize(ReadOnlySpan<byte> data, bool isNull, SerializationContext context);
}

/// <summary>A type with no value; its serializer writes null.</summary>
public sealed class Null
{
    private Null() { }
}

/// <summary>Discards the data; its deserializer does not read it.</summary>
public sealed class Ignore
{
    private Ignore() { }
}

/// <summary>Built-in serializers; integers are big-endian like Kafka's Java serializers.</summary>
public static class Serializers
{
    public static readonly ISerializer<string> Utf8 = new Utf8Serializer();
    public static readonly ISerializer<Null> Null = new NullSerializer();
    public static readonly ISerializer<byte[]> ByteArray = new ByteArraySerializer();
    public static readonly ISerializer<int> Int32 = new Int32Serializer();
    public static readonly ISerializer<long> Int64 = new Int64Serializer();
    public static readonly ISerializer<float> Single = new SingleSerializer();
    public static readonly ISerializer<double> Double = new DoubleSerializer();

    private sealed class Utf8Serializer : ISerializer<string>
    {
        public byte[]? Serialize(string data, SerializationContext context) => data is null ? null : Encoding.UTF8.GetBytes(data);
    }

    private sealed class NullSerializer : ISerializer<Null>
    {
        public byte[]? Serialize(Null data, SerializationContext context) => null;
    }

    private sealed class ByteArraySerializer : ISerializer<byte[]>
    {
        public byte[]? Serialize(byte[] data, SerializationContext context) => data;
    }

    private sealed class Int32Serializer : ISerializer<int>
    {
        public byte[]? Serialize(int data, SerializationContext context)
        {
            var b = new byte[4];
            BinaryPrimitives.WriteInt32BigEndian(b, data);
            return b;
        }
    }

    private sealed class Int64Serializer : ISerializer<long>
    {
        public byte[]? Serialize(long data, SerializationContext context)
        {
            var b = new byte[8];
            BinaryPrimitives.WriteInt64BigEndian(b, data);
            return b;
        }
    }

    private sealed class SingleSerializer : ISerializer<float>
    {
        public byte[]? Serialize(float data, SerializationContext context)
        {
            var b = new byte[4];
            BinaryPrimitives.WriteSingleBigEndian(b, data);
            return b;
        }
    }

    private sealed class DoubleSerializer : ISerializer<double>
    {
        public byte[]? Serialize(double data, SerializationContext context)
        {
            var b = new byte[8];
            BinaryPrimitives.WriteDoubleBigEndian(b, data);
            return b;
        }
    }

    /// <summary>The serializer used when a builder is given none, or null if the type has no default.</summary>
    internal static ISerializer<T>? Default<T>() => (typeof(T) == typeof(string) ? Utf8
        : typeof(T) == typeof(byte[]) ? ByteArray
        : typeof(T) == typeof(Null) ? Null
        : typeof(T) == typeof(int) ? Int32
        : typeof(T) == typeof(long) ? Int64
        : typeof(T) == typeof(float) ? Single
        : typeof(T) == typeof(double) ? (object)Double
        : null) as ISerializer<T>;
}

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

/// <summary>JSON with System.Text.Json (UTF-8, web defaults unless options are given).</summary>
public sealed class JsonSerializer<T>(JsonSerializerOptions? options = null) : ISerializer<T>
{
    private readonly JsonSerializerOptions _options = options ?? JsonSerializerOptions.Web;

    public byte[]? Serialize(T data, SerializationContext context) =>
        data is null ? null : System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(data, _options);
}

/// <summary>JSON with System.Text.Json; a null record gives default(T).</summary>
public sealed class JsonDeserializer<T>(JsonSerializerOptions? options = null) : IDeserializer<T>
{
    private readonly JsonSerializerOptions _options = options ?? JsonSerializerOptions.Web;

    public T Deserialize(ReadOnlySpan<byte> data, bool isNull, SerializationContext context) =>
        isNull ? default! : System.Text.Json.JsonSerializer.Deserialize<T>(data, _options)!;
}
