using OrleansStream.Server.Transactions;

namespace OrleansStream.Server.Controller;

/// <summary>One feature's new level from UpdateFeatures, as the broker hands it to the controller.</summary>
[GenerateSerializer, Immutable]
public sealed record FeatureLevelUpdate([property: Id(0)] string Feature, [property: Id(1)] short Level, [property: Id(2)] sbyte UpgradeType);

/// <summary>
/// The cluster's finalized feature levels and their epoch, as the controller stores them; <paramref name="Levels"/>
/// null while no UpdateFeatures was ever stored (each broker then answers its configured levels at epoch 0).
/// </summary>
[GenerateSerializer, Immutable]
public sealed record FinalizedFeatureLevels([property: Id(0)] long Epoch, [property: Id(1)] IReadOnlyDictionary<string, short>? Levels);

/// <summary>
/// Kafka's FeatureControlManager rules for UpdateFeatures (KIP-584, KIP-778): the features every broker here supports
/// and their version ranges, and the checks of a request's updates against the finalized levels. A request's updates are
/// applied together or not at all; the first refused one answers <see cref="ErrorCode.InvalidUpdateVersion"/> with
/// Kafka's message shape.
/// </summary>
internal static class FeatureControl
{
    /// <summary>Kafka's feature name for the transaction protocol's version (KIP-890 part 2, KIP-1022).</summary>
    public const string TransactionVersionFeature = "transaction.version";

    /// <summary>The features this broker supports, each from level 0 (absent) to its highest.</summary>
    public static readonly IReadOnlyList<(string Name, short Max)> Supported =
        [(TransactionVersionFeature, TransactionCoordinatorOptions.MaxTransactionVersion)];

    /// <summary>The levels a cluster runs before any UpdateFeatures: the broker's configured ones (Kafka's levels at format).</summary>
    public static Dictionary<string, short> Defaults(TransactionCoordinatorOptions options) =>
        new(StringComparer.Ordinal) { [TransactionVersionFeature] = options.TransactionVersion };

    /// <summary>
    /// Applies <paramref name="updates"/> to <paramref name="levels"/> (a copy the caller stores only on success); the
    /// error and message of the first update refused, else None. Level 0 removes a feature. A later update of the same
    /// feature wins, as Kafka's map of updates keeps the last.
    /// </summary>
    public static (ErrorCode Error, string? Message) Apply(IReadOnlyList<FeatureLevelUpdate> updates, Dictionary<string, short> levels)
    {
        foreach (var update in updates)
        {
            var current = levels.GetValueOrDefault(update.Feature);
            string? reason = null;
            if (update.UpgradeType is < 1 or > 3)
                reason = "The controller does not support the given upgrade type.";
            else if (update.Level < 0)
                reason = "A feature version cannot be less than 0.";
            else if (MaxOf(update.Feature) is not { } max)
                reason = "No broker of this cluster supports this feature.";
            else if (update.Level > max)
                reason = $"The brokers of this cluster support versions 0 to {max} of it.";
            else if (update.Level < current && update.UpgradeType == 1)
                reason = "Can't downgrade to a lower version.";
            if (reason is not null)
                return (ErrorCode.InvalidUpdateVersion, $"Invalid update version {update.Level} for feature {update.Feature}. {reason}");
            if (update.Level == 0) levels.Remove(update.Feature);
            else levels[update.Feature] = update.Level;
        }
        return (ErrorCode.None, null);
    }

    private static short? MaxOf(string feature)
    {
        foreach (var (name, max) in Supported)
            if (name == feature) return max;
        return null;
    }
}
