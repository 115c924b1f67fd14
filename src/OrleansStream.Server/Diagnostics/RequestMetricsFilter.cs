using System.Collections.Frozen;
using System.Diagnostics;
using System.Reflection;
using OrleansStream.Server.Replication;

namespace OrleansStream.Server.Diagnostics;

/// <summary>
/// Records <c>orleansstream.request.duration</c> for every broker request at the grain call boundary, so the grains
/// carry no timing code: the partition, replica-fetch, group and controller calls, tagged with Kafka's request name and,
/// when the answer carries one, Kafka's error name. Other grain calls pass straight through, as do all calls while
/// nothing observes the histogram. The time is from dispatch to the grain until its answer, long-poll waits included.
/// </summary>
internal sealed class RequestMetricsFilter(OrleansStreamMetrics metrics) : IIncomingGrainCallFilter
{
    private static readonly FrozenDictionary<MethodInfo, BrokerOperation> Operations = new Dictionary<MethodInfo, BrokerOperation>
    {
        [Method<IPartitionReplicaGrain>(nameof(IPartitionReplicaGrain.Produce))] = BrokerOperation.Produce,
        [Method<IPartitionReplicaGrain>(nameof(IPartitionReplicaGrain.Fetch))] = BrokerOperation.Fetch,
        [Method<IPartitionReplicaGrain>(nameof(IPartitionReplicaGrain.ListOffsets))] = BrokerOperation.ListOffsets,
        [Method<IReplicaFetchGrain>(nameof(IReplicaFetchGrain.ReplicaFetch))] = BrokerOperation.ReplicaFetch,
        [Method<IClusterControllerGrain>(nameof(IClusterControllerGrain.GetMetadata))] = BrokerOperation.Metadata,
        [Method<IClusterControllerGrain>(nameof(IClusterControllerGrain.CreateTopics))] = BrokerOperation.CreateTopics,
        [Method<IClusterControllerGrain>(nameof(IClusterControllerGrain.DeleteTopics))] = BrokerOperation.DeleteTopics,
        [Method<IClusterControllerGrain>(nameof(IClusterControllerGrain.CreatePartitions))] = BrokerOperation.CreatePartitions,
        [Method<IConsumerGroupGrain>(nameof(IConsumerGroupGrain.JoinGroup))] = BrokerOperation.JoinGroup,
        [Method<IConsumerGroupGrain>(nameof(IConsumerGroupGrain.SyncGroup))] = BrokerOperation.SyncGroup,
        [Method<IConsumerGroupGrain>(nameof(IConsumerGroupGrain.Heartbeat))] = BrokerOperation.Heartbeat,
        [Method<IConsumerGroupGrain>(nameof(IConsumerGroupGrain.LeaveGroup))] = BrokerOperation.LeaveGroup,
        [Method<IConsumerGroupGrain>(nameof(IConsumerGroupGrain.OffsetCommit))] = BrokerOperation.OffsetCommit,
        [Method<IConsumerGroupGrain>(nameof(IConsumerGroupGrain.OffsetFetch))] = BrokerOperation.OffsetFetch,
    }.ToFrozenDictionary();

    public Task Invoke(IIncomingGrainCallContext context)
    {
        if (!metrics.RequestDurationEnabled || context.InterfaceMethod is not { } method || !Operations.TryGetValue(method, out var operation))
            return context.Invoke();
        return TimeAsync(context, operation);
    }

    private async Task TimeAsync(IIncomingGrainCallContext context, BrokerOperation operation)
    {
        var started = Stopwatch.GetTimestamp();
        try
        {
            await context.Invoke();
        }
        catch
        {
            metrics.RecordRequest(operation, started, ErrorCode.UnknownServerError);
            throw;
        }
        metrics.RecordRequest(operation, started, ErrorOf(context.Result));
    }

    private static ErrorCode ErrorOf(object? response) => response switch
    {
        ProduceResponse r => r.Error,
        FetchResponse r => r.Error,
        ListOffsetsResponse r => r.Error,
        ReplicaFetchResponse r => r.Error,
        JoinGroupResponse r => r.Error,
        SyncGroupResponse r => r.Error,
        GroupResponse r => r.Error,
        OffsetCommitResponse r => r.Error,
        OffsetFetchResponse r => r.Error,
        _ => ErrorCode.None, // metadata and admin answers carry one error per topic
    };

    private static MethodInfo Method<T>(string name) =>
        typeof(T).GetMethod(name) ?? throw new InvalidOperationException($"{typeof(T).Name} has no method {name}.");
}
