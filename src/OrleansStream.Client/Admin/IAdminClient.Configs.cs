using OrleansStream.Client.Admin;

namespace OrleansStream.Client;

/// <summary>Config administration, shaped like Confluent.Kafka's IAdminClient (Kafka's DescribeConfigs, AlterConfigs, IncrementalAlterConfigs).</summary>
public partial interface IAdminClient
{
    /// <summary>
    /// Every config of each resource, defaults included (<see cref="ConfigEntryResult.IsDefault"/>), with its source and
    /// synonyms. A topic's configs are its overrides over the broker defaults over Kafka's; a broker's are its settings,
    /// answered by the broker the controller runs on (another broker's node id: InvalidRequest). Throws
    /// <see cref="DescribeConfigsException"/> with every resource's report when any fails (UnknownTopicOrPartition...).
    /// </summary>
    Task<List<DescribeConfigsResult>> DescribeConfigsAsync(IEnumerable<ConfigResource> resources, DescribeConfigsOptions? options = null);

    /// <summary>
    /// Kafka's IncrementalAlterConfigs: each entry's <see cref="ConfigEntry.IncrementalOperation"/> applied to the topic's
    /// overrides. Each resource succeeds or fails on its own; throws <see cref="IncrementalAlterConfigsException"/> with
    /// every resource's report when any failed (InvalidConfig, InvalidRequest, UnknownTopicOrPartition). Broker configs
    /// are not changed at run time (InvalidRequest).
    /// </summary>
    Task<List<IncrementalAlterConfigsResult>> IncrementalAlterConfigsAsync(Dictionary<ConfigResource, List<ConfigEntry>> configs, IncrementalAlterConfigsOptions? options = null);

    /// <summary>
    /// Kafka's legacy AlterConfigs: each topic's overrides become exactly the given entries (a config left out returns to
    /// its default). Throws <see cref="AlterConfigsException"/> with every resource's report when any failed.
    /// </summary>
    Task AlterConfigsAsync(Dictionary<ConfigResource, List<ConfigEntry>> configs, AlterConfigsOptions? options = null);
}
