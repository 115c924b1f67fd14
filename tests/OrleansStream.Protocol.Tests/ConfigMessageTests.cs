using OrleansStream.Protocol.Messages;
using OrleansStream.Records;

namespace OrleansStream.Protocol.Tests;

/// <summary>DescribeConfigs, AlterConfigs, IncrementalAlterConfigs and DeleteRecords, byte for byte against Kafka's message schemas.</summary>
public class ConfigMessageTests
{
    private const string RetentionMs = "000c 726574656e74696f6e2e6d73";
    private const string Value1000 = "0004 31303030";

    [Fact]
    public void DescribeConfigs_v1_request_asks_for_every_config_of_a_topic_with_synonyms()
    {
        var bytes = Hex.Parse("00000001 02 0001 74 ffffffff 01");
        var r = new KafkaReader(bytes);

        var request = DescribeConfigsRequest.Read(ref r, 1);

        Assert.Equal(0, r.Remaining);
        var resource = Assert.Single(request.Resources);
        Assert.Equal((ConfigResourceType.Topic, "t"), (resource.Type, resource.Name));
        Assert.Null(resource.ConfigNames);
        Assert.True(request.IncludeSynonyms);
        using var w = new KafkaWriter();
        request.Write(w, 1);
        Assert.Equal(bytes, w.WrittenSpan.ToArray());
    }

    [Fact]
    public void DescribeConfigs_v0_request_names_configs_and_has_no_synonyms_flag()
    {
        var bytes = Hex.Parse($"00000001 04 0001 31 00000001 {RetentionMs}");
        var r = new KafkaReader(bytes);

        var request = DescribeConfigsRequest.Read(ref r, 0);

        Assert.Equal(0, r.Remaining);
        Assert.Equal(["retention.ms"], request.Resources[0].ConfigNames);
        Assert.Equal(ConfigResourceType.Broker, request.Resources[0].Type);
        Assert.False(request.IncludeSynonyms);
    }

    private static DescribeConfigsResponse OneTopicConfig() => new([new DescribeConfigsResult(ErrorCode.None, null, ConfigResourceType.Topic, "t",
        [new DescribedConfig("retention.ms", "1000", false, ConfigSource.DynamicTopicConfig, false, [new ConfigSynonym("retention.ms", "1000", ConfigSource.DynamicTopicConfig)])])]);

    [Fact]
    public void DescribeConfigs_v1_response_has_the_source_and_synonyms()
    {
        using var w = new KafkaWriter();
        OneTopicConfig().Write(w, 1);

        Assert.Equal(Hex.Parse($"00000000 00000001 0000 ffff 02 0001 74 00000001 {RetentionMs} {Value1000} 00 01 00 00000001 {RetentionMs} {Value1000} 01"),
            w.WrittenSpan.ToArray());
    }

    [Fact]
    public void DescribeConfigs_v0_response_says_is_default_instead_of_the_source()
    {
        using var w = new KafkaWriter();
        OneTopicConfig().Write(w, 0);

        Assert.Equal(Hex.Parse($"00000000 00000001 0000 ffff 02 0001 74 00000001 {RetentionMs} {Value1000} 00 00 00"), w.WrittenSpan.ToArray());
    }

    [Fact]
    public void DescribeConfigs_v3_request_asks_for_documentation()
    {
        var bytes = Hex.Parse("00000001 02 0001 74 ffffffff 00 01");
        var r = new KafkaReader(bytes);

        var request = DescribeConfigsRequest.Read(ref r, 3);

        Assert.Equal(0, r.Remaining);
        Assert.False(request.IncludeSynonyms);
        Assert.True(request.IncludeDocumentation);
        using var w = new KafkaWriter();
        request.Write(w, 3);
        Assert.Equal(bytes, w.WrittenSpan.ToArray());
    }

    [Fact]
    public void DescribeConfigs_v4_request_is_flexible()
    {
        // Compact arrays and strings (length + 1), a resource's tags, then synonyms, documentation and the request's tags.
        var bytes = Hex.Parse("02 02 0274 02 0d726574656e74696f6e2e6d73 00 01 01 00");
        var r = new KafkaReader(bytes);

        var request = DescribeConfigsRequest.Read(ref r, 4);

        Assert.Equal(0, r.Remaining);
        var resource = Assert.Single(request.Resources);
        Assert.Equal((ConfigResourceType.Topic, "t"), (resource.Type, resource.Name));
        Assert.Equal(["retention.ms"], resource.ConfigNames);
        Assert.True(request.IncludeSynonyms);
        Assert.True(request.IncludeDocumentation);
        using var w = new KafkaWriter();
        request.Write(w, 4);
        Assert.Equal(bytes, w.WrittenSpan.ToArray());
    }

