using OrleansStream.Protocol.Messages;
using OrleansStream.Records;

namespace OrleansStream.Protocol.Tests;

/// <summary>
/// KIP-848's consumer group APIs, flexible from their first version: ConsumerGroupHeartbeat v0-1 and
/// ConsumerGroupDescribe v0. Each request is read from and written back to the bytes Kafka's schema lays out (one as
/// librdkafka writes it); each response is written as Kafka writes it and read back.
/// </summary>
public class ConsumerGroupMessageTests
{
    private const string TopicId = "00112233445566778899aabbccddeeff";
    private const string RebalanceTimeoutMs300000 = "000493e0";
    private static readonly Guid Id = Guid.Parse("00112233-4455-6677-8899-aabbccddeeff");

    [Fact]
    public void Heartbeat_v0_join()
    {
        var bytes = Hex.Parse(
            "0267" +                                // group "g"
            "01" +                                  // member id ""
            "00000000" +                            // member epoch 0: join
            "00 00" +                               // instance id null, rack id null
            RebalanceTimeoutMs300000 +
            "02 0274" +                             // subscribed topic names [ "t" ]
            "00" +                                  // server assignor null (no regex before v1)
            "01" +                                  // topic partitions []
            "00");                                  // tagged fields
        var read = FlexibleAdminMessageTests.ReadWriteBack(bytes, ConsumerGroupHeartbeatRequest.Read, (r, w) => r.Write(w, 0), 0);
        Assert.Equal(("g", "", 0, (string?)null, (string?)null, 300_000), (read.GroupId, read.MemberId, read.MemberEpoch, read.InstanceId, read.RackId, read.RebalanceTimeoutMs));
        Assert.Equal(["t"], read.SubscribedTopicNames!);
        Assert.Null(read.SubscribedTopicRegex);
        Assert.Null(read.ServerAssignor);
        Assert.Empty(read.TopicPartitions!);
    }

    [Fact]
    public void Heartbeat_v1_join_has_the_regex_after_the_topic_names()
    {
        var bytes = Hex.Parse(
            $"0267 01 00000000 00 00 {RebalanceTimeoutMs300000}" +
            "03 0274 0275" +                        // subscribed topic names [ "t" "u" ]
            "00" +                                  // subscribed topic regex null
            "06 72616e6765" +                       // server assignor "range"
            "01 00");                               // topic partitions [], tagged fields
        var read = FlexibleAdminMessageTests.ReadWriteBack(bytes, ConsumerGroupHeartbeatRequest.Read, (r, w) => r.Write(w, 1), 1);
        Assert.Equal(["t", "u"], read.SubscribedTopicNames!);
        Assert.Null(read.SubscribedTopicRegex);
        Assert.Equal("range", read.ServerAssignor);
        Assert.Empty(read.TopicPartitions!);

        // The same request with a regex: v1 writes it, v0 has no place for it.
        var regex = read with { SubscribedTopicRegex = "t.*" };
        using var w1 = new KafkaWriter();
        regex.Write(w1, 1);
        Assert.Equal(Hex.Parse($"0267 01 00000000 00 00 {RebalanceTimeoutMs300000} 03 0274 0275 04 742e2a 06 72616e6765 01 00"), w1.WrittenSpan.ToArray());
        using var w0 = new KafkaWriter();
        regex.Write(w0, 0);
        Assert.Equal(Hex.Parse($"0267 01 00000000 00 00 {RebalanceTimeoutMs300000} 03 0274 0275 06 72616e6765 01 00"), w0.WrittenSpan.ToArray());
    }

    [Fact]
    public void A_plain_heartbeat_leaves_every_unchanged_field_null()
    {
        var bytes = Hex.Parse(
            "0267 026d" +                           // group "g", member "m"
            "00000005" +                            // member epoch 5
            "00 00" +                               // instance id, rack id
            "ffffffff" +                            // rebalance timeout -1: unchanged
            "00 00 00" +                            // topic names, regex, server assignor: null
            "00" +                                  // topic partitions null
            "00");
        var read = FlexibleAdminMessageTests.ReadWriteBack(bytes, ConsumerGroupHeartbeatRequest.Read, (r, w) => r.Write(w, 1), 1);
        Assert.Equal(new ConsumerGroupHeartbeatRequest("g", "m", 5, null, null, -1, null, null, null, null), read);
    }

