using Microsoft.Extensions.DependencyInjection;
using Orleans.Core.Internal;
using OrleansStream.Server.Controller;
using OrleansStream.Server.Security.Authorization;

namespace OrleansStream.Cluster.Tests;

/// <summary>Three brokers with the authorizer on (<c>OrleansStream:Authorizer:Enabled</c>).</summary>
public sealed class AuthorizerFixture : ClusterFixture
{
    protected override void ConfigureSilo(ISiloBuilder silo) =>
        silo.ConfigureServices(static services => services.Configure<AuthorizerOptions>(static o => o.Enabled = true));
}

/// <summary>
/// The cluster's ACL bindings as the controller keeps them (Kafka's AclControlManager): stored with its state, so a new
/// controller activation serves the same bindings, and followed by every broker's authorizer without being asked.
/// </summary>
public sealed class AclControllerTests(AuthorizerFixture fixture) : IClassFixture<AuthorizerFixture>
{
    private static AclBinding Allow(string topic, AclOperation operation, string principal = "User:alice") =>
        new(AclResourceType.Topic, topic, AclPatternType.Literal, principal, "*", operation, AclPermissionType.Allow);

    private IControllerInternalGrain Controller => fixture.Grains.GetGrain<IControllerInternalGrain>(GrainKeys.Controller);

    private IEnumerable<KafkaAuthorizer> Authorizers() =>
        fixture.Silos.Values.Select(static s => s.ServiceProvider.GetRequiredService<KafkaAuthorizer>());

    [Fact]
    public async Task Every_broker_follows_the_controllers_bindings_and_a_new_controller_activation_serves_the_stored_ones()
    {
        var topic = $"acl-{Guid.NewGuid():N}"[..20];
        var before = await Controller.GetAcls();

        var created = await Controller.CreateAcls([Allow(topic, AclOperation.Read), Allow(topic, AclOperation.Read), Allow(topic, AclOperation.Any), Allow(topic, AclOperation.Write)]);

        Assert.Equal([ErrorCode.None, ErrorCode.None, ErrorCode.InvalidRequest, ErrorCode.None], created.Select(static r => r.Error));
        var stored = await Controller.GetAcls();
        Assert.Equal(before.Version + 1, stored.Version);
        // The repeated binding is stored once.
        Assert.Equal(2, stored.Bindings.Count(b => b.ResourceName == topic));
        await Eventually.WaitUntilAsync(() => Authorizers().All(a => a.Version >= stored.Version), "every broker holds the new bindings");
        Assert.All(Authorizers(), a =>
        {
            Assert.True(a.IsAllowed("User:alice", "10.0.0.1", AclOperation.Write, AclResourceType.Topic, topic));
            Assert.False(a.IsAllowed("User:bob", "10.0.0.1", AclOperation.Read, AclResourceType.Topic, topic));
        });

        await Controller.Cast<IGrainManagementExtension>().DeactivateOnIdle(TestContext.Current.CancellationToken);
        var reloaded = await Controller.GetAcls();
        Assert.Equal(stored.Version, reloaded.Version);
        Assert.Equal(stored.Bindings, reloaded.Bindings);

        var deleted = await Controller.DeleteAcls([new AclBindingFilter(AclResourceType.Topic, topic, AclPatternType.Literal, null, null, AclOperation.Write, AclPermissionType.Any)]);
        Assert.Equal([Allow(topic, AclOperation.Write)], Assert.Single(deleted).Deleted);
        var after = await Controller.GetAcls();
        await Eventually.WaitUntilAsync(() => Authorizers().All(a => a.Version >= after.Version), "every broker holds the deletion");
        Assert.All(Authorizers(), a =>
        {
            Assert.False(a.IsAllowed("User:alice", "10.0.0.1", AclOperation.Write, AclResourceType.Topic, topic));
            Assert.True(a.IsAllowed("User:alice", "10.0.0.1", AclOperation.Read, AclResourceType.Topic, topic));
        });
    }
}
