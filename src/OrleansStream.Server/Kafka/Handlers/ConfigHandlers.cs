using System.Globalization;
using Microsoft.Extensions.Options;
using OrleansStream.Protocol;
using OrleansStream.Protocol.Messages;
using OrleansStream.Server.Cluster;
using OrleansStream.Server.Controller;
using OrleansStream.Server.Kafka.Security;

namespace OrleansStream.Server.Kafka.Handlers;

/// <summary>
/// DescribeConfigs: a topic's configs with Kafka's sources (its overrides from the controller, or from the broker's
/// <see cref="MetadataCache"/> while it cannot answer, over the broker defaults over Kafka's defaults), and this
/// broker's configs, all read-only: they come from the <c>OrleansStream</c> section.
/// </summary>
internal sealed class DescribeConfigsHandler(MetadataCache metadata, IOptions<BrokerOptions> options, BrokerRegistration registration, SaslCredentialStore sasl)
    : KafkaApiHandler<DescribeConfigsRequest>(ApiKey.DescribeConfigs, DescribeConfigsRequest.Read)
{
    private readonly BrokerOptions _options = options.Value;

    protected override async ValueTask<bool> AnswerAsync(DescribeConfigsRequest body, KafkaRequest request, KafkaWriter response)
    {
        List<string>? topicNames = null;
        foreach (var resource in body.Resources)
            if (resource.Type == ConfigResourceType.Topic) (topicNames ??= []).Add(resource.Name);
        var topics = new Dictionary<string, TopicMetadata>(StringComparer.Ordinal);
        if (topicNames is not null)
            foreach (var t in (await metadata.TopicsAsync(topicNames, allowAutoTopicCreation: false)).Topics)
                topics[t.Name] = t;

        var results = new List<DescribeConfigsResult>(body.Resources.Count);
        foreach (var resource in body.Resources)
            results.Add(resource.Type switch
            {
                ConfigResourceType.Topic => DescribeTopic(resource, topics, body.IncludeSynonyms),
                ConfigResourceType.Broker => DescribeBroker(resource, body.IncludeSynonyms),
                _ => Refused(resource, $"Resource type {resource.Type} is not supported."),
            });
        new DescribeConfigsResponse(results).Write(response, request.Version);
        return true;
    }

    private DescribeConfigsResult DescribeTopic(DescribeConfigsResource resource, Dictionary<string, TopicMetadata> topics, bool synonyms)
    {
        if (!topics.TryGetValue(resource.Name, out var topic))
            return new DescribeConfigsResult(ErrorCode.UnknownTopicOrPartition, $"Topic '{resource.Name}' does not exist.", resource.Type, resource.Name, []);
        if (topic.Error != ErrorCode.None)
            return new DescribeConfigsResult(topic.Error, topic.ErrorMessage, resource.Type, resource.Name, []);
        return new DescribeConfigsResult(ErrorCode.None, null, resource.Type, resource.Name,
            TopicConfigs.Describe(topic.Configs, _options.TopicConfigDefaults, resource.ConfigNames, synonyms));
    }

    private DescribeConfigsResult DescribeBroker(DescribeConfigsResource resource, bool synonyms)
    {
        var nodeId = registration.Meta.NodeId?.ToString(CultureInfo.InvariantCulture);
        if (resource.Name.Length > 0 && resource.Name != nodeId)
            return Refused(resource, $"Unexpected broker id, expected {nodeId} but received {resource.Name}.");
        var configs = new List<DescribedConfig>();
        void Add(string name, string? value, ConfigSource source)
        {
            if (resource.ConfigNames is null || resource.ConfigNames.Contains(name))
                configs.Add(new DescribedConfig(name, value, ReadOnly: true, source, Sensitive: false, synonyms ? [new ConfigSynonym(name, value, source)] : []));
        }
        Add("node.id", nodeId, ConfigSource.StaticBrokerConfig);
        Add("broker.id", nodeId, ConfigSource.StaticBrokerConfig);
        Add("listeners", _options.Listeners, ConfigSource.StaticBrokerConfig);
        Add("advertised.listeners", string.Join(',', KafkaListeners.Advertised(_options)), ConfigSource.StaticBrokerConfig);
        Add("listener.security.protocol.map", SecurityProtocolMap(), string.IsNullOrWhiteSpace(_options.ListenerSecurityProtocolMap) ? ConfigSource.DefaultConfig : ConfigSource.StaticBrokerConfig);
        Add("sasl.enabled.mechanisms", string.Join(',', sasl.EnabledMechanisms), ConfigSource.StaticBrokerConfig);
        Add("ssl.client.auth", _options.SslClientAuth.ToString().ToLowerInvariant(), ConfigSource.StaticBrokerConfig);
        Add("socket.request.max.bytes", _options.SocketRequestMaxBytes.ToString(CultureInfo.InvariantCulture), ConfigSource.StaticBrokerConfig);
        Add("connections.max.idle.ms", _options.ConnectionsMaxIdleMs.ToString(CultureInfo.InvariantCulture), ConfigSource.StaticBrokerConfig);
        Add("max.connections.per.ip", _options.MaxConnectionsPerIp.ToString(CultureInfo.InvariantCulture), ConfigSource.StaticBrokerConfig);
        // No authorizer (the ACL APIs answer SecurityDisabled): Kafka's default, empty. Admin tools read it to tell an
        // unsecured cluster from one whose ACLs they may not see (librdkafka drops DescribeAcls' error code).
        Add("authorizer.class.name", "", ConfigSource.DefaultConfig);
        Add("auto.leader.rebalance.enable", _options.AutoLeaderRebalanceEnable ? "true" : "false", ConfigSource.StaticBrokerConfig);
        Add("leader.imbalance.check.interval.seconds", _options.LeaderImbalanceCheckIntervalSeconds.ToString(CultureInfo.InvariantCulture), ConfigSource.StaticBrokerConfig);
        foreach (var (brokerKey, topicKey) in TopicDefaults.BrokerKeys)
        {
            if (_options.TopicConfigDefaults.TryGetValue(topicKey, out var value)) Add(brokerKey, value, ConfigSource.StaticBrokerConfig);
            else Add(brokerKey, TopicConfigs.BuiltInDefaults[topicKey], ConfigSource.DefaultConfig);
        }
        return new DescribeConfigsResult(ErrorCode.None, null, resource.Type, resource.Name, configs);
    }

    private string SecurityProtocolMap()
    {
        var pairs = new List<string>();
        foreach (var (name, protocol) in KafkaListeners.SecurityProtocolMap(_options.ListenerSecurityProtocolMap))
            pairs.Add($"{name}:{KafkaListeners.Name(protocol)}");
        return string.Join(',', pairs);
    }

    private static DescribeConfigsResult Refused(DescribeConfigsResource resource, string message) =>
        new(ErrorCode.InvalidRequest, message, resource.Type, resource.Name, []);
}

