namespace OrleansStream.EndToEnd.Tests;

/// <summary>
/// <c>acls</c> and <c>users</c> of the real CLI against a silo process: kafka-acls.sh's flags and listing, and SCRAM
/// users set, described and deleted as kafka-configs.sh --entity-type users does.
/// </summary>
[Trait("Category", "Slow")]
public sealed class CliSecurityTests(SiloFixture silo) : IClassFixture<SiloFixture>
{
    private static string Pattern(string type, string name, string pattern) => $"`ResourcePattern(resourceType={type}, name={name}, patternType={pattern})`:";

    [Fact]
    public async Task Acls_are_added_listed_per_resource_and_removed()
    {
        var topic = $"e2e-acl-{Guid.NewGuid():N}"[..20];
        var group = topic + "-g";

        var add = await silo.RunCliAsync("acls", "add", "--allow-principal", "User:alice", "--operation", "Read", "--operation", "write", "--topic", topic);
        Assert.True(add.ExitCode == 0, add.ToString());
        Assert.Equal(
            [
                "Adding ACLs for resource " + Pattern("TOPIC", topic, "LITERAL"),
                "\t(principal=User:alice, host=*, operation=READ, permissionType=ALLOW)",
                "\t(principal=User:alice, host=*, operation=WRITE, permissionType=ALLOW)",
            ],
            add.StdoutLines.Where(static l => l.Length > 0));
        var deny = await silo.RunCliAsync("acls", "add", "--deny-principal", "User:bob", "--operation", "DescribeConfigs", "--host", "10.0.0.1",
            "--group", group, "--resource-pattern-type", "prefixed");
        Assert.True(deny.ExitCode == 0, deny.ToString());

        var list = await silo.RunCliAsync("acls", "list", "--topic", topic);
        Assert.True(list.ExitCode == 0, list.ToString());
        Assert.Equal("Current ACLs for resource " + Pattern("TOPIC", topic, "LITERAL"), list.StdoutLines[0]);
        Assert.Equal(["\t(principal=User:alice, host=*, operation=READ, permissionType=ALLOW)", "\t(principal=User:alice, host=*, operation=WRITE, permissionType=ALLOW)"],
            list.StdoutLines.Skip(1).Where(static l => l.Length > 0).Order(StringComparer.Ordinal));
        var bobs = await silo.RunCliAsync("acls", "list", "--principal", "User:bob");
        Assert.True(bobs.ExitCode == 0, bobs.ToString());
        Assert.Contains("Current ACLs for resource " + Pattern("GROUP", group, "PREFIXED"), bobs.StdoutLines);
        Assert.Contains("\t(principal=User:bob, host=10.0.0.1, operation=DESCRIBE_CONFIGS, permissionType=DENY)", bobs.StdoutLines);
        Assert.DoesNotContain(bobs.StdoutLines, l => l.Contains(topic + ",", StringComparison.Ordinal));

        var remove = await silo.RunCliAsync("acls", "remove", "--topic", topic, "--allow-principal", "User:alice", "--operation", "Write");
        Assert.True(remove.ExitCode == 0, remove.ToString());
        Assert.Equal(["Removed ACLs for resource " + Pattern("TOPIC", topic, "LITERAL"), "\t(principal=User:alice, host=*, operation=WRITE, permissionType=ALLOW)"],
            remove.StdoutLines.Where(static l => l.Length > 0));
        var left = await silo.RunCliAsync("acls", "list", "--topic", topic, "--resource-pattern-type", "match");
        Assert.Equal(["\t(principal=User:alice, host=*, operation=READ, permissionType=ALLOW)"], left.StdoutLines.Where(static l => l.StartsWith('\t')));
        var all = await silo.RunCliAsync("acls", "remove", "--group", group, "--resource-pattern-type", "prefixed");
        Assert.True(all.ExitCode == 0, all.ToString());
        Assert.Contains("\t(principal=User:bob, host=10.0.0.1, operation=DESCRIBE_CONFIGS, permissionType=DENY)", all.StdoutLines);
        Assert.Equal("No ACLs matched.", (await silo.RunCliAsync("acls", "remove", "--group", group, "--resource-pattern-type", "prefixed")).Stdout.Trim());
    }

