namespace OrleansStream.Storage.Tiering;

/// <summary>
/// A bounded LRU of bytes read from the tier: whole remote offset indexes and aligned chunks of remote segments, so a
/// consumer reading history sequentially costs one ranged GET per chunk and one index GET per segment. Shared by every
/// partition of a broker; thread-safe.
/// </summary>
public sealed class RemoteReadCache(long capacityBytes = 128L << 20, int chunkBytes = 1 << 20)
{
    private readonly Dictionary<string, LinkedListNode<(string Key, byte[] Value)>> _map = new(StringComparer.Ordinal);
    private readonly LinkedList<(string Key, byte[] Value)> _lru = new();
    private readonly Lock _gate = new();
    private long _bytes;

    public long CapacityBytes { get; } = capacityBytes > 0 ? capacityBytes : throw new ArgumentOutOfRangeException(nameof(capacityBytes));

    /// <summary>Segment bytes are fetched and cached in aligned chunks of this size.</summary>
    public int ChunkBytes { get; } = chunkBytes >= 4096 ? chunkBytes : throw new ArgumentOutOfRangeException(nameof(chunkBytes));

    public long SizeInBytes
    {
        get
        {
            lock (_gate) return _bytes;
        }
    }

    public long Hits { get; private set; }
    public long Misses { get; private set; }

    public bool TryGet(string key, out byte[] value)
    {
        lock (_gate)
        {
            if (_map.TryGetValue(key, out var node))
            {
                _lru.Remove(node);
                _lru.AddFirst(node);
                value = node.Value.Value;
                Hits++;
                return true;
            }
            Misses++;
        }
        value = [];
        return false;
    }

    public void Put(string key, byte[] value)
    {
        if (value.Length > CapacityBytes) return;
        lock (_gate)
        {
            if (_map.Remove(key, out var old))
            {
                _lru.Remove(old);
                _bytes -= old.Value.Value.Length;
            }
            _map[key] = _lru.AddFirst((key, value));
            _bytes += value.Length;
            while (_bytes > CapacityBytes && _lru.Last is { } last)
            {
                _lru.RemoveLast();
                _map.Remove(last.Value.Key);
                _bytes -= last.Value.Value.Length;
            }
        }
    }

    /// <summary>Drops every entry whose key starts with <paramref name="prefix"/> (a deleted remote segment).</summary>
    public void Invalidate(string prefix)
    {
        lock (_gate)
        {
            for (var node = _lru.First; node is not null;)
            {
                var next = node.Next;
                if (node.Value.Key.StartsWith(prefix, StringComparison.Ordinal))
                {
                    _lru.Remove(node);
                    _map.Remove(node.Value.Key);
                    _bytes -= node.Value.Value.Length;
                }
                node = next;
            }
        }
    }
}