/// <summary>
/// AlterConfigs and IncrementalAlterConfigs: topic changes go to the controller in one call, which checks them as
/// CreateTopics does and sends the new configs to the replicas. Broker configs come from the <c>OrleansStream</c>
/// section and are not changed at run time: InvalidRequest.
/// </summary>
internal abstract class ConfigAlteringHandler(ApiKey apiKey, MessageReader<AlterConfigsRequest> read, IGrainFactory grains, bool incremental)
    : KafkaApiHandler<AlterConfigsRequest>(apiKey, read)
{
    protected override async ValueTask<bool> AnswerAsync(AlterConfigsRequest body, KafkaRequest request, KafkaWriter response)
    {
        var results = new AlterConfigsResult[body.Resources.Count];
        var changes = new List<TopicConfigsChange>();
        var sent = new List<int>();
        for (var i = 0; i < results.Length; i++)
        {
            var resource = body.Resources[i];
            if (resource.Type != ConfigResourceType.Topic)
            {
                var message = resource.Type == ConfigResourceType.Broker
                    ? "Broker configs are set in the OrleansStream configuration section and cannot be changed at run time."
                    : $"Resource type {resource.Type} is not supported.";
                results[i] = new AlterConfigsResult(ErrorCode.InvalidRequest, message, resource.Type, resource.Name);
                continue;
            }
            var configs = new AlterableConfig[resource.Configs.Count];
            for (var c = 0; c < configs.Length; c++)
                configs[c] = new AlterableConfig(resource.Configs[c].Name, (AlterConfigOp)(byte)resource.Configs[c].Op, resource.Configs[c].Value);
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
        new AlterConfigsResponse(results).Write(response, ApiVersionsTable.IsFlexible(request.Header.ApiKey, request.Version));
        return true;
    }
}

internal sealed class AlterConfigsHandler(IGrainFactory grains)
    : ConfigAlteringHandler(ApiKey.AlterConfigs, AlterConfigsRequest.ReadAlterConfigs, grains, incremental: false);

internal sealed class IncrementalAlterConfigsHandler(IGrainFactory grains)
    : ConfigAlteringHandler(ApiKey.IncrementalAlterConfigs, AlterConfigsRequest.ReadIncrementalAlterConfigs, grains, incremental: true);
