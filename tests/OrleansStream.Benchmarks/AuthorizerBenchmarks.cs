using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.Options;
using OrleansStream.Server.Security.Authorization;

namespace OrleansStream.Benchmarks;

/// <summary>
/// One ACL check as a produce or fetch request makes it per topic (<see cref="KafkaAuthorizer.IsAllowed"/>), against
/// 1,000 bindings: 800 literal topic bindings of 100 principals, 100 prefixed ones, 100 group ones, and the checked
/// principal's literal allow, a prefixed allow of another principal's, or nothing (allow.everyone.if.no.acl.found).
/// </summary>
[MemoryDiagnoser]
public class AuthorizerBenchmarks
{
    private KafkaAuthorizer _authorizer = null!;

    [GlobalSetup]
    public void Setup()
    {
        var bindings = new List<AclBinding>();
        for (var i = 0; i < 800; i++)
            bindings.Add(new AclBinding(AclResourceType.Topic, $"topic-{i}", AclPatternType.Literal, $"User:user-{i % 100}", "*", AclOperation.Read, AclPermissionType.Allow));
        for (var i = 0; i < 100; i++)
            bindings.Add(new AclBinding(AclResourceType.Topic, $"team-{i}-", AclPatternType.Prefixed, $"User:user-{i}", "*", AclOperation.Write, AclPermissionType.Allow));
        for (var i = 0; i < 100; i++)
            bindings.Add(new AclBinding(AclResourceType.Group, $"group-{i}", AclPatternType.Literal, $"User:user-{i}", "*", AclOperation.Read, AclPermissionType.Allow));
        bindings.Add(new AclBinding(AclResourceType.Topic, "orders", AclPatternType.Literal, "User:alice", "*", AclOperation.Write, AclPermissionType.Allow));
        _authorizer = new KafkaAuthorizer(Options.Create(new AuthorizerOptions { Enabled = true, AllowEveryoneIfNoAclFound = true }));
        _authorizer.Apply(new AclSnapshot(1, bindings));
    }

    [Benchmark(Description = "literal allow of the principal")]
    public bool LiteralAllow() => _authorizer.IsAllowed("User:alice", "127.0.0.1", AclOperation.Write, AclResourceType.Topic, "orders");

    [Benchmark(Description = "prefixed allow (100 prefixed bindings)")]
    public bool PrefixedAllow() => _authorizer.IsAllowed("User:user-42", "127.0.0.1", AclOperation.Write, AclResourceType.Topic, "team-42-events");

    [Benchmark(Description = "no binding names the topic (allow everyone)")]
    public bool NoAcls() => _authorizer.IsAllowed("User:ANONYMOUS", "127.0.0.1", AclOperation.Write, AclResourceType.Topic, "unnamed");
}
