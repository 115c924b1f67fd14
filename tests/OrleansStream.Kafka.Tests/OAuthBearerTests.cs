using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Confluent.Kafka;
using Confluent.Kafka.Admin;
using OrleansStream.Protocol;
using OrleansStream.Protocol.Messages;

namespace OrleansStream.Kafka.Tests;

/// <summary>
/// A broker whose SASL_PLAINTEXT listener serves only OAUTHBEARER, verifying signed JWTs against the JWKS of an identity
/// provider played here: an HTTP listener serving the public keys of an RS256 and an ES256 key made at test time. Tokens
/// must carry the issuer and audience the broker expects. The ACL authorizer is on, <c>User:admin</c> its super user: a
/// client is the principal its token's subject names.
/// </summary>
public sealed class OAuthBearerKafkaCluster : IAsyncLifetime
{
    public const string Issuer = "https://idp.orleansstream.test/tenant/v2.0";
    public const string Audience = "api://orleansstream";

    private readonly int _saslPort = ExternalProcess.FreeTcpPort();
    private TestHttpServer? _identityProvider;

    public TestJwt RsaKey { get; } = new("RS256", "idp-rsa");

    public TestJwt EcKey { get; } = new("ES256", "idp-ec");

    public SiloProcesses Silos { get; private set; } = null!;

    public int SaslPort => _saslPort;

    public async ValueTask InitializeAsync()
    {
        var jwks = TestHttpResponse.Json(TestJwt.Set(RsaKey, EcKey));
        _identityProvider = TestHttpServer.Start(_ => jwks);
        var url = _identityProvider.Url + "/discovery/keys/";
        Silos = await SiloProcesses.StartAsync(1, (_, env) =>
        {
            env["OrleansStream__Listeners"] += string.Create(CultureInfo.InvariantCulture, $",SASL_PLAINTEXT://127.0.0.1:{_saslPort}");
            env["OrleansStream__ListenerSecurityProtocolMap"] = "PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT";
            env["OrleansStream__Sasl__EnabledMechanisms"] = "OAUTHBEARER";
            env["OrleansStream__Sasl__OAuthBearer__JwksEndpointUrl"] = url;
            env["OrleansStream__Sasl__OAuthBearer__ExpectedIssuer"] = Issuer;
            env["OrleansStream__Sasl__OAuthBearer__ExpectedAudience"] = Audience;
            env["OrleansStream__Authorizer__Enabled"] = "true";
            env["OrleansStream__Authorizer__SuperUsers"] = "User:admin";
            env["OrleansStream__Groups__GroupInitialRebalanceDelayMs"] = "0";
        });
    }

    public async ValueTask DisposeAsync()
    {
        if (Silos is not null) await Silos.DisposeAsync();
        if (_identityProvider is not null) await _identityProvider.DisposeAsync();
        RsaKey.Dispose();
        EcKey.Dispose();
    }

    /// <summary>The claims the identity provider gives <paramref name="subject"/>: its issuer, the broker's audience, valid for <paramref name="lifetime"/>.</summary>
    public static JsonObject Claims(string subject, TimeSpan lifetime)
    {
        var claims = TestJwt.Claims(subject, DateTimeOffset.UtcNow, lifetime);
        claims["iss"] = Issuer;
        claims["aud"] = Audience;
        return claims;
    }

    public ClientConfig Client() => new()
    {
        BootstrapServers = string.Create(CultureInfo.InvariantCulture, $"127.0.0.1:{_saslPort}"),
        SecurityProtocol = SecurityProtocol.SaslPlaintext,
        SaslMechanism = SaslMechanism.OAuthBearer,
    };
}

