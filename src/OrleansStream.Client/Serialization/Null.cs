using System.Buffers.Binary;
using System.Text;
using System.Text.Json;

namespace OrleansStream.Client;

/// <summary>A type with no value; its serializer writes null.</summary>
public sealed class Null
{
    private Null() { }
}
