using System.Text;
using Confluent.Kafka;
using OrleansStream.Protocol;
using OrleansStream.Protocol.Messages;
using OrleansStream.TestKit;

namespace OrleansStream.Kafka.Tests;

/// <summary>
/// SASL re-authentication (KIP-368) on the second broker, whose <c>connections.max.reauth.ms</c> is
/// <see cref="SecureKafkaCluster.ReauthMs"/>: the session lifetime answered, a new exchange on the same connection,
/// the connection closed at the first request after its session expired, and librdkafka re-authenticating in time.
/// </summary>
public sealed partial class SecurityTests
{
    private static byte[] AlicePlain => Encoding.UTF8.GetBytes($"\0alice\0{SecureKafkaCluster.AlicePassword}");

    private static async Task<SaslAuthenticateResponse> AuthenticateAsync(KafkaWire wire, byte[] token)
    {
        await wire.SendAsync(ApiKey.SaslHandshake, 1, w => new SaslHandshakeRequest("PLAIN").Write(w, 1));
        Assert.Equal(ErrorCode.None, Read(await wire.ReadFrameAsync(), 4, SaslHandshakeResponse.Read, 1).Error);
        await wire.SendAsync(ApiKey.SaslAuthenticate, 2, w => new SaslAuthenticateRequest(token).Write(w, 2));
        return Read(await wire.ReadFrameAsync(), 5, SaslAuthenticateResponse.Read, 2);
    }

    private static async Task<byte[]?> MetadataAsync(KafkaWire wire)
    {
        await wire.SendAsync(ApiKey.Metadata, 8, w => new Protocol.Messages.MetadataRequest(null, false).Write(w, 8));
        return await wire.ReadFrameAsync();
    }

    [Fact]
    public async Task With_connections_max_reauth_ms_a_client_re_authenticates_on_its_connection_once_a_second_at_most()
    {
        await using var wire = await KafkaWire.ConnectAsync(cluster.SaslPlaintextPort(1));

        var first = await AuthenticateAsync(wire, AlicePlain);
        var served = await MetadataAsync(wire);
        var again = await AuthenticateAsync(wire, AlicePlain);
        var servedAfter = await MetadataAsync(wire);
        await wire.SendAsync(ApiKey.SaslHandshake, 1, w => new SaslHandshakeRequest("PLAIN").Write(w, 1));
        var tooSoon = Read(await wire.ReadFrameAsync(), 4, SaslHandshakeResponse.Read, 1);
        var servedStill = await MetadataAsync(wire);

        Assert.Equal((ErrorCode.None, SecureKafkaCluster.ReauthMs), (first.Error, first.SessionLifetimeMs));
        Assert.Equal((ErrorCode.None, SecureKafkaCluster.ReauthMs), (again.Error, again.SessionLifetimeMs));
        Assert.Equal(ErrorCode.IllegalSaslState, tooSoon.Error);
        Assert.True(served is not null && servedAfter is not null && servedStill is not null);
    }

    [Fact]
    public async Task Re_authenticating_as_another_user_is_refused_and_closes_the_connection()
    {
        await using var wire = await KafkaWire.ConnectAsync(cluster.SaslPlaintextPort(1));
        await AuthenticateAsync(wire, AlicePlain);

        // bob has SCRAM credentials only: PLAIN checks his password against them too.
        var answer = await AuthenticateAsync(wire, Encoding.UTF8.GetBytes($"\0bob\0{SecureKafkaCluster.BobPassword}"));
        var metadata = await MetadataAsync(wire);

        Assert.Equal(ErrorCode.SaslAuthenticationFailed, answer.Error);
        Assert.Equal("Cannot change principals during re-authentication from User.alice: User.bob", answer.ErrorMessage);
        Assert.Null(metadata);
    }

    [Fact]
    public async Task A_request_other_than_SaslAuthenticate_during_re_authentication_closes_the_connection()
    {
        await using var wire = await KafkaWire.ConnectAsync(cluster.SaslPlaintextPort(1));
        await AuthenticateAsync(wire, AlicePlain);
        await wire.SendAsync(ApiKey.SaslHandshake, 1, w => new SaslHandshakeRequest("PLAIN").Write(w, 1));
        var handshake = Read(await wire.ReadFrameAsync(), 4, SaslHandshakeResponse.Read, 1);

        var metadata = await MetadataAsync(wire);

        Assert.Equal(ErrorCode.None, handshake.Error);
        Assert.Null(metadata);
    }

    [Fact]
    public async Task A_broker_without_connections_max_reauth_ms_gives_no_session_lifetime_and_answers_a_second_handshake_IllegalSaslState()
    {
        await using var wire = await KafkaWire.ConnectAsync(cluster.SaslPlaintextPort(0));

        var authenticate = await AuthenticateAsync(wire, AlicePlain);
        await wire.SendAsync(ApiKey.SaslHandshake, 1, w => new SaslHandshakeRequest("PLAIN").Write(w, 1));
        var handshake = Read(await wire.ReadFrameAsync(), 4, SaslHandshakeResponse.Read, 1);
        var metadata = await MetadataAsync(wire);

        Assert.Equal((ErrorCode.None, 0L), (authenticate.Error, authenticate.SessionLifetimeMs));
        Assert.Equal(ErrorCode.IllegalSaslState, handshake.Error);
        Assert.NotNull(metadata);
    }

