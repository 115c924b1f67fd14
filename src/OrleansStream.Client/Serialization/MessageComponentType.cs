using System.Buffers.Binary;
using System.Text;
using System.Text.Json;

namespace OrleansStream.Client;

public enum MessageComponentType
{
    Key = 1,
    Value = 2,
}