    /// <summary>
    /// librdkafka's <c>rd_kafka_ConsumerGroupHeartbeatRequest</c> writes v1 only, in the schema's order: its member id is
    /// one it made itself (KIP-1082: a random uuid in base64, 22 characters, even on the first join), the rebalance
    /// timeout is <c>max.poll.interval.ms</c>, the subscribed names go out last to first, the regex is written null when
    /// there is none, and the owned partitions by topic id, each partition a bare int32 (so only each topic has tags).
    /// </summary>
    [Fact]
    public void Heartbeat_v1_as_librdkafka_writes_it()
    {
        const string memberId = "17 41414543417751464267634943516f4c4441304f4477";  // "AAECAwQFBgcICQoLDA0ODw"
        // A full join: group.instance.id "i", client.rack "r", subscription [ "a" "b" ] written reversed, group.remote.assignor
        // "uniform", the current assignment an empty list (not null).
        var join = Hex.Parse($"0267 {memberId} 00000000 0269 0272 {RebalanceTimeoutMs300000} 03 0262 0261 00 08 756e69666f726d 01 00");
        var read = FlexibleAdminMessageTests.ReadWriteBack(join, ConsumerGroupHeartbeatRequest.Read, (r, w) => r.Write(w, 1), 1);
        Assert.Equal(("AAECAwQFBgcICQoLDA0ODw", 0, "i", "r"), (read.MemberId, read.MemberEpoch, read.InstanceId, read.RackId));
        Assert.Equal(["b", "a"], read.SubscribedTopicNames!);
        Assert.Equal(((string?)null, "uniform"), (read.SubscribedTopicRegex, read.ServerAssignor));
        Assert.Empty(read.TopicPartitions!);

        // Acknowledging its target assignment (not a full request): no instance, rack, subscription or assignor; -1 timeout.
        var ack = Hex.Parse($"0267 {memberId} 00000001 00 00 ffffffff 00 00 00 02 {TopicId} 03 00000000 00000001 00 00");
        read = FlexibleAdminMessageTests.ReadWriteBack(ack, ConsumerGroupHeartbeatRequest.Read, (r, w) => r.Write(w, 1), 1);
        Assert.Equal(1, read.MemberEpoch);
        Assert.Null(read.SubscribedTopicNames);
        var owned = Assert.Single(read.TopicPartitions!);
        Assert.Equal(Id, owned.TopicId);
        Assert.Equal([0, 1], owned.Partitions);
    }

    [Fact]
    public void Heartbeat_reads_past_unknown_tagged_fields_and_refuses_a_short_frame()
    {
        // A tag (7, 2 bytes) in the owned topic and one (9, 1 byte) at the top level.
        var bytes = Hex.Parse($"0267 026d 00000005 00 00 ffffffff 00 00 00 02 {TopicId} 01 01 07 02 abcd 01 09 01 ef");
        var r = new KafkaReader(bytes);
        var read = ConsumerGroupHeartbeatRequest.Read(ref r, 1);
        Assert.Equal(0, r.Remaining);
        Assert.Equal(Id, Assert.Single(read.TopicPartitions!).TopicId);

        Assert.Throws<KafkaProtocolException>(() =>
        {
            var shortFrame = new KafkaReader(bytes.AsSpan(0, bytes.Length - 1));
            ConsumerGroupHeartbeatRequest.Read(ref shortFrame, 1);
        });
        // A null group id (a required string).
        Assert.Throws<KafkaProtocolException>(() =>
        {
            var nullGroup = new KafkaReader(Hex.Parse("00 026d 00000005 00 00 ffffffff 00 00 00 00 00"));
            ConsumerGroupHeartbeatRequest.Read(ref nullGroup, 1);
        });
    }

    [Fact]
    public void Heartbeat_response_with_an_assignment()
    {
        var response = new ConsumerGroupHeartbeatResponse(ErrorCode.None, null, "m", 1, 5000, [new ConsumerGroupTopicPartitions(Id, [0, 1])]);
        using var w = new KafkaWriter();
        response.Write(w, 1);
        Assert.Equal(Hex.Parse(
            "00000000 0000 00" +                    // throttle, no error, null message
            "026d 00000001 00001388" +              // member "m", epoch 1, heartbeat interval 5000
            "01" +                                  // the assignment is present
            $"02 {TopicId} 03 00000000 00000001 00" + // topic partitions [ { id [ 0 1 ] } ]
            "00" +                                  // the assignment struct's tagged fields
            "00"), w.WrittenSpan.ToArray());

        var r = new KafkaReader(w.WrittenSpan);
        var read = ConsumerGroupHeartbeatResponse.Read(ref r, 1);
        Assert.Equal(0, r.Remaining);
        Assert.Equal((ErrorCode.None, (string?)null, "m", 1, 5000), (read.Error, read.ErrorMessage, read.MemberId, read.MemberEpoch, read.HeartbeatIntervalMs));
        var topic = Assert.Single(read.Assignment!);
        Assert.Equal(Id, topic.TopicId);
        Assert.Equal([0, 1], topic.Partitions);
    }

    [Fact]
    public void Heartbeat_response_with_an_error_and_no_assignment()
    {
        var response = new ConsumerGroupHeartbeatResponse(ErrorCode.FencedMemberEpoch, "x", null, 0, 0, null);
        using var w = new KafkaWriter();
        response.Write(w, 0);
        // throttle, FencedMemberEpoch (110), message "x", member null, epoch 0, interval 0, assignment null (int8 -1), tags
        Assert.Equal(Hex.Parse("00000000 006e 0278 00 00000000 00000000 ff 00"), w.WrittenSpan.ToArray());

        var r = new KafkaReader(w.WrittenSpan);
        Assert.Equal(response, ConsumerGroupHeartbeatResponse.Read(ref r, 0));
        Assert.Equal(0, r.Remaining);
    }

