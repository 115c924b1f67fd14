using OrleansStream.Client;
using OrleansStream.Client.Admin;
using OrleansStream.Server.Controller;

namespace OrleansStream.Cluster.Tests;

/// <summary>
/// The SDK's ACL calls against the three-silo cluster: bindings stored by the controller code the Kafka listener
/// forwards to (one ACL version step per change, the step brokers with the authorizer on reload at; this cluster's is
/// off, so ScramCredentialsTests checks an authorizing listener follows), filters as Kafka matches them, and Kafka's
/// refusals with its messages.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class AdminAclsTests(ClusterFixture fixture)
{
    private IAdminClient Admin() => new AdminClientBuilder(fixture.Client).Build();

    private IControllerInternalGrain Controller => fixture.Grains.GetGrain<IControllerInternalGrain>(GrainKeys.Controller);

    private static AclBinding Binding(ResourceType type, string name, ResourcePatternType pattern, string principal, AclOperation operation,
        AclPermissionType permission = AclPermissionType.Allow, string host = "*") => new()
    {
        Pattern = new ResourcePattern { Type = type, Name = name, ResourcePatternType = pattern },
        Entry = new AccessControlEntry { Principal = principal, Host = host, Operation = operation, PermissionType = permission },
    };

    private static AclBindingFilter Filter(ResourceType type, string? name, ResourcePatternType pattern, string? principal = null,
        AclOperation operation = AclOperation.Any, AclPermissionType permission = AclPermissionType.Any) => new()
    {
        PatternFilter = new ResourcePatternFilter { Type = type, Name = name, ResourcePatternType = pattern },
        EntryFilter = new AccessControlEntryFilter { Principal = principal, Operation = operation, PermissionType = permission },
    };

    private static void AssertBindings(AclBinding[] expected, List<AclBinding> actual) =>
        Assert.True(actual.Count == expected.Length && actual.ToHashSet().SetEquals(expected), $"expected {string.Join(", ", expected.Select(static b => b.ToString()))}; got {string.Join(", ", actual)}");

    [Fact]
    public async Task Created_bindings_are_described_by_filter_and_deleted_each_change_moving_the_acl_version_once()
    {
        using var admin = Admin();
        var topic = $"sdkacl-{Guid.NewGuid():N}"[..22];
        var group = topic + "-g";
        var aliceRead = Binding(ResourceType.Topic, topic, ResourcePatternType.Literal, "User:alice", AclOperation.Read);
        var bobDeny = Binding(ResourceType.Topic, topic, ResourcePatternType.Literal, "User:bob", AclOperation.Write, AclPermissionType.Deny);
        var alicePrefix = Binding(ResourceType.Topic, topic[..12], ResourcePatternType.Prefixed, "User:alice", AclOperation.Describe);
        var aliceGroup = Binding(ResourceType.Group, group, ResourcePatternType.Literal, "User:alice", AclOperation.Read, host: "10.0.0.1");
        var before = await Controller.GetAcls();

        // The same binding twice is stored once, as Kafka's controller stores it.
        await admin.CreateAclsAsync([aliceRead, bobDeny, alicePrefix, aliceGroup, aliceRead with { Entry = aliceRead.Entry with { } }]);

        var created = await Controller.GetAcls();
        Assert.Equal(before.Version + 1, created.Version);
        Assert.Equal(before.Bindings.Count + 4, created.Bindings.Count);

        var literal = (await admin.DescribeAclsAsync(Filter(ResourceType.Topic, topic, ResourcePatternType.Literal))).AclBindings;
        AssertBindings([aliceRead, bobDeny], literal);
        // MATCH: every binding that applies to the topic, the prefixed one included.
        var match = (await admin.DescribeAclsAsync(Filter(ResourceType.Topic, topic, ResourcePatternType.Match))).AclBindings;
        AssertBindings([aliceRead, bobDeny, alicePrefix], match);
        var denied = (await admin.DescribeAclsAsync(Filter(ResourceType.Any, null, ResourcePatternType.Any, "User:bob", permission: AclPermissionType.Deny))).AclBindings;
        Assert.Contains(bobDeny, denied);
        Assert.DoesNotContain(aliceRead, denied);
        Assert.Equal([aliceGroup], (await admin.DescribeAclsAsync(aliceGroup.ToFilter())).AclBindings);

        var deleted = await admin.DeleteAclsAsync([
            Filter(ResourceType.Topic, topic, ResourcePatternType.Literal, "User:alice"),
            Filter(ResourceType.Group, group, ResourcePatternType.Any),
            Filter(ResourceType.Topic, topic + "-none", ResourcePatternType.Literal)]);

        Assert.Equal(3, deleted.Count);
        Assert.Equal([aliceRead], deleted[0].AclBindings);
        Assert.Equal([aliceGroup], deleted[1].AclBindings);
        Assert.Empty(deleted[2].AclBindings);
        var after = await Controller.GetAcls();
        Assert.Equal(created.Version + 1, after.Version);
        var left = (await admin.DescribeAclsAsync(Filter(ResourceType.Topic, topic, ResourcePatternType.Match))).AclBindings;
        AssertBindings([bobDeny, alicePrefix], left);
    }

    [Fact]
    public async Task Invalid_bindings_and_filters_get_InvalidRequest_with_Kafkas_messages_and_the_valid_ones_are_applied()
    {
        using var admin = Admin();
        var topic = $"sdkaclbad-{Guid.NewGuid():N}"[..22];
        var valid = Binding(ResourceType.Topic, topic, ResourcePatternType.Literal, "User:carol", AclOperation.Write);

        var refused = await Assert.ThrowsAsync<CreateAclsException>(() => admin.CreateAclsAsync([
            Binding(ResourceType.Topic, topic, ResourcePatternType.Match, "User:carol", AclOperation.Read),
            valid,
            Binding(ResourceType.Broker, "my-cluster", ResourcePatternType.Literal, "User:carol", AclOperation.Alter),
            Binding(ResourceType.Topic, topic, ResourcePatternType.Literal, "carol", AclOperation.Read),
            Binding(ResourceType.Topic, topic, ResourcePatternType.Literal, "User:carol", AclOperation.Any)]));

        Assert.Equal(
            [
                (ErrorCode.InvalidRequest, "Invalid patternType MATCH"),
                (ErrorCode.None, "None"),
                (ErrorCode.InvalidRequest, "The only valid name for the CLUSTER resource is kafka-cluster"),
                (ErrorCode.InvalidRequest, "Could not parse principal from `carol` (no colon is present separating the principal type from the principal name)"),
                (ErrorCode.InvalidRequest, "Invalid operation ANY"),
            ],
            refused.Results.Select(static r => (r.Error.Code, r.Error.Reason)));
        Assert.Equal(ErrorCode.InvalidRequest, refused.Error.Code);
        Assert.Equal([valid], (await admin.DescribeAclsAsync(valid.ToFilter())).AclBindings);

        var badFilter = await Assert.ThrowsAsync<DescribeAclsException>(() => admin.DescribeAclsAsync(Filter(ResourceType.Unknown, topic, ResourcePatternType.Literal)));
        Assert.Equal((ErrorCode.InvalidRequest, "Unknown patternFilter."), (badFilter.Result.Error.Code, badFilter.Result.Error.Reason));

        var badDelete = await Assert.ThrowsAsync<DeleteAclsException>(() => admin.DeleteAclsAsync([
            Filter(ResourceType.Topic, topic, ResourcePatternType.Literal, operation: AclOperation.Unknown),
            valid.ToFilter()]));
        Assert.Equal((ErrorCode.InvalidRequest, "Unknown entryFilter."), (badDelete.Results[0].Error.Code, badDelete.Results[0].Error.Reason));
        Assert.Equal(ErrorCode.None, badDelete.Results[1].Error.Code);
        Assert.Equal([valid], badDelete.Results[1].AclBindings);
        Assert.Empty((await admin.DescribeAclsAsync(valid.ToFilter())).AclBindings);

        // Confluent's refusals of an empty request, before any call.
        await Assert.ThrowsAsync<ArgumentException>(() => admin.CreateAclsAsync([]));
        await Assert.ThrowsAsync<ArgumentException>(() => admin.DeleteAclsAsync([]));
    }
}
