using System.Globalization;
using OrleansStream.Protocol.Messages;
using OrleansStream.Server.Groups;
using OrleansStream.Server.Kafka;
using OrleansStream.Server.Kafka.Security.OAuthBearer;

namespace OrleansStream.Server.Controller;

/// <summary>
/// What a broker's own configs are read from: its options, node id, SASL mechanisms, OAUTHBEARER token checks and whether
/// its authorizer is on; and the group coordinator's settings, the defaults and bounds of every group's configs.
/// </summary>
internal readonly record struct BrokerConfigsSource(BrokerOptions Options, int? NodeId, IReadOnlyList<string> SaslMechanisms, bool AuthorizerEnabled,
    ConsumerGroupOptions Groups, OAuthBearerOptions OAuthBearer);

/// <summary>A group's configs as its coordinator answered them, or Kafka's error for why it could not be asked.</summary>
internal readonly record struct GroupConfigsLookup(IReadOnlyDictionary<string, string>? Configs, ErrorCode Error, string? Message);

/// <summary>
/// Kafka's DescribeConfigs answer for one resource, in one place for the Kafka listener's handler and the controller
/// grain the SDK asks, so both report the same configs, sources and errors: a topic's overrides over the broker
/// defaults over Kafka's defaults (<see cref="TopicConfigs.Describe"/>), and a broker's settings, all read-only (they
/// come from the <c>OrleansStream</c> section), and a group's configs (KIP-848) over the group coordinator's settings
/// (<see cref="GroupConfigs.Describe"/>), asked of each group's grain first (<see cref="LookUpGroupsAsync"/>).
/// </summary>
internal static class ConfigsDescription
{
    /// <summary>The authorizer a Kafka broker names to enforce ACLs as <c>KafkaAuthorizer</c> does.</summary>
    private const string StandardAuthorizer = "org.apache.kafka.metadata.authorizer.StandardAuthorizer";

    /// <param name="topics">The topics asked for by name, as metadata answers them; a name missing is UnknownTopicOrPartition.</param>
    /// <param name="groups">The groups asked for by name, as <see cref="LookUpGroupsAsync"/> found them.</param>
    /// <param name="documentation">Whether each config carries its documentation (DescribeConfigs v3+); its type it always carries.</param>
    public static DescribeConfigsResult Describe(DescribeConfigsResource resource, IReadOnlyDictionary<string, TopicMetadata> topics,
        IReadOnlyDictionary<string, GroupConfigsLookup> groups, BrokerConfigsSource broker, bool synonyms, bool documentation = false)
    {
        var result = resource.Type switch
        {
            ConfigResourceType.Topic => DescribeTopic(resource, topics, broker.Options, synonyms),
            ConfigResourceType.Broker => DescribeBroker(resource, broker, synonyms),
            ConfigResourceType.Group => DescribeGroup(resource, groups, broker.Groups, synonyms),
            _ => Refused(resource, $"Resource type {resource.Type} is not supported."),
        };
        if (result.Configs.Count == 0) return result;
        var definitions = result.Type switch
        {
            ConfigResourceType.Topic => ConfigDefinitions.Topic,
            ConfigResourceType.Broker => ConfigDefinitions.Broker,
            _ => ConfigDefinitions.Group,
        };
        var configs = new List<DescribedConfig>(result.Configs.Count);
        foreach (var config in result.Configs) configs.Add(ConfigDefinitions.Complete(config, definitions, documentation));
        return result with { Configs = configs };
    }

