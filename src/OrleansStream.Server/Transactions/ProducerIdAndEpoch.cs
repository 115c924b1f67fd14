namespace OrleansStream.Server.Transactions;

/// <summary>Kafka's ProducerIdAndEpoch: what a producer names in InitProducerId to recover (KIP-360).</summary>
internal readonly record struct ProducerIdAndEpoch(long ProducerId, short Epoch);