    private static DescribeConfigsResponse OneTypedTopicConfig(string? documentation) => new([new DescribeConfigsResult(ErrorCode.None, null, ConfigResourceType.Topic, "t",
        [new DescribedConfig("retention.ms", "1000", false, ConfigSource.DynamicTopicConfig, false, [new ConfigSynonym("retention.ms", "1000", ConfigSource.DynamicTopicConfig)],
            ConfigType.Long, documentation)])]);

    [Fact]
    public void DescribeConfigs_v3_response_adds_the_type_and_documentation()
    {
        using var w = new KafkaWriter();
        OneTypedTopicConfig("d").Write(w, 3);

        Assert.Equal(Hex.Parse($"00000000 00000001 0000 ffff 02 0001 74 00000001 {RetentionMs} {Value1000} 00 01 00 00000001 {RetentionMs} {Value1000} 01 05 0001 64"),
            w.WrittenSpan.ToArray());
    }

    [Fact]
    public void DescribeConfigs_v4_response_is_flexible()
    {
        using var w = new KafkaWriter();
        OneTypedTopicConfig(null).Write(w, 4);

        const string compactName = "0d 726574656e74696f6e2e6d73";
        const string compactValue = "05 31303030";
        Assert.Equal(Hex.Parse($"00000000 02 0000 00 02 0274 02 {compactName} {compactValue} 00 01 00 02 {compactName} {compactValue} 01 00 05 00 00 00 00"),
            w.WrittenSpan.ToArray());
    }

    [Fact]
    public void IncrementalAlterConfigs_v0_request_carries_an_op_per_config()
    {
        var bytes = Hex.Parse("00000001 02 0001 74 00000002 000e 636c65616e75702e706f6c696379 02 0007 636f6d70616374 " + RetentionMs + " 01 ffff 00");
        var r = new KafkaReader(bytes);

        var request = AlterConfigsRequest.ReadIncrementalAlterConfigs(ref r, 0);

        Assert.Equal(0, r.Remaining);
        Assert.Equal([new AlterConfigsEntry("cleanup.policy", 2, "compact"), new AlterConfigsEntry("retention.ms", 1, null)], request.Resources[0].Configs);
        Assert.False(request.ValidateOnly);
        using var w = new KafkaWriter();
        request.Write(w, incremental: true);
        Assert.Equal(bytes, w.WrittenSpan.ToArray());
    }

    [Fact]
    public void AlterConfigs_v1_request_has_no_op_and_a_validate_only_flag()
    {
        var bytes = Hex.Parse($"00000001 02 0001 74 00000001 {RetentionMs} {Value1000} 01");
        var r = new KafkaReader(bytes);

        var request = AlterConfigsRequest.ReadAlterConfigs(ref r, 1);

        Assert.Equal(0, r.Remaining);
        Assert.Equal([new AlterConfigsEntry("retention.ms", 0, "1000")], request.Resources[0].Configs);
        Assert.True(request.ValidateOnly);
    }

    [Fact]
    public void AlterConfigs_response_has_each_resources_error()
    {
        using var w = new KafkaWriter();
        new AlterConfigsResponse([new AlterConfigsResult(ErrorCode.InvalidConfig, "bad", ConfigResourceType.Topic, "t")]).Write(w, flexible: false);

        Assert.Equal(Hex.Parse("00000000 00000001 0028 0003 626164 02 0001 74"), w.WrittenSpan.ToArray());
    }

    [Fact]
    public void DeleteRecords_v1_request_and_response()
    {
        var bytes = Hex.Parse("00000001 0001 74 00000001 00000000 000000000000000a 00007530");
        var r = new KafkaReader(bytes);

        var request = DeleteRecordsRequest.Read(ref r, 1);
        using var w = new KafkaWriter();
        new DeleteRecordsResponse([new DeleteRecordsTopicResult("t", [new DeleteRecordsPartitionResult(0, 10, ErrorCode.None)])]).Write(w, 1);

        Assert.Equal(0, r.Remaining);
        Assert.Equal(new DeleteRecordsPartition(0, 10), Assert.Single(request.Topics[0].Partitions));
        Assert.Equal(30_000, request.TimeoutMs);
        Assert.Equal(Hex.Parse("00000000 00000001 0001 74 00000001 00000000 000000000000000a 0000"), w.WrittenSpan.ToArray());
    }
}
