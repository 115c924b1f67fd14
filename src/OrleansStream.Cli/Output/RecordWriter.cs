using System.Text;
using System.Text.Json;
using System.Text.Unicode;
using OrleansStream.Client;

namespace OrleansStream.Cli.Output;

internal enum RecordFormat { Text, Json }

/// <summary>
/// Writes consumed records to a stream: text is the value's bytes as stored (optionally "key TAB value"), json is one
/// object per line with topic, partition, offset, timestamp, key, value and headers. Keys and values that are not
/// valid UTF-8 are decoded with replacement characters in json.
/// </summary>
internal sealed class RecordWriter : IDisposable
{
    private static readonly byte[] Newline = "\n"u8.ToArray();
    private readonly Stream _output;
    private readonly RecordFormat _format;
    private readonly bool _printKey;
    private readonly Utf8JsonWriter _json;

    public RecordWriter(Stream output, RecordFormat format, bool printKey)
    {
        _output = output;
        _format = format;
        _printKey = printKey;
        _json = new Utf8JsonWriter(output, new JsonWriterOptions { Indented = false, SkipValidation = false });
    }

    public void Write(ConsumeResult<byte[], byte[]> result)
    {
        var message = result.Message!;
        if (_format == RecordFormat.Text)
        {
            if (_printKey)
            {
                if (message.Key is not null)
                    _output.Write(message.Key);
                _output.WriteByte((byte)'\t');
            }
            if (message.Value is not null)
                _output.Write(message.Value);
            _output.Write(Newline);
            return;
        }
        _json.Reset(_output);
        _json.WriteStartObject();
        _json.WriteString("topic", result.Topic);
        _json.WriteNumber("partition", result.Partition);
        _json.WriteNumber("offset", result.Offset);
        _json.WriteNumber("timestamp", message.Timestamp.UnixTimestampMs);
        WriteBytes("key", message.Key);
        WriteBytes("value", message.Value);
        _json.WriteStartArray("headers");
        if (message.Headers is { } headers)
        {
            foreach (var header in headers)
            {
                _json.WriteStartObject();
                _json.WriteString("key", header.Key);
                WriteBytes("value", header.Value);
                _json.WriteEndObject();
            }
        }
        _json.WriteEndArray();
        _json.WriteEndObject();
        _json.Flush();
        _output.Write(Newline);
    }

    public void Flush() => _output.Flush();

    private void WriteBytes(string name, byte[]? bytes)
    {
        if (bytes is null)
            _json.WriteNull(name);
        else if (Utf8.IsValid(bytes))
            _json.WriteString(name, bytes.AsSpan());
        else
            _json.WriteString(name, Encoding.UTF8.GetString(bytes));
    }

    public void Dispose()
    {
        _json.Dispose();
        _output.Flush();
    }
}
