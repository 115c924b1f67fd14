using OrleansStream.Client.Admin;

namespace OrleansStream.Client;

/// <summary>Topic administration, shaped like Confluent.Kafka's IAdminClient.</summary>
public partial interface IAdminClient : IDisposable
{
    string Name { get; }

    /// <summary>Throws <see cref="CreateTopicsException"/> with one report per topic when any topic fails.</summary>
    Task CreateTopicsAsync(IEnumerable<TopicSpecification> topics, CreateTopicsOptions? options = null);

    /// <summary>Throws <see cref="DeleteTopicsException"/> with one report per topic when any topic fails.</summary>
    Task DeleteTopicsAsync(IEnumerable<string> topics, DeleteTopicsOptions? options = null);

    /// <summary>Throws <see cref="CreatePartitionsException"/> with one report per topic when any topic fails.</summary>
    Task CreatePartitionsAsync(IEnumerable<PartitionsSpecification> partitionsSpecifications, CreatePartitionsOptions? options = null);

    /// <summary>One topic's metadata (never creates it).</summary>
    ClusterMetadata GetMetadata(string topic, TimeSpan timeout);

    /// <summary>Every topic's metadata.</summary>
    ClusterMetadata GetMetadata(TimeSpan timeout);

    Task<ClusterMetadata> GetMetadataAsync(IEnumerable<string>? topics = null);

    /// <summary>Per partition: leader, replicas, ISR and the leader's log start/end. Throws <see cref="DescribeTopicsException"/> when a topic fails.</summary>
    Task<DescribeTopicsResult> DescribeTopicsAsync(IEnumerable<string> topics, DescribeTopicsOptions? options = null);

    /// <summary>Every topic's description.</summary>
    Task<DescribeTopicsResult> DescribeTopicsAsync(DescribeTopicsOptions? options = null);
}

/// <summary>Builds an <see cref="IAdminClient"/> over an Orleans cluster client.</summary>
public sealed class AdminClientBuilder(IClusterClient clusterClient, AdminClientConfig? config = null)
{
    private TimeProvider _time = TimeProvider.System;

    public AdminClientBuilder(IClusterClient clusterClient, IEnumerable<KeyValuePair<string, string>> config)
        : this(clusterClient, new AdminClientConfig(config)) { }

    internal AdminClientBuilder SetTimeProvider(TimeProvider time)
    {
        _time = time;
        return this;
    }

    public IAdminClient Build() => new AdminClient(clusterClient, config ?? new AdminClientConfig(), _time);
}
