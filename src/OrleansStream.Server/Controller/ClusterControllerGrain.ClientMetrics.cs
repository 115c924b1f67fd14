using OrleansStream.Server.ClientMetrics;

namespace OrleansStream.Server.Controller;

/// <summary>
/// KIP-714's client metrics resources (Kafka's dynamic configs of type CLIENT_METRICS, <c>kafka-client-metrics.sh</c>):
/// stored in the controller's state, changed by IncrementalAlterConfigs and AlterConfigs, and read by every broker's
/// <see cref="ClientMetricsManager"/> when the client metrics version moves.
/// </summary>
internal sealed partial class ClusterControllerGrain
{
    public Task<IReadOnlyList<ControllerChangeResult>> AlterClientMetrics(IReadOnlyList<ClientMetricsConfigsChange> changes, bool validateOnly)
    {
        ArgumentNullException.ThrowIfNull(changes);
        if (_stateLost is { } lost)
        {
            var refused = new ControllerChangeResult[changes.Count];
            Array.Fill(refused, new ControllerChangeResult(ErrorCode.InconsistentClusterId, lost));
            return Task.FromResult<IReadOnlyList<ControllerChangeResult>>(refused);
        }
        return Serialized<IReadOnlyList<ControllerChangeResult>>(async () =>
        {
            var results = new ControllerChangeResult[changes.Count];
            var stored = State.ClientMetrics;
            var changed = false;
            for (var i = 0; i < changes.Count; i++)
            {
                var change = changes[i];
                var current = stored.TryGetValue(change.Name, out var configs) ? configs : new Dictionary<string, string>(StringComparer.Ordinal);
                var (next, error, message) = ConfigAlteration.Apply(current, change.Configs, change.Incremental, $"client metrics '{change.Name}'",
                    ClientMetricsSubscription.ListDefault);
                if (next is null)
                {
                    results[i] = new ControllerChangeResult(error, message);
                    continue;
                }
                if (ClientMetricsSubscription.ValidateConfigs(change.Name, next) is { } invalid)
                {
                    results[i] = new ControllerChangeResult(invalid.Error, invalid.Message);
                    continue;
                }
                results[i] = ControllerChangeResult.Stored;
                if (validateOnly) continue;
                if (next.Count == 0) changed |= stored.Remove(change.Name);
                else
                {
                    stored[change.Name] = next;
                    changed = true;
                }
                LogClientMetricsChanged(change.Name, next.Count == 0 ? "(removed)" : string.Join(", ", next));
            }
            if (!changed) return results;
            State.ClientMetricsVersion++;
            if (await TryCommitAsync(metadataChanged: false)) return results;
            for (var i = 0; i < results.Length; i++)
                if (results[i].Error == ErrorCode.None) results[i] = new ControllerChangeResult(ErrorCode.NotController, StaleWriteMessage);
            return results;
        });
    }

    public Task<ClientMetricsSnapshot> GetClientMetrics()
    {
        var image = _image;
        return Task.FromResult(new ClientMetricsSnapshot(image.ClientMetricsVersion, image.ClientMetrics));
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Client metrics subscription {Name}: {Configs}")]
    private partial void LogClientMetricsChanged(string name, string configs);
}
