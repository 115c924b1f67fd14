using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Confluent.Kafka;
using Confluent.Kafka.Admin;
using OrleansStream.Protocol;
using OrleansStream.Protocol.Messages;
using ClientError = Confluent.Kafka.ErrorCode;
using ScramMechanism = Confluent.Kafka.Admin.ScramMechanism;
using Sdk = OrleansStream.Client.Admin;
using SdkAdminClientBuilder = OrleansStream.Client.AdminClientBuilder;

namespace OrleansStream.Kafka.Tests;

/// <summary>
/// SCRAM users changed at run time (KIP-554: DescribeUserScramCredentials and AlterUserScramCredentials) through
/// Confluent's admin client, on two brokers with the authorizer on: a user created through one broker authenticates on
/// both with librdkafka's SCRAM exchange and with PLAIN, a removed one on neither; a configured user's credentials are
/// removed and replaced; bad changes get Kafka's errors off the wire; and both APIs need their cluster operation.
/// </summary>
public sealed class ScramCredentialsTests(AuthorizedKafkaCluster cluster) : IClassFixture<AuthorizedKafkaCluster>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task A_user_created_at_run_time_authenticates_on_every_broker_until_its_credential_is_deleted()
    {
        var dave = AuthorizedKafkaCluster.Unique("dave");
        var topic = AuthorizedKafkaCluster.Unique("scram");
        using var admin = cluster.Admin();
        await admin.CreateTopicsAsync([new TopicSpecification { Name = topic, NumPartitions = 1 }]);
        await cluster.AllowAsync(dave, ResourceType.Topic, topic, AclOperation.Write);

        await admin.AlterUserScramCredentialsAsync([Upsertion(dave, ScramMechanism.ScramSha512, 8192, "dave-secret")]);
        await cluster.SyncAsync();

        var description = Assert.Single((await admin.DescribeUserScramCredentialsAsync([dave])).UserScramCredentialsDescriptions);
        Assert.Equal((dave, ClientError.NoError), (description.User, description.Error.Code));
        var info = Assert.Single(description.ScramCredentialInfos);
        Assert.Equal((ScramMechanism.ScramSha512, 8192), (info.Mechanism, info.Iterations));
        // librdkafka's SCRAM-SHA-512 exchange with each broker alone, and PLAIN against the same credential.
        for (var silo = 0; silo < 2; silo++)
        {
            using var producer = new ProducerBuilder<Null, string>(Scram(dave, "dave-secret", SaslMechanism.ScramSha512, silo)).Build();
            var delivered = await producer.ProduceAsync(topic, new Message<Null, string> { Value = $"through broker {silo}" }, TestContext.Current.CancellationToken);
            Assert.Equal(PersistenceStatus.Persisted, delivered.Status);
            Assert.Equal(ErrorCode.None, await PlainAsync(dave, "dave-secret", silo));
            Assert.Equal(ErrorCode.SaslAuthenticationFailed, await PlainAsync(dave, "dave-wrong", silo));
        }

        await admin.AlterUserScramCredentialsAsync([new UserScramCredentialDeletion { User = dave, Mechanism = ScramMechanism.ScramSha512 }]);
        await cluster.SyncAsync();

        for (var silo = 0; silo < 2; silo++) Assert.Equal(ErrorCode.SaslAuthenticationFailed, await PlainAsync(dave, "dave-secret", silo));
        var failed = new TaskCompletionSource<Error>(TaskCreationOptions.RunContinuationsAsynchronously);
        using (var refused = new ProducerBuilder<Null, string>(Scram(dave, "dave-secret", SaslMechanism.ScramSha512, 1))
            .SetErrorHandler((_, e) => { if (e.Code == ClientError.Local_Authentication) failed.TrySetResult(e); }).Build())
        {
            refused.Produce(topic, new Message<Null, string> { Value = "refused" });
            Assert.Contains("SCRAM-SHA-512", (await failed.Task.WaitAsync(Timeout, TestContext.Current.CancellationToken)).Reason, StringComparison.Ordinal);
        }
        var gone = await Assert.ThrowsAsync<DescribeUserScramCredentialsException>(() => admin.DescribeUserScramCredentialsAsync([dave]));
        Assert.Equal(ClientError.ResourceNotFound, Assert.Single(gone.Results.UserScramCredentialsDescriptions).Error.Code);
    }

    [Fact]
    public async Task A_configured_users_credentials_are_removed_and_replaced_at_run_time()
    {
        using var admin = cluster.Admin();
        var configured = Assert.Single((await admin.DescribeUserScramCredentialsAsync(["carol"])).UserScramCredentialsDescriptions);
        Assert.Equal([(ScramMechanism.ScramSha256, 4096), (ScramMechanism.ScramSha512, 4096)], configured.ScramCredentialInfos.Select(static i => (i.Mechanism, i.Iterations)));

        // One user, one change per request (Kafka refuses a user altered twice in one).
        await admin.AlterUserScramCredentialsAsync([new UserScramCredentialDeletion { User = "carol", Mechanism = ScramMechanism.ScramSha512 }]);
        await admin.AlterUserScramCredentialsAsync([new UserScramCredentialDeletion { User = "carol", Mechanism = ScramMechanism.ScramSha256 }]);
        await cluster.SyncAsync();

        // The configuration's password no longer lets carol in, on either broker.
        for (var silo = 0; silo < 2; silo++) Assert.Equal(ErrorCode.SaslAuthenticationFailed, await PlainAsync("carol", AuthorizedKafkaCluster.PasswordOf("carol"), silo));
        var everyone = (await admin.DescribeUserScramCredentialsAsync([])).UserScramCredentialsDescriptions.Select(static d => d.User).ToList();
        Assert.Contains("admin", everyone);
        Assert.DoesNotContain("carol", everyone);
        var again = await Assert.ThrowsAsync<AlterUserScramCredentialsException>(() =>
            admin.AlterUserScramCredentialsAsync([new UserScramCredentialDeletion { User = "carol", Mechanism = ScramMechanism.ScramSha256 }]));
        Assert.Equal(ClientError.ResourceNotFound, Assert.Single(again.Results).Error.Code);

        await admin.AlterUserScramCredentialsAsync([Upsertion("carol", ScramMechanism.ScramSha256, 4096, "carol-rotated")]);
        await cluster.SyncAsync();

        // PLAIN checks SCRAM-SHA-256's credential now that SCRAM-SHA-512's is removed.
        for (var silo = 0; silo < 2; silo++)
        {
            Assert.Equal(ErrorCode.None, await PlainAsync("carol", "carol-rotated", silo));
            Assert.Equal(ErrorCode.SaslAuthenticationFailed, await PlainAsync("carol", AuthorizedKafkaCluster.PasswordOf("carol"), silo));
        }
        // kcat (librdkafka 2.0.2) with SCRAM-SHA-256 on the second broker.
        var listed = await ExternalProcess.RunAsync("kcat", ["-b", string.Create(CultureInfo.InvariantCulture, $"127.0.0.1:{cluster.SaslPort(1)}"), "-L",
            "-X", "security.protocol=SASL_PLAINTEXT", "-X", "sasl.mechanisms=SCRAM-SHA-256", "-X", "sasl.username=carol", "-X", "sasl.password=carol-rotated"], timeout: Timeout);
        Assert.True(listed.ExitCode == 0, listed.Output);
        Assert.Contains("2 brokers:", listed.Output, StringComparison.Ordinal);
    }

    /// <summary>
    /// Kafka's checks (<c>ScramControlManager</c>), each user answered once: the valid change is stored, every other
    /// user gets its error and message; and DescribeUserScramCredentials' own two errors.
    /// </summary>
    [Fact]
    public async Task Bad_changes_get_Kafkas_errors_and_leave_the_good_one_stored()
    {
        var (good, dup, ghost, unknown, few, many, empty) = (Name("good"), Name("dup"), Name("ghost"), Name("unknown"), Name("few"), Name("many"), Name("empty"));
        var salt = RandomNumberGenerator.GetBytes(16);
        var salted = Rfc2898DeriveBytes.Pbkdf2("good-secret"u8, salt, 4096, HashAlgorithmName.SHA512, 64);
        await using var wire = await cluster.ConnectAsync("admin");

        await wire.SendAsync(ApiKey.AlterUserScramCredentials, 0, w => new AlterUserScramCredentialsRequest(
            [new("", 1), new(unknown, 3), new(ghost, 1), new(dup, 1)],
            [new(dup, 1, 4096, salt, salted), new(few, 1, 4095, salt, salted), new(many, 2, 16385, salt, salted), new(empty, 1, 4096, [], salted),
                new(good, 2, 4096, salt, salted)]).Write(w, 0));
        var alterFrame = Body(await wire.ReadFrameAsync());
        var altered = AlterUserScramCredentialsResponse.Read(ref alterFrame, 0).Results;

        Assert.Equal([
            new AlterUserScramCredentialsResult(good, ErrorCode.None, null),
            new AlterUserScramCredentialsResult("", ErrorCode.UnacceptableCredential, "Username must not be empty"),
            new AlterUserScramCredentialsResult(unknown, ErrorCode.UnsupportedSaslMechanism, "Unknown SCRAM mechanism"),
            new AlterUserScramCredentialsResult(dup, ErrorCode.DuplicateResource, "A user credential cannot be altered twice in the same request"),
            new AlterUserScramCredentialsResult(few, ErrorCode.UnacceptableCredential, "Too few iterations"),
            new AlterUserScramCredentialsResult(many, ErrorCode.UnacceptableCredential, "Too many iterations"),
            new AlterUserScramCredentialsResult(empty, ErrorCode.UnacceptableCredential, "Salt and salted password must not be empty"),
            new AlterUserScramCredentialsResult(ghost, ErrorCode.ResourceNotFound, "Attempt to delete a user credential that does not exist")], altered);
        Assert.Equal(ErrorCode.None, await PlainAsync(good, "good-secret", 0));

        await wire.SendAsync(ApiKey.DescribeUserScramCredentials, 0, w => new DescribeUserScramCredentialsRequest([good, ghost, few, good]).Write(w, 0));
        var describeFrame = Body(await wire.ReadFrameAsync());
        var described = DescribeUserScramCredentialsResponse.Read(ref describeFrame, 0);

        Assert.Equal((ErrorCode.None, (string?)null), (described.Error, described.ErrorMessage));
        Assert.Equal([
            (good, ErrorCode.DuplicateResource, "Cannot describe SCRAM credentials for the same user twice in a single request: " + good),
            (ghost, ErrorCode.ResourceNotFound, "Attempt to describe a user credential that does not exist: " + ghost),
            (few, ErrorCode.ResourceNotFound, "Attempt to describe a user credential that does not exist: " + few)],
            described.Results.Select(static r => (r.User, r.Error, r.ErrorMessage)));
    }

    /// <summary>
    /// A user created at run time holds no ACLs: DESCRIBE and ALTER on the cluster let it see and change users. It
    /// authenticates with SCRAM-SHA-256 (Confluent's admin client) and PLAIN (the bare connection) alike.
    /// </summary>
    [Fact]
    public async Task Describing_and_altering_credentials_need_DESCRIBE_and_ALTER_on_the_cluster()
    {
        var frank = AuthorizedKafkaCluster.Unique("frank");
        var george = AuthorizedKafkaCluster.Unique("george");
        using (var admin = cluster.Admin())
            await admin.AlterUserScramCredentialsAsync([Upsertion(frank, ScramMechanism.ScramSha256, 4096, "frank-secret")]);
        await cluster.SyncAsync();
        using var frankAdmin = new AdminClientBuilder(Scram(frank, "frank-secret", SaslMechanism.ScramSha256)).Build();

        // Read off the wire: librdkafka (2.16 and its main branch) aborts the process on this answer, Kafka's own, since it
        // frees a request-level error message it did not allocate (DescribeUserScramCredentialsResponse_parse).
        await using (var wire = (await cluster.AuthenticateAsync(frank, "frank-secret")).Wire)
        {
            await wire.SendAsync(ApiKey.DescribeUserScramCredentials, 0, w => new DescribeUserScramCredentialsRequest([frank, george]).Write(w, 0));
            var frame = Body(await wire.ReadFrameAsync());
            var refused = DescribeUserScramCredentialsResponse.Read(ref frame, 0);
            Assert.Equal((ErrorCode.ClusterAuthorizationFailed, "Cluster authorization failed."), (refused.Error, refused.ErrorMessage));
            Assert.Equal([("", ErrorCode.ClusterAuthorizationFailed), ("", ErrorCode.ClusterAuthorizationFailed)], refused.Results.Select(static r => (r.User, r.Error)));
        }
        var alter = await Assert.ThrowsAsync<AlterUserScramCredentialsException>(() =>
            frankAdmin.AlterUserScramCredentialsAsync([Upsertion(george, ScramMechanism.ScramSha256, 4096, "george-secret")]));
        Assert.Equal((george, ClientError.ClusterAuthorizationFailed), (Assert.Single(alter.Results).User, alter.Results[0].Error.Code));

        await cluster.AllowAsync(frank, ResourceType.Broker, "kafka-cluster", AclOperation.Describe, AclOperation.Alter);

        await frankAdmin.AlterUserScramCredentialsAsync([Upsertion(george, ScramMechanism.ScramSha256, 4096, "george-secret")]);
        var george256 = Assert.Single(Assert.Single((await frankAdmin.DescribeUserScramCredentialsAsync([george])).UserScramCredentialsDescriptions).ScramCredentialInfos);
        Assert.Equal(ScramMechanism.ScramSha256, george256.Mechanism);
    }

    [Fact]
    public async Task A_user_and_an_acl_made_through_the_sdk_govern_the_kafka_listener()
    {
        // The SDK talks to the controller grain as an Orleans client; the Kafka listener must authenticate and authorize
        // by what it stored, as by what came through the listener's own APIs.
        var erin = Name("erin");
        var topic = Name("sdk-scram");
        using (var kafkaAdmin = cluster.Admin())
            await kafkaAdmin.CreateTopicsAsync([new TopicSpecification { Name = topic, NumPartitions = 1 }]);
        using var sdk = new SdkAdminClientBuilder(cluster.Silos.Client).Build();

        await sdk.AlterUserScramCredentialsAsync([new Sdk.UserScramCredentialUpsertion
        {
            User = erin,
            ScramCredentialInfo = new Sdk.ScramCredentialInfo { Mechanism = Sdk.ScramMechanism.ScramSha256, Iterations = 4096 },
            Password = Encoding.UTF8.GetBytes("erin-secret"),
        }]);
        await sdk.CreateAclsAsync([new Sdk.AclBinding
        {
            Pattern = new Sdk.ResourcePattern { Type = Sdk.ResourceType.Topic, Name = topic, ResourcePatternType = Sdk.ResourcePatternType.Literal },
            Entry = new Sdk.AccessControlEntry { Principal = "User:" + erin, Host = "*", Operation = Sdk.AclOperation.Write, PermissionType = Sdk.AclPermissionType.Allow },
        }]);
        await cluster.SyncAsync();

        for (var silo = 0; silo < 2; silo++)
        {
            Assert.Equal(ErrorCode.None, await PlainAsync(erin, "erin-secret", silo));
            Assert.Equal(ErrorCode.SaslAuthenticationFailed, await PlainAsync(erin, "erin-wrong", silo));
        }
        using (var producer = new ProducerBuilder<Null, string>(Scram(erin, "erin-secret", SaslMechanism.ScramSha256)).Build())
        {
            var delivered = await producer.ProduceAsync(topic, new Message<Null, string> { Value = "through the SDK's ACL" }, TestContext.Current.CancellationToken);
            Assert.Equal(PersistenceStatus.Persisted, delivered.Status);
        }
        // What the Kafka listener's admin API describes is what the SDK stored.
        using var admin = cluster.Admin();
        var described = Assert.Single((await admin.DescribeUserScramCredentialsAsync([erin])).UserScramCredentialsDescriptions);
        Assert.Equal((ScramMechanism.ScramSha256, 4096), (Assert.Single(described.ScramCredentialInfos).Mechanism, described.ScramCredentialInfos[0].Iterations));

        // Deleted through the SDK, the ACL no longer lets erin write.
        await sdk.DeleteAclsAsync([new Sdk.AclBindingFilter
        {
            PatternFilter = new Sdk.ResourcePatternFilter { Type = Sdk.ResourceType.Topic, Name = topic, ResourcePatternType = Sdk.ResourcePatternType.Literal },
            EntryFilter = new Sdk.AccessControlEntryFilter { Operation = Sdk.AclOperation.Any, PermissionType = Sdk.AclPermissionType.Any },
        }]);
        await cluster.SyncAsync();
        using (var producer = new ProducerBuilder<Null, string>(Scram(erin, "erin-secret", SaslMechanism.ScramSha256)).Build())
        {
            var denied = await Assert.ThrowsAsync<ProduceException<Null, string>>(() =>
                producer.ProduceAsync(topic, new Message<Null, string> { Value = "denied" }, TestContext.Current.CancellationToken));
            Assert.Equal(ClientError.TopicAuthorizationFailed, denied.Error.Code);
        }
    }

    private static UserScramCredentialUpsertion Upsertion(string user, ScramMechanism mechanism, int iterations, string password) => new()
    {
        User = user,
        ScramCredentialInfo = new Confluent.Kafka.Admin.ScramCredentialInfo { Mechanism = mechanism, Iterations = iterations },
        Password = System.Text.Encoding.UTF8.GetBytes(password),
    };

    /// <summary>A SCRAM client of one broker (<paramref name="silo"/>) or of both.</summary>
    private ClientConfig Scram(string user, string password, SaslMechanism mechanism, int? silo = null) => new()
    {
        BootstrapServers = silo is { } s ? $"127.0.0.1:{cluster.SaslPort(s)}" : $"127.0.0.1:{cluster.SaslPort(0)},127.0.0.1:{cluster.SaslPort(1)}",
        SecurityProtocol = SecurityProtocol.SaslPlaintext,
        SaslMechanism = mechanism,
        SaslUsername = user,
        SaslPassword = password,
    };

    private async Task<ErrorCode> PlainAsync(string user, string password, int silo)
    {
        var (wire, error) = await cluster.AuthenticateAsync(user, password, silo);
        await wire.DisposeAsync();
        return error;
    }

    private static string Name(string prefix) => AuthorizedKafkaCluster.Unique(prefix);

    /// <summary>A flexible answer's body: after the correlation id and the header's tagged fields.</summary>
    private static KafkaReader Body(byte[]? frame)
    {
        Assert.NotNull(frame);
        return new KafkaReader(frame.AsSpan(5));
    }
}
