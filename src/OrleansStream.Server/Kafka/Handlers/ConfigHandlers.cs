using Microsoft.Extensions.Options;
using OrleansStream.Protocol;
using OrleansStream.Protocol.Messages;
using OrleansStream.Server.ClientMetrics;
using OrleansStream.Server.Cluster;
using OrleansStream.Server.Controller;
using OrleansStream.Server.Groups;
using OrleansStream.Server.Kafka.Security;
using OrleansStream.Server.Kafka.Security.OAuthBearer;
using OrleansStream.Server.Security.Authorization;

namespace OrleansStream.Server.Kafka.Handlers;

/// <summary>
/// DescribeConfigs v0-4: a topic's configs with Kafka's sources (its overrides from the controller, or from the broker's
/// <see cref="MetadataCache"/> while it cannot answer, over the broker defaults over Kafka's defaults), and this
/// broker's configs, all read-only: they come from the <c>OrleansStream</c> section; and a group's configs (KIP-848)
/// from its grain; all described by <see cref="ConfigsDescription"/>, which the controller grain shares for the SDK.
/// With the authorizer on, as Kafka's <c>ConfigHelper</c>: a topic needs DESCRIBE_CONFIGS on it
/// (TopicAuthorizationFailed), a group on it (GroupAuthorizationFailed), the broker DESCRIBE_CONFIGS on the cluster
/// (ClusterAuthorizationFailed); a topic or group refused is not looked up.
/// </summary>
internal sealed class DescribeConfigsHandler(
    MetadataCache metadata, IOptions<BrokerOptions> options, IOptions<ConsumerGroupOptions> groupOptions, BrokerRegistration registration,
    SaslCredentialStore sasl, IOptions<OAuthBearerOptions> oauthBearer, KafkaAuthorizer authorizer, IGrainFactory grains, ClientMetricsManager clientMetrics)
    : KafkaApiHandler<DescribeConfigsRequest>(ApiKey.DescribeConfigs, DescribeConfigsRequest.Read)
{
    private readonly BrokerOptions _options = options.Value;
    private readonly ConsumerGroupOptions _groupOptions = groupOptions.Value;
    private readonly OAuthBearerOptions _oauthBearer = oauthBearer.Value;

    protected override async ValueTask<bool> AnswerAsync(DescribeConfigsRequest body, KafkaRequest request, KafkaWriter response)
    {
        var denied = authorizer.IsEnabled ? Denied(body.Resources, request) : null;
        List<string>? topicNames = null;
        List<string>? groupNames = null;
        for (var i = 0; i < body.Resources.Count; i++)
        {
            if (denied.IsDenied(i)) continue;
            if (body.Resources[i].Type == ConfigResourceType.Topic) (topicNames ??= []).Add(body.Resources[i].Name);
            else if (body.Resources[i].Type == ConfigResourceType.Group) (groupNames ??= []).Add(body.Resources[i].Name);
        }
        var topics = new Dictionary<string, TopicMetadata>(StringComparer.Ordinal);
        if (topicNames is not null)
            foreach (var t in (await metadata.TopicsAsync(topicNames, allowAutoTopicCreation: false)).Topics)
                topics[t.Name] = t;
        var groups = groupNames is null ? [] : await ConfigsDescription.LookUpGroupsAsync(grains, groupNames);

        var broker = new BrokerConfigsSource(_options, registration.Meta.NodeId, sasl.EnabledMechanisms, authorizer.IsEnabled, _groupOptions, _oauthBearer);
        var results = new List<DescribeConfigsResult>(body.Resources.Count);
        for (var i = 0; i < body.Resources.Count; i++)
        {
            var resource = body.Resources[i];
            if (!denied.IsDenied(i))
                results.Add(resource.Type == ConfigResourceType.ClientMetrics
                    ? ConfigsDescription.DescribeClientMetrics(resource, clientMetrics, body.IncludeDocumentation)
                    : ConfigsDescription.Describe(resource, topics, groups, broker, body.IncludeSynonyms, body.IncludeDocumentation));
            else if (resource.Type == ConfigResourceType.Topic)
                results.Add(new DescribeConfigsResult(ErrorCode.TopicAuthorizationFailed, AuthorizationMessages.Topic, resource.Type, resource.Name, []));
            else if (resource.Type == ConfigResourceType.Group)
                results.Add(new DescribeConfigsResult(ErrorCode.GroupAuthorizationFailed, AuthorizationMessages.Group, resource.Type, resource.Name, []));
            else results.Add(new DescribeConfigsResult(ErrorCode.ClusterAuthorizationFailed, AuthorizationMessages.Cluster, resource.Type, resource.Name, []));
        }
        new DescribeConfigsResponse(results).Write(response, request.Version);
        return true;
    }

    /// <summary>The resources refused: a topic or group without DESCRIBE_CONFIGS on it, the broker without it on the cluster.</summary>
    private bool[]? Denied(IReadOnlyList<DescribeConfigsResource> resources, KafkaRequest request)
    {
        bool[]? denied = null;
        for (var i = 0; i < resources.Count; i++)
        {
            var allowed = resources[i].Type switch
            {
                ConfigResourceType.Topic => request.IsAllowed(authorizer, AclOperation.DescribeConfigs, AclResourceType.Topic, resources[i].Name),
                ConfigResourceType.Group => request.IsAllowedOnGroup(authorizer, AclOperation.DescribeConfigs, resources[i].Name),
                ConfigResourceType.Broker or ConfigResourceType.ClientMetrics => request.IsAllowedOnCluster(authorizer, AclOperation.DescribeConfigs),
                _ => true,
            };
            if (!allowed) (denied ??= new bool[resources.Count])[i] = true;
        }
        return denied;
    }
}

