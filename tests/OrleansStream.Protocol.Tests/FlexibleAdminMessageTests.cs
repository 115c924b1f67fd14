using OrleansStream.Protocol.Messages;
using OrleansStream.Records;

namespace OrleansStream.Protocol.Tests;

/// <summary>
/// The admin APIs whose newest version librdkafka 2.16 asks only adds Kafka's flexible encoding (compact strings and
/// arrays, tagged fields): DeleteTopics v4, CreatePartitions v2 (and v3, the same), DeleteGroups v2, DeleteRecords v2, AlterConfigs v2 and
/// IncrementalAlterConfigs v1, each request read from and written back to the bytes Kafka's schema lays out, each response
/// written as Kafka writes it.
/// </summary>
public class FlexibleAdminMessageTests
{
    private const string TimeoutMs30000 = "00007530";

    [Fact]
    public void DeleteTopics_v4()
    {
        // topics [ "t" ], timeout 30000
        var bytes = Hex.Parse($"02 0274 {TimeoutMs30000} 00");
        var read = ReadWriteBack(bytes, DeleteTopicsRequest.Read, (r, w) => r.Write(w, 4), 4);
        Assert.Equal([new DeleteTopicState("t", Guid.Empty)], read.Topics);
        Assert.Equal(30_000, read.TimeoutMs);

        using var w = new KafkaWriter();
        new TopicErrorsResponse([new TopicError("t", ErrorCode.UnknownTopicOrPartition, "gone")]).WriteDeleteTopics(w, 4);
        Assert.Equal(Hex.Parse("00000000 02 0274 0003 00 00"), w.WrittenSpan.ToArray());
    }

    /// <summary>
    /// DeleteTopics v5 answers messages; v6 (KIP-516) names each topic by name or by id, and its answer gives each
    /// topic's id, a null name for an id no topic has.
    /// </summary>
    [Fact]
    public void DeleteTopics_v5_and_v6()
    {
        var id = Guid.Parse("00112233-4455-6677-8899-aabbccddeeff");
        // topics [ { name null, id } { name "t", zero id } ], timeout 30000
        var bytes = Hex.Parse($"03 00 00112233445566778899aabbccddeeff 00 0274 00000000000000000000000000000000 00 {TimeoutMs30000} 00");
        var read = ReadWriteBack(bytes, DeleteTopicsRequest.Read, (r, w) => r.Write(w, 6), 6);
        Assert.Equal([new DeleteTopicState(null, id), new DeleteTopicState("t", Guid.Empty)], read.Topics);

        var response = new TopicErrorsResponse([new TopicError(null, ErrorCode.UnknownTopicId, "x", id), new TopicError("t", ErrorCode.None, null, id)]);
        using var w5 = new KafkaWriter();
        response.WriteDeleteTopics(w5, 5);
        Assert.Equal(Hex.Parse("00000000 03 01 0064 0278 00 0274 0000 00 00 00"), w5.WrittenSpan.ToArray());
        using var w6 = new KafkaWriter();
        response.WriteDeleteTopics(w6, 6);
        Assert.Equal(Hex.Parse(
            "00000000 03" +
            "00 00112233445566778899aabbccddeeff 0064 0278 00" +    // null name, id, UnknownTopicId, message
            "0274 00112233445566778899aabbccddeeff 0000 00 00" +    // "t", its id, no error, null message
            "00"), w6.WrittenSpan.ToArray());
    }

    /// <summary>
    /// CreateTopics v5 is flexible, and its answer (KIP-525) gives each topic made its partition count, replication
    /// factor and configs with their sources; v7 adds the topic's id after its name.
    /// </summary>
    [Fact]
    public void CreateTopics_v5_to_v7()
    {
        // topics [ "t" 3 partitions rf -1, no assignments, configs [ cleanup.policy=compact ] ], timeout 30000, validate_only true
        var bytes = Hex.Parse($"02 0274 00000003 ffff 01 02 0f636c65616e75702e706f6c696379 08636f6d70616374 00 00 {TimeoutMs30000} 01 00");
        var read = ReadWriteBack(bytes, CreateTopicsRequest.Read, (r, w) => r.Write(w, 5), 5);
        var topic = Assert.Single(read.Topics);
        Assert.Equal(("t", 3, (short)-1, true), (topic.Name, topic.NumPartitions, topic.ReplicationFactor, read.ValidateOnly));
        Assert.Equal([new KeyValuePair<string, string?>("cleanup.policy", "compact")], topic.Configs);

        var id = Guid.Parse("00112233-4455-6677-8899-aabbccddeeff");
        var response = new CreateTopicsResponse([
            new CreatableTopicResult("t", id, ErrorCode.None, null, 3, 2, [new CreatableTopicConfig("a", "b", false, ConfigSource.DynamicTopicConfig, false)]),
            new CreatableTopicResult("u", Guid.Empty, ErrorCode.TopicAlreadyExists, "x")]);
        using var w5 = new KafkaWriter();
        response.Write(w5, 5);
        Assert.Equal(Hex.Parse(
            "00000000 03" +
            "0274 0000 00 00000003 0002 02 0261 0262 00 01 00 00 00" +   // name, error, message, partitions, rf, configs [a=b dynamic topic], tags
            "0275 0024 0278 ffffffff ffff 00 00" +                      // an error: -1, -1, null configs
            "00"), w5.WrittenSpan.ToArray());
        using var w7 = new KafkaWriter();
        response.Write(w7, 7);
        var back = new KafkaReader(w7.WrittenSpan);
        var topics = CreateTopicsResponse.Read(ref back, 7).Topics;
        Assert.Equal(0, back.Remaining);
        Assert.Equal((id, 3, (short)2), (topics[0].TopicId, topics[0].NumPartitions, topics[0].ReplicationFactor));
        Assert.Equal(response.Topics[0].Configs, topics[0].Configs);
        Assert.Equal((ErrorCode.TopicAlreadyExists, "x", (IReadOnlyList<CreatableTopicConfig>?)null), (topics[1].Error, topics[1].ErrorMessage, topics[1].Configs));
    }

