using OrleansStream.Protocol.Messages;
using static OrleansStream.Protocol.Tests.TransactionMessageTests;

namespace OrleansStream.Protocol.Tests;

/// <summary>UpdateFeatures v0-2 (flexible in every version) against Kafka's schema, byte by byte.</summary>
public sealed class FeaturesMessageTests
{
    // "transaction.version" as a compact string: length + 1, then the bytes.
    private const string Name = "14 7472616e73616374696f6e2e76657273696f6e";

    [Fact]
    public void UpdateFeatures_v0_has_allow_downgrade_and_v1_the_upgrade_type_and_validate_only()
    {
        // timeout, compact array of 1, name, level 1, allow_downgrade, entry tags, request tags.
        var v0 = Hex.Parse("0000ea60 02 " + Name + " 0001 01 00 00");
        var read0 = Read(v0, UpdateFeaturesRequest.Read, 0);
        Assert.Equal(60_000, read0.TimeoutMs);
        Assert.Equal([new FeatureUpdate("transaction.version", 1, FeatureUpgradeType.SafeDowngrade)], read0.Updates);
        Assert.False(read0.ValidateOnly);
        AssertWrites(v0, read0.Write, 0);

        // v1: the upgrade type (3, unsafe downgrade) in place of the flag, then validate_only.
        var v1 = Hex.Parse("0000ea60 02 " + Name + " 0001 03 00 01 00");
        var read1 = Read(v1, UpdateFeaturesRequest.Read, 1);
        Assert.Equal([new FeatureUpdate("transaction.version", 1, FeatureUpgradeType.UnsafeDowngrade)], read1.Updates);
        Assert.True(read1.ValidateOnly);
        AssertWrites(v1, read1.Write, 1);
    }

    [Fact]
    public void UpdateFeatures_response_has_a_result_per_feature_before_v2_only_when_it_succeeded()
    {
        var ok = new UpdateFeaturesResponse(ErrorCode.None, null, ["transaction.version"]);
        // throttle, error, null message, results: name, error, null message, tags; response tags.
        AssertWrites(Hex.Parse("00000000 0000 00 02 " + Name + " 0000 00 00 00"), ok.Write, 1);
        AssertWrites(Hex.Parse("00000000 0000 00 00"), ok.Write, 2);

        var refused = new UpdateFeaturesResponse(ErrorCode.InvalidUpdateVersion, "no", ["transaction.version"]);
        var bytes = Hex.Parse("00000000 005f 03 6e6f 01 00");
        AssertWrites(bytes, refused.Write, 0);
        var r = new KafkaReader(bytes);
        var back = UpdateFeaturesResponse.Read(ref r, 0);
        Assert.Equal((ErrorCode.InvalidUpdateVersion, "no", 0), (back.Error, back.ErrorMessage, back.Features.Count));
        Assert.Equal(0, r.Remaining);
    }

    [Fact]
    public void UpdateFeatures_is_advertised_at_0_to_2_and_flexible_in_every_version()
    {
        Assert.True(ApiVersionsTable.IsSupported(ApiKey.UpdateFeatures, 2));
        Assert.False(ApiVersionsTable.IsSupported(ApiKey.UpdateFeatures, 3));
        Assert.True(ApiVersionsTable.IsFlexible(ApiKey.UpdateFeatures, 0));
    }
}
