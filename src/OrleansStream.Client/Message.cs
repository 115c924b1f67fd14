using OrleansStream.Records;

namespace OrleansStream.Client;

/// <summary>A message to produce or a consumed one.</summary>
public class Message<TKey, TValue>
{
    public TKey Key { get; set; } = default!;

    public TValue Value { get; set; } = default!;

    /// <summary><see cref="Timestamp.Default"/> lets the producer stamp the current time.</summary>
    public Timestamp Timestamp { get; set; } = Timestamp.Default;

    public Headers? Headers { get; set; }
}
