using OrleansStream.Protocol.Messages;
using OrleansStream.Records;

namespace OrleansStream.Protocol.Tests;

/// <summary>
/// KIP-848's consumer group APIs, flexible from their first version: ConsumerGroupHeartbeat v0-1 and
/// ConsumerGroupDescribe v0; and the classic group APIs' flexible versions (FindCoordinator v3-6, JoinGroup v6-9,
/// SyncGroup v4-5, Heartbeat v4, LeaveGroup v4-5). Each request is read from and written back to the bytes Kafka's
/// schema lays out (one as librdkafka writes it); each response is written as Kafka writes it and read back.
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

    /// <summary>ConsumerGroupDescribe v1 (KIP-1099): each member's type after its target assignment, 0 classic, 1 consumer.</summary>
    [Fact]
    public void Describe_v1_response_says_each_members_type()
    {
        var classic = new DescribedConsumerGroupMember("m", null, null, 3, "c", "h", ["t"], null, [], [], DescribedConsumerGroupMember.ClassicMember);
        var response = new ConsumerGroupDescribeResponse([new DescribedConsumerGroup(ErrorCode.None, null, "g", "Stable", 4, 3, "uniform", [classic, classic with { MemberId = "n", MemberType = DescribedConsumerGroupMember.ConsumerMember }])]);
        using var v0 = new KafkaWriter();
        response.Write(v0, 0);
        using var v1 = new KafkaWriter();
        response.Write(v1, 1);

        const string member = "00 00 00000003 0263 0268 02 0274 00 01 00 01 00";  // instance, rack, epoch, client, host, [ "t" ], regex, assignment {}, target {}
        var head = "00000000 02 0000 00 0267 07 537461626c65 00000004 00000003 08 756e69666f726d 03";
        Assert.Equal(Hex.Parse($"{head} 026d {member} 00 026e {member} 00 80000000 00 00"), v0.WrittenSpan.ToArray());
        Assert.Equal(Hex.Parse($"{head} 026d {member} 00 00 026e {member} 01 00 80000000 00 00"), v1.WrittenSpan.ToArray());
        var r = new KafkaReader(v1.WrittenSpan);
        Assert.Equal([DescribedConsumerGroupMember.ClassicMember, DescribedConsumerGroupMember.ConsumerMember],
            Assert.Single(ConsumerGroupDescribeResponse.Read(ref r, 1).Groups).Members.Select(m => m.MemberType));
        Assert.Equal(0, r.Remaining);
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

    // ---- the classic group APIs' flexible versions ------------------------------------------------------------

    private const string Consumer = "09 636f6e73756d6572";     // compact "consumer"
    private const string Range = "06 72616e6765";              // compact "range"

    [Fact]
    public void FindCoordinator_v3_asks_one_compact_key_and_v4_to_v6_a_batch_after_the_key_type()
    {
        // v3: key "g", key type 0, tags.
        var v3 = FlexibleAdminMessageTests.ReadWriteBack(Hex.Parse("0267 00 00"), FindCoordinatorRequest.Read, (r, w) => r.Write(w, 3), 3);
        Assert.Equal(("g", FindCoordinatorRequest.Group), (v3.Key, v3.KeyType));
        Assert.Equal(["g"], v3.Keys);

        foreach (short version in (short[])[4, 5, 6])
        {
            // Key type 1, keys [ "t" "u" "" ], tags: no single key any more.
            var read = FlexibleAdminMessageTests.ReadWriteBack(Hex.Parse("01 04 0274 0275 01 00"), FindCoordinatorRequest.Read, (r, w) => r.Write(w, version), version);
            Assert.Equal(FindCoordinatorRequest.Transaction, read.KeyType);
            Assert.Equal(["t", "u", ""], read.Keys);
        }

        // A batch does not fit a version of one key.
        using var w = new KafkaWriter();
        Assert.Throws<ArgumentException>(() => new FindCoordinatorRequest("", 0, ["a", "b"]).Write(w, 3));
    }

    [Fact]
    public void FindCoordinator_response_v3_answers_one_coordinator_and_v4_each_key_with_its_own_error()
    {
        var found = new FindCoordinatorResult("g", ErrorCode.None, null, 1, "b", 9092);
        using var w3 = new KafkaWriter();
        new FindCoordinatorResponse([found]).Write(w3, 3);
        // throttle, no error, null message, node 1, host "b", port 9092, tags
        Assert.Equal(Hex.Parse("00000000 0000 00 00000001 0262 00002384 00"), w3.WrittenSpan.ToArray());
        var r3 = new KafkaReader(w3.WrittenSpan);
        Assert.Equal(found, Assert.Single(FindCoordinatorResponse.Read(ref r3, 3, "g").Coordinators));
        Assert.Equal(0, r3.Remaining);

        var refused = new FindCoordinatorResult("", ErrorCode.InvalidGroupId, "x", -1, "", -1);
        using var w4 = new KafkaWriter();
        new FindCoordinatorResponse([found, refused]).Write(w4, 4);
        Assert.Equal(Hex.Parse(
            "00000000 03" +                             // throttle, coordinators [
            "0267 00000001 0262 00002384 0000 00 00" +  //   "g": node 1, "b", 9092, no error, null message, tags
            "01 ffffffff 01 ffffffff 0018 0278 00" +    //   "": node -1, "", -1, InvalidGroupId (24), "x", tags ]
            "00"), w4.WrittenSpan.ToArray());
        var r4 = new KafkaReader(w4.WrittenSpan);
        Assert.Equal([found, refused], FindCoordinatorResponse.Read(ref r4, 4).Coordinators);
        Assert.Equal(0, r4.Remaining);
    }

    [Fact]
    public void JoinGroup_v6_is_flexible_and_v8_adds_the_reason_after_the_protocols()
    {
        // group "g", session 10000, rebalance 300000, member "", instance null, "consumer", [ "range" 0x0001 tags ]
        var head = $"0267 00002710 {RebalanceTimeoutMs300000} 01 00 {Consumer} 02 {Range} 03 0001 00";
        foreach (short version in (short[])[6, 7])
        {
            var read = FlexibleAdminMessageTests.ReadWriteBack(Hex.Parse(head + " 00"), JoinGroupRequest.Read, (r, w) => r.Write(w, version), version);
            Assert.Equal(("g", 10_000, 300_000, "", (string?)null, "consumer", (string?)null),
                (read.GroupId, read.SessionTimeoutMs, read.RebalanceTimeoutMs, read.MemberId, read.GroupInstanceId, read.ProtocolType, read.Reason));
            var protocol = Assert.Single(read.Protocols);
            Assert.Equal("range", protocol.Name);
            Assert.Equal([0, 1], protocol.Metadata);
        }
        foreach (short version in (short[])[8, 9])
        {
            var reason = FlexibleAdminMessageTests.ReadWriteBack(Hex.Parse(head + " 0272 00"), JoinGroupRequest.Read, (r, w) => r.Write(w, version), version);
            Assert.Equal("r", reason.Reason);
            Assert.Null(FlexibleAdminMessageTests.ReadWriteBack(Hex.Parse(head + " 00 00"), JoinGroupRequest.Read, (r, w) => r.Write(w, version), version).Reason);
        }
    }

    [Fact]
    public void JoinGroup_response_v7_answers_the_protocol_type_before_the_name_and_v9_skip_assignment_after_the_leader()
    {
        var response = new JoinGroupResponse(ErrorCode.None, 1, "range", "m", "m", [new JoinGroupResponseMember("m", null, [0, 1])], "consumer", SkipAssignment: true);
        const string Member = "02 026d 00 03 0001 00";  // members [ "m", instance null, 0x0001, tags ]
        AssertJoinResponse(response, 6, $"00000000 0000 00000001 {Range} 026d 026d {Member} 00");
        AssertJoinResponse(response, 7, $"00000000 0000 00000001 {Consumer} {Range} 026d 026d {Member} 00");
        AssertJoinResponse(response, 8, $"00000000 0000 00000001 {Consumer} {Range} 026d 026d {Member} 00");
        AssertJoinResponse(response, 9, $"00000000 0000 00000001 {Consumer} {Range} 026d 01 026d {Member} 00");

        // An error: no protocol type or name (null from v7, an empty name before).
        var error = new JoinGroupResponse(ErrorCode.MemberIdRequired, -1, null, "", "m", []);
        AssertJoinResponse(error, 6, "00000000 004f ffffffff 01 01 026d 01 00");
        AssertJoinResponse(error, 9, "00000000 004f ffffffff 00 00 01 00 026d 01 00");
    }

    private static void AssertJoinResponse(JoinGroupResponse response, short version, string hex)
    {
        using var w = new KafkaWriter();
        response.Write(w, version);
        Assert.Equal(Hex.Parse(hex), w.WrittenSpan.ToArray());
        var r = new KafkaReader(w.WrittenSpan);
        var read = JoinGroupResponse.Read(ref r, version);
        Assert.Equal(0, r.Remaining);
        Assert.Equal((response.Error, response.GenerationId, response.Leader, response.MemberId), (read.Error, read.GenerationId, read.Leader, read.MemberId));
        Assert.Equal(version >= 7 ? response.ProtocolType : null, read.ProtocolType);
        Assert.Equal(version >= 7 ? response.ProtocolName : response.ProtocolName ?? "", read.ProtocolName);
        Assert.Equal(version >= 9 && response.SkipAssignment, read.SkipAssignment);
        Assert.Equal(response.Members.Count, read.Members.Count);
    }

    [Fact]
    public void SyncGroup_v4_is_flexible_and_v5_carries_the_protocol_type_and_name_both_ways()
    {
        // group "g", generation 1, member "m", instance "i"; [ "m" 0x0001 tags ], tags
        const string Assignments = "02 026d 03 0001 00 00";
        var v4 = FlexibleAdminMessageTests.ReadWriteBack(Hex.Parse($"0267 00000001 026d 0269 {Assignments}"), SyncGroupRequest.Read, (r, w) => r.Write(w, 4), 4);
        Assert.Equal(("g", 1, "m", "i", (string?)null, (string?)null), (v4.GroupId, v4.GenerationId, v4.MemberId, v4.GroupInstanceId, v4.ProtocolType, v4.ProtocolName));
        var v5 = FlexibleAdminMessageTests.ReadWriteBack(Hex.Parse($"0267 00000001 026d 0269 {Consumer} {Range} {Assignments}"), SyncGroupRequest.Read, (r, w) => r.Write(w, 5), 5);
        Assert.Equal(("consumer", "range"), (v5.ProtocolType, v5.ProtocolName));
        var assignment = Assert.Single(v5.Assignments);
        Assert.Equal("m", assignment.MemberId);
        Assert.Equal([0, 1], assignment.Assignment);
        // Both nullable in v5.
        var nulls = FlexibleAdminMessageTests.ReadWriteBack(Hex.Parse($"0267 00000001 026d 00 00 00 {Assignments}"), SyncGroupRequest.Read, (r, w) => r.Write(w, 5), 5);
        Assert.Equal(((string?)null, (string?)null, (string?)null), (nulls.GroupInstanceId, nulls.ProtocolType, nulls.ProtocolName));

        var response = new SyncGroupResponse(ErrorCode.None, [0, 1], "consumer", "range");
        foreach (var (version, hex) in new (short, string)[] { (4, "00000000 0000 03 0001 00"), (5, $"00000000 0000 {Consumer} {Range} 03 0001 00") })
        {
            using var w = new KafkaWriter();
            response.Write(w, version);
            Assert.Equal(Hex.Parse(hex), w.WrittenSpan.ToArray());
            var r = new KafkaReader(w.WrittenSpan);
            var read = SyncGroupResponse.Read(ref r, version);
            Assert.Equal(0, r.Remaining);
            Assert.Equal((ErrorCode.None, version >= 5 ? "consumer" : null, version >= 5 ? "range" : null), (read.Error, read.ProtocolType, read.ProtocolName));
            Assert.Equal([0, 1], read.Assignment);
        }
    }

    [Fact]
    public void Heartbeat_v4_and_its_response_are_flexible()
    {
        var read = FlexibleAdminMessageTests.ReadWriteBack(Hex.Parse("0267 00000003 026d 0269 00"), HeartbeatRequest.Read, (r, w) => r.Write(w, 4), 4);
        Assert.Equal(new HeartbeatRequest("g", 3, "m", "i"), read);

        using var w = new KafkaWriter();
        new HeartbeatResponse(ErrorCode.RebalanceInProgress).Write(w, 4);
        Assert.Equal(Hex.Parse("00000000 001b 00"), w.WrittenSpan.ToArray());
        var r = new KafkaReader(w.WrittenSpan);
        Assert.Equal(new HeartbeatResponse(ErrorCode.RebalanceInProgress), HeartbeatResponse.Read(ref r, 4));
        Assert.Equal(0, r.Remaining);
    }

    [Fact]
    public void LeaveGroup_v4_is_flexible_and_v5_adds_each_members_reason()
    {
        // group "g", members [ "m" instance null (v5: reason "r") tags, "" instance "i" (v5: reason null) tags ], tags
        var v4 = FlexibleAdminMessageTests.ReadWriteBack(Hex.Parse("0267 03 026d 00 00 01 0269 00 00"), LeaveGroupRequest.Read, (r, w) => r.Write(w, 4), 4);
        Assert.Equal([new LeaveGroupMember("m", null), new LeaveGroupMember("", "i")], v4.Members);
        var v5 = FlexibleAdminMessageTests.ReadWriteBack(Hex.Parse("0267 03 026d 00 0272 00 01 0269 00 00 00"), LeaveGroupRequest.Read, (r, w) => r.Write(w, 5), 5);
        Assert.Equal([new LeaveGroupMember("m", null, "r"), new LeaveGroupMember("", "i")], v5.Members);

        var response = new LeaveGroupResponse(ErrorCode.None, [(new LeaveGroupMember("m", null, "r"), ErrorCode.None), (new LeaveGroupMember("", "i"), ErrorCode.UnknownMemberId)]);
        foreach (short version in (short[])[4, 5])
        {
            using var w = new KafkaWriter();
            response.Write(w, version);
            // throttle, no error, members [ "m" null none tags, "" "i" UnknownMemberId (25) tags ] (no reason in the answer), tags
            Assert.Equal(Hex.Parse("00000000 0000 03 026d 00 0000 00 01 0269 0019 00 00"), w.WrittenSpan.ToArray());
            var r = new KafkaReader(w.WrittenSpan);
            var read = LeaveGroupResponse.Read(ref r, version);
            Assert.Equal(0, r.Remaining);
            Assert.Equal([(new LeaveGroupMember("m", null), ErrorCode.None), (new LeaveGroupMember("", "i"), ErrorCode.UnknownMemberId)], read.Members);
        }
    }
}