    /// <summary>A client that does not re-authenticate (a SaslAuthenticate v0 client, or one that ignores the lifetime) is closed at its first request after the session.</summary>
    [Fact]
    public async Task The_first_request_after_the_session_expired_closes_the_connection()
    {
        await using var wire = await KafkaWire.ConnectAsync(cluster.SaslPlaintextPort(1));
        var authenticate = await AuthenticateAsync(wire, AlicePlain);
        var served = 0;

        await Eventually.WaitUntilAsync(async () =>
        {
            if (await MetadataAsync(wire) is null) return true;
            served++;
            return false;
        }, "the broker closes the connection once its SASL session expired", TimeSpan.FromSeconds(60));

        Assert.Equal(SecureKafkaCluster.ReauthMs, authenticate.SessionLifetimeMs);
        Assert.True(served > 0, "requests within the session are served");
        await Eventually.WaitUntilAsync(() => cluster.Silos.Output(1).Contains($"SASL session of {SecureKafkaCluster.ReauthMs} ms expired", StringComparison.Ordinal),
            "the broker logs why it closed the connection");
    }

    /// <summary>
    /// librdkafka (2.16) re-authenticates before the session the broker answered ends, on the same connection: the
    /// broker counts no expired session while a producer outlives several. On the second broker the limit is the
    /// broker's; on the first only its SASL_PLAINTEXT listener's for SCRAM-SHA-256 (the listener and mechanism override).
    /// </summary>
    [Theory]
    [InlineData(1, "SCRAM-SHA-512")]
    [InlineData(0, "SCRAM-SHA-256")]
    public async Task Confluent_client_re_authenticates_before_its_session_expires_and_keeps_producing(int broker, string mechanism)
    {
        var topic = "reauth-" + Guid.NewGuid().ToString("N")[..8];
        var config = new ProducerConfig
        {
            BootstrapServers = $"127.0.0.1:{cluster.SaslPlaintextPort(broker)}",
            SecurityProtocol = SecurityProtocol.SaslPlaintext,
            SaslMechanism = mechanism == "SCRAM-SHA-256" ? SaslMechanism.ScramSha256 : SaslMechanism.ScramSha512,
            SaslUsername = "bob",
            SaslPassword = SecureKafkaCluster.BobPassword,
            Acks = Confluent.Kafka.Acks.All,
        };
        Confluent.Kafka.TopicPartition target;
        using (var admin = new AdminClientBuilder(config).Build())
        {
            await admin.CreateTopicsAsync([new Confluent.Kafka.Admin.TopicSpecification { Name = topic, NumPartitions = 4, ReplicationFactor = 1 }]);
            // A partition the broker under test leads: bootstrapped there and producing only to it, the producer's every
            // connection is to that broker (librdkafka connects to a broker only when it needs one).
            var node = admin.GetMetadata(TimeSpan.FromSeconds(30)).Brokers.Single(b => b.Port == cluster.SaslPlaintextPort(broker)).BrokerId;
            int? led = null;
            await Eventually.WaitUntilAsync(() => (led = admin.GetMetadata(topic, TimeSpan.FromSeconds(30)).Topics.Single().Partitions
                .FirstOrDefault(p => p.Leader == node)?.PartitionId) is not null, "a partition of the topic led by the broker under test");
            target = new Confluent.Kafka.TopicPartition(topic, led!.Value);
        }
        var expiredBefore = CountExpired(broker);
        // Only the connections to the broker under test count: the producer may also connect to the other.
        var watch = new LibrdkafkaReauthentication("Authenticated as bob", $"127.0.0.1:{cluster.SaslPlaintextPort(broker)}");
        using var producer = watch.Configure(new ProducerBuilder<string, string>(new ProducerConfig(Copy(config)) { Debug = "security" })).Build();

        await watch.ProduceUntilReauthenticatedTwiceAsync(producer, target, Ct);
        var last = await producer.ProduceAsync(target, new Message<string, string> { Key = "last", Value = "v" }, Ct);

        Assert.Equal(PersistenceStatus.Persisted, last.Status);
        Assert.Equal(expiredBefore, CountExpired(broker));
        Assert.Empty(watch.Errors);
    }

    private int CountExpired(int broker)
    {
        var output = cluster.Silos.Output(broker);
        var count = 0;
        for (var at = output.IndexOf("SASL session of", StringComparison.Ordinal); at >= 0; at = output.IndexOf("SASL session of", at + 1, StringComparison.Ordinal)) count++;
        return count;
    }
}
