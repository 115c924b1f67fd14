namespace OrleansStream.Client;

/// <summary>Whether a message reached the log.</summary>
public enum PersistenceStatus
{
    /// <summary>The message never reached the leader.</summary>
    NotPersisted = 0,
    /// <summary>It may have been written (acks=0, or a request whose answer was lost).</summary>
    PossiblyPersisted = 1,
    /// <summary>The leader acknowledged it with the requested acks.</summary>
    Persisted = 2,
}