    /// <summary>
    /// A client metrics subscription (Kafka's <c>ConfigHelper</c> for CLIENT_METRICS): the configs stored at the controller
    /// (<c>CLIENT_METRICS_CONFIG</c>), else those of the configured subscription of that name (<c>STATIC_BROKER_CONFIG</c>),
    /// only the keys that are set; a name with neither has none, and an empty name is InvalidRequest.
    /// </summary>
    public static DescribeConfigsResult DescribeClientMetrics(DescribeConfigsResource resource, ClientMetrics.ClientMetricsManager clientMetrics, bool documentation)
    {
        if (string.IsNullOrEmpty(resource.Name))
            return new DescribeConfigsResult(ErrorCode.InvalidRequest, "Client metrics subscription name must not be empty", resource.Type, resource.Name, []);
        var configs = new List<DescribedConfig>();
        void Add(string name, string value, ConfigSource source)
        {
            if (resource.ConfigNames is { } asked && !asked.Contains(name)) return;
            configs.Add(ConfigDefinitions.Complete(new DescribedConfig(name, value, false, source, false, []), ConfigDefinitions.ClientMetrics, documentation));
        }
        if (clientMetrics.Stored.Resources.TryGetValue(resource.Name, out var stored))
        {
            foreach (var (name, value) in stored) Add(name, value, ConfigSource.ClientMetricsConfig);
        }
        else
        {
            foreach (var subscription in clientMetrics.Configured)
            {
                if (subscription.Name != resource.Name) continue;
                if (subscription.Metrics.Count > 0) Add(ClientMetrics.ClientMetricsSubscription.MetricsConfig, string.Join(',', subscription.Metrics), ConfigSource.StaticBrokerConfig);
                Add(ClientMetrics.ClientMetricsSubscription.IntervalMsConfig, subscription.IntervalMs.ToString(System.Globalization.CultureInfo.InvariantCulture), ConfigSource.StaticBrokerConfig);
                if (subscription.MatchText is { Length: > 0 } match) Add(ClientMetrics.ClientMetricsSubscription.MatchConfig, match, ConfigSource.StaticBrokerConfig);
            }
        }
        return new DescribeConfigsResult(ErrorCode.None, null, resource.Type, resource.Name, configs);
    }

    /// <summary>
    /// The stored configs of each group named (an empty name is refused by <see cref="Describe"/> without a call), asked
    /// of the groups' grains at once; a grain that cannot be reached is CoordinatorNotAvailable for its group alone.
    /// Kafka reads them from its metadata image and needs no call; a group that never existed has none here either.
    /// </summary>
    public static async Task<Dictionary<string, GroupConfigsLookup>> LookUpGroupsAsync(IGrainFactory grains, IReadOnlyList<string> groups)
    {
        var found = new Dictionary<string, GroupConfigsLookup>(StringComparer.Ordinal);
        var names = new List<string>(groups.Count);
        var calls = new List<Task<IReadOnlyDictionary<string, string>>>(groups.Count);
        foreach (var name in groups)
        {
            if (name.Length == 0 || found.ContainsKey(name)) continue;
            found[name] = default;
            names.Add(name);
            calls.Add(grains.GetGrain<IConsumerGroupGrain>(name).GetConfigs());
        }
        for (var i = 0; i < calls.Count; i++)
        {
            try
            {
                found[names[i]] = new GroupConfigsLookup(await calls[i], ErrorCode.None, null);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                found[names[i]] = new GroupConfigsLookup(null, ErrorCode.CoordinatorNotAvailable, $"The configs of group '{names[i]}' could not be read: {ex.Message}");
            }
        }
        return found;
    }

    private static DescribeConfigsResult DescribeGroup(DescribeConfigsResource resource, IReadOnlyDictionary<string, GroupConfigsLookup> groups,
        ConsumerGroupOptions options, bool synonyms)
    {
        if (resource.Name.Length == 0) return Refused(resource, "Group name must not be empty");
        if (!groups.TryGetValue(resource.Name, out var group) || group.Configs is not { } configs)
            return new DescribeConfigsResult(group.Error == ErrorCode.None ? ErrorCode.CoordinatorNotAvailable : group.Error, group.Message, resource.Type, resource.Name, []);
        return new DescribeConfigsResult(ErrorCode.None, null, resource.Type, resource.Name, GroupConfigs.Describe(configs, options, resource.ConfigNames, synonyms));
    }

    private static DescribeConfigsResult DescribeTopic(DescribeConfigsResource resource, IReadOnlyDictionary<string, TopicMetadata> topics,
        BrokerOptions options, bool synonyms)
    {
        if (!topics.TryGetValue(resource.Name, out var topic))
            return new DescribeConfigsResult(ErrorCode.UnknownTopicOrPartition, $"Topic '{resource.Name}' does not exist.", resource.Type, resource.Name, []);
        if (topic.Error != ErrorCode.None)
            return new DescribeConfigsResult(topic.Error, topic.ErrorMessage, resource.Type, resource.Name, []);
        return new DescribeConfigsResult(ErrorCode.None, null, resource.Type, resource.Name,
            TopicConfigs.Describe(topic.Configs, options.TopicConfigDefaults, resource.ConfigNames, synonyms));
    }

