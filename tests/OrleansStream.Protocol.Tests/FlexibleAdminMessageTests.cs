using OrleansStream.Protocol.Messages;
using OrleansStream.Records;

namespace OrleansStream.Protocol.Tests;

/// <summary>
/// The admin APIs whose newest version librdkafka 2.16 asks only adds Kafka's flexible encoding (compact strings and
/// arrays, tagged fields): DeleteTopics v4, CreatePartitions v2, DeleteGroups v2, DeleteRecords v2, AlterConfigs v2 and
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
        Assert.Equal(["t"], read.TopicNames);
        Assert.Equal(30_000, read.TimeoutMs);

        using var w = new KafkaWriter();
        new TopicErrorsResponse([new TopicError("t", ErrorCode.UnknownTopicOrPartition, "gone")]).WriteDeleteTopics(w, 4);
        Assert.Equal(Hex.Parse("00000000 02 0274 0003 00 00"), w.WrittenSpan.ToArray());
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

    private static T ReadWriteBack<T>(byte[] bytes, PartitionReader<T> read, Action<T, KafkaWriter> write, short version)
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
