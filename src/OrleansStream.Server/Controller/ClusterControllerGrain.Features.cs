namespace OrleansStream.Server.Controller;

/// <summary>
/// The cluster's finalized features (Kafka's FeatureControlManager, KIP-584): stored in the controller's state once an
/// UpdateFeatures changes them, and read by every broker's <see cref="Kafka.FinalizedFeatures"/> when their epoch moves.
/// Until then each broker answers its configured levels at epoch 0.
/// </summary>
internal sealed partial class ClusterControllerGrain
{
    public Task<ControllerChangeResult> UpdateFeatures(IReadOnlyList<FeatureLevelUpdate> updates, bool validateOnly)
    {
        ArgumentNullException.ThrowIfNull(updates);
        if (_stateLost is { } lost) return Task.FromResult(new ControllerChangeResult(ErrorCode.InconsistentClusterId, lost));
        return Serialized(async () =>
        {
            var current = State.FinalizedFeatures ?? FeatureControl.Defaults(transactionOptions.Value);
            var levels = new Dictionary<string, short>(current, StringComparer.Ordinal);
            var (error, message) = FeatureControl.Apply(updates, levels);
            if (error != ErrorCode.None) return new ControllerChangeResult(error, message);
            if (validateOnly || SameLevels(levels, current)) return ControllerChangeResult.Stored;
            State.FinalizedFeatures = levels;
            State.FinalizedFeaturesEpoch++;
            foreach (var update in updates) LogFeatureUpdated(update.Feature, update.Level, State.FinalizedFeaturesEpoch);
            return await TryCommitAsync(metadataChanged: false) ? ControllerChangeResult.Stored : new ControllerChangeResult(ErrorCode.NotController, StaleWriteMessage);
        });
    }

    public Task<FinalizedFeatureLevels> GetFinalizedFeatures()
    {
        var image = _image;
        return Task.FromResult(new FinalizedFeatureLevels(image.FinalizedFeaturesEpoch,
            image.FinalizedFeatures is { } levels ? new Dictionary<string, short>(levels, StringComparer.Ordinal) : null));
    }

    private static bool SameLevels(Dictionary<string, short> a, Dictionary<string, short> b)
    {
        if (a.Count != b.Count) return false;
        foreach (var (name, level) in a)
            if (!b.TryGetValue(name, out var other) || other != level) return false;
        return true;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Feature {Feature} finalized at level {Level} (0: removed), features epoch {Epoch}")]
    private partial void LogFeatureUpdated(string feature, short level, long epoch);
}
