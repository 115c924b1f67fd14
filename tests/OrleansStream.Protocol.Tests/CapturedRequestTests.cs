using OrleansStream.Protocol.Messages;
using OrleansStream.Records;

namespace OrleansStream.Protocol.Tests;

/// <summary>
/// Requests captured on the wire from kcat 1.7 (librdkafka 2.0.2) producing two keyed records and consuming them in
/// a group, and kafka-python 2.0.2's JoinGroup v0 and v2 as its encoder writes them: each reads completely and writes
/// back to the same bytes.
/// </summary>
public class CapturedRequestTests
{
    private const string ProduceV7 = "0000007d0000000700000003000772646b61666b61ffffffff0000753000000001000363617000000001000000000000004f000000000000000000000043000000000210337296000000000001000001a2430e7473000001a2430e7473ffffffffffffffffffffffffffff00000002100000000261023100100000020262023200";
    private const string JoinGroupV5First = "00000074000b000500000003000772646b61666b6100066361706772700000afc8000493e00000ffff0008636f6e73756d657200000002000572616e67650000001300010000000100036361700000000000000000000a726f756e64726f62696e0000001300010000000100036361700000000000000000";
    private const string JoinGroupV5Rejoin = "0000009c000b000500000004000772646b61666b6100066361706772700000afc8000493e0002872646b61666b612d6236313365343531646636353465343161363862353832666536306633306663ffff0008636f6e73756d657200000002000572616e67650000001300010000000100036361700000000000000000000a726f756e64726f62696e0000001300010000000100036361700000000000000000";
    private const string SyncGroupV3 = "00000092000e000300000006000772646b61666b61000663617067727000000001002872646b61666b612d6236313365343531646636353465343161363862353832666536306633306663ffff00000001002872646b61666b612d6236313365343531646636353465343161363862353832666536306633306663000000170000000000010003636170000000010000000000000000";
    private const string HeartbeatV3 = "00000049000c000300000007000772646b61666b61000663617067727000000001002872646b61666b612d6236313365343531646636353465343161363862353832666536306633306663ffff";
    private const string ListOffsetsV2 = "0000002f0002000200000006000772646b61666b61ffffffff010000000100036361700000000100000000fffffffffffffffe";
    private const string FetchV11 = "000000590001000b00000007000772646b61666b61ffffffff000001f400000001032000000100000000ffffffff0000000100036361700000000100000000ffffffff0000000000000000ffffffffffffffff00100000000000000000";
    private const string OffsetCommitV7 = "000000680008000700000008000772646b61666b61000663617067727000000001002872646b61666b612d6236313365343531646636353465343161363862353832666536306633306663ffff00000001000363617000000001000000000000000000000002ffffffff0000";
    private const string LeaveGroupV1 = "00000043000d000100000009000772646b61666b610006636170677270002872646b61666b612d6236313365343531646636353465343161363862353832666536306633306663";

    private const string KafkaPythonJoinGroupV0 = "0000006d000b000000000001000e6b61666b612d707974686f6e2d3000066361706772700000271000000008636f6e73756d657200000002000572616e67650000000f000000000001000363617000000000000a726f756e64726f62696e0000000f000000000001000363617000000000";
    private const string KafkaPythonJoinGroupV2 = "00000071000b000200000001000e6b61666b612d707974686f6e2d30000663617067727000002710000493e000000008636f6e73756d657200000002000572616e67650000000f000000000001000363617000000000000a726f756e64726f62696e0000000f000000000001000363617000000000";

    private const string Member = "rdkafka-b613e451df654e41a68b582fe60f30fc";

    [Fact]
    public void Produce_v7_carries_one_valid_batch_of_two_keyed_records()
    {
        var request = RoundTrip(ProduceV7, ApiKey.Produce, static (ref KafkaReader r, short v, ReadOnlyMemory<byte> b) => Messages.ProduceRequest.Read(ref r, v, b));

        Assert.Equal((short)-1, request.Acks);
        var data = Assert.Single(Assert.Single(request.Topics).Partitions);
        Assert.Equal(ErrorCode.None, RecordBatchHeader.Validate(data.Records.Span, out var header));
        Assert.Equal(2, header.RecordCount);
    }

    [Fact]
    public void JoinGroup_v5_first_join_has_no_member_id_and_a_v1_consumer_subscription()
    {
        var first = RoundTrip(JoinGroupV5First, ApiKey.JoinGroup, Messages.JoinGroupRequest.Read);
        var rejoin = RoundTrip(JoinGroupV5Rejoin, ApiKey.JoinGroup, Messages.JoinGroupRequest.Read);

        Assert.Equal(("capgrp", "", 45000, 300000, "consumer"), (first.GroupId, first.MemberId, first.SessionTimeoutMs, first.RebalanceTimeoutMs, first.ProtocolType));
        Assert.Equal(["range", "roundrobin"], first.Protocols.Select(p => p.Name));
        var subscription = ConsumerSubscription.Read(first.Protocols[0].Metadata);
        Assert.Equal(["cap"], subscription.Topics);
        Assert.Empty(subscription.OwnedPartitions);
        Assert.Equal(Member, rejoin.MemberId);
        Assert.Null(rejoin.GroupInstanceId);
    }