    [Fact]
    public async Task Bad_acl_flags_are_usage_errors_and_a_refused_binding_fails_with_Kafkas_error()
    {
        Assert.Equal(2, (await silo.RunCliAsync("acls", "add", "--allow-principal", "User:alice", "--operation", "Read")).ExitCode);
        Assert.Equal(2, (await silo.RunCliAsync("acls", "add", "--allow-principal", "User:alice", "--operation", "Fly", "--topic", "t")).ExitCode);
        Assert.Equal(2, (await silo.RunCliAsync("acls", "add", "--allow-principal", "alice", "--operation", "Read", "--topic", "t")).ExitCode);
        Assert.Equal(2, (await silo.RunCliAsync("acls", "list", "--topic", "t", "--cluster")).ExitCode);
        Assert.Equal(2, (await silo.RunCliAsync("acls", "add", "--allow-principal", "User:alice", "--operation", "Read", "--topic", "t", "--resource-pattern-type", "match")).ExitCode);

        var empty = await silo.RunCliAsync("acls", "add", "--allow-principal", "User:alice", "--operation", "Read", "--topic", "");
        Assert.True(empty.ExitCode == 1 && empty.Stdout.Length == 0, empty.ToString());
        Assert.Equal("orleansstream: InvalidRequest: Invalid empty resource name", empty.Stderr.Trim());
    }

    [Fact]
    public async Task Scram_users_are_set_described_and_deleted_and_Kafkas_refusals_fail()
    {
        var user = $"e2e-user-{Guid.NewGuid():N}"[..20];

        var set = await silo.RunCliAsync("users", "set-scram", "--user", user, "--mechanism", "SCRAM-SHA-256", "--iterations", "8192", "--password", "secret-256");
        Assert.True(set.ExitCode == 0, set.ToString());
        Assert.Equal($"Completed updating config for user {user}.", set.Stdout.Trim());
        var fromStdin = await silo.RunCliWithInputAsync("secret-512\n", "users", "set-scram", "--user", user, "--mechanism", "SCRAM-SHA-512");
        Assert.True(fromStdin.ExitCode == 0, fromStdin.ToString());

        var describe = await silo.RunCliAsync("users", "describe", "--user", user);
        Assert.True(describe.ExitCode == 0, describe.ToString());
        Assert.Equal($"SCRAM credential configs for user-principal '{user}' are SCRAM-SHA-256=iterations=8192, SCRAM-SHA-512=iterations=4096", describe.Stdout.Trim());

        var delete = await silo.RunCliAsync("users", "delete-scram", "--user", user, "--mechanism", "SCRAM-SHA-256");
        Assert.True(delete.ExitCode == 0, delete.ToString());
        Assert.Contains($"SCRAM credential configs for user-principal '{user}' are SCRAM-SHA-512=iterations=4096", (await silo.RunCliAsync("users", "describe")).StdoutLines);

        var again = await silo.RunCliAsync("users", "delete-scram", "--user", user, "--mechanism", "SCRAM-SHA-256");
        Assert.True(again.ExitCode == 1, again.ToString());
        Assert.Equal("orleansstream: ResourceNotFound: Attempt to delete a user credential that does not exist", again.Stderr.Trim());
        var few = await silo.RunCliAsync("users", "set-scram", "--user", user, "--mechanism", "SCRAM-SHA-256", "--iterations", "100", "--password", "p");
        Assert.True(few.ExitCode == 1, few.ToString());
        Assert.Equal("orleansstream: UnacceptableCredential: Too few iterations", few.Stderr.Trim());
        var missing = await silo.RunCliAsync("users", "describe", "--user", user + "-none");
        Assert.True(missing.ExitCode == 1, missing.ToString());
        Assert.StartsWith("orleansstream: ResourceNotFound: Attempt to describe a user credential that does not exist", missing.Stderr);

        Assert.Equal(2, (await silo.RunCliAsync("users", "set-scram", "--user", user, "--mechanism", "SCRAM-SHA-1", "--password", "p")).ExitCode);
        Assert.Equal(2, (await silo.RunCliAsync("users", "delete-scram", "--mechanism", "SCRAM-SHA-256")).ExitCode);
    }
}
