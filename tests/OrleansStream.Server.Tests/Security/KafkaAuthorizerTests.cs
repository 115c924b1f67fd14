using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Options;
using OrleansStream.Server.Security.Authorization;

namespace OrleansStream.Server.Tests.Security;

/// <summary>Kafka's StandardAuthorizer rules as this broker's authorizer applies them, and the filters of DescribeAcls and DeleteAcls.</summary>
public sealed class KafkaAuthorizerTests
{
    private const string Alice = "User:alice";
    private const string Host = "10.0.0.5";

    private static AclBinding Acl(AclResourceType type, string name, AclOperation operation, AclPermissionType permission = AclPermissionType.Allow,
        string principal = Alice, AclPatternType pattern = AclPatternType.Literal, string host = "*") =>
        new(type, name, pattern, principal, host, operation, permission);

    private static KafkaAuthorizer Authorizer(string superUsers = "", bool allowIfNoAcls = false, params AclBinding[] bindings)
    {
        var authorizer = new KafkaAuthorizer(Options.Create(new AuthorizerOptions { Enabled = true, SuperUsers = superUsers, AllowEveryoneIfNoAclFound = allowIfNoAcls }));
        authorizer.Apply(new AclSnapshot(1, bindings));
        return authorizer;
    }

    private static bool Topic(KafkaAuthorizer a, string name, AclOperation operation, string principal = Alice, string host = Host) =>
        a.IsAllowed(principal, host, operation, AclResourceType.Topic, name);

    [Fact]
    public void A_literal_allow_grants_its_operation_on_that_name_only()
    {
        var a = Authorizer(bindings: Acl(AclResourceType.Topic, "orders", AclOperation.Read));

        Assert.True(Topic(a, "orders", AclOperation.Read));
        Assert.False(Topic(a, "orders", AclOperation.Write));
        Assert.False(Topic(a, "orders-eu", AclOperation.Read));
        Assert.False(Topic(a, "orders", AclOperation.Read, principal: "User:bob"));
        Assert.False(a.IsAllowed(Alice, Host, AclOperation.Read, AclResourceType.Group, "orders"));
    }

    [Fact]
    public void A_prefixed_binding_covers_every_name_that_starts_with_it_and_the_wildcard_name_every_name()
    {
        var a = Authorizer(bindings:
        [
            Acl(AclResourceType.Topic, "orders-", AclOperation.Write, pattern: AclPatternType.Prefixed),
            Acl(AclResourceType.Topic, "*", AclOperation.Read),
        ]);

        Assert.True(Topic(a, "orders-eu", AclOperation.Write));
        Assert.True(Topic(a, "orders-", AclOperation.Write));
        Assert.False(Topic(a, "orders", AclOperation.Write));
        Assert.True(Topic(a, "anything", AclOperation.Read));
        // A literal "*" is the wildcard only as a literal name: a topic named "x*" is not covered by a literal "x*".
        var literal = Authorizer(bindings: Acl(AclResourceType.Topic, "x*", AclOperation.Read));
        Assert.False(Topic(literal, "xy", AclOperation.Read));
    }

    [Fact]
    public void Deny_wins_over_any_allow_and_matches_its_own_operation_only()
    {
        var a = Authorizer(bindings:
        [
            Acl(AclResourceType.Topic, "*", AclOperation.All),
            Acl(AclResourceType.Topic, "secret", AclOperation.Read, AclPermissionType.Deny),
            Acl(AclResourceType.Topic, "pay", AclOperation.All, AclPermissionType.Deny, pattern: AclPatternType.Prefixed, principal: "User:*"),
        ]);

        Assert.False(Topic(a, "secret", AclOperation.Read));
        // A deny of READ does not deny DESCRIBE (only an allow implies it).
        Assert.True(Topic(a, "secret", AclOperation.Describe));
        Assert.True(Topic(a, "secret", AclOperation.Write));
        Assert.False(Topic(a, "payments", AclOperation.Describe));
        Assert.True(Topic(a, "open", AclOperation.Alter));
    }