/// <summary>
/// AlterConfigs and IncrementalAlterConfigs: topic changes go to the controller in one call, which checks them as
/// CreateTopics does and sends the new configs to the replicas; a group's (KIP-848) to its grain, which checks and
/// stores them (<see cref="GroupConfigs"/>). Broker configs come from the <c>OrleansStream</c> section and are not
/// changed at run time: InvalidRequest. With the authorizer on, as Kafka's <c>authorizeAlterResource</c>: a topic or
/// group needs ALTER_CONFIGS on it (TopicAuthorizationFailed, GroupAuthorizationFailed), the broker ALTER_CONFIGS on the
/// cluster (ClusterAuthorizationFailed, before it is refused as not alterable).
/// </summary>
internal abstract class ConfigAlteringHandler(
    ApiKey apiKey, MessageReader<AlterConfigsRequest> read, IGrainFactory grains, KafkaAuthorizer authorizer, ClientMetricsManager clientMetrics, bool incremental)
    : KafkaApiHandler<AlterConfigsRequest>(apiKey, read)
{
    protected override async ValueTask<bool> AnswerAsync(AlterConfigsRequest body, KafkaRequest request, KafkaWriter response)
    {
        var results = new AlterConfigsResult[body.Resources.Count];
        var changes = new List<TopicConfigsChange>();
        var sent = new List<int>();
        List<(int Index, Task<GroupResponse> Call)>? groups = null;
        List<ClientMetricsConfigsChange>? metricsChanges = null;
        List<int>? metricsSent = null;
        for (var i = 0; i < results.Length; i++)
        {
            var resource = body.Resources[i];
            if (resource.Type == ConfigResourceType.Topic && !request.IsAllowed(authorizer, AclOperation.AlterConfigs, AclResourceType.Topic, resource.Name))
            {
                results[i] = new AlterConfigsResult(ErrorCode.TopicAuthorizationFailed, AuthorizationMessages.Topic, resource.Type, resource.Name);
                continue;
            }
            if (resource.Type == ConfigResourceType.Group && !request.IsAllowedOnGroup(authorizer, AclOperation.AlterConfigs, resource.Name))
            {
                results[i] = new AlterConfigsResult(ErrorCode.GroupAuthorizationFailed, AuthorizationMessages.Group, resource.Type, resource.Name);
                continue;
            }
            if (resource.Type is ConfigResourceType.Broker or ConfigResourceType.ClientMetrics && !request.IsAllowedOnCluster(authorizer, AclOperation.AlterConfigs))
            {
                results[i] = new AlterConfigsResult(ErrorCode.ClusterAuthorizationFailed, AuthorizationMessages.Cluster, resource.Type, resource.Name);
                continue;
            }
            if (resource.Type != ConfigResourceType.ClientMetrics && ConfigChangeRules.Refusal((ConfigResourceKind)resource.Type, resource.Name) is { } refusal)
            {
                results[i] = new AlterConfigsResult(ErrorCode.InvalidRequest, refusal, resource.Type, resource.Name);
                continue;
            }
            var configs = new AlterableConfig[resource.Configs.Count];
            for (var c = 0; c < configs.Length; c++)
                configs[c] = new AlterableConfig(resource.Configs[c].Name, (AlterConfigOp)(byte)resource.Configs[c].Op, resource.Configs[c].Value);
            if (resource.Type == ConfigResourceType.ClientMetrics)
            {
                (metricsChanges ??= []).Add(new ClientMetricsConfigsChange(resource.Name, configs, incremental));
                (metricsSent ??= []).Add(i);
                continue;
            }
            if (resource.Type == ConfigResourceType.Group)
            {
                (groups ??= []).Add((i, GroupConfigCalls.AlterAsync(grains, resource.Name, configs, incremental, body.ValidateOnly)));
                continue;
            }
            changes.Add(new TopicConfigsChange(resource.Name, configs, incremental));
            sent.Add(i);
        }
        if (changes.Count > 0)
        {
            var answers = await ControllerCalls.UnlessUnreachableAsync(grains.Controller().AlterConfigs(changes, body.ValidateOnly));
            for (var i = 0; i < sent.Count; i++)
                results[sent[i]] = answers is null
                    ? new AlterConfigsResult(ErrorCode.RequestTimedOut, ControllerCalls.ControllerDidNotAnswer, ConfigResourceType.Topic, changes[i].Topic)
                    : new AlterConfigsResult(answers[i].Error, answers[i].ErrorMessage, ConfigResourceType.Topic, answers[i].Topic);
        }
        if (metricsChanges is not null) await AlterClientMetricsAsync(metricsChanges, metricsSent!, body.ValidateOnly, results);
        if (groups is not null)
            foreach (var (i, call) in groups)
            {
                var answer = await call;
                results[i] = new AlterConfigsResult(answer.Error, answer.ErrorMessage, ConfigResourceType.Group, body.Resources[i].Name);
            }
        new AlterConfigsResponse(results).Write(response, ApiVersionsTable.IsFlexible(request.Header.ApiKey, request.Version));
        return true;
    }

    /// <summary>
    /// Client metrics subscriptions (KIP-714) go to the controller in one call; once one is stored, this broker loads the
    /// stored subscriptions before it answers (the others within a second), so its next GetTelemetrySubscriptions and
    /// DescribeConfigs see the change.
    /// </summary>
    private async Task AlterClientMetricsAsync(List<ClientMetricsConfigsChange> changes, List<int> sent, bool validateOnly, AlterConfigsResult[] results)
    {
        var answers = await ControllerCalls.UnlessUnreachableAsync(grains.ControllerInternal().AlterClientMetrics(changes, validateOnly));
        var stored = false;
        for (var i = 0; i < sent.Count; i++)
        {
            results[sent[i]] = answers is null
                ? new AlterConfigsResult(ErrorCode.RequestTimedOut, ControllerCalls.ControllerDidNotAnswer, ConfigResourceType.ClientMetrics, changes[i].Name)
                : new AlterConfigsResult(answers[i].Error, answers[i].Message, ConfigResourceType.ClientMetrics, changes[i].Name);
            stored |= answers is not null && answers[i].Error == ErrorCode.None;
        }
        if (stored && !validateOnly && await ControllerCalls.UnlessUnreachableAsync(grains.ControllerInternal().GetClientMetrics()) is { } snapshot)
            clientMetrics.Apply(snapshot);
    }
}