    [Fact]
    public void JoinGroup_v0_and_v2_of_kafka_python_carry_no_member_id_and_a_v0_subscription_v0_without_a_rebalance_timeout()
    {
        var v0 = RoundTrip(KafkaPythonJoinGroupV0, ApiKey.JoinGroup, Messages.JoinGroupRequest.Read, "kafka-python-0");
        var v2 = RoundTrip(KafkaPythonJoinGroupV2, ApiKey.JoinGroup, Messages.JoinGroupRequest.Read, "kafka-python-0");

        Assert.Equal(("capgrp", "", 10000, 10000, "consumer"), (v0.GroupId, v0.MemberId, v0.SessionTimeoutMs, v0.RebalanceTimeoutMs, v0.ProtocolType));
        Assert.Equal(("capgrp", "", 10000, 300000, "consumer"), (v2.GroupId, v2.MemberId, v2.SessionTimeoutMs, v2.RebalanceTimeoutMs, v2.ProtocolType));
        Assert.Equal(["range", "roundrobin"], v2.Protocols.Select(p => p.Name));
        Assert.Equal(["cap"], ConsumerSubscription.Read(v2.Protocols[0].Metadata).Topics);
    }

    [Fact]
    public void SyncGroup_v3_from_the_leader_assigns_partition_0()
    {
        var sync = RoundTrip(SyncGroupV3, ApiKey.SyncGroup, Messages.SyncGroupRequest.Read);

        Assert.Equal((1, Member), (sync.GenerationId, sync.MemberId));
        var assignment = ConsumerAssignment.Read(Assert.Single(sync.Assignments).Assignment);
        var partitions = Assert.Single(assignment.Partitions);
        Assert.Equal("cap", partitions.Topic);
        Assert.Equal([0], partitions.Partitions);
        Assert.Equal(Assert.Single(sync.Assignments).Assignment, new ConsumerAssignment(assignment.Partitions, assignment.UserData).ToBytes());
    }

    [Fact]
    public void Fetch_v11_reads_committed_from_offset_0_without_a_session()
    {
        var fetch = RoundTrip(FetchV11, ApiKey.Fetch, Messages.FetchRequest.Read);

        Assert.Equal((1, 0, -1, 500), ((int)fetch.IsolationLevel, fetch.SessionId, fetch.SessionEpoch, fetch.MaxWaitMs));
        Assert.Equal(new FetchPartition(0, -1, 0, -1, 1_048_576), Assert.Single(Assert.Single(fetch.Topics).Partitions));
    }

    [Fact]
    public void Group_requests_of_kcats_consumer_read_and_write_back_unchanged()
    {
        var commit = RoundTrip(OffsetCommitV7, ApiKey.OffsetCommit, Messages.OffsetCommitRequest.Read);
        var heartbeat = RoundTrip(HeartbeatV3, ApiKey.Heartbeat, Messages.HeartbeatRequest.Read);
        var leave = RoundTrip(LeaveGroupV1, ApiKey.LeaveGroup, Messages.LeaveGroupRequest.Read);
        var list = RoundTrip(ListOffsetsV2, ApiKey.ListOffsets, Messages.ListOffsetsRequest.Read);

        Assert.Equal(new OffsetCommitPartition(0, 2, -1, ""), Assert.Single(Assert.Single(commit.Topics).Partitions));
        Assert.Equal((1, Member), (heartbeat.GenerationId, heartbeat.MemberId));
        Assert.Equal([new LeaveGroupMember(Member, null)], leave.Members);
        Assert.Equal(-2, Assert.Single(Assert.Single(list.Topics).Partitions).Timestamp);
    }

    internal delegate T Reader<T>(ref KafkaReader reader, short version, ReadOnlyMemory<byte> body);

    /// <summary>Reads a captured frame (size, header, body) completely, checks the client id, and writes it back to the same bytes.</summary>
    internal static T RoundTrip<T>(string hex, ApiKey key, PartitionReader<T> read, string clientId = "rdkafka") =>
        RoundTrip(hex, key, (ref KafkaReader r, short v, ReadOnlyMemory<byte> _) => read(ref r, v), clientId);

    private static T RoundTrip<T>(string hex, ApiKey key, Reader<T> read, string clientId = "rdkafka")
    {
        var frame = Hex.Parse(hex);
        var reader = new KafkaReader(frame.AsSpan(4));
        var header = RequestHeader.Read(ref reader);
        Assert.Equal(key, header.ApiKey);
        Assert.Equal(clientId, header.ClientId);
        var bodyStart = 4 + reader.Position;
        var body = frame.AsMemory(bodyStart);
        var bodyReader = new KafkaReader(body.Span);
        var message = read(ref bodyReader, header.ApiVersion, body);
        Assert.Equal(0, bodyReader.Remaining);

        using var w = new KafkaWriter();
        var start = w.BeginFrame();
        header.Write(w);
        // Every request message has Write(KafkaWriter, short).
        typeof(T).GetMethod("Write")!.Invoke(message, [w, header.ApiVersion]);
        w.EndFrame(start);
        Assert.Equal(Convert.ToHexString(frame), Convert.ToHexString(w.WrittenSpan));
        return message;
    }
}