    [Fact]
    public void Read_write_delete_and_alter_imply_describe_and_alter_configs_implies_describe_configs()
    {
        foreach (var op in new[] { AclOperation.Read, AclOperation.Write, AclOperation.Delete, AclOperation.Alter })
            Assert.True(Topic(Authorizer(bindings: Acl(AclResourceType.Topic, "t", op)), "t", AclOperation.Describe));
        Assert.False(Topic(Authorizer(bindings: Acl(AclResourceType.Topic, "t", AclOperation.Create)), "t", AclOperation.Describe));
        Assert.True(Topic(Authorizer(bindings: Acl(AclResourceType.Topic, "t", AclOperation.AlterConfigs)), "t", AclOperation.DescribeConfigs));
        Assert.False(Topic(Authorizer(bindings: Acl(AclResourceType.Topic, "t", AclOperation.DescribeConfigs)), "t", AclOperation.AlterConfigs));
    }

    [Fact]
    public void Hosts_and_the_wildcard_principal_match_as_Kafka_matches_them()
    {
        var a = Authorizer(bindings:
        [
            Acl(AclResourceType.Topic, "t", AclOperation.Read, host: Host),
            Acl(AclResourceType.Topic, "u", AclOperation.Read, principal: "User:*"),
        ]);

        Assert.True(Topic(a, "t", AclOperation.Read));
        Assert.False(Topic(a, "t", AclOperation.Read, host: "10.0.0.6"));
        Assert.True(Topic(a, "u", AclOperation.Read, principal: "User:anyone"));
        Assert.True(Topic(a, "u", AclOperation.Read, principal: KafkaAuthorizer.Anonymous));
    }

    [Fact]
    public void Super_users_may_do_anything_and_allow_everyone_if_no_acl_found_opens_only_resources_no_binding_names()
    {
        var a = Authorizer("User:admin; User:ops", allowIfNoAcls: true, Acl(AclResourceType.Topic, "named", AclOperation.Read, principal: "User:bob"));

        Assert.True(Topic(a, "named", AclOperation.Write, principal: "User:admin"));
        Assert.True(Topic(a, "named", AclOperation.Write, principal: "User:ops"));
        Assert.True(Topic(a, "unnamed", AclOperation.Write));
        // A binding names the resource (for another principal): no longer open to everyone.
        Assert.False(Topic(a, "named", AclOperation.Read));
        Assert.False(Topic(Authorizer(), "unnamed", AclOperation.Write));
    }

    [Fact]
    public void Before_its_first_snapshot_only_super_users_are_allowed_and_an_older_snapshot_never_replaces_a_newer_one()
    {
        var a = new KafkaAuthorizer(Options.Create(new AuthorizerOptions { Enabled = true, SuperUsers = "User:admin" }));
        Assert.False(a.Loaded.IsCompleted);
        Assert.Equal(-1, a.Version);
        Assert.True(Topic(a, "t", AclOperation.Read, principal: "User:admin"));
        Assert.False(Topic(a, "t", AclOperation.Read));

        a.Apply(new AclSnapshot(5, [Acl(AclResourceType.Topic, "t", AclOperation.Read)]));
        a.Apply(new AclSnapshot(4, []));
        Assert.True(a.Loaded.IsCompleted);
        Assert.Equal(5, a.Version);
        Assert.True(Topic(a, "t", AclOperation.Read));

        a.Apply(new AclSnapshot(6, []));
        Assert.False(Topic(a, "t", AclOperation.Read));
    }

    [Fact]
    public void Disabled_it_allows_everything()
    {
        var a = new KafkaAuthorizer(Options.Create(new AuthorizerOptions()));
        Assert.False(a.IsEnabled);
        Assert.True(a.Loaded.IsCompleted);
        Assert.True(Topic(a, "t", AclOperation.Write, principal: KafkaAuthorizer.Anonymous));
    }

    [Fact]
    public void Authorized_operations_set_the_bit_of_each_allowed_operation()
    {
        var a = Authorizer(bindings: [Acl(AclResourceType.Group, "g", AclOperation.Read), Acl(AclResourceType.Group, "g", AclOperation.Delete)]);

        var bits = a.AuthorizedOperations(Alice, Host, AclResourceType.Group, "g",
            [AclOperation.Read, AclOperation.Delete, AclOperation.Describe, AclOperation.DescribeConfigs, AclOperation.AlterConfigs]);

        Assert.Equal(1 << 3 | 1 << 6 | 1 << 8, bits);
    }