    [Fact]
    public void Describe_request()
    {
        // group ids [ "g" "h" ], include_authorized_operations true
        var bytes = Hex.Parse("03 0267 0268 01 00");
        var read = FlexibleAdminMessageTests.ReadWriteBack(bytes, ConsumerGroupDescribeRequest.Read, (r, w) => r.Write(w, 0), 0);
        Assert.Equal(["g", "h"], read.GroupIds);
        Assert.True(read.IncludeAuthorizedOperations);
    }

    [Fact]
    public void Describe_response_with_a_member_and_its_assignment_and_target_assignment()
    {
        var member = new DescribedConsumerGroupMember("m", null, "r", 3, "c", "/127.0.0.1", ["t"], null,
            [new DescribedTopicPartitions(Id, "t", [0])], [new DescribedTopicPartitions(Id, "t", [0, 1])]);
        var response = new ConsumerGroupDescribeResponse([new DescribedConsumerGroup(ErrorCode.None, null, "g", "Stable", 4, 3, "uniform", [member])]);
        using var w = new KafkaWriter();
        response.Write(w, 0);
        Assert.Equal(Hex.Parse(
            "00000000 02" +                         // throttle, groups [
            "0000 00 0267" +                        //   no error, null message, "g"
            "07 537461626c65" +                     //   state "Stable"
            "00000004 00000003" +                   //   group epoch 4, assignment epoch 3
            "08 756e69666f726d" +                   //   assignor "uniform"
            "02" +                                  //   members [
            "026d 00 0272 00000003" +               //     "m", instance null, rack "r", epoch 3
            "0263 0b 2f3132372e302e302e31" +        //     client "c", host "/127.0.0.1"
            "02 0274 00" +                          //     subscribed [ "t" ], regex null
            $"02 {TopicId} 0274 02 00000000 00 00" +            // assignment { [ { id "t" [ 0 ] } ] }
            $"02 {TopicId} 0274 03 00000000 00000001 00 00" +   // target assignment { [ { id "t" [ 0 1 ] } ] }
            "00" +                                  //     member tags ]
            "80000000 00" +                         //   authorized operations not asked, group tags ]
            "00"), w.WrittenSpan.ToArray());

        var r = new KafkaReader(w.WrittenSpan);
        var read = Assert.Single(ConsumerGroupDescribeResponse.Read(ref r, 0).Groups);
        Assert.Equal(0, r.Remaining);
        Assert.Equal((ErrorCode.None, (string?)null, "g", "Stable", 4, 3, "uniform", int.MinValue),
            (read.Error, read.ErrorMessage, read.GroupId, read.GroupState, read.GroupEpoch, read.AssignmentEpoch, read.AssignorName, read.AuthorizedOperations));
        var m = Assert.Single(read.Members);
        Assert.Equal(("m", (string?)null, "r", 3, "c", "/127.0.0.1", (string?)null),
            (m.MemberId, m.InstanceId, m.RackId, m.MemberEpoch, m.ClientId, m.ClientHost, m.SubscribedTopicRegex));
        Assert.Equal(["t"], m.SubscribedTopicNames);
        var assigned = Assert.Single(m.Assignment);
        Assert.Equal((Id, "t"), (assigned.TopicId, assigned.TopicName));
        Assert.Equal([0], assigned.Partitions);
        var target = Assert.Single(m.TargetAssignment);
        Assert.Equal((Id, "t"), (target.TopicId, target.TopicName));
        Assert.Equal([0, 1], target.Partitions);
    }

    [Fact]
    public void Describe_response_of_a_group_not_found()
    {
        var response = new ConsumerGroupDescribeResponse([new DescribedConsumerGroup(ErrorCode.GroupIdNotFound, "no group g", "g", "Dead", -1, -1, "", [], 0)]);
        using var w = new KafkaWriter();
        response.Write(w, 0);
        // throttle, [ GroupIdNotFound (69), message, "g", "Dead", epochs -1 -1, assignor "", members [], operations 0, tags ], tags
        Assert.Equal(Hex.Parse("00000000 02 0045 0b 6e6f2067726f75702067 0267 05 44656164 ffffffff ffffffff 01 01 00000000 00 00"), w.WrittenSpan.ToArray());
        var r = new KafkaReader(w.WrittenSpan);
        var read = Assert.Single(ConsumerGroupDescribeResponse.Read(ref r, 0).Groups);
        Assert.Equal(0, r.Remaining);
        Assert.Equal((ErrorCode.GroupIdNotFound, "no group g", "Dead", 0), (read.Error, read.ErrorMessage, read.GroupState, read.AuthorizedOperations));
        Assert.Empty(read.Members);
    }
}
