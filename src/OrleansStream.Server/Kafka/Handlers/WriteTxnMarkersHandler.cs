using OrleansStream.Protocol;
using OrleansStream.Protocol.Messages;
using OrleansStream.Server.Security.Authorization;

namespace OrleansStream.Server.Kafka.Handlers;

/// <summary>
/// WriteTxnMarkers v0-1. Our transaction coordinator writes its markers with grain calls, so what reaches the listener
/// is Kafka's admin client aborting a hanging transaction (KIP-664, <c>Admin.abortTransaction</c>,
/// <c>kafka-transactions.sh abort</c>): each partition's leader appends the COMMIT or ABORT control batch for the
/// producer as the coordinator's (producer and coordinator epochs checked) and answers once its in-sync replicas have
/// it, so the last stable offset moves past the transaction. Kafka's handler first needs CLUSTER_ACTION on the cluster
/// (ClusterAuthorizationFailed for every partition). A partition not hosted here is UnknownTopicOrPartition, the
/// group coordinator's offsets topic included (a group's pending offsets follow its transaction's coordinator only).
/// </summary>
internal sealed partial class WriteTxnMarkersHandler(PartitionLeaders leaders, KafkaAuthorizer authorizer, ILogger<WriteTxnMarkersHandler> logger)
    : KafkaApiHandler<WriteTxnMarkersRequest>(ApiKey.WriteTxnMarkers, WriteTxnMarkersRequest.Read)
{
    protected override async ValueTask<bool> AnswerAsync(WriteTxnMarkersRequest body, KafkaRequest request, KafkaWriter response)
    {
        var allowed = request.IsAllowedOnCluster(authorizer, AclOperation.ClusterAction);
        if (allowed)
            foreach (var marker in body.Markers)
                await leaders.EnsureAsync(marker.Topics, static t => t.Topic);
        // Every partition's marker goes out at once; the answers are read in the request's order.
        var calls = new List<(ErrorCode Error, Task<ErrorCode>? Call)>();
        foreach (var marker in body.Markers)
            foreach (var topic in marker.Topics)
                foreach (var partition in topic.Partitions)
                {
                    if (!allowed)
                    {
                        calls.Add((ErrorCode.ClusterAuthorizationFailed, null));
                        continue;
                    }
                    var leader = leaders.Find(topic.Topic, partition);
                    calls.Add((leader.Error, leader.Replica?.WriteTxnMarker(
                        new WriteTxnMarkerRequest(marker.ProducerId, marker.ProducerEpoch, marker.CoordinatorEpoch, marker.Commit))));
                }
        var results = new List<(long ProducerId, PartitionErrors[] Topics)>(body.Markers.Count);
        var c = 0;
        foreach (var marker in body.Markers)
        {
            var topics = new PartitionErrors[marker.Topics.Length];
            for (var t = 0; t < topics.Length; t++)
            {
                var topic = marker.Topics[t];
                var partitions = new (int, ErrorCode)[topic.Partitions.Length];
                for (var p = 0; p < partitions.Length; p++)
                    partitions[p] = (topic.Partitions[p], await CompleteAsync(topic.Topic, topic.Partitions[p], marker, calls[c++]));
                topics[t] = new PartitionErrors(topic.Topic, partitions);
            }
            results.Add((marker.ProducerId, topics));
        }
        new WriteTxnMarkersResponse(results).Write(response, request.Version);
        return true;
    }

    private async ValueTask<ErrorCode> CompleteAsync(string topic, int partition, WritableTxnMarker marker, (ErrorCode Error, Task<ErrorCode>? Call) lookup)
    {
        if (lookup.Call is null) return lookup.Error;
        ErrorCode error;
        try
        {
            error = await lookup.Call;
        }
        catch (Exception e)
        {
            error = KafkaErrors.FromException(e);
            if (error == ErrorCode.UnknownServerError) LogMarkerFailed(e, topic, partition);
        }
        if (KafkaErrors.IsStaleLeader(error)) leaders.Invalidate(topic);
        else if (error == ErrorCode.None) LogMarkerWritten(marker.Commit ? "COMMIT" : "ABORT", marker.ProducerId, marker.ProducerEpoch, topic, partition);
        return error;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "WriteTxnMarkers: {Marker} of producer {ProducerId} (epoch {ProducerEpoch}) written to {Topic}-{Partition}")]
    private partial void LogMarkerWritten(string marker, long producerId, short producerEpoch, string topic, int partition);

    [LoggerMessage(Level = LogLevel.Warning, Message = "WriteTxnMarkers to {Topic}-{Partition} failed")]
    private partial void LogMarkerFailed(Exception e, string topic, int partition);
}
