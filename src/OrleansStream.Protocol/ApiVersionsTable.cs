namespace OrleansStream.Protocol;

/// <summary>One API the broker answers and the versions it answers (Kafka's ApiVersionsResponse entry).</summary>
public readonly record struct SupportedApi(ApiKey Key, short MinVersion, short MaxVersion);

/// <summary>
/// The single place that says which APIs and versions this broker advertises: ApiVersions answers this list, the
/// listener refuses any other request. An API appears here only once its messages and handler exist.
/// </summary>
public static class ApiVersionsTable
{
    public static readonly SupportedApi[] Advertised =
    [
        new(ApiKey.Produce, 3, 12),
        new(ApiKey.Fetch, 4, 17),
        new(ApiKey.ListOffsets, 1, 10),
        new(ApiKey.Metadata, 0, 13),
        new(ApiKey.OffsetCommit, 1, 9),
        new(ApiKey.OffsetFetch, 1, 9),
        new(ApiKey.FindCoordinator, 0, 6),
        new(ApiKey.JoinGroup, 0, 9),
        new(ApiKey.Heartbeat, 0, 4),
        new(ApiKey.LeaveGroup, 0, 5),
        new(ApiKey.SyncGroup, 0, 5),
        new(ApiKey.DescribeGroups, 0, 5),
        new(ApiKey.ListGroups, 0, 5),
        new(ApiKey.SaslHandshake, 0, 1),
        new(ApiKey.ApiVersions, 0, 4),
        new(ApiKey.CreateTopics, 0, 7),
        new(ApiKey.DeleteTopics, 0, 6),
        new(ApiKey.InitProducerId, 0, 5),
        new(ApiKey.OffsetForLeaderEpoch, 2, 4),
        new(ApiKey.AddPartitionsToTxn, 0, 3),
        new(ApiKey.AddOffsetsToTxn, 0, 4),
        new(ApiKey.EndTxn, 0, 5),
        new(ApiKey.WriteTxnMarkers, 0, 1),
        new(ApiKey.TxnOffsetCommit, 0, 5),
        new(ApiKey.DescribeAcls, 1, 3),
        new(ApiKey.CreateAcls, 1, 3),
        new(ApiKey.DeleteAcls, 1, 3),
        new(ApiKey.DescribeTransactions, 0, 0),
        new(ApiKey.ListTransactions, 0, 1),
        new(ApiKey.CreatePartitions, 0, 3),
        new(ApiKey.DeleteGroups, 0, 2),
        new(ApiKey.ElectLeaders, 0, 2),
        new(ApiKey.DescribeConfigs, 0, 4),
        new(ApiKey.AlterReplicaLogDirs, 1, 2),
        new(ApiKey.DescribeLogDirs, 1, 4),
        new(ApiKey.SaslAuthenticate, 0, 2),
        new(ApiKey.AlterConfigs, 0, 2),
        new(ApiKey.IncrementalAlterConfigs, 0, 1),
        new(ApiKey.AlterPartitionReassignments, 0, 0),
        new(ApiKey.ListPartitionReassignments, 0, 0),
        new(ApiKey.DeleteRecords, 0, 2),
        new(ApiKey.OffsetDelete, 0, 0),
        new(ApiKey.DescribeClientQuotas, 0, 1),
        new(ApiKey.AlterClientQuotas, 0, 1),
        new(ApiKey.DescribeUserScramCredentials, 0, 0),
        new(ApiKey.AlterUserScramCredentials, 0, 0),
        new(ApiKey.UpdateFeatures, 0, 2),
        new(ApiKey.DescribeCluster, 0, 2),
        new(ApiKey.DescribeProducers, 0, 0),
        new(ApiKey.ConsumerGroupHeartbeat, 0, 1),
        new(ApiKey.ConsumerGroupDescribe, 0, 1),
        new(ApiKey.DescribeTopicPartitions, 0, 0),
        new(ApiKey.GetTelemetrySubscriptions, 0, 0),
        new(ApiKey.PushTelemetry, 0, 0),
        new(ApiKey.ListClientMetricsResources, 0, 0),
    ];

    public static bool IsSupported(ApiKey key, short version)
    {
        foreach (var api in Advertised)
            if (api.Key == key) return version >= api.MinVersion && version <= api.MaxVersion;
        return false;
    }

    /// <summary>
    /// Kafka's first flexible version (compact strings and arrays, tagged fields, request header v2, response header
    /// v1) of each API, whether advertised or not, so that any request's header can be read; -1 for an API unknown here.
    /// </summary>
    public static short FirstFlexibleVersion(ApiKey key) => key switch
    {
        ApiKey.Produce => 9,
        ApiKey.Fetch => 12,
        ApiKey.ListOffsets => 6,
        ApiKey.Metadata => 9,
        ApiKey.OffsetCommit => 8,
        ApiKey.OffsetFetch => 6,
        ApiKey.FindCoordinator => 3,
        ApiKey.JoinGroup => 6,
        ApiKey.Heartbeat => 4,
        ApiKey.LeaveGroup => 4,
        ApiKey.SyncGroup => 4,
        ApiKey.DescribeGroups => 5,
        ApiKey.ListGroups => 3,
        ApiKey.SaslHandshake => short.MaxValue,
        ApiKey.ApiVersions => 3,
        ApiKey.CreateTopics => 5,
        ApiKey.DeleteTopics => 4,
        ApiKey.DeleteRecords => 2,
        ApiKey.InitProducerId => 2,
        ApiKey.OffsetForLeaderEpoch => 4,
        ApiKey.AddPartitionsToTxn => 3,
        ApiKey.AddOffsetsToTxn => 3,
        ApiKey.EndTxn => 3,
        ApiKey.WriteTxnMarkers => 1,
        ApiKey.TxnOffsetCommit => 3,
        ApiKey.DescribeAcls => 2,
        ApiKey.CreateAcls => 2,
        ApiKey.DeleteAcls => 2,
        ApiKey.DescribeConfigs => 4,
        ApiKey.AlterConfigs => 2,
        ApiKey.AlterReplicaLogDirs => 2,
        ApiKey.DescribeLogDirs => 2,
        ApiKey.SaslAuthenticate => 2,
        ApiKey.CreatePartitions => 2,
        ApiKey.DeleteGroups => 2,
        ApiKey.ElectLeaders => 2,
        ApiKey.IncrementalAlterConfigs => 1,
        ApiKey.AlterPartitionReassignments => 0,
        ApiKey.ListPartitionReassignments => 0,
        ApiKey.OffsetDelete => short.MaxValue,
        ApiKey.DescribeClientQuotas => 1,
        ApiKey.AlterClientQuotas => 1,
        ApiKey.DescribeUserScramCredentials => 0,
        ApiKey.AlterUserScramCredentials => 0,
        ApiKey.UpdateFeatures => 0,
        ApiKey.DescribeCluster => 0,
        ApiKey.DescribeProducers => 0,
        ApiKey.DescribeTransactions => 0,
        ApiKey.ListTransactions => 0,
        ApiKey.ConsumerGroupHeartbeat => 0,
        ApiKey.ConsumerGroupDescribe => 0,
        ApiKey.DescribeTopicPartitions => 0,
        ApiKey.GetTelemetrySubscriptions => 0,
        ApiKey.PushTelemetry => 0,
        ApiKey.ListClientMetricsResources => 0,
        _ => -1,
    };

    public static bool IsFlexible(ApiKey key, short version)
    {
        var first = FirstFlexibleVersion(key);
        return first >= 0 && version >= first;
    }
}