    [Fact]
    public void CreatePartitions_v2()
    {
        // topics [ "t" count 3 assignments null ], timeout 30000, validate_only false
        var bytes = Hex.Parse($"02 0274 00000003 00 00 {TimeoutMs30000} 00 00");
        var read = ReadWriteBack(bytes, CreatePartitionsRequest.Read, (r, w) => r.Write(w, 2), 2);
        Assert.Equal(new CreatePartitionsTopic("t", 3, false), Assert.Single(read.Topics));

        using var w = new KafkaWriter();
        new TopicErrorsResponse([new TopicError("t", ErrorCode.InvalidPartitions, "x")]).WriteCreatePartitions(w, 2);
        Assert.Equal(Hex.Parse("00000000 02 0274 0025 0278 00 00"), w.WrittenSpan.ToArray());
    }

    /// <summary>CreatePartitions v3 (KIP-599) lays out as v2; its answer may refuse a topic ThrottlingQuotaExceeded with a throttle time.</summary>
    [Fact]
    public void CreatePartitions_v3_is_v2_and_answers_ThrottlingQuotaExceeded()
    {
        var bytes = Hex.Parse($"02 0274 00000003 00 00 {TimeoutMs30000} 00 00");
        var read = ReadWriteBack(bytes, CreatePartitionsRequest.Read, (r, w) => r.Write(w, 3), 3);
        Assert.Equal(new CreatePartitionsTopic("t", 3, false), Assert.Single(read.Topics));

        using var w = new KafkaWriter();
        new TopicErrorsResponse([new TopicError("t", ErrorCode.ThrottlingQuotaExceeded, "x")], ThrottleTimeMs: 1500).WriteCreatePartitions(w, 3);
        Assert.Equal(Hex.Parse("000005dc 02 0274 0059 0278 00 00"), w.WrittenSpan.ToArray());
    }

    [Fact]
    public void CreatePartitions_v2_reads_a_manual_assignment_with_its_tagged_fields()
    {
        // topics [ "t" count 2 assignments [ [ broker 1 ] ] ], timeout 30000, validate_only true
        var bytes = Hex.Parse($"02 0274 00000002 02 02 00000001 00 00 {TimeoutMs30000} 01 00");
        var r = new KafkaReader(bytes);
        var read = CreatePartitionsRequest.Read(ref r, 2);
        Assert.Equal(0, r.Remaining);
        Assert.Equal(new CreatePartitionsTopic("t", 2, true), Assert.Single(read.Topics));
        Assert.True(read.ValidateOnly);
    }

    [Fact]
    public void DeleteGroups_v2()
    {
        var bytes = Hex.Parse("02 0267 00");
        var read = ReadWriteBack(bytes, GroupsRequest.ReadDeleteGroups, (r, w) => r.WriteDeleteGroups(w, 2), 2);
        Assert.Equal(["g"], read.Groups);

        using var w = new KafkaWriter();
        new DeleteGroupsResponse([("g", ErrorCode.NonEmptyGroup)]).Write(w, 2);
        Assert.Equal(Hex.Parse("00000000 02 0267 0044 00 00"), w.WrittenSpan.ToArray());
    }

    [Fact]
    public void DeleteRecords_v2()
    {
        // topics [ "t" [ partition 0 offset 10 ] ], timeout 30000
        var bytes = Hex.Parse($"02 0274 02 00000000 000000000000000a 00 00 {TimeoutMs30000} 00");
        var read = ReadWriteBack(bytes, DeleteRecordsRequest.Read, (r, w) => r.Write(w, 2), 2);
        Assert.Equal(new DeleteRecordsPartition(0, 10), Assert.Single(Assert.Single(read.Topics).Partitions));

        using var w = new KafkaWriter();
        new DeleteRecordsResponse([new DeleteRecordsTopicResult("t", [new DeleteRecordsPartitionResult(0, 10, ErrorCode.None)])]).Write(w, 2);
        Assert.Equal(Hex.Parse("00000000 02 0274 02 00000000 000000000000000a 0000 00 00 00"), w.WrittenSpan.ToArray());
    }

