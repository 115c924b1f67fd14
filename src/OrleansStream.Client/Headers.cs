using OrleansStream.Records;

namespace OrleansStream.Client;

/// <summary>Record headers: an ordered list of key/value pairs; keys may repeat.</summary>
public sealed class Headers : IReadOnlyList<RecordHeader>
{
    private readonly List<RecordHeader> _headers = [];

    public int Count => _headers.Count;

    public RecordHeader this[int index] => _headers[index];

    public void Add(string key, byte[]? value)
    {
        ArgumentNullException.ThrowIfNull(key);
        _headers.Add(new RecordHeader(key, value));
    }

    public void Add(RecordHeader header) => Add(header.Key, header.Value);

    public void Remove(string key) => _headers.RemoveAll(h => h.Key == key);

    /// <summary>The value of the last header named <paramref name="key"/>.</summary>
    public bool TryGetLastBytes(string key, out byte[]? lastHeader)
    {
        for (var i = _headers.Count - 1; i >= 0; i--)
        {
            if (_headers[i].Key == key)
            {
                lastHeader = _headers[i].Value;
                return true;
            }
        }
        lastHeader = null;
        return false;
    }

    public byte[]? GetLastBytes(string key) =>
        TryGetLastBytes(key, out var v) ? v : throw new KeyNotFoundException($"No header named '{key}'.");

    public List<RecordHeader>.Enumerator GetEnumerator() => _headers.GetEnumerator();

    IEnumerator<RecordHeader> IEnumerable<RecordHeader>.GetEnumerator() => _headers.GetEnumerator();

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => _headers.GetEnumerator();
}
