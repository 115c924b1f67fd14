using System.Buffers.Binary;
using System.Text;
using System.Text.Json;

namespace OrleansStream.Client;

public interface ISerializer<in T>
{
    /// <summary>Null means a null key or value (a tombstone).</summary>
    byte[]? Serialize(T data, SerializationContext context);
}
