using System.Globalization;
using System.Text;
using Confluent.Kafka;
using OrleansStream.Protocol;
using OrleansStream.Protocol.Messages;
using OrleansStream.Protocol.Sasl;
using Sdk = OrleansStream.Client;

namespace OrleansStream.Kafka.Tests;

/// <summary>
/// Two brokers, each with four Kafka listeners: PLAINTEXT, SSL, CLIENT (mapped to SASL_SSL by
/// listener.security.protocol.map) and SASL_PLAINTEXT, TLS from <c>OrleansStream:Tls</c> with certificates made at
/// test time; ssl.client.auth=requested, so a client certificate is optional but must be of the authority. Users: alice
/// by password (the broker salts it at start), bob by pre-computed SCRAM credentials only.
/// </summary>
public sealed class SecureKafkaCluster : IAsyncLifetime
{
    public const string AlicePassword = "alice-secret";
    public const string BobPassword = "bob-secret";

    /// <summary>The second broker's <c>connections.max.reauth.ms</c>.</summary>
    public const long ReauthMs = 5000;

    private readonly int[][] _ports = [[ExternalProcess.FreeTcpPort(), ExternalProcess.FreeTcpPort(), ExternalProcess.FreeTcpPort()],
        [ExternalProcess.FreeTcpPort(), ExternalProcess.FreeTcpPort(), ExternalProcess.FreeTcpPort()]];

    public TestCertificates Certificates { get; } = new();

    public SiloProcesses Silos { get; private set; } = null!;

    public int SslPort(int silo) => _ports[silo][0];

    public int SaslSslPort(int silo) => _ports[silo][1];

    public int SaslPlaintextPort(int silo) => _ports[silo][2];

    public async ValueTask InitializeAsync()
    {
        var bob256 = ScramMechanism.Sha256.CreateCredential(BobPassword, 8192).Format();
        var bob512 = ScramMechanism.Sha512.CreateCredential(BobPassword).Format();
        Silos = await SiloProcesses.StartAsync(2, (i, env) =>
        {
            env["OrleansStream__Listeners"] += string.Create(CultureInfo.InvariantCulture,
                $",SSL://127.0.0.1:{SslPort(i)},CLIENT://127.0.0.1:{SaslSslPort(i)},SASL_PLAINTEXT://127.0.0.1:{SaslPlaintextPort(i)}");
            env["OrleansStream__ListenerSecurityProtocolMap"] = "PLAINTEXT:PLAINTEXT,SSL:SSL,CLIENT:SASL_SSL,SASL_PLAINTEXT:SASL_PLAINTEXT";
            env["OrleansStream__Tls__CertificatePath"] = Certificates.ServerPath;
            env["OrleansStream__Tls__CaPath"] = Certificates.CaPath;
            env["OrleansStream__SslClientAuth"] = "Requested";
            env["OrleansStream__Sasl__Users__alice__Password"] = AlicePassword;
            env["OrleansStream__Sasl__Users__bob__ScramSha256"] = bob256;
            env["OrleansStream__Sasl__Users__bob__ScramSha512"] = bob512;
            env["OrleansStream__Groups__GroupInitialRebalanceDelayMs"] = "0";
            // KIP-368 on the second broker only: its SASL sessions last ReauthMs, the first's never expire.
            if (i == 1) env["OrleansStream__ConnectionsMaxReauthMs"] = ReauthMs.ToString(CultureInfo.InvariantCulture);
            // On the first only for SCRAM-SHA-256 on its SASL_PLAINTEXT listener (Kafka's
            // listener.name.sasl_plaintext.scram-sha-256.connections.max.reauth.ms), which no other test uses there.
            if (i == 0) env["OrleansStream__ListenerConnectionsMaxReauthMs__SASL_PLAINTEXT.SCRAM-SHA-256"] = ReauthMs.ToString(CultureInfo.InvariantCulture);
        }, client => Sdk.ClientBuilderExtensions.UseSecurityProtocol(client, new Sdk.Config { SecurityProtocol = Sdk.SecurityProtocol.Ssl, SslCaLocation = Certificates.CaPath }));
    }

    public async ValueTask DisposeAsync()
    {
        if (Silos is not null) await Silos.DisposeAsync();
        Certificates.Dispose();
    }
}