    [Fact]
    public void Filters_match_as_Kafka_s_AclBindingFilter()
    {
        var literal = Acl(AclResourceType.Topic, "orders", AclOperation.Read);
        var prefixed = Acl(AclResourceType.Topic, "ord", AclOperation.Write, pattern: AclPatternType.Prefixed);
        var wildcard = Acl(AclResourceType.Topic, "*", AclOperation.Describe, principal: "User:bob");
        var group = Acl(AclResourceType.Group, "orders", AclOperation.Read);
        AclBinding[] all = [literal, prefixed, wildcard, group];

        AclBinding[] Matching(AclBindingFilter f) => all.Where(f.Matches).ToArray();

        Assert.Equal(all, Matching(AclBindingFilter.Any));
        Assert.Equal([literal, prefixed, wildcard], Matching(AclBindingFilter.Any with { ResourceType = AclResourceType.Topic }));
        Assert.Equal([literal, group], Matching(AclBindingFilter.Any with { ResourceName = "orders", PatternType = AclPatternType.Literal }));
        Assert.Equal([literal, prefixed, wildcard], Matching(AclBindingFilter.Any with { ResourceType = AclResourceType.Topic, ResourceName = "orders", PatternType = AclPatternType.Match }));
        Assert.Equal([prefixed], Matching(AclBindingFilter.Any with { PatternType = AclPatternType.Prefixed }));
        Assert.Equal([wildcard], Matching(AclBindingFilter.Any with { Principal = "User:bob" }));
        Assert.Equal([prefixed], Matching(AclBindingFilter.Any with { Operation = AclOperation.Write, Permission = AclPermissionType.Allow }));
        Assert.Empty(Matching(AclBindingFilter.Any with { Permission = AclPermissionType.Deny }));
    }

    [Theory]
    [InlineData(AclResourceType.Any, "t", AclPatternType.Literal, "User:a", AclOperation.Read, AclPermissionType.Allow, "Invalid resourceType ANY")]
    [InlineData(AclResourceType.Topic, "t", AclPatternType.Match, "User:a", AclOperation.Read, AclPermissionType.Allow, "Invalid patternType MATCH")]
    [InlineData(AclResourceType.Topic, "t", AclPatternType.Literal, "User:a", AclOperation.Any, AclPermissionType.Allow, "Invalid operation ANY")]
    [InlineData(AclResourceType.Topic, "t", AclPatternType.Literal, "User:a", AclOperation.Read, AclPermissionType.Any, "Invalid permissionType ANY")]
    [InlineData(AclResourceType.Cluster, "c", AclPatternType.Literal, "User:a", AclOperation.Alter, AclPermissionType.Allow, "The only valid name for the CLUSTER resource is kafka-cluster")]
    [InlineData(AclResourceType.Topic, "", AclPatternType.Literal, "User:a", AclOperation.Read, AclPermissionType.Allow, "Invalid empty resource name")]
    [InlineData(AclResourceType.Topic, "t", AclPatternType.Literal, "alice", AclOperation.Read, AclPermissionType.Allow,
        "Could not parse principal from `alice` (no colon is present separating the principal type from the principal name)")]
    [InlineData(AclResourceType.TransactionalId, "tx", AclPatternType.Prefixed, "User:a", AclOperation.Write, AclPermissionType.Deny, null)]
    public void A_binding_is_checked_as_Kafka_s_controller_checks_it(
        AclResourceType type, string name, AclPatternType pattern, string principal, AclOperation operation, AclPermissionType permission, string? error) =>
        Assert.Equal(error, new AclBinding(type, name, pattern, principal, "*", operation, permission).Validate());

    [Fact]
    public void A_certificate_principal_is_its_subject_as_Java_s_X500Principal_writes_it()
    {
        using var key = ECDsa.Create();
        var request = new CertificateRequest("CN=\"alice, the first\", OU=dev, O=Example Corp, C=DE", key, HashAlgorithmName.SHA256);
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));

        Assert.Equal("CN=alice\\, the first,OU=dev,O=Example Corp,C=DE", KafkaPrincipals.DistinguishedName(certificate));
        Assert.Equal("127.0.0.1", KafkaPrincipals.HostOf(new IPEndPoint(IPAddress.Parse("127.0.0.1").MapToIPv6(), 9092)));
        Assert.Equal("::1", KafkaPrincipals.HostOf(new IPEndPoint(IPAddress.IPv6Loopback, 9092)));
    }
}