[Trait("Category", "Slow")]
public sealed class OAuthBearerTests(OAuthBearerKafkaCluster cluster) : IClassFixture<OAuthBearerKafkaCluster>
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>librdkafka's token refresh callback, answered with <paramref name="token"/> (its lifetime told to librdkafka apart from the JWT's own).</summary>
    private static void SetToken(IClient client, string token, string principal) =>
        client.OAuthBearerSetToken(token, DateTimeOffset.UtcNow.AddHours(1).ToUnixTimeMilliseconds(), principal);

    private string Token(string subject, TestJwt? key = null) =>
        (key ?? cluster.RsaKey).Sign(OAuthBearerKafkaCluster.Claims(subject, TimeSpan.FromMinutes(10)));

    private IAdminClient Admin() =>
        new AdminClientBuilder(cluster.Client()).SetOAuthBearerTokenRefreshHandler((c, _) => SetToken(c, Token("admin"), "admin")).Build();

    [Fact]
    public async Task Confluent_clients_with_signed_tokens_produce_and_consume_as_the_token_s_subject_under_the_ACLs()
    {
        var topic = "oauth-" + Guid.NewGuid().ToString("N")[..8];
        var group = "oauth-group-" + topic;
        using (var admin = Admin())
        {
            await admin.CreateTopicsAsync([new TopicSpecification { Name = topic, NumPartitions = 1, ReplicationFactor = 1 }]);
            await admin.CreateAclsAsync([
                Allow("alice", ResourceType.Topic, topic, AclOperation.Write), Allow("alice", ResourceType.Topic, topic, AclOperation.Read),
                Allow("alice", ResourceType.Topic, topic, AclOperation.Describe), Allow("alice", ResourceType.Group, group, AclOperation.Read)]);
            // The broker's authorizer catches up with the controller's ACLs before it answers DescribeAcls.
            Assert.Equal(4, (await admin.DescribeAclsAsync(new AclBindingFilter
            {
                PatternFilter = new ResourcePatternFilter { Type = ResourceType.Any, ResourcePatternType = ResourcePatternType.Any, Name = null },
                EntryFilter = new AccessControlEntryFilter { Principal = "User:alice", Operation = AclOperation.Any, PermissionType = AclPermissionType.Any },
            })).AclBindings.Count(b => b.Pattern.Name == topic || b.Pattern.Name == group));
        }

        // Alice signs with the EC key; bob has no ACL.
        using (var producer = new ProducerBuilder<string, string>(new ProducerConfig(Copy(cluster.Client())) { Acks = Confluent.Kafka.Acks.All })
            .SetOAuthBearerTokenRefreshHandler((c, _) => SetToken(c, Token("alice", cluster.EcKey), "alice")).Build())
        {
            for (var i = 0; i < 5; i++) await producer.ProduceAsync(topic, new Message<string, string> { Key = $"k{i}", Value = $"v{i}" }, Ct);
        }
        using (var bob = new ProducerBuilder<string, string>(new ProducerConfig(Copy(cluster.Client())) { Acks = Confluent.Kafka.Acks.All, MessageTimeoutMs = 10_000 })
            .SetOAuthBearerTokenRefreshHandler((c, _) => SetToken(c, Token("bob"), "bob")).Build())
        {
            var refused = await Assert.ThrowsAsync<ProduceException<string, string>>(() => bob.ProduceAsync(topic, new Message<string, string> { Key = "k", Value = "v" }, Ct));
            Assert.Equal(Confluent.Kafka.ErrorCode.TopicAuthorizationFailed, refused.Error.Code);
        }
        using var consumer = new ConsumerBuilder<string, string>(new ConsumerConfig(Copy(cluster.Client()))
        {
            GroupId = group,
            AutoOffsetReset = AutoOffsetReset.Earliest,
            EnableAutoCommit = false,
        }).SetOAuthBearerTokenRefreshHandler((c, _) => SetToken(c, Token("alice"), "alice")).Build();
        consumer.Subscribe(topic);
        var read = new List<string>();
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        deadline.CancelAfter(TimeSpan.FromSeconds(60));
        while (read.Count < 5)
            if (consumer.Consume(deadline.Token) is { Message: { } m }) read.Add($"{m.Key}={m.Value}");
        consumer.Close();

        Assert.Equal(Enumerable.Range(0, 5).Select(i => $"k{i}=v{i}"), read);
    }

    /// <summary>DescribeConfigs through the OAUTHBEARER listener: the broker's token checks under KIP-768's keys, as configured.</summary>
    [Fact]
    public async Task The_broker_describes_its_OAUTHBEARER_settings_under_Kafka_s_keys()
    {
        using var admin = Admin();
        var nodeId = admin.GetMetadata(Wait).Brokers[0].BrokerId.ToString(CultureInfo.InvariantCulture);

        var entries = (await admin.DescribeConfigsAsync([new ConfigResource { Type = ResourceType.Broker, Name = nodeId }])).Single().Entries;

        Assert.Equal("OAUTHBEARER", entries["sasl.enabled.mechanisms"].Value);
        Assert.Equal((OAuthBearerKafkaCluster.Issuer, Confluent.Kafka.Admin.ConfigSource.StaticBrokerConfig),
            (entries["sasl.oauthbearer.expected.issuer"].Value, entries["sasl.oauthbearer.expected.issuer"].Source));
        Assert.Equal((OAuthBearerKafkaCluster.Audience, Confluent.Kafka.Admin.ConfigSource.StaticBrokerConfig),
            (entries["sasl.oauthbearer.expected.audience"].Value, entries["sasl.oauthbearer.expected.audience"].Source));
        Assert.StartsWith("http://127.0.0.1:", entries["sasl.oauthbearer.jwks.endpoint.url"].Value, StringComparison.Ordinal);
        Assert.Equal(("sub", Confluent.Kafka.Admin.ConfigSource.DefaultConfig), (entries["sasl.oauthbearer.sub.claim.name"].Value, entries["sasl.oauthbearer.sub.claim.name"].Source));
        Assert.True(entries["sasl.oauthbearer.jwks.endpoint.url"].IsReadOnly);
    }

    public static TheoryData<string> RefusedTokens => ["another key", "expired", "another audience", "unsigned"];

    [Theory]
    [MemberData(nameof(RefusedTokens))]
    public async Task A_token_the_broker_cannot_trust_is_refused_and_librdkafka_reports_an_authentication_error(string which)
    {
        using var stranger = new TestJwt("RS256", "idp-rsa");
        var claims = OAuthBearerKafkaCluster.Claims("alice", TimeSpan.FromMinutes(10));
        var token = which switch
        {
            "another key" => stranger.Sign(claims),
            "expired" => cluster.RsaKey.Sign(OAuthBearerKafkaCluster.Claims("alice", TimeSpan.FromMinutes(-5))),
            "another audience" => cluster.RsaKey.Sign(WithAudience(claims, "api://another")),
            _ => TestJwt.Unsecured(claims),
        };
        var errors = new List<Error>();

        using var admin = new AdminClientBuilder(cluster.Client())
            .SetOAuthBearerTokenRefreshHandler((c, _) => SetToken(c, token, "alice"))
            .SetErrorHandler((_, e) => { lock (errors) errors.Add(e); }).Build();

        await Eventually.WaitUntilAsync(() => { lock (errors) return errors.Count > 0; }, "librdkafka reports an error");
        lock (errors)
        {
            Assert.Equal(Confluent.Kafka.ErrorCode.Local_Authentication, errors[0].Code);
            Assert.Contains("{\"status\":\"invalid_token\"}", errors[0].Reason, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task On_the_wire_a_refused_token_gets_the_JSON_error_then_SaslAuthenticationFailed_at_the_client_s_kvsep_and_the_connection_closes()
    {
        await using var wire = await KafkaWire.ConnectAsync(cluster.SaslPort);

        await wire.SendAsync(ApiKey.SaslHandshake, 1, w => new SaslHandshakeRequest("OAUTHBEARER").Write(w, 1));
        var handshake = Read(await wire.ReadFrameAsync(), 4, SaslHandshakeResponse.Read, 1);
        await wire.SendAsync(ApiKey.SaslAuthenticate, 2, w => new SaslAuthenticateRequest(Initial(TestJwt.Unsecured(OAuthBearerKafkaCluster.Claims("admin", TimeSpan.FromMinutes(1))))).Write(w, 2));
        var challenge = Read(await wire.ReadFrameAsync(), 5, SaslAuthenticateResponse.Read, 2);
        await wire.SendAsync(ApiKey.SaslAuthenticate, 2, w => new SaslAuthenticateRequest([0x01]).Write(w, 2));
        var refused = Read(await wire.ReadFrameAsync(), 5, SaslAuthenticateResponse.Read, 2);
        var closed = await wire.ReadFrameAsync();

        Assert.Equal(ErrorCode.None, handshake.Error);
        Assert.Equal(["OAUTHBEARER"], handshake.Mechanisms);
        Assert.Equal((ErrorCode.None, "{\"status\":\"invalid_token\"}"), (challenge.Error, Encoding.UTF8.GetString(challenge.AuthBytes)));
        Assert.Equal((ErrorCode.SaslAuthenticationFailed, "{\"status\":\"invalid_token\"}"), (refused.Error, refused.ErrorMessage));
        Assert.Null(closed);
    }

    [Fact]
    public async Task On_the_wire_a_signed_token_authenticates_at_once_and_a_malformed_initial_response_closes_only_its_connection()
    {
        await using var good = await KafkaWire.ConnectAsync(cluster.SaslPort);
        await using var bad = await KafkaWire.ConnectAsync(cluster.SaslPort);

        await good.SendAsync(ApiKey.SaslHandshake, 1, w => new SaslHandshakeRequest("OAUTHBEARER").Write(w, 1));
        Assert.NotNull(await good.ReadFrameAsync());
        await good.SendAsync(ApiKey.SaslAuthenticate, 2, w => new SaslAuthenticateRequest(Initial(Token("admin"))).Write(w, 2));
        var authenticated = Read(await good.ReadFrameAsync(), 5, SaslAuthenticateResponse.Read, 2);
        await bad.SendAsync(ApiKey.SaslHandshake, 1, w => new SaslHandshakeRequest("OAUTHBEARER").Write(w, 1));
        Assert.NotNull(await bad.ReadFrameAsync());
        await bad.SendAsync(ApiKey.SaslAuthenticate, 2, w => new SaslAuthenticateRequest("n,,\u0001auth=Bearer\u0001\u0001"u8.ToArray()).Write(w, 2));
        var malformed = Read(await bad.ReadFrameAsync(), 5, SaslAuthenticateResponse.Read, 2);
        var badClosed = await bad.ReadFrameAsync();
        await good.SendAsync(ApiKey.Metadata, 8, w => new Protocol.Messages.MetadataRequest(null, false).Write(w, 8));
        var metadata = await good.ReadFrameAsync();

        Assert.Equal((ErrorCode.None, 0), (authenticated.Error, authenticated.AuthBytes.Length));
        // KIP-368: the session lasts until the token's exp (10 minutes from its making).
        Assert.InRange(authenticated.SessionLifetimeMs, 540_000, 600_000);
        Assert.Equal((ErrorCode.SaslAuthenticationFailed, "Authentication failed during authentication due to invalid credentials with SASL mechanism OAUTHBEARER"),
            (malformed.Error, malformed.ErrorMessage));
        Assert.Null(badClosed);
        Assert.NotNull(metadata);
    }

    /// <summary>
    /// KIP-368 with short-lived tokens: the session ends at the token's <c>exp</c>, so librdkafka refreshes its token
    /// and re-authenticates with the new one on the same connection; the broker closes no connection for an expired
    /// session while the producer outlives several tokens.
    /// </summary>
    [Fact]
    public async Task Confluent_client_with_short_lived_tokens_re_authenticates_with_fresh_ones_and_keeps_producing()
    {
        var topic = "oauth-reauth-" + Guid.NewGuid().ToString("N")[..8];
        using (var admin = Admin())
            await admin.CreateTopicsAsync([new TopicSpecification { Name = topic, NumPartitions = 1, ReplicationFactor = 1 }]);
        var expiredBefore = CountExpired();
        var watch = new LibrdkafkaReauthentication("SASL OAUTHBEARER authentication successful (principal=admin)");
        var tokens = 0;
        using var producer = watch.Configure(new ProducerBuilder<string, string>(new ProducerConfig(Copy(cluster.Client())) { Acks = Confluent.Kafka.Acks.All, Debug = "security" })
            .SetOAuthBearerTokenRefreshHandler((c, _) =>
            {
                // Ten seconds, to the millisecond: librdkafka refreshes at 80 % of it and re-authenticates before the
                // session ends, never within a second of the last time (which Kafka's brokers refuse, as this one does).
                var claims = OAuthBearerKafkaCluster.Claims("admin", TimeSpan.FromSeconds(10));
                var expiresAtMs = DateTimeOffset.UtcNow.AddSeconds(10).ToUnixTimeMilliseconds();
                claims["exp"] = expiresAtMs / 1000.0;
                c.OAuthBearerSetToken(cluster.RsaKey.Sign(claims), expiresAtMs, "admin");
                Interlocked.Increment(ref tokens);
            })).Build();

        await watch.ProduceUntilReauthenticatedTwiceAsync(producer, topic, Ct);
        var last = await producer.ProduceAsync(topic, new Message<string, string> { Key = "last", Value = "v" }, Ct);

        Assert.Equal(PersistenceStatus.Persisted, last.Status);
        Assert.True(Volatile.Read(ref tokens) >= 2);
        Assert.Equal(expiredBefore, CountExpired());
        Assert.Empty(watch.Errors);
    }

    private int CountExpired()
    {
        var output = cluster.Silos.Output(0);
        var count = 0;
        for (var at = output.IndexOf("SASL session of", StringComparison.Ordinal); at >= 0; at = output.IndexOf("SASL session of", at + 1, StringComparison.Ordinal)) count++;
        return count;
    }

    /// <summary>
    /// Development mode on a broker of its own: unsigned tokens, as librdkafka makes them by default from
    /// <c>sasl.oauthbearer.config</c> (no refresh handler), with the required scope Kafka's unsecured validator checks.
    /// </summary>
    [Fact]
    public async Task With_unsecured_tokens_enabled_librdkafka_s_default_unsigned_token_authenticates_and_one_without_the_scope_is_refused()
    {
        var saslPort = ExternalProcess.FreeTcpPort();
        await using var silos = await SiloProcesses.StartAsync(1, (_, env) =>
        {
            env["OrleansStream__Listeners"] += string.Create(CultureInfo.InvariantCulture, $",SASL_PLAINTEXT://127.0.0.1:{saslPort}");
            env["OrleansStream__ListenerSecurityProtocolMap"] = "PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT";
            env["OrleansStream__Sasl__EnabledMechanisms"] = "OAUTHBEARER";
            env["OrleansStream__Sasl__OAuthBearer__Unsecured__Enabled"] = "true";
            env["OrleansStream__Sasl__OAuthBearer__Unsecured__RequiredScope"] = "kafka";
        });
        ClientConfig Config(string oauthConfig) => new()
        {
            BootstrapServers = string.Create(CultureInfo.InvariantCulture, $"127.0.0.1:{saslPort}"),
            SecurityProtocol = SecurityProtocol.SaslPlaintext,
            SaslMechanism = SaslMechanism.OAuthBearer,
            SaslOauthbearerConfig = oauthConfig,
            EnableSaslOauthbearerUnsecureJwt = true,
        };
        var errors = new List<Error>();

        using (var admin = new AdminClientBuilder(Config("principal=alice scope=kafka,other")).Build())
            Assert.Single(admin.GetMetadata(Wait).Brokers);
        using var refused = new AdminClientBuilder(Config("principal=alice scope=other"))
            .SetErrorHandler((_, e) => { lock (errors) errors.Add(e); }).Build();
        await Eventually.WaitUntilAsync(() => { lock (errors) return errors.Count > 0; }, "librdkafka reports an error");

        lock (errors)
        {
            Assert.Equal(Confluent.Kafka.ErrorCode.Local_Authentication, errors[0].Code);
            Assert.Contains("{\"status\":\"insufficient_scope\", \"scope\":\"kafka\"}", errors[0].Reason, StringComparison.Ordinal);
        }
        Assert.Contains("OAUTHBEARER takes unsigned tokens", silos.Output(0), StringComparison.Ordinal);
    }

    [Fact]
    public Task Kafkajs_with_its_oauthBearerProvider_creates_produces_and_consumes_in_a_group() =>
        KafkajsTests.RunClientAsync(cluster.Silos.Client, $"127.0.0.1:{cluster.SaslPort}",
            new Dictionary<string, string?> { ["KAFKAJS_OAUTHBEARER_TOKEN"] = Token("admin", cluster.EcKey) });

    private static byte[] Initial(string token) => Encoding.UTF8.GetBytes($"n,,\u0001auth=Bearer {token}\u0001\u0001");

    private static JsonObject WithAudience(JsonObject claims, string audience)
    {
        claims["aud"] = audience;
        return claims;
    }

    private static AclBinding Allow(string user, ResourceType type, string name, AclOperation operation) => new()
    {
        Pattern = new ResourcePattern { Type = type, Name = name, ResourcePatternType = ResourcePatternType.Literal },
        Entry = new AccessControlEntry { Principal = "User:" + user, Host = "*", Operation = operation, PermissionType = AclPermissionType.Allow },
    };

    // Confluent's config copy constructors share the dictionary.
    private static Dictionary<string, string> Copy(ClientConfig config) => config.ToDictionary(kv => kv.Key, kv => kv.Value);

    private static T Read<T>(byte[]? frame, int headerBytes, PartitionReader<T> read, short version)
    {
        Assert.NotNull(frame);
        var reader = new KafkaReader(frame.AsSpan(headerBytes));
        return read(ref reader, version);
    }
}