    [Fact]
    public void AlterConfigs_v2_and_IncrementalAlterConfigs_v1()
    {
        // resources [ topic "t" configs [ "retention.ms" (op SET) "1000" ] ], validate_only false
        const string retentionMs = "0d 726574656e74696f6e2e6d73";
        var plain = Hex.Parse($"02 02 0274 02 {retentionMs} 05 31303030 00 00 00 00");
        var incremental = Hex.Parse($"02 02 0274 02 {retentionMs} 00 05 31303030 00 00 00 00");

        var alter = ReadWriteBack(plain, AlterConfigsRequest.ReadAlterConfigs, (r, w) => r.Write(w, incremental: false, flexible: true), 2);
        var incrementalRead = ReadWriteBack(incremental, AlterConfigsRequest.ReadIncrementalAlterConfigs, (r, w) => r.Write(w, incremental: true, flexible: true), 1);

        Assert.Equal(new AlterConfigsEntry("retention.ms", 0, "1000"), Assert.Single(Assert.Single(alter.Resources).Configs));
        Assert.Equal(new AlterConfigsEntry("retention.ms", 0, "1000"), Assert.Single(Assert.Single(incrementalRead.Resources).Configs));
        using var w = new KafkaWriter();
        new AlterConfigsResponse([new AlterConfigsResult(ErrorCode.InvalidConfig, null, ConfigResourceType.Topic, "t")]).Write(w, flexible: true);
        Assert.Equal(Hex.Parse("00000000 02 0028 00 02 0274 00 00"), w.WrittenSpan.ToArray());
    }

    [Fact]
    public void DescribeGroups_v5_asks_for_authorized_operations_and_answers_members_instance_ids()
    {
        // groups [ "g" ], include_authorized_operations true
        var bytes = Hex.Parse("02 0267 01 00");
        var read = ReadWriteBack(bytes, GroupsRequest.ReadDescribeGroups, (r, w) => r.WriteDescribeGroups(w, 5), 5);
        Assert.Equal(["g"], read.Groups);
        Assert.True(read.IncludeAuthorizedOperations);

        using var w = new KafkaWriter();
        new DescribeGroupsResponse([new DescribedGroup(ErrorCode.None, "g", "Stable", "consumer", "range",
            [new DescribedGroupMember("m", "i", "c", "", [1], [2])], 3400)]).Write(w, 5);
        // throttle, groups [ error, "g", "Stable", "consumer", "range", members [ "m", instance "i", client "c", host "", metadata, assignment ], operations ]
        Assert.Equal(Hex.Parse("00000000 02 0000 0267 07537461626c65 09636f6e73756d6572 0672616e6765 02 026d 0269 0263 01 0201 0202 00 00000d48 00 00"),
            w.WrittenSpan.ToArray());
    }

    [Fact]
    public void ListGroups_v5_filters_by_state_and_type_and_answers_each_groups_state_and_type()
    {
        // states_filter [ "Stable" ], types_filter [ "classic" ]
        var bytes = Hex.Parse("02 07537461626c65 02 08636c6173736963 00");
        var read = ReadWriteBack(bytes, ListGroupsRequest.Read, (r, w) => r.Write(w, 5), 5);
        Assert.Equal(["Stable"], read.StatesFilter);
        Assert.Equal(["classic"], read.TypesFilter);

        using var w = new KafkaWriter();
        new ListGroupsResponse(ErrorCode.None, [new ListedGroup("g", "consumer", "Stable", "classic")]).Write(w, 5);
        Assert.Equal(Hex.Parse("00000000 0000 02 0267 09636f6e73756d6572 07537461626c65 08636c6173736963 00 00"), w.WrittenSpan.ToArray());
        using var v2 = new KafkaWriter();
        new ListGroupsResponse(ErrorCode.None, [new ListedGroup("g", "consumer", "", "classic")]).Write(v2, 2);
        Assert.Equal(Hex.Parse("00000000 0000 00000001 0001 67 0008 636f6e73756d6572"), v2.WrittenSpan.ToArray());
    }

    /// <summary>Reads a message from Kafka's bytes (all of them), writes it back, and checks the bytes are the same.</summary>
    internal static T ReadWriteBack<T>(byte[] bytes, PartitionReader<T> read, Action<T, KafkaWriter> write, short version)
    {
        var r = new KafkaReader(bytes);
        var message = read(ref r, version);
        Assert.Equal(0, r.Remaining);
        using var w = new KafkaWriter();
        write(message, w);
        Assert.Equal(bytes, w.WrittenSpan.ToArray());
        return message;
    }
}
