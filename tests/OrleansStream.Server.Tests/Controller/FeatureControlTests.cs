using OrleansStream.Server.Controller;
using OrleansStream.Server.Transactions;

namespace OrleansStream.Server.Tests.Controller;

/// <summary>Kafka's FeatureControlManager checks of UpdateFeatures, as <see cref="FeatureControl"/> applies them.</summary>
public sealed class FeatureControlTests
{
    private const string Tv = "transaction.version";

    private static Dictionary<string, short> Levels(short tv) => new(StringComparer.Ordinal) { [Tv] = tv };

    [Fact]
    public void A_new_cluster_runs_the_configured_transaction_version()
    {
        Assert.Equal(Levels(2), FeatureControl.Defaults(new TransactionCoordinatorOptions()));
        Assert.Equal(Levels(1), FeatureControl.Defaults(new TransactionCoordinatorOptions { TransactionVersion = 1 }));
    }

    [Theory]
    [InlineData(1, 1, 2, "Can't downgrade to a lower version.")]
    [InlineData(3, 1, 2, "The brokers of this cluster support versions 0 to 2 of it.")]
    [InlineData(-1, 2, 2, "A feature version cannot be less than 0.")]
    [InlineData(1, 0, 2, "The controller does not support the given upgrade type.")]
    [InlineData(1, 4, 2, "The controller does not support the given upgrade type.")]
    public void Refused_updates_answer_InvalidUpdateVersion_and_change_nothing(short level, sbyte type, short current, string reason)
    {
        var levels = Levels(current);
        var (error, message) = FeatureControl.Apply([new FeatureLevelUpdate(Tv, level, type)], levels);
        Assert.Equal(ErrorCode.InvalidUpdateVersion, error);
        Assert.Equal($"Invalid update version {level} for feature {Tv}. {reason}", message);
        Assert.Equal(Levels(current), levels);
    }

    [Fact]
    public void An_unknown_feature_is_refused()
    {
        var (error, message) = FeatureControl.Apply([new FeatureLevelUpdate("metadata.version", 1, 1)], Levels(2));
        Assert.Equal(ErrorCode.InvalidUpdateVersion, error);
        Assert.EndsWith("No broker of this cluster supports this feature.", message);
    }

    [Fact]
    public void Downgrades_safe_or_unsafe_upgrades_and_level_0_removing_the_feature_are_applied()
    {
        var levels = Levels(2);
        Assert.Equal((ErrorCode.None, null), FeatureControl.Apply([new FeatureLevelUpdate(Tv, 1, 2)], levels));
        Assert.Equal(Levels(1), levels);
        Assert.Equal((ErrorCode.None, null), FeatureControl.Apply([new FeatureLevelUpdate(Tv, 2, 1)], levels));
        Assert.Equal(Levels(2), levels);
        Assert.Equal((ErrorCode.None, null), FeatureControl.Apply([new FeatureLevelUpdate(Tv, 0, 3)], levels));
        Assert.Empty(levels);
    }
}
