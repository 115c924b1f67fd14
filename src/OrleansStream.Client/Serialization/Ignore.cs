using System.Buffers.Binary;
using System.Text;
using System.Text.Json;

namespace OrleansStream.Client;

/// <summary>Discards the data; its deserializer does not read it.</summary>
public sealed class Ignore
{
    private Ignore() { }
}
