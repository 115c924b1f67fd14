using System.Globalization;
using System.Net;
using OrleansStream.Protocol;
using OrleansStream.Protocol.Messages;
using OrleansStream.Server.ClientMetrics;
using OrleansStream.Server.Security.Authorization;

namespace OrleansStream.Server.Kafka.Handlers;

/// <summary>
/// GetTelemetrySubscriptions (KIP-714): the metrics this broker's client metrics subscriptions ask of the client, and
/// how to push them (<see cref="ClientMetricsManager"/>). Kafka checks no ACL here.
/// </summary>
internal sealed class GetTelemetrySubscriptionsHandler(ClientMetricsManager manager)
    : KafkaApiHandler<GetTelemetrySubscriptionsRequest>(ApiKey.GetTelemetrySubscriptions, GetTelemetrySubscriptionsRequest.Read)
{
    protected override ValueTask<bool> AnswerAsync(GetTelemetrySubscriptionsRequest body, KafkaRequest request, KafkaWriter response)
    {
        manager.GetSubscriptions(body.ClientInstanceId, TelemetryClients.Of(request, body.ClientInstanceId), request.Connection).Write(response, request.Version);
        return ValueTask.FromResult(true);
    }
}

/// <summary>PushTelemetry (KIP-714): a client's metrics, checked and handed to the receivers (<see cref="ClientMetricsManager"/>).</summary>
internal sealed class PushTelemetryHandler(ClientMetricsManager manager)
    : KafkaApiHandler<PushTelemetryRequest>(ApiKey.PushTelemetry, PushTelemetryRequest.Read)
{
    protected override ValueTask<bool> AnswerAsync(PushTelemetryRequest body, KafkaRequest request, KafkaWriter response)
    {
        new PushTelemetryResponse(manager.Push(body, TelemetryClients.Of(request, body.ClientInstanceId), request.Connection)).Write(response, request.Version);
        return ValueTask.FromResult(true);
    }
}

/// <summary>
/// ListClientMetricsResources (KIP-714, <c>kafka-client-metrics.sh --list</c>): the names of the client metrics
/// subscriptions, stored and configured, in name order. With the authorizer on it needs DESCRIBE_CONFIGS on the cluster
/// (ClusterAuthorizationFailed), as Kafka's <c>handleListClientMetricsResources</c>.
/// </summary>
internal sealed class ListClientMetricsResourcesHandler(ClientMetricsManager manager, KafkaAuthorizer authorizer)
    : KafkaApiHandler<ListClientMetricsResourcesRequest>(ApiKey.ListClientMetricsResources, ListClientMetricsResourcesRequest.Read)
{
    protected override ValueTask<bool> AnswerAsync(ListClientMetricsResourcesRequest body, KafkaRequest request, KafkaWriter response)
    {
        if (!request.IsAllowedOnCluster(authorizer, AclOperation.DescribeConfigs))
        {
            new ListClientMetricsResourcesResponse(ErrorCode.ClusterAuthorizationFailed, []).Write(response, request.Version);
            return ValueTask.FromResult(true);
        }
        var names = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var subscription in manager.Subscriptions) names.Add(subscription.Name);
        new ListClientMetricsResourcesResponse(ErrorCode.None, [.. names]).Write(response, request.Version);
        return ValueTask.FromResult(true);
    }
}

internal static class TelemetryClients
{
    /// <summary>Kafka's <c>ClientMetricsInstanceMetadata</c> of a request: client id, software, source address and port.</summary>
    public static ClientMetricsClient Of(KafkaRequest request, Guid clientInstanceId)
    {
        var connection = request.Connection;
        var port = connection.Remote is IPEndPoint ip ? ip.Port.ToString(CultureInfo.InvariantCulture) : null;
        return new ClientMetricsClient(clientInstanceId, request.Header.ClientId, connection.ClientSoftwareName, connection.ClientSoftwareVersion,
            connection.Remote is null ? null : connection.ClientHost, port);
    }
}
