namespace OrleansStream.Storage.Tiering;

/// <summary>
/// What the tiering engine measures for the broker's <c>OrleansStream</c> meter. Storage has no meter of its own: the
/// broker creates one per host through <c>IMeterFactory</c> and hands each partition's <see cref="RemoteLogManager"/>
/// an implementation with that partition's tags precomputed, so every instrument has one owner and one meter.
/// </summary>
public interface IRemoteLogMetrics
{
    /// <summary>A tiering pass failed and will be retried after its back-off.</summary>
    void UploadFailed();

    /// <summary>A read below the local log start was served from the tier after <paramref name="elapsed"/>.</summary>
    void RemoteFetchCompleted(TimeSpan elapsed);
}

/// <summary>Measures nothing: tests and tools that run a <see cref="RemoteLogManager"/> without a broker.</summary>
public sealed class NoRemoteLogMetrics : IRemoteLogMetrics
{
    public static readonly NoRemoteLogMetrics Instance = new();

    private NoRemoteLogMetrics() { }

    public void UploadFailed() { }

    public void RemoteFetchCompleted(TimeSpan elapsed) { }
}
