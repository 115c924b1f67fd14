using OrleansStream.Protocol.Messages;

namespace OrleansStream.Protocol.Tests;

/// <summary>DescribeClientQuotas and AlterClientQuotas v0-1 (KIP-546; v1 flexible), byte for byte against Kafka's message schemas.</summary>
public class ClientQuotaMessageTests
{
    private const string User = "75736572";
    private const string Alice = "616c696365";
    private const string ClientId = "636c69656e742d6964";
    private const string ProducerByteRate = "70726f64756365725f627974655f72617465";
    private const string ConsumerByteRate = "636f6e73756d65725f627974655f72617465";
    private const string F1024 = "4090000000000000";
    private const string F0 = "0000000000000000";

    private static readonly ClientQuotaEntity[] s_aliceAndDefaultClient = [new("user", "alice"), new("client-id", null)];

    [Fact]
    public void Float64_is_a_big_endian_IEEE_754_double()
    {
        using var w = new KafkaWriter();
        w.WriteFloat64(1024.0);
        w.WriteFloat64(-1.5);
        w.WriteFloat64(double.NaN);
        w.WriteFloat64(double.PositiveInfinity);
        w.WriteFloat64(1e300);

        Assert.Equal(Hex.Parse("4090000000000000 bff8000000000000"), w.WrittenSpan[..16].ToArray());
        var r = new KafkaReader(w.WrittenSpan);
        Assert.Equal(1024.0, r.ReadFloat64());
        Assert.Equal(-1.5, r.ReadFloat64());
        Assert.True(double.IsNaN(r.ReadFloat64()));
        Assert.Equal(double.PositiveInfinity, r.ReadFloat64());
        Assert.Equal(1e300, r.ReadFloat64());
        Assert.Equal(0, r.Remaining);
    }

    [Theory]
    [InlineData(0, $"00000002 0004 {User} 00 0005 {Alice} 0009 {ClientId} 01 ffff 01")]
    [InlineData(1, $"03 05 {User} 00 06 {Alice} 00 0a {ClientId} 01 00 00 01 00")]
    public void DescribeClientQuotas_requests_carry_components_then_strict(short version, string hex)
    {
        var bytes = Hex.Parse(hex);

        var r = new KafkaReader(bytes);
        var request = DescribeClientQuotasRequest.Read(ref r, version);

        Assert.Equal(0, r.Remaining);
        Assert.Equal([new ClientQuotaFilterComponent("user", ClientQuotaFilterComponent.MatchExact, "alice"),
            new ClientQuotaFilterComponent("client-id", ClientQuotaFilterComponent.MatchDefault, null)], request.Components);
        Assert.True(request.Strict);
        using var w = new KafkaWriter();
        request.Write(w, version);
        Assert.Equal(bytes, w.WrittenSpan.ToArray());
    }

    [Theory]
    [InlineData(0, $"00000000 0000 ffff 00000001 00000002 0004 {User} 0005 {Alice} 0009 {ClientId} ffff 00000001 0012 {ProducerByteRate} {F1024}")]
    [InlineData(1, $"00000000 0000 00 02 03 05 {User} 06 {Alice} 00 0a {ClientId} 00 00 02 13 {ProducerByteRate} {F1024} 00 00 00")]
    public void DescribeClientQuotas_answers_each_entity_with_its_values(short version, string hex)
    {
        using var w = new KafkaWriter();
        new DescribeClientQuotasResponse(0, ErrorCode.None, null,
            [new ClientQuotaEntry(s_aliceAndDefaultClient, [new KeyValuePair<string, double>("producer_byte_rate", 1024.0)])]).Write(w, version);

        Assert.Equal(Hex.Parse(hex), w.WrittenSpan.ToArray());
        var r = new KafkaReader(w.WrittenSpan);
        var response = DescribeClientQuotasResponse.Read(ref r, version);
        Assert.Equal(0, r.Remaining);
        Assert.Equal((0, ErrorCode.None, (string?)null), (response.ThrottleTimeMs, response.Error, response.ErrorMessage));
        var entry = Assert.Single(response.Entries!);
        Assert.Equal(s_aliceAndDefaultClient, entry.Entity);
        Assert.Equal([new KeyValuePair<string, double>("producer_byte_rate", 1024.0)], entry.Values);
    }

