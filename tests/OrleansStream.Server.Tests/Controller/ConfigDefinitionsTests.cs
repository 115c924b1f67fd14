using OrleansStream.Protocol.Messages;
using OrleansStream.Server.Controller;
using OrleansStream.Server.Groups;
using OrleansStream.Server.Kafka.Security.OAuthBearer;

namespace OrleansStream.Server.Tests.Controller;

/// <summary>DescribeConfigs v3+: every config a topic, a broker or a group describes has Kafka's type and documentation.</summary>
public sealed class ConfigDefinitionsTests
{
    private static readonly BrokerOptions Options = new();

    private static DescribeConfigsResult Describe(ConfigResourceType type, string name, bool documentation, bool authorizer = false,
        OAuthBearerOptions? oauthBearer = null, BrokerOptions? options = null)
    {
        var topics = new Dictionary<string, TopicMetadata>(StringComparer.Ordinal)
        {
            ["t"] = new TopicMetadata("t", Guid.NewGuid(), ErrorCode.None, [], new Dictionary<string, string> { ["retention.ms"] = "1000" }),
        };
        var groups = new Dictionary<string, GroupConfigsLookup>(StringComparer.Ordinal)
        {
            ["g"] = new GroupConfigsLookup(new Dictionary<string, string> { [GroupConfigs.ConsumerSessionTimeoutMs] = "50000" }, ErrorCode.None, null),
        };
        var broker = new BrokerConfigsSource(options ?? Options, 7, ["PLAIN", "SCRAM-SHA-256"], authorizer, new ConsumerGroupOptions(), oauthBearer ?? new OAuthBearerOptions());
        var result = ConfigsDescription.Describe(new DescribeConfigsResource(type, name, null), topics, groups, broker, synonyms: true, documentation);
        Assert.Equal(ErrorCode.None, result.Error);
        Assert.NotEmpty(result.Configs);
        return result;
    }

    public static TheoryData<ConfigResourceType, string, bool> Resources => new()
    {
        { ConfigResourceType.Topic, "t", false },
        { ConfigResourceType.Broker, "7", false },
        { ConfigResourceType.Broker, "7", true },
        { ConfigResourceType.Group, "g", false },
    };

    [Theory]
    [MemberData(nameof(Resources))]
    public void Every_described_config_has_a_type_and_documentation_when_asked(ConfigResourceType type, string name, bool authorizer)
    {
        var documented = Describe(type, name, documentation: true, authorizer);
        var plain = Describe(type, name, documentation: false, authorizer);

        Assert.All(documented.Configs, c =>
        {
            Assert.NotEqual(ConfigType.Unknown, c.Type);
            Assert.False(string.IsNullOrWhiteSpace(c.Documentation), c.Name);
        });
        Assert.All(plain.Configs, c =>
        {
            Assert.NotEqual(ConfigType.Unknown, c.Type);
            Assert.Null(c.Documentation);
        });
    }

    /// <summary>
    /// A client metrics subscription (KIP-714): a stored one's configs as CLIENT_METRICS_CONFIG, a configured one's as
    /// STATIC_BROKER_CONFIG, each with Kafka's type (metrics and match LIST, interval.ms INT) and documentation.
    /// </summary>
    [Fact]
    public void Client_metrics_configs_have_Kafkas_types_sources_and_documentation()
    {
        var options = new OrleansStream.Server.ClientMetrics.ClientMetricsOptions();
        options.Subscriptions["configured"] = new() { Metrics = "a.,b.", IntervalMs = 1000, Match = "client_id=x" };
        var manager = new OrleansStream.Server.ClientMetrics.ClientMetricsManager(Microsoft.Extensions.Options.Options.Create(options), [], TimeProvider.System,
            Microsoft.Extensions.Logging.Abstractions.NullLogger<OrleansStream.Server.ClientMetrics.ClientMetricsManager>.Instance);
        manager.Apply(new OrleansStream.Server.ClientMetrics.ClientMetricsSnapshot(1, new(StringComparer.Ordinal)
        {
            ["stored"] = new(StringComparer.Ordinal) { ["metrics"] = "*", ["interval.ms"] = "500" },
        }));

        var stored = ConfigsDescription.DescribeClientMetrics(new DescribeConfigsResource(ConfigResourceType.ClientMetrics, "stored", null), manager, documentation: true);
        Assert.Equal([("interval.ms", "500", ConfigSource.ClientMetricsConfig, ConfigType.Int), ("metrics", "*", ConfigSource.ClientMetricsConfig, ConfigType.List)],
            stored.Configs.Select(c => (c.Name, c.Value, c.Source, c.Type)).Order());
        Assert.All(stored.Configs, c => Assert.False(string.IsNullOrWhiteSpace(c.Documentation)));

        var configured = ConfigsDescription.DescribeClientMetrics(new DescribeConfigsResource(ConfigResourceType.ClientMetrics, "configured", ["match", "interval.ms"]), manager, documentation: false);
        Assert.Equal([("interval.ms", "1000", ConfigSource.StaticBrokerConfig, ConfigType.Int), ("match", "client_id=x", ConfigSource.StaticBrokerConfig, ConfigType.List)],
            configured.Configs.Select(c => (c.Name, c.Value, c.Source, c.Type)).Order());

        Assert.Empty(ConfigsDescription.DescribeClientMetrics(new DescribeConfigsResource(ConfigResourceType.ClientMetrics, "none", null), manager, false).Configs);
        var empty = ConfigsDescription.DescribeClientMetrics(new DescribeConfigsResource(ConfigResourceType.ClientMetrics, "", null), manager, false);
        Assert.Equal((ErrorCode.InvalidRequest, "Client metrics subscription name must not be empty"), (empty.Error, empty.ErrorMessage));
    }

