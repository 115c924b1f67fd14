namespace OrleansStream.Client;

/// <summary>Where a consumer starts when it has no valid position (<c>auto.offset.reset</c>).</summary>
public enum AutoOffsetReset
{
    Latest,
    Earliest,
    /// <summary>Consume throws a <see cref="ConsumeException"/> with <see cref="ErrorCode.OffsetOutOfRange"/>.</summary>
    Error,
}