    private static DescribeConfigsResult DescribeBroker(DescribeConfigsResource resource, BrokerConfigsSource broker, bool synonyms)
    {
        var options = broker.Options;
        var nodeId = broker.NodeId?.ToString(CultureInfo.InvariantCulture);
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
        Add("listeners", options.Listeners, ConfigSource.StaticBrokerConfig);
        Add("advertised.listeners", string.Join(',', KafkaListeners.Advertised(options)), ConfigSource.StaticBrokerConfig);
        Add("listener.security.protocol.map", SecurityProtocolMap(options), string.IsNullOrWhiteSpace(options.ListenerSecurityProtocolMap) ? ConfigSource.DefaultConfig : ConfigSource.StaticBrokerConfig);
        Add("sasl.enabled.mechanisms", string.Join(',', broker.SaslMechanisms), ConfigSource.StaticBrokerConfig);
        AddOAuthBearer(broker.OAuthBearer, Add);
        Add("ssl.client.auth", options.SslClientAuth.ToString().ToLowerInvariant(), ConfigSource.StaticBrokerConfig);
        Add("socket.request.max.bytes", options.SocketRequestMaxBytes.ToString(CultureInfo.InvariantCulture), ConfigSource.StaticBrokerConfig);
        Add("connections.max.idle.ms", options.ConnectionsMaxIdleMs.ToString(CultureInfo.InvariantCulture), ConfigSource.StaticBrokerConfig);
        Add("connections.max.reauth.ms", options.ConnectionsMaxReauthMs.ToString(CultureInfo.InvariantCulture),
            options.ConnectionsMaxReauthMs == 0 ? ConfigSource.DefaultConfig : ConfigSource.StaticBrokerConfig);
        // The listener (and mechanism) overrides set, under Kafka's prefixed names, as Kafka lists its static originals.
        foreach (var (key, limit) in options.ListenerConnectionsMaxReauthMs)
            Add($"listener.name.{key.ToLowerInvariant()}.connections.max.reauth.ms", limit.ToString(CultureInfo.InvariantCulture), ConfigSource.StaticBrokerConfig);
        Add("max.connections.per.ip", options.MaxConnectionsPerIp.ToString(CultureInfo.InvariantCulture), ConfigSource.StaticBrokerConfig);
        Add("max.connections", options.MaxConnections.ToString(CultureInfo.InvariantCulture),
            options.MaxConnections == int.MaxValue ? ConfigSource.DefaultConfig : ConfigSource.StaticBrokerConfig);
        Add("max.connection.creation.rate", options.MaxConnectionCreationRate.ToString(CultureInfo.InvariantCulture),
            options.MaxConnectionCreationRate == int.MaxValue ? ConfigSource.DefaultConfig : ConfigSource.StaticBrokerConfig);
        Add("max.request.partition.size.limit", options.MaxRequestPartitionSizeLimit.ToString(CultureInfo.InvariantCulture),
            options.MaxRequestPartitionSizeLimit == 2000 ? ConfigSource.DefaultConfig : ConfigSource.StaticBrokerConfig);
        // Without an authorizer (the ACL APIs answer SecurityDisabled) Kafka's default, empty. Admin tools read it to tell
        // an unsecured cluster from one whose ACLs they may not see (librdkafka drops DescribeAcls' error code).
        if (broker.AuthorizerEnabled) Add("authorizer.class.name", StandardAuthorizer, ConfigSource.StaticBrokerConfig);
        else Add("authorizer.class.name", "", ConfigSource.DefaultConfig);
        Add("auto.leader.rebalance.enable", options.AutoLeaderRebalanceEnable ? "true" : "false", ConfigSource.StaticBrokerConfig);
        Add("leader.imbalance.check.interval.seconds", options.LeaderImbalanceCheckIntervalSeconds.ToString(CultureInfo.InvariantCulture), ConfigSource.StaticBrokerConfig);
        foreach (var (brokerKey, topicKey) in TopicDefaults.BrokerKeys)
        {
            if (options.TopicConfigDefaults.TryGetValue(topicKey, out var value)) Add(brokerKey, value, ConfigSource.StaticBrokerConfig);
            else Add(brokerKey, TopicConfigs.BuiltInDefaults[topicKey], ConfigSource.DefaultConfig);
        }
        return new DescribeConfigsResult(ErrorCode.None, null, resource.Type, resource.Name, configs);
    }

