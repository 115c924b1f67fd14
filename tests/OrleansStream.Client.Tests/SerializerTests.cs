using System.Text;
using OrleansStream.Client;

namespace OrleansStream.Client.Tests;

public sealed class SerializerTests
{
    private static readonly SerializationContext Value = new(MessageComponentType.Value, "t");

    private static T RoundTrip<T>(ISerializer<T> serializer, IDeserializer<T> deserializer, T value)
    {
        var bytes = serializer.Serialize(value, Value);
        return deserializer.Deserialize(bytes, bytes is null, Value);
    }

    [Fact]
    public void Built_in_serializers_round_trip()
    {
        Assert.Equal("héllo", RoundTrip(Serializers.Utf8, Deserializers.Utf8, "héllo"));
        Assert.Null(RoundTrip(Serializers.Utf8, Deserializers.Utf8, null!));
        Assert.Equal([1, 2, 3], RoundTrip(Serializers.ByteArray, Deserializers.ByteArray, [1, 2, 3]));
        Assert.Equal(int.MinValue, RoundTrip(Serializers.Int32, Deserializers.Int32, int.MinValue));
        Assert.Equal(long.MaxValue - 7, RoundTrip(Serializers.Int64, Deserializers.Int64, long.MaxValue - 7));
        Assert.Equal(1.5f, RoundTrip(Serializers.Single, Deserializers.Single, 1.5f));
        Assert.Equal(-2.25, RoundTrip(Serializers.Double, Deserializers.Double, -2.25));
        Assert.Null(Serializers.Null.Serialize(null!, Value));
        Assert.Null(Deserializers.Ignore.Deserialize([1, 2], false, Value));
    }

    [Fact]
    public void Integers_are_big_endian_like_Kafkas_Java_serializers()
    {
        Assert.Equal([0x01, 0x02, 0x03, 0x04], Serializers.Int32.Serialize(0x01020304, Value));
        Assert.Equal([0, 0, 0, 0, 0, 0, 0x01, 0x00], Serializers.Int64.Serialize(256L, Value));
    }

    [Fact]
    public void Json_round_trips_with_web_defaults()
    {
        var order = new Order("o-1", 3, ["a", "b"]);
        var bytes = new JsonSerializer<Order>().Serialize(order, Value)!;
        Assert.Equal("""{"id":"o-1","quantity":3,"items":["a","b"]}""", Encoding.UTF8.GetString(bytes));
        var back = new JsonDeserializer<Order>().Deserialize(bytes, false, Value);
        Assert.Equal(order.Id, back.Id);
        Assert.Equal(order.Items, back.Items);
        Assert.Null(new JsonDeserializer<Order>().Deserialize(default, true, Value));
    }

    [Fact]
    public void Wrong_sizes_and_nulls_are_clear_errors()
    {
        var e = Assert.Throws<ArgumentException>(() => Deserializers.Int32.Deserialize([1, 2], false, Value));
        Assert.Contains("expected 4", e.Message);
        Assert.Throws<ArgumentException>(() => Deserializers.Int64.Deserialize(default, true, Value));
        Assert.Throws<ArgumentException>(() => Deserializers.Null.Deserialize([1], false, Value));
    }

    [Fact]
    public void Defaults_exist_for_the_built_in_types_only()
    {
        Assert.Same(Serializers.Utf8, Serializers.Default<string>());
        Assert.Same(Serializers.Int64, Serializers.Default<long>());
        Assert.Same(Deserializers.Ignore, Deserializers.Default<Ignore>());
        Assert.Null(Serializers.Default<Order>());
        Assert.Null(Deserializers.Default<Guid>());
    }

    public sealed record Order(string Id, int Quantity, string[] Items);
}
