using System.Buffers.Binary;
using System.Text;
using System.Text.Json;

namespace OrleansStream.Client;

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
