using Microsoft.Extensions.Options;
using OrleansStream.Protocol.Messages;
using OrleansStream.Server.Controller;
using OrleansStream.Server.Transactions;

namespace OrleansStream.Server.Kafka;

/// <summary>
/// What this broker's ApiVersions answers of features (Kafka's FinalizedFeatureCache): the supported ranges, and the
/// finalized levels with their epoch. Until the controller stores an UpdateFeatures these are the broker's configured
/// levels (<see cref="TransactionCoordinatorOptions.TransactionVersion"/>) at epoch 0; <see cref="MetadataCache"/>
/// applies the controller's levels when their epoch moves, so a client sees a change by the epoch rising.
/// </summary>
public sealed class FinalizedFeatures(IOptions<TransactionCoordinatorOptions> options)
{
    private static readonly SupportedFeature[] Supported = CreateSupported();

    private volatile BrokerFeatures _current = Create(0, FeatureControl.Defaults(options.Value));

    /// <summary>The features to answer now.</summary>
    public BrokerFeatures Current => _current;

    /// <summary>The epoch of <see cref="Current"/>'s levels.</summary>
    public long Epoch => _current.FinalizedEpoch;

    /// <summary>The controller's levels, when newer than those answered now (none stored yet: the configured ones stay).</summary>
    internal void Apply(FinalizedFeatureLevels stored)
    {
        if (stored.Levels is { } levels && stored.Epoch > _current.FinalizedEpoch)
            _current = Create(stored.Epoch, levels);
    }

    private static BrokerFeatures Create(long epoch, IReadOnlyDictionary<string, short> levels)
    {
        var finalized = new List<FinalizedFeature>(levels.Count);
        foreach (var (name, level) in levels)
            if (level != 0) finalized.Add(new FinalizedFeature(name, level));
        finalized.Sort(static (a, b) => string.CompareOrdinal(a.Name, b.Name));
        return new BrokerFeatures(Supported, epoch, finalized);
    }

    private static SupportedFeature[] CreateSupported()
    {
        var supported = new SupportedFeature[FeatureControl.Supported.Count];
        for (var i = 0; i < supported.Length; i++) supported[i] = new SupportedFeature(FeatureControl.Supported[i].Name, 0, FeatureControl.Supported[i].Max);
        return supported;
    }
}
