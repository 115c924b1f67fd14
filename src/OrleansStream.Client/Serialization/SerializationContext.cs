using System.Buffers.Binary;
using System.Text;
using System.Text.Json;

namespace OrleansStream.Client;

/// <summary>What a serializer is told about the data it handles.</summary>
public readonly record struct SerializationContext(MessageComponentType Component, string Topic, Headers? Headers = null);