    [Fact]
    public void Configs_have_Kafkas_types()
    {
        var topic = Describe(ConfigResourceType.Topic, "t", documentation: false).Configs.ToDictionary(c => c.Name, c => c.Type);
        var broker = Describe(ConfigResourceType.Broker, "7", documentation: false).Configs.ToDictionary(c => c.Name, c => c.Type);
        var group = Describe(ConfigResourceType.Group, "g", documentation: false).Configs.ToDictionary(c => c.Name, c => c.Type);

        Assert.Equal(ConfigType.Long, topic["retention.ms"]);
        Assert.Equal(ConfigType.Int, topic["segment.bytes"]);
        Assert.Equal(ConfigType.List, topic["cleanup.policy"]);
        Assert.Equal(ConfigType.Boolean, topic["unclean.leader.election.enable"]);
        Assert.Equal(ConfigType.String, topic["compression.type"]);
        Assert.Equal(ConfigType.List, broker["sasl.enabled.mechanisms"]);
        Assert.Equal(ConfigType.Long, broker["connections.max.idle.ms"]);
        Assert.Equal(ConfigType.Int, broker["node.id"]);
        Assert.Equal(ConfigType.Int, broker["max.request.partition.size.limit"]);
        Assert.Equal(ConfigType.Int, group[GroupConfigs.ConsumerSessionTimeoutMs]);
    }

    /// <summary>
    /// KIP-768's broker keys for OAUTHBEARER, read-only with Kafka's types: what the broker was configured with as
    /// STATIC_BROKER_CONFIG, the rest Kafka's defaults (null where Kafka's is null) as DEFAULT_CONFIG. The unsecured
    /// validator's settings have no Kafka broker key and are not described.
    /// </summary>
    [Fact]
    public void Listener_overrides_of_connections_max_reauth_ms_are_described_under_Kafka_s_prefixed_names_with_the_base_configs_type()
    {
        var options = new BrokerOptions
        {
            Listeners = "PLAINTEXT://127.0.0.1:9092,SASL_SSL://127.0.0.1:9094",
            ListenerConnectionsMaxReauthMs = { ["SASL_SSL.OAUTHBEARER"] = 60_000, ["SASL_SSL"] = 3_600_000 },
        };

        var described = Describe(ConfigResourceType.Broker, "7", documentation: true, options: options).Configs
            .Where(c => c.Name.Contains("connections.max.reauth.ms", StringComparison.Ordinal))
            .ToDictionary(c => c.Name, c => (c.Value, c.Source, c.Type, HasDocumentation: c.Documentation is { Length: > 0 }));

        Assert.Equal(new Dictionary<string, (string?, ConfigSource, ConfigType, bool)>
        {
            ["connections.max.reauth.ms"] = ("0", ConfigSource.DefaultConfig, ConfigType.Long, true),
            ["listener.name.sasl_ssl.oauthbearer.connections.max.reauth.ms"] = ("60000", ConfigSource.StaticBrokerConfig, ConfigType.Long, true),
            ["listener.name.sasl_ssl.connections.max.reauth.ms"] = ("3600000", ConfigSource.StaticBrokerConfig, ConfigType.Long, true),
        }, described);
    }

