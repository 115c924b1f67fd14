namespace OrleansStream.EndToEnd.Tests;

/// <summary><c>configs alter</c> and <c>configs describe</c> of the real CLI against a silo process, kafka-configs.sh's flags.</summary>
[Trait("Category", "Slow")]
public sealed class CliConfigsTests(SiloFixture silo) : IClassFixture<SiloFixture>
{
    private const string Topic = "e2e-configs";

    [Fact]
    public async Task Alter_sets_and_deletes_topic_configs_and_describe_shows_them()
    {
        Assert.Equal(0, (await silo.RunCliAsync("topics", "create", "--topic", Topic, "--config", "segment.ms=600000")).ExitCode);

        var alter = await silo.RunCliAsync("configs", "alter", "--entity-type", "topics", "--entity-name", Topic,
            "--add-config", "retention.ms=7200000,cleanup.policy=[delete,compact]", "--delete-config", "segment.ms");
        Assert.True(alter.ExitCode == 0, alter.ToString());
        Assert.Equal($"Completed updating config for topic {Topic}.", alter.Stdout.Trim());

        var describe = await silo.RunCliAsync("configs", "describe", "--entity-type", "topics", "--entity-name", Topic);
        Assert.True(describe.ExitCode == 0, describe.ToString());
        var lines = describe.StdoutLines;
        Assert.Equal($"All configs for topic {Topic} are:", lines[0]);
        Assert.Contains("  retention.ms=7200000 source=DYNAMIC_TOPIC_CONFIG sensitive=false read-only=false"
            + " synonyms={DYNAMIC_TOPIC_CONFIG:retention.ms=7200000, DEFAULT_CONFIG:log.retention.ms=604800000}", lines);
        Assert.Contains(lines, static l => l.StartsWith("  cleanup.policy=delete,compact source=DYNAMIC_TOPIC_CONFIG ", StringComparison.Ordinal));
        Assert.Contains(lines, static l => l.StartsWith("  segment.ms=604800000 source=DEFAULT_CONFIG ", StringComparison.Ordinal));

        var broker = await silo.RunCliAsync("configs", "describe", "--entity-type", "brokers");
        Assert.True(broker.ExitCode == 0, broker.ToString());
        Assert.Contains(broker.StdoutLines, static l => l.StartsWith("  log.retention.ms=", StringComparison.Ordinal) && l.Contains(" read-only=true ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_groups_configs_are_altered_and_described_as_kafka_configs_does_for_groups()
    {
        const string group = "e2e-configs-group";
        var alter = await silo.RunCliAsync("configs", "alter", "--entity-type", "groups", "--entity-name", group,
            "--add-config", "consumer.session.timeout.ms=60000");
        Assert.True(alter.ExitCode == 0, alter.ToString());
        Assert.Equal($"Completed updating config for group {group}.", alter.Stdout.Trim());

        var describe = await silo.RunCliAsync("configs", "describe", "--entity-type", "groups", "--entity-name", group);
        Assert.True(describe.ExitCode == 0, describe.ToString());
        Assert.Equal([
            $"All configs for group {group} are:",
            "  consumer.heartbeat.interval.ms=5000 source=DEFAULT_CONFIG sensitive=false read-only=false synonyms={DEFAULT_CONFIG:consumer.heartbeat.interval.ms=5000}",
            "  consumer.session.timeout.ms=60000 source=GROUP_CONFIG sensitive=false read-only=false synonyms={GROUP_CONFIG:consumer.session.timeout.ms=60000}",
        ], describe.StdoutLines);

        var refused = await silo.RunCliAsync("configs", "alter", "--entity-type", "groups", "--entity-name", group, "--add-config", "consumer.session.timeout.ms=5000");
        Assert.True(refused.ExitCode == 1, refused.ToString());
        Assert.Equal("orleansstream: InvalidConfig: consumer.session.timeout.ms must be greater than or equal to group.consumer.min.session.timeout.ms", refused.Stderr.Trim());
    }

    [Fact]
    public async Task Bad_flags_and_values_are_usage_errors_and_refused_configs_fail()
    {
        var badType = await silo.RunCliAsync("configs", "describe", "--entity-type", "users", "--entity-name", "x");
        Assert.Equal(2, badType.ExitCode);
        var noChange = await silo.RunCliAsync("configs", "alter", "--entity-type", "topics", "--entity-name", Topic);
        Assert.Equal(2, noChange.ExitCode);
        var notKeyValue = await silo.RunCliAsync("configs", "alter", "--entity-type", "topics", "--entity-name", Topic, "--add-config", "retention.ms");
        Assert.Equal(2, notKeyValue.ExitCode);

        var missing = await silo.RunCliAsync("configs", "describe", "--entity-type", "topics", "--entity-name", "e2e-configs-missing");
        Assert.True(missing.ExitCode == 1 && missing.Stdout.Length == 0, missing.ToString());
        Assert.StartsWith("orleansstream: UnknownTopicOrPartition: ", missing.Stderr);
    }
}