    [Theory]
    [InlineData(0, "00000005 002a 0001 6d ffffffff")]
    [InlineData(1, "00000005 002a 02 6d 00 00")]
    public void A_DescribeClientQuotas_error_has_null_entries(short version, string hex)
    {
        using var w = new KafkaWriter();
        new DescribeClientQuotasResponse(5, ErrorCode.InvalidRequest, "m", null).Write(w, version);

        Assert.Equal(Hex.Parse(hex), w.WrittenSpan.ToArray());
        var r = new KafkaReader(w.WrittenSpan);
        Assert.Equal(new DescribeClientQuotasResponse(5, ErrorCode.InvalidRequest, "m", null), DescribeClientQuotasResponse.Read(ref r, version));
        Assert.Equal(0, r.Remaining);
    }

    [Theory]
    [InlineData(0, $"00000001 00000001 0004 {User} 0005 {Alice} 00000002 0012 {ProducerByteRate} {F1024} 00 0012 {ConsumerByteRate} {F0} 01 00")]
    [InlineData(1, $"02 02 05 {User} 06 {Alice} 00 03 13 {ProducerByteRate} {F1024} 00 00 13 {ConsumerByteRate} {F0} 01 00 00 00 00")]
    public void AlterClientQuotas_requests_carry_each_entitys_ops_then_validate_only(short version, string hex)
    {
        var bytes = Hex.Parse(hex);

        var r = new KafkaReader(bytes);
        var request = AlterClientQuotasRequest.Read(ref r, version);

        Assert.Equal(0, r.Remaining);
        var entry = Assert.Single(request.Entries);
        Assert.Equal([new ClientQuotaEntity("user", "alice")], entry.Entity);
        Assert.Equal([new ClientQuotaOp("producer_byte_rate", 1024.0, false), new ClientQuotaOp("consumer_byte_rate", 0.0, true)], entry.Ops);
        Assert.False(request.ValidateOnly);
        using var w = new KafkaWriter();
        request.Write(w, version);
        Assert.Equal(bytes, w.WrittenSpan.ToArray());
    }

    [Theory]
    [InlineData(0, $"00000000 00000002 0000 ffff 00000001 0004 {User} 0005 {Alice} 002a 0001 6d 00000001 0009 {ClientId} ffff")]
    [InlineData(1, $"00000000 03 0000 00 02 05 {User} 06 {Alice} 00 00 002a 02 6d 02 0a {ClientId} 00 00 00 00")]
    public void AlterClientQuotas_answers_each_entity(short version, string hex)
    {
        using var w = new KafkaWriter();
        new AlterClientQuotasResponse(0,
        [
            new AlterClientQuotasResult(ErrorCode.None, null, [new ClientQuotaEntity("user", "alice")]),
            new AlterClientQuotasResult(ErrorCode.InvalidRequest, "m", [new ClientQuotaEntity("client-id", null)]),
        ]).Write(w, version);

        Assert.Equal(Hex.Parse(hex), w.WrittenSpan.ToArray());
        var r = new KafkaReader(w.WrittenSpan);
        var response = AlterClientQuotasResponse.Read(ref r, version);
        Assert.Equal(0, r.Remaining);
        Assert.Equal(2, response.Entries.Count);
        Assert.Equal((ErrorCode.None, (string?)null), (response.Entries[0].Error, response.Entries[0].ErrorMessage));
        Assert.Equal([new ClientQuotaEntity("user", "alice")], response.Entries[0].Entity);
        Assert.Equal((ErrorCode.InvalidRequest, "m"), (response.Entries[1].Error, response.Entries[1].ErrorMessage));
        Assert.Equal([new ClientQuotaEntity("client-id", null)], response.Entries[1].Entity);
    }
}