[Trait("Category", "Slow")]
public sealed partial class SecurityTests(SecureKafkaCluster cluster) : IClassFixture<SecureKafkaCluster>
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private ClientConfig SaslSsl(string mechanism, string user, string password) => new()
    {
        BootstrapServers = $"127.0.0.1:{cluster.SaslSslPort(0)}",
        SecurityProtocol = SecurityProtocol.SaslSsl,
        SaslMechanism = mechanism switch
        {
            "PLAIN" => SaslMechanism.Plain,
            "SCRAM-SHA-256" => SaslMechanism.ScramSha256,
            _ => SaslMechanism.ScramSha512,
        },
        SaslUsername = user,
        SaslPassword = password,
        SslCaLocation = cluster.Certificates.CaPath,
    };

    [Theory]
    [InlineData("PLAIN", "alice", SecureKafkaCluster.AlicePassword)]
    [InlineData("SCRAM-SHA-256", "alice", SecureKafkaCluster.AlicePassword)]
    [InlineData("SCRAM-SHA-256", "bob", SecureKafkaCluster.BobPassword)]
    [InlineData("SCRAM-SHA-512", "bob", SecureKafkaCluster.BobPassword)]
    [InlineData("PLAIN", "bob", SecureKafkaCluster.BobPassword)]
    public async Task Confluent_client_produces_and_consumes_over_SASL_SSL_reaching_both_brokers_on_their_SASL_SSL_listener(string mechanism, string user, string password)
    {
        var config = SaslSsl(mechanism, user, password);

        var (brokers, read) = await ProduceAndConsumeAsync(config);

        Assert.Equal(new[] { cluster.SaslSslPort(0), cluster.SaslSslPort(1) }.Order(), brokers.Order());
        Assert.Equal(Enumerable.Range(0, 20).Select(i => $"k{i}=v{i}").Order(), read.Order());
    }

    [Fact]
    public async Task The_broker_describes_its_listener_security_settings_under_Kafka_s_keys()
    {
        using var admin = new AdminClientBuilder(SaslSsl("SCRAM-SHA-512", "bob", SecureKafkaCluster.BobPassword)).Build();
        var nodeId = admin.GetMetadata(Wait).Brokers[0].BrokerId.ToString(CultureInfo.InvariantCulture);

        var entries = (await admin.DescribeConfigsAsync([new Confluent.Kafka.Admin.ConfigResource { Type = Confluent.Kafka.Admin.ResourceType.Broker, Name = nodeId }])).Single().Entries;

        Assert.Equal("PLAINTEXT:PLAINTEXT,SSL:SSL,CLIENT:SASL_SSL,SASL_PLAINTEXT:SASL_PLAINTEXT", entries["listener.security.protocol.map"].Value);
        Assert.Equal("PLAIN,SCRAM-SHA-256,SCRAM-SHA-512", entries["sasl.enabled.mechanisms"].Value);
        Assert.Equal("requested", entries["ssl.client.auth"].Value);
    }

    [Fact]
    public async Task Confluent_client_produces_and_consumes_over_an_SSL_listener_without_SASL()
    {
        var config = new ClientConfig
        {
            BootstrapServers = $"127.0.0.1:{cluster.SslPort(1)}",
            SecurityProtocol = SecurityProtocol.Ssl,
            SslCaLocation = cluster.Certificates.CaPath,
        };

        var (brokers, read) = await ProduceAndConsumeAsync(config);

        Assert.Equal(new[] { cluster.SslPort(0), cluster.SslPort(1) }.Order(), brokers.Order());
        Assert.Equal(20, read.Count);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task With_ssl_client_auth_requested_a_client_certificate_of_the_authority_is_accepted_and_another_refused(bool trusted)
    {
        var failures = new List<string>();
        var certificate = trusted ? cluster.Certificates.ClientPath : cluster.Certificates.WrongClientPath;
        var config = new ClientConfig
        {
            BootstrapServers = $"127.0.0.1:{cluster.SslPort(0)}",
            SecurityProtocol = SecurityProtocol.Ssl,
            SslCaLocation = cluster.Certificates.CaPath,
            SslCertificateLocation = certificate,
            SslKeyLocation = certificate,
        };
        // With TLS 1.3 the server judges the client's certificate after the client finished its handshake, so the
        // client sees the connection closed by the broker rather than a failed handshake.
        using var admin = new AdminClientBuilder(config)
            .SetLogHandler((_, m) => { if (m.Facility == "FAIL") lock (failures) failures.Add(m.Message); })
            .Build();

        if (trusted)
        {
            Assert.Equal(2, admin.GetMetadata(Wait).Brokers.Count);
            return;
        }
        await Eventually.WaitUntilAsync(() =>
        {
            lock (failures) return failures.Exists(f => f.Contains("SSL connection closed by peer", StringComparison.Ordinal) || f.Contains("SSL handshake failed", StringComparison.Ordinal));
        }, "librdkafka reports the connection refused by the broker", state: () => { lock (failures) return string.Join('\n', failures); });
    }

    [Theory]
    [InlineData("PLAIN", "Invalid username or password")]
    [InlineData("SCRAM-SHA-256", "invalid credentials with SASL mechanism SCRAM-SHA-256")]
    [InlineData("SCRAM-SHA-512", "invalid credentials with SASL mechanism SCRAM-SHA-512")]
    public async Task A_wrong_password_is_refused_and_the_client_reports_an_authentication_error(string mechanism, string reason)
    {
        var errors = new List<Error>();
        var config = SaslSsl(mechanism, "alice", "not-" + SecureKafkaCluster.AlicePassword);

        // librdkafka connects to the bootstrap broker as soon as the client exists.
        using var admin = new AdminClientBuilder(config).SetErrorHandler((_, e) => { lock (errors) errors.Add(e); }).Build();

        await Eventually.WaitUntilAsync(() => { lock (errors) return errors.Count > 0; }, "librdkafka reports an error");
        lock (errors)
        {
            Assert.Equal(Confluent.Kafka.ErrorCode.Local_Authentication, errors[0].Code);
            Assert.Contains(reason, errors[0].Reason, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task A_SASL_listener_answers_ApiVersions_but_closes_the_connection_at_any_other_request_before_authentication()
    {
        await using var wire = await KafkaWire.ConnectAsync(cluster.SaslPlaintextPort(0));

        await wire.SendAsync(ApiKey.ApiVersions, 3, w => new ApiVersionsRequest("wire", "1").Write(w, 3));
        var versions = await wire.ReadFrameAsync();
        await wire.SendAsync(ApiKey.Metadata, 8, w => new Protocol.Messages.MetadataRequest(null, false).Write(w, 8));
        var metadata = await wire.ReadFrameAsync();

        Assert.NotNull(versions);
        Assert.Null(metadata);
    }

    [Fact]
    public async Task SaslAuthenticate_v2_with_PLAIN_authenticates_the_connection_and_other_requests_are_served_after_it()
    {
        await using var wire = await KafkaWire.ConnectAsync(cluster.SaslPlaintextPort(0));

        await wire.SendAsync(ApiKey.SaslHandshake, 1, w => new SaslHandshakeRequest("PLAIN").Write(w, 1));
        var handshake = Read(await wire.ReadFrameAsync(), 4, SaslHandshakeResponse.Read, 1);
        await wire.SendAsync(ApiKey.SaslAuthenticate, 2, w => new SaslAuthenticateRequest(Encoding.UTF8.GetBytes($"\0alice\0{SecureKafkaCluster.AlicePassword}")).Write(w, 2));
        var authenticate = Read(await wire.ReadFrameAsync(), 5, SaslAuthenticateResponse.Read, 2);
        await wire.SendAsync(ApiKey.Metadata, 8, w => new Protocol.Messages.MetadataRequest(null, false).Write(w, 8));
        var metadata = await wire.ReadFrameAsync();
        await wire.SendAsync(ApiKey.SaslAuthenticate, 1, w => new SaslAuthenticateRequest([]).Write(w, 1));
        var again = Read(await wire.ReadFrameAsync(), 4, SaslAuthenticateResponse.Read, 1);

        Assert.Equal(ErrorCode.None, handshake.Error);
        Assert.Equal(["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"], handshake.Mechanisms);
        Assert.Equal((ErrorCode.None, 0L), (authenticate.Error, authenticate.SessionLifetimeMs));
        Assert.NotNull(metadata);
        Assert.Equal(ErrorCode.IllegalSaslState, again.Error);
    }

    [Theory]
    [InlineData(SecureKafkaCluster.AlicePassword, true)]
    [InlineData("wrong", false)]
    public async Task After_SaslHandshake_v0_bare_size_prefixed_tokens_authenticate_and_a_failure_closes_the_connection(string password, bool accepted)
    {
        await using var wire = await KafkaWire.ConnectAsync(cluster.SaslPlaintextPort(0));

        await wire.SendAsync(ApiKey.SaslHandshake, 0, w => new SaslHandshakeRequest("PLAIN").Write(w, 0));
        var handshake = Read(await wire.ReadFrameAsync(), 4, SaslHandshakeResponse.Read, 0);
        using (var token = new KafkaWriter())
        {
            token.WriteBytes(Encoding.UTF8.GetBytes($"\0alice\0{password}"), flexible: false);
            await wire.SendRawAsync(token.WrittenMemory);
        }
        var answer = await wire.ReadFrameAsync();
        await wire.SendAsync(ApiKey.Metadata, 8, w => new Protocol.Messages.MetadataRequest(null, false).Write(w, 8));
        var metadata = await wire.ReadFrameAsync();

        Assert.Equal(ErrorCode.None, handshake.Error);
        Assert.Equal(accepted ? [] : null, answer);
        Assert.Equal(accepted, metadata is not null);
    }

    [Theory]
    [InlineData("GSSAPI", ErrorCode.UnsupportedSaslMechanism)]
    [InlineData("scram-sha-256", ErrorCode.UnsupportedSaslMechanism)]
    public async Task An_unknown_mechanism_is_answered_UnsupportedSaslMechanism_and_the_connection_closes(string mechanism, ErrorCode error)
    {
        await using var wire = await KafkaWire.ConnectAsync(cluster.SaslPlaintextPort(0));

        await wire.SendAsync(ApiKey.SaslHandshake, 1, w => new SaslHandshakeRequest(mechanism).Write(w, 1));
        var handshake = Read(await wire.ReadFrameAsync(), 4, SaslHandshakeResponse.Read, 1);
        var closed = await wire.ReadFrameAsync();

        Assert.Equal(error, handshake.Error);
        Assert.Contains("SCRAM-SHA-512", handshake.Mechanisms);
        Assert.Null(closed);
    }

    [Fact]
    public async Task SaslAuthenticate_before_SaslHandshake_is_IllegalSaslState_and_the_connection_closes()
    {
        await using var wire = await KafkaWire.ConnectAsync(cluster.SaslPlaintextPort(0));

        await wire.SendAsync(ApiKey.SaslAuthenticate, 1, w => new SaslAuthenticateRequest("\0alice\0x"u8.ToArray()).Write(w, 1));
        var answer = Read(await wire.ReadFrameAsync(), 4, SaslAuthenticateResponse.Read, 1);
        var closed = await wire.ReadFrameAsync();

        Assert.Equal(ErrorCode.IllegalSaslState, answer.Error);
        Assert.Null(closed);
    }

    [Fact]
    public async Task SaslHandshake_on_a_listener_without_SASL_is_IllegalSaslState_and_the_connection_stays()
    {
        await using var wire = await KafkaWire.ConnectAsync(cluster.Silos.KafkaPort(0));

        await wire.SendAsync(ApiKey.SaslHandshake, 1, w => new SaslHandshakeRequest("PLAIN").Write(w, 1));
        var handshake = Read(await wire.ReadFrameAsync(), 4, SaslHandshakeResponse.Read, 1);
        await wire.SendAsync(ApiKey.Metadata, 8, w => new Protocol.Messages.MetadataRequest(null, false).Write(w, 8));

        Assert.Equal(ErrorCode.IllegalSaslState, handshake.Error);
        Assert.NotNull(await wire.ReadFrameAsync());
    }

    [Fact]
    public async Task Kcat_lists_the_brokers_over_SASL_SSL_with_SCRAM_SHA_512()
    {
        var list = await ExternalProcess.RunAsync("kcat", ["-b", $"127.0.0.1:{cluster.SaslSslPort(0)}", "-L", "-X", "security.protocol=SASL_SSL",
            "-X", "sasl.mechanisms=SCRAM-SHA-512", "-X", "sasl.username=bob", "-X", $"sasl.password={SecureKafkaCluster.BobPassword}",
            "-X", $"ssl.ca.location={cluster.Certificates.CaPath}"], timeout: Wait);

        Assert.True(list.ExitCode == 0, list.Output);
        Assert.Contains(" 2 brokers:", list.Stdout, StringComparison.Ordinal);
        Assert.Contains($"at 127.0.0.1:{cluster.SaslSslPort(1)}", list.Stdout, StringComparison.Ordinal);
    }

    // Confluent's config copy constructors share the dictionary.
    private static Dictionary<string, string> Copy(ClientConfig config) => config.ToDictionary(kv => kv.Key, kv => kv.Value);

    [Theory]
    [InlineData("scram-sha-256", "SASL_SSL")]
    [InlineData("scram-sha-512", "SASL_PLAINTEXT")]
    public Task Kafkajs_with_SASL_SCRAM_creates_produces_and_consumes_in_a_group(string mechanism, string protocol) =>
        KafkajsTests.RunClientAsync(cluster.Silos.Client,
            protocol == "SASL_SSL" ? $"127.0.0.1:{cluster.SaslSslPort(0)}" : $"127.0.0.1:{cluster.SaslPlaintextPort(1)}",
            new Dictionary<string, string?>
            {
                ["KAFKAJS_SASL"] = $$"""{"mechanism":"{{mechanism}}","username":"bob","password":"{{SecureKafkaCluster.BobPassword}}"}""",
                ["KAFKAJS_SSL_CA"] = protocol == "SASL_SSL" ? cluster.Certificates.CaPath : null,
                // The second broker's sessions last 5 s: within kafkajs's default 10 s threshold it would re-authenticate
                // before every request, and a second re-authentication within a second is refused (as Kafka refuses it).
                ["KAFKAJS_REAUTH_THRESHOLD_MS"] = "1000",
            });

    private static T Read<T>(byte[]? frame, int headerBytes, PartitionReader<T> read, short version)
    {
        Assert.NotNull(frame);
        var reader = new KafkaReader(frame.AsSpan(headerBytes));
        return read(ref reader, version);
    }

    /// <summary>
    /// Produces 20 keyed records to a new two-partition topic whose leaders are on both brokers (so the client must reach
    /// the second broker at the address Metadata gives for its listener), reads them back; returns the brokers' ports
    /// Metadata gave and the records read.
    /// </summary>
    private async Task<(List<int> BrokerPorts, List<string> Read)> ProduceAndConsumeAsync(ClientConfig config)
    {
        var topic = "secure-" + Guid.NewGuid().ToString("N")[..8];
        List<int> ports;
        using (var admin = new AdminClientBuilder(config).Build())
        {
            await admin.CreateTopicsAsync([new Confluent.Kafka.Admin.TopicSpecification { Name = topic, NumPartitions = 2, ReplicationFactor = 1 }]);
            ports = admin.GetMetadata(Wait).Brokers.Select(b => b.Port).ToList();
        }
        var controller = cluster.Silos.Client.GetGrain<IClusterControllerGrain>(GrainKeys.Controller);
        var metadata = await controller.GetMetadata(new OrleansStream.MetadataRequest([topic]));
        Assert.Equal(2, metadata.Topics[0].Partitions.Select(p => p.LeaderBroker).Distinct().Count());

        using (var producer = new ProducerBuilder<string, string>(new ProducerConfig(Copy(config)) { Acks = Confluent.Kafka.Acks.All, LingerMs = 5 }).Build())
        {
            for (var i = 0; i < 20; i++) producer.Produce(topic, new Message<string, string> { Key = $"k{i}", Value = $"v{i}" });
            Assert.Equal(0, producer.Flush(Wait));
        }
        using var consumer = new ConsumerBuilder<string, string>(new ConsumerConfig(Copy(config))
        {
            GroupId = "secure-" + topic,
            AutoOffsetReset = AutoOffsetReset.Earliest,
            EnableAutoCommit = false,
        }).Build();
        consumer.Subscribe(topic);
        var read = new List<string>();
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        deadline.CancelAfter(TimeSpan.FromSeconds(60));
        while (read.Count < 20)
            if (consumer.Consume(deadline.Token) is { Message: { } m }) read.Add($"{m.Key}={m.Value}");
        consumer.Close();
        return (ports, read);
    }
}
