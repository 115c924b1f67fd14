using System.Buffers.Binary;
using System.Text;
using System.Text.Json;

namespace OrleansStream.Client;

/// <summary>JSON with System.Text.Json; a null record gives default(T).</summary>
public sealed class JsonDeserializer<T>(JsonSerializerOptions? options = null) : IDeserializer<T>
{
    private readonly JsonSerializerOptions _options = options ?? JsonSerializerOptions.Web;

    public T Deserialize(ReadOnlySpan<byte> data, bool isNull, SerializationContext context) =>
        isNull ? default! : System.Text.Json.JsonSerializer.Deserialize<T>(data, _options)!;
}
