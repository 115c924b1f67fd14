using System.Buffers.Binary;
using System.Text;
using System.Text.Json;

namespace OrleansStream.Client;

/// <summary>JSON with System.Text.Json (UTF-8, web defaults unless options are given).</summary>
public sealed class JsonSerializer<T>(JsonSerializerOptions? options = null) : ISerializer<T>
{
    private readonly JsonSerializerOptions _options = options ?? JsonSerializerOptions.Web;

    public byte[]? Serialize(T data, SerializationContext context) =>
        data is null ? null : System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(data, _options);
}
