using OrleansStream.Protocol;
using OrleansStream.Protocol.Messages;

namespace OrleansStream.Kafka.Tests;

using ErrorCode = OrleansStream.ErrorCode;

/// <summary>
/// UpdateFeatures (kafka-features.sh upgrade/downgrade) on the wire: the controller stores the finalized levels with a
/// new epoch, every broker's ApiVersions answers them, and what Kafka's FeatureControlManager refuses is refused with
/// nothing stored.
/// </summary>
[Collection(KafkaClusterCollection.Name)]
public sealed class UpdateFeaturesTests(KafkaCluster cluster)
{
    private const string TransactionVersion = "transaction.version";

    [Fact]
    public async Task A_downgrade_of_transaction_version_reaches_every_brokers_ApiVersions_with_a_new_epoch_and_what_Kafka_refuses_changes_nothing()
    {
        await using var wire = await KafkaWire.ConnectAsync(cluster.Silos.KafkaPort(0));
        await using var other = await KafkaWire.ConnectAsync(cluster.Silos.KafkaPort(1));
        var before = await FeaturesAsync(wire);
        Assert.Equal([new FinalizedFeature(TransactionVersion, 2)], before.Finalized);
        try
        {
            var asUpgrade = await UpdateAsync(wire, 1, false, new FeatureUpdate(TransactionVersion, 1, FeatureUpgradeType.Upgrade));
            var aboveSupported = await UpdateAsync(wire, 1, false, new FeatureUpdate(TransactionVersion, 3, FeatureUpgradeType.Upgrade));
            var unknown = await UpdateAsync(wire, 1, false, new FeatureUpdate("no.such.feature", 1, FeatureUpgradeType.Upgrade));
            var unknownType = await UpdateAsync(wire, 1, false, new FeatureUpdate(TransactionVersion, 1, FeatureUpgradeType.Unknown));
            var validated = await UpdateAsync(wire, 1, true, new FeatureUpdate(TransactionVersion, 1, FeatureUpgradeType.SafeDowngrade));
            var unchanged = await FeaturesAsync(wire);

            Assert.Equal(ErrorCode.InvalidUpdateVersion, asUpgrade.Error);
            Assert.Equal("Invalid update version 1 for feature transaction.version. Can't downgrade to a lower version.", asUpgrade.ErrorMessage);
            Assert.Empty(asUpgrade.Features);
            Assert.Equal(ErrorCode.InvalidUpdateVersion, aboveSupported.Error);
            Assert.Equal(ErrorCode.InvalidUpdateVersion, unknown.Error);
            Assert.Equal(ErrorCode.InvalidUpdateVersion, unknownType.Error);
            Assert.Equal(ErrorCode.None, validated.Error);
            Assert.Equal([TransactionVersion], validated.Features);
            Assert.Equal(before.FinalizedEpoch, unchanged.FinalizedEpoch);
            Assert.Equal(before.Finalized, unchanged.Finalized);

            // v0's allow_downgrade is a safe downgrade.
            var downgraded = await UpdateAsync(wire, 0, false, new FeatureUpdate(TransactionVersion, 1, FeatureUpgradeType.SafeDowngrade));
            var after = await FeaturesAsync(wire);

            Assert.Equal(ErrorCode.None, downgraded.Error);
            Assert.Equal([TransactionVersion], downgraded.Features);
            Assert.Equal([new FinalizedFeature(TransactionVersion, 1)], after.Finalized);
            Assert.True(after.FinalizedEpoch > before.FinalizedEpoch);
            Assert.Equal(before.Supported, after.Supported);
            BrokerFeatures seen = BrokerFeatures.None;
            await Eventually.WaitUntilAsync(async () => (seen = await FeaturesAsync(other)).FinalizedEpoch == after.FinalizedEpoch,
                "the other broker answers the new features epoch", state: () => $"epoch {seen.FinalizedEpoch}");
            Assert.Equal(after.Finalized, seen.Finalized);
        }
        finally
        {
            // v2 answers no results, only the error.
            var restored = await UpdateAsync(wire, 2, false, new FeatureUpdate(TransactionVersion, 2, FeatureUpgradeType.Upgrade));
            Assert.Equal((ErrorCode.None, 0), (restored.Error, restored.Features.Count));
        }
        Assert.Equal([new FinalizedFeature(TransactionVersion, 2)], (await FeaturesAsync(wire)).Finalized);
    }

    private static async Task<BrokerFeatures> FeaturesAsync(KafkaWire wire)
    {
        await wire.SendAsync(ApiKey.ApiVersions, 4, w => new ApiVersionsRequest("orleansstream-tests", "1.0").Write(w, 4));
        var r = new KafkaReader(await wire.ReadFrameAsync() is { } frame ? frame.AsSpan(4) : []);
        var (error, _, features) = ApiVersionsResponse.Read(ref r, 4);
        Assert.Equal(ErrorCode.None, error);
        return features;
    }

    private static async Task<UpdateFeaturesResponse> UpdateAsync(KafkaWire wire, short version, bool validateOnly, params FeatureUpdate[] updates)
    {
        await wire.SendAsync(ApiKey.UpdateFeatures, version, w => new UpdateFeaturesRequest(60_000, updates, validateOnly).Write(w, version));
        var r = new KafkaReader(await wire.ReadFrameAsync() is { } frame ? frame.AsSpan(5) : []);
        var response = UpdateFeaturesResponse.Read(ref r, version);
        Assert.Equal(0, r.Remaining);
        return response;
    }
}
