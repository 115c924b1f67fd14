namespace OrleansStream.Storage.Producers;

/// <summary>Kafka's AppendOrigin: how much of a batch's producer state is validated.</summary>
public enum AppendOrigin
{
    /// <summary>Replicated from the leader or read back from the log: applied without validation (the leader validated it).</summary>
    Replication,

    /// <summary>Written by a coordinator (transaction markers, group offsets): epochs are checked, sequences are not.</summary>
    Coordinator,

    /// <summary>Produced by a client to the leader: duplicates, epochs and sequences are all checked.</summary>
    Client,
}
