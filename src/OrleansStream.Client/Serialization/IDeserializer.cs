using System.Buffers.Binary;
using System.Text;
using System.Text.Json;

namespace OrleansStream.Client;

public interface IDeserializer<out T>
{
    T Deserialize(ReadOnlySpan<byte> data, bool isNull, SerializationContext context);
}
