using Microsoft.Extensions.DependencyInjection;
using Orleans.Core.Internal;
using OrleansStream.Protocol.Sasl;
using OrleansStream.Server.Controller;
using OrleansStream.Server.Kafka.Security;

namespace OrleansStream.Cluster.Tests;

/// <summary>
/// The SCRAM credentials changed at run time as the controller keeps them (Kafka's ScramControlManager): stored with
/// its state, so a new controller activation serves the same ones, and followed by every broker's credential store
/// without being asked.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class ScramControllerTests(ClusterFixture fixture)
{
    private IControllerInternalGrain Controller => fixture.Grains.GetGrain<IControllerInternalGrain>(GrainKeys.Controller);

    private IEnumerable<SaslCredentialStore> Stores() =>
        fixture.Silos.Values.Select(static s => s.ServiceProvider.GetRequiredService<SaslCredentialStore>());

    [Fact]
    public async Task Every_broker_follows_the_stored_credentials_and_a_new_controller_activation_serves_them()
    {
        var dave = $"dave-{Guid.NewGuid():N}"[..13];
        var ghost = dave + "-ghost";
        var credential = ScramMechanism.Sha512.CreateCredential("dave-secret", 8192);
        var before = await Controller.GetScramCredentials();

        var stored = await Controller.AlterScramCredentials([
            new ScramCredentialChange(dave, ScramMechanism.Sha512.Name, StoredScramCredential.Of(dave, ScramMechanism.Sha512, credential), Configured: false),
            new ScramCredentialChange(ghost, ScramMechanism.Sha256.Name, null, Configured: false)]);

        Assert.Equal([ErrorCode.None, ErrorCode.ResourceNotFound], stored.Select(static r => r.Error));
        var after = await Controller.GetScramCredentials();
        Assert.Equal(before.Version + 1, after.Version);
        await Eventually.WaitUntilAsync(() => Stores().All(s => s.Version >= after.Version), "every broker holds the new credential");
        Assert.All(Stores(), s =>
        {
            Assert.True(ScramMechanism.Sha512.Matches(s.Find(dave, ScramMechanism.Sha512)!, "dave-secret"u8));
            Assert.Null(s.Find(dave, ScramMechanism.Sha256));
            Assert.Contains(dave, s.UserNames());
        });

        await Controller.Cast<IGrainManagementExtension>().DeactivateOnIdle(TestContext.Current.CancellationToken);
        var reloaded = await Controller.GetScramCredentials();
        Assert.Equal(after.Version, reloaded.Version);
        Assert.Equal(credential.Format(), reloaded.Credentials.Single(c => c.User == dave).Credential!.Format());

        // A removal the configuration would undo is stored as such; one it would not leaves nothing behind.
        var removed = await Controller.AlterScramCredentials([new ScramCredentialChange(dave, ScramMechanism.Sha512.Name, null, Configured: false)]);
        Assert.Equal(ErrorCode.None, Assert.Single(removed).Error);
        var hidden = await Controller.AlterScramCredentials([new ScramCredentialChange(ghost, ScramMechanism.Sha256.Name, null, Configured: true)]);
        Assert.Equal(ErrorCode.None, Assert.Single(hidden).Error);
        var last = await Controller.GetScramCredentials();
        Assert.DoesNotContain(last.Credentials, c => c.User == dave);
        Assert.True(Assert.Single(last.Credentials, c => c.User == ghost).Deleted);
        await Eventually.WaitUntilAsync(() => Stores().All(s => s.Version >= last.Version), "every broker holds the removals");
        Assert.All(Stores(), s => Assert.DoesNotContain(dave, s.UserNames()));
        var again = await Controller.AlterScramCredentials([new ScramCredentialChange(ghost, ScramMechanism.Sha256.Name, null, Configured: true)]);
        Assert.Equal(ErrorCode.ResourceNotFound, Assert.Single(again).Error);
    }
}