    /// <summary>
    /// KIP-768's <c>sasl.oauthbearer.*</c> broker keys that <see cref="OAuthBearerOptions"/> implements, listed whether or
    /// not OAUTHBEARER is enabled, as Kafka lists every broker key; a value other than Kafka's default (the options'
    /// defaults are Kafka's) is STATIC_BROKER_CONFIG. The unsecured validator has no broker key (Kafka configures it in JAAS), so none is listed.
    /// </summary>
    private static void AddOAuthBearer(OAuthBearerOptions o, Action<string, string?, ConfigSource> add)
    {
        void AddString(string name, string? value, string? kafkaDefault) =>
            add(name, value, value == kafkaDefault ? ConfigSource.DefaultConfig : ConfigSource.StaticBrokerConfig);
        void AddNumber(string name, long value, long kafkaDefault) =>
            add(name, value.ToString(CultureInfo.InvariantCulture), value == kafkaDefault ? ConfigSource.DefaultConfig : ConfigSource.StaticBrokerConfig);
        var defaults = new OAuthBearerOptions();
        AddString("sasl.oauthbearer.jwks.endpoint.url", NullIfBlank(o.JwksEndpointUrl), null);
        AddNumber("sasl.oauthbearer.jwks.endpoint.refresh.ms", o.JwksEndpointRefreshMs, defaults.JwksEndpointRefreshMs);
        AddNumber("sasl.oauthbearer.jwks.endpoint.retry.backoff.ms", o.JwksEndpointRetryBackoffMs, defaults.JwksEndpointRetryBackoffMs);
        AddNumber("sasl.oauthbearer.jwks.endpoint.retry.backoff.max.ms", o.JwksEndpointRetryBackoffMaxMs, defaults.JwksEndpointRetryBackoffMaxMs);
        // A LIST as Kafka writes one: the items joined by commas.
        var audiences = o.ExpectedAudiences();
        AddString("sasl.oauthbearer.expected.audience", audiences.Count == 0 ? null : string.Join(',', audiences), null);
        AddString("sasl.oauthbearer.expected.issuer", NullIfBlank(o.ExpectedIssuer), null);
        AddString("sasl.oauthbearer.sub.claim.name", o.SubClaimName, defaults.SubClaimName);
        AddString("sasl.oauthbearer.scope.claim.name", o.ScopeClaimName, defaults.ScopeClaimName);
        AddNumber("sasl.oauthbearer.clock.skew.seconds", o.ClockSkewSeconds, defaults.ClockSkewSeconds);
    }

    private static string? NullIfBlank(string? value) => string.IsNullOrWhiteSpace(value) ? null : value;

    private static string SecurityProtocolMap(BrokerOptions options)
    {
        var pairs = new List<string>();
        foreach (var (name, protocol) in KafkaListeners.SecurityProtocolMap(options.ListenerSecurityProtocolMap))
            pairs.Add($"{name}:{KafkaListeners.Name(protocol)}");
        return string.Join(',', pairs);
    }

    private static DescribeConfigsResult Refused(DescribeConfigsResource resource, string message) =>
        new(ErrorCode.InvalidRequest, message, resource.Type, resource.Name, []);

    /// <summary>The grain contract's form of a result (the SDK does not reference the Kafka protocol); the same numbers.</summary>
    public static ResourceConfigs ToResourceConfigs(DescribeConfigsResult result)
    {
        var configs = new List<ResourceConfig>(result.Configs.Count);
        foreach (var c in result.Configs)
        {
            var synonyms = new List<ResourceConfigSynonym>(c.Synonyms.Count);
            foreach (var s in c.Synonyms) synonyms.Add(new ResourceConfigSynonym(s.Name, s.Value, (ConfigValueSource)s.Source));
            configs.Add(new ResourceConfig(c.Name, c.Value, c.ReadOnly, (ConfigValueSource)c.Source, c.Sensitive, synonyms));
        }
        return new ResourceConfigs((ConfigResourceKind)result.Type, result.Name, result.Error, result.ErrorMessage, configs);
    }
}
