using System.Text;
using Microsoft.Extensions.DependencyInjection;
using OrleansStream.Client;
using OrleansStream.Client.Admin;
using OrleansStream.Server.Controller;
using OrleansStream.Server.Kafka.Security;
using ScramMechanism = OrleansStream.Client.Admin.ScramMechanism;
using ServerScram = OrleansStream.Protocol.Sasl.ScramMechanism;

namespace OrleansStream.Cluster.Tests;

/// <summary>
/// The SDK's SCRAM calls against the three-silo cluster: the password salted by the SDK makes the credential every
/// broker authenticates against (one SCRAM version step per request, as through the Kafka listener), and the Kafka
/// listener's checks refuse what Kafka refuses, with its errors and messages.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class AdminScramTests(ClusterFixture fixture)
{
    private IAdminClient Admin() => new AdminClientBuilder(fixture.Client).Build();

    private IControllerInternalGrain Controller => fixture.Grains.GetGrain<IControllerInternalGrain>(GrainKeys.Controller);

    private IEnumerable<SaslCredentialStore> Stores() =>
        fixture.Silos.Values.Select(static s => s.ServiceProvider.GetRequiredService<SaslCredentialStore>());

    private static string Unique(string prefix) => $"{prefix}-{Guid.NewGuid():N}"[..(prefix.Length + 9)];

    private static UserScramCredentialUpsertion Upsertion(string user, ScramMechanism mechanism, int iterations, string password, byte[]? salt = null) => new()
    {
        User = user,
        ScramCredentialInfo = new ScramCredentialInfo { Mechanism = mechanism, Iterations = iterations },
        Password = Encoding.UTF8.GetBytes(password),
        Salt = salt,
    };

    [Fact]
    public async Task An_upserted_credential_authenticates_on_every_broker_is_described_and_is_gone_once_deleted()
    {
        using var admin = Admin();
        var erin = Unique("erin");
        var frank = Unique("frank");
        var salt = "erin-salt-0123456789"u8.ToArray();
        var before = await Controller.GetScramCredentials();

        await admin.AlterUserScramCredentialsAsync([Upsertion(erin, ScramMechanism.ScramSha256, 8192, "erin-secret", salt), Upsertion(frank, ScramMechanism.ScramSha512, 4096, "frank-secret")]);

        var stored = await Controller.GetScramCredentials();
        Assert.Equal(before.Version + 1, stored.Version);
        await Eventually.WaitUntilAsync(() => Stores().All(s => s.Version >= stored.Version), "every broker holds the new credentials");
        Assert.All(Stores(), s =>
        {
            var erins = s.Find(erin, ServerScram.Sha256)!;
            Assert.Equal(salt, erins.Salt);
            Assert.Equal(8192, erins.Iterations);
            Assert.True(ServerScram.Sha256.Matches(erins, "erin-secret"u8));
            Assert.False(ServerScram.Sha256.Matches(erins, "erin-wrong"u8));
            var franks = s.Find(frank, ServerScram.Sha512)!;
            Assert.Equal(64, franks.Salt.Length);
            Assert.True(ServerScram.Sha512.Matches(franks, "frank-secret"u8));
            Assert.Null(s.Find(frank, ServerScram.Sha256));
        });
        var described = (await admin.DescribeUserScramCredentialsAsync([erin, frank])).UserScramCredentialsDescriptions;
        Assert.Equal([(erin, ScramMechanism.ScramSha256, 8192), (frank, ScramMechanism.ScramSha512, 4096)],
            described.Select(static d => (d.User, Assert.Single(d.ScramCredentialInfos).Mechanism, d.ScramCredentialInfos[0].Iterations)));
        Assert.Contains(erin, (await admin.DescribeUserScramCredentialsAsync([])).UserScramCredentialsDescriptions.Select(static d => d.User));
        Assert.Contains(frank, (await admin.DescribeUserScramCredentialsAsync(null)).UserScramCredentialsDescriptions.Select(static d => d.User));
        await Assert.ThrowsAsync<ArgumentException>(() => admin.DescribeUserScramCredentialsAsync([erin, ""]));

        await admin.AlterUserScramCredentialsAsync([new UserScramCredentialDeletion { User = erin, Mechanism = ScramMechanism.ScramSha256 }]);

        var deleted = await Controller.GetScramCredentials();
        Assert.Equal(stored.Version + 1, deleted.Version);
        await Eventually.WaitUntilAsync(() => Stores().All(s => s.Version >= deleted.Version), "every broker dropped the deleted credential");
        Assert.All(Stores(), s => Assert.Null(s.Find(erin, ServerScram.Sha256)));
        var gone = await Assert.ThrowsAsync<DescribeUserScramCredentialsException>(() => admin.DescribeUserScramCredentialsAsync([erin, frank]));
        Assert.Equal([(erin, ErrorCode.ResourceNotFound, "Attempt to describe a user credential that does not exist: " + erin), (frank, ErrorCode.None, "None")],
            gone.Results.UserScramCredentialsDescriptions.Select(static d => (d.User, d.Error.Code, d.Error.Reason)));
    }

    [Fact]
    public async Task Kafkas_checks_refuse_bad_changes_with_its_errors_and_the_valid_change_of_the_same_request_is_applied()
    {
        using var admin = Admin();
        var (few, many, twice, missing, unknown, valid) = (Unique("few"), Unique("many"), Unique("twice"), Unique("missing"), Unique("unknown"), Unique("valid"));
        var before = await Controller.GetScramCredentials();

        var refused = await Assert.ThrowsAsync<AlterUserScramCredentialsException>(() => admin.AlterUserScramCredentialsAsync([
            Upsertion(few, ScramMechanism.ScramSha256, 4095, "p"),
            Upsertion(many, ScramMechanism.ScramSha512, 16385, "p"),
            Upsertion(twice, ScramMechanism.ScramSha256, 4096, "p"),
            new UserScramCredentialDeletion { User = twice, Mechanism = ScramMechanism.ScramSha512 },
            new UserScramCredentialDeletion { User = missing, Mechanism = ScramMechanism.ScramSha256 },
            Upsertion(unknown, ScramMechanism.Unknown, 4096, "p"),
            Upsertion(valid, ScramMechanism.ScramSha512, 4096, "valid-secret")]));

        // Kafka's broker answers the applied changes first, then each refused user.
        Assert.Equal(
            [
                (valid, ErrorCode.None, "None"),
                (few, ErrorCode.UnacceptableCredential, "Too few iterations"),
                (many, ErrorCode.UnacceptableCredential, "Too many iterations"),
                (twice, ErrorCode.DuplicateResource, "A user credential cannot be altered twice in the same request"),
                (unknown, ErrorCode.UnsupportedSaslMechanism, "Unknown SCRAM mechanism"),
                (missing, ErrorCode.ResourceNotFound, "Attempt to delete a user credential that does not exist"),
            ],
            refused.Results.Select(static r => (r.User, r.Error.Code, r.Error.Reason)));
        Assert.Equal(before.Version + 1, (await Controller.GetScramCredentials()).Version);
        Assert.Equal(ScramMechanism.ScramSha512,
            Assert.Single(Assert.Single((await admin.DescribeUserScramCredentialsAsync([valid])).UserScramCredentialsDescriptions).ScramCredentialInfos).Mechanism);

        var duplicate = await Assert.ThrowsAsync<DescribeUserScramCredentialsException>(() => admin.DescribeUserScramCredentialsAsync([valid, valid]));
        var description = Assert.Single(duplicate.Results.UserScramCredentialsDescriptions);
        Assert.Equal((ErrorCode.DuplicateResource, "Cannot describe SCRAM credentials for the same user twice in a single request: " + valid),
            (description.Error.Code, description.Error.Reason));

        // Nothing valid: no write, the version stays.
        var version = (await Controller.GetScramCredentials()).Version;
        await Assert.ThrowsAsync<AlterUserScramCredentialsException>(() => admin.AlterUserScramCredentialsAsync([Upsertion(few, ScramMechanism.ScramSha256, 100, "p")]));
        Assert.Equal(version, (await Controller.GetScramCredentials()).Version);
    }
}