    [Fact]
    public void OAuthBearer_settings_are_described_under_Kafka_s_broker_keys()
    {
        var configured = new OAuthBearerOptions
        {
            JwksEndpointUrl = "https://login.example/tenant/discovery/v2.0/keys",
            JwksEndpointRefreshMs = 600_000,
            ExpectedAudience = "api://orleansstream, client-id",
            ExpectedIssuer = "https://login.example/tenant/v2.0",
            SubClaimName = "oid",
            ClockSkewSeconds = 5,
        };
        var described = Describe(ConfigResourceType.Broker, "7", documentation: false, oauthBearer: configured).Configs
            .Where(c => c.Name.StartsWith("sasl.oauthbearer.", StringComparison.Ordinal))
            .ToDictionary(c => c.Name, c => (c.Value, c.Source, c.Type));

        Assert.Equal(new Dictionary<string, (string?, ConfigSource, ConfigType)>
        {
            ["sasl.oauthbearer.jwks.endpoint.url"] = ("https://login.example/tenant/discovery/v2.0/keys", ConfigSource.StaticBrokerConfig, ConfigType.String),
            ["sasl.oauthbearer.jwks.endpoint.refresh.ms"] = ("600000", ConfigSource.StaticBrokerConfig, ConfigType.Long),
            ["sasl.oauthbearer.jwks.endpoint.retry.backoff.ms"] = ("100", ConfigSource.DefaultConfig, ConfigType.Long),
            ["sasl.oauthbearer.jwks.endpoint.retry.backoff.max.ms"] = ("10000", ConfigSource.DefaultConfig, ConfigType.Long),
            ["sasl.oauthbearer.expected.audience"] = ("api://orleansstream,client-id", ConfigSource.StaticBrokerConfig, ConfigType.List),
            ["sasl.oauthbearer.expected.issuer"] = ("https://login.example/tenant/v2.0", ConfigSource.StaticBrokerConfig, ConfigType.String),
            ["sasl.oauthbearer.sub.claim.name"] = ("oid", ConfigSource.StaticBrokerConfig, ConfigType.String),
            ["sasl.oauthbearer.scope.claim.name"] = ("scope", ConfigSource.DefaultConfig, ConfigType.String),
            ["sasl.oauthbearer.clock.skew.seconds"] = ("5", ConfigSource.StaticBrokerConfig, ConfigType.Int),
        }, described);
        Assert.All(Describe(ConfigResourceType.Broker, "7", documentation: false, oauthBearer: configured).Configs,
            c => Assert.True(c.ReadOnly && !c.Sensitive, c.Name));

        // Unsecured mode sets none of the keys: every one is Kafka's default.
        var unset = Describe(ConfigResourceType.Broker, "7", documentation: false,
                oauthBearer: new OAuthBearerOptions { Unsecured = new UnsecuredValidatorOptions { Enabled = true, RequiredScope = "kafka" } }).Configs
            .Where(c => c.Name.StartsWith("sasl.oauthbearer.", StringComparison.Ordinal))
            .ToDictionary(c => c.Name, c => (c.Value, c.Source));
        Assert.Equal(new Dictionary<string, (string?, ConfigSource)>
        {
            ["sasl.oauthbearer.jwks.endpoint.url"] = (null, ConfigSource.DefaultConfig),
            ["sasl.oauthbearer.jwks.endpoint.refresh.ms"] = ("3600000", ConfigSource.DefaultConfig),
            ["sasl.oauthbearer.jwks.endpoint.retry.backoff.ms"] = ("100", ConfigSource.DefaultConfig),
            ["sasl.oauthbearer.jwks.endpoint.retry.backoff.max.ms"] = ("10000", ConfigSource.DefaultConfig),
            ["sasl.oauthbearer.expected.audience"] = (null, ConfigSource.DefaultConfig),
            ["sasl.oauthbearer.expected.issuer"] = (null, ConfigSource.DefaultConfig),
            ["sasl.oauthbearer.sub.claim.name"] = ("sub", ConfigSource.DefaultConfig),
            ["sasl.oauthbearer.scope.claim.name"] = ("scope", ConfigSource.DefaultConfig),
            ["sasl.oauthbearer.clock.skew.seconds"] = ("30", ConfigSource.DefaultConfig),
        }, unset);

        // Asked by name, as kafka-configs.sh --describe asks one key.
        var one = ConfigsDescription.Describe(new DescribeConfigsResource(ConfigResourceType.Broker, "7", ["sasl.oauthbearer.expected.issuer"]),
            new Dictionary<string, TopicMetadata>(), new Dictionary<string, GroupConfigsLookup>(),
            new BrokerConfigsSource(Options, 7, ["OAUTHBEARER"], false, new ConsumerGroupOptions(), configured), synonyms: true, documentation: true);
        var issuer = Assert.Single(one.Configs);
        Assert.Equal(("https://login.example/tenant/v2.0", ConfigSource.StaticBrokerConfig), (issuer.Value, issuer.Source));
        Assert.Equal([("sasl.oauthbearer.expected.issuer", "https://login.example/tenant/v2.0", ConfigSource.StaticBrokerConfig)],
            issuer.Synonyms.Select(s => (s.Name, s.Value, s.Source)));
        Assert.False(string.IsNullOrWhiteSpace(issuer.Documentation));
    }

    [Fact]
    public void A_refused_resource_has_no_configs_to_complete()
    {
        var broker = new BrokerConfigsSource(Options, 7, [], false, new ConsumerGroupOptions(), new OAuthBearerOptions());
        var result = ConfigsDescription.Describe(new DescribeConfigsResource(ConfigResourceType.Topic, "missing", null),
            new Dictionary<string, TopicMetadata>(), new Dictionary<string, GroupConfigsLookup>(), broker, synonyms: false, documentation: true);

        Assert.Equal(ErrorCode.UnknownTopicOrPartition, result.Error);
        Assert.Empty(result.Configs);
    }
}