internal sealed class AlterConfigsHandler(IGrainFactory grains, KafkaAuthorizer authorizer, ClientMetricsManager clientMetrics)
    : ConfigAlteringHandler(ApiKey.AlterConfigs, AlterConfigsRequest.ReadAlterConfigs, grains, authorizer, clientMetrics, incremental: false);

internal sealed class IncrementalAlterConfigsHandler(IGrainFactory grains, KafkaAuthorizer authorizer, ClientMetricsManager clientMetrics)
    : ConfigAlteringHandler(ApiKey.IncrementalAlterConfigs, AlterConfigsRequest.ReadIncrementalAlterConfigs, grains, authorizer, clientMetrics, incremental: true);

/// <summary>A group's config change sent to its grain: a grain that cannot be reached is CoordinatorNotAvailable, which clients retry.</summary>
internal static class GroupConfigCalls
{
    public static async Task<GroupResponse> AlterAsync(IGrainFactory grains, string groupId, IReadOnlyList<AlterableConfig> configs, bool incremental, bool validateOnly)
    {
        try
        {
            return await grains.GetGrain<IConsumerGroupGrain>(groupId).AlterConfigs(configs, incremental, validateOnly);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            return new GroupResponse(ErrorCode.CoordinatorNotAvailable, $"The configs of group '{groupId}' could not be altered: {ex.Message}");
        }
    }
}
