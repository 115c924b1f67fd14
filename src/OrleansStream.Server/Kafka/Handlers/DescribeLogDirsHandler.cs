using Microsoft.Extensions.Options;
using OrleansStream.Protocol;
using OrleansStream.Protocol.Messages;
using OrleansStream.Server.Partitions;
using OrleansStream.Server.Security.Authorization;
using OrleansStream.Storage;

namespace OrleansStream.Server.Kafka.Handlers;

/// <summary>
/// DescribeLogDirs v1-4 (kafka-log-dirs.sh, the admin clients' <c>describeLogDirs</c>, the size columns of Kafka UIs):
/// this broker's one log directory (<c>OrleansStream:DataDirectory</c>, absolute), each partition directory in it (or
/// those asked) with the bytes of its local segments (Kafka's <c>log.size</c>: tiered segments are in the blob store,
/// not here), and from v4 the volume's total and usable bytes. The offset lag of a current log is Kafka's
/// max(HW − LEO, 0), which is 0: a replica's high watermark never passes its own log end. There are no future logs
/// (AlterReplicaLogDirs moves a log between a broker's directories; a broker here has one). A directory that cannot be
/// read is KafkaStorageError for that directory, as in Kafka. With the authorizer on it needs DESCRIBE on the cluster:
/// without, the answer has no directory and, from v3, ClusterAuthorizationFailed (Kafka's handleDescribeLogDirsRequest).
/// </summary>
internal sealed partial class DescribeLogDirsHandler(
    LocalPartitionDirectories directories, IOptions<BrokerOptions> options, KafkaAuthorizer authorizer, ILogger<DescribeLogDirsHandler> logger)
    : KafkaApiHandler<DescribeLogDirsRequest>(ApiKey.DescribeLogDirs, DescribeLogDirsRequest.Read)
{
    protected override ValueTask<bool> AnswerAsync(DescribeLogDirsRequest body, KafkaRequest request, KafkaWriter response)
    {
        if (!request.IsAllowedOnCluster(authorizer, AclOperation.Describe))
        {
            new DescribeLogDirsResponse(ErrorCode.ClusterAuthorizationFailed, []).Write(response, request.Version);
            return ValueTask.FromResult(true);
        }
        var root = options.Value.ResolvedDataDirectory;
        LogDirResult result;
        try
        {
            result = Describe(root, body.Topics);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            LogDescribeFailed(e, root);
            result = new LogDirResult(ErrorCode.KafkaStorageError, root, [], -1, -1);
        }
        new DescribeLogDirsResponse(ErrorCode.None, [result]).Write(response, request.Version);
        return ValueTask.FromResult(true);
    }

    private LogDirResult Describe(string root, TopicPartitions[]? wanted)
    {
        HashSet<(string, int)>? asked = null;
        if (wanted is not null)
        {
            asked = [];
            foreach (var t in wanted)
                foreach (var p in t.Partitions) asked.Add((t.Topic, p));
        }
        var byTopic = new SortedDictionary<string, List<LogDirPartition>>(StringComparer.Ordinal);
        foreach (var local in directories.List())
        {
            if (asked is not null && !asked.Contains((local.Topic, local.Partition))) continue;
            // A partition deleted meanwhile is not there any more.
            if (PartitionLog.SegmentBytesIn(directories.PathOf(local.Topic, local.Partition)) is not { } size) continue;
            if (!byTopic.TryGetValue(local.Topic, out var partitions)) byTopic[local.Topic] = partitions = [];
            partitions.Add(new LogDirPartition(local.Partition, size, OffsetLag: 0, IsFutureKey: false));
        }
        var topics = new LogDirTopic[byTopic.Count];
        var i = 0;
        foreach (var (name, partitions) in byTopic)
        {
            partitions.Sort(static (a, b) => a.Partition.CompareTo(b.Partition));
            topics[i++] = new LogDirTopic(name, [.. partitions]);
        }
        var volume = new DriveInfo(root);
        return new LogDirResult(ErrorCode.None, root, topics, volume.TotalSize, volume.AvailableFreeSpace);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "DescribeLogDirs could not read the log directory {LogDir}")]
    private partial void LogDescribeFailed(Exception e, string logDir);
}
