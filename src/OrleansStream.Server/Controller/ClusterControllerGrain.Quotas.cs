using OrleansStream.Server.Kafka.Quotas;

namespace OrleansStream.Server.Controller;

/// <summary>
/// The cluster's client quotas (Kafka's <c>ClientQuotaControlManager</c>, KIP-546): stored in the controller's state,
/// changed one request at a time, and read by every broker's <see cref="ClientQuotaManager"/> when the quota version
/// moves. The brokers check each alteration (entity, keys, values) first; the controller applies what they send.
/// </summary>
internal sealed partial class ClusterControllerGrain
{
    public Task<ControllerChangeResult> AlterClientQuotas(IReadOnlyList<ClientQuotaChange> changes)
    {
        ArgumentNullException.ThrowIfNull(changes);
        if (_stateLost is { } lost) return Task.FromResult(new ControllerChangeResult(ErrorCode.InconsistentClusterId, lost));
        return Serialized(async () =>
        {
            var quotas = State.ClientQuotas;
            var changed = 0;
            foreach (var change in changes)
            {
                var at = quotas.FindIndex(q => q.Entity == change.Entity && q.Key == change.Key);
                if (change.Value is not { } value)
                {
                    if (at < 0) continue;
                    quotas.RemoveAt(at);
                }
                else if (at >= 0)
                {
                    // Only a changed value is a change (Kafka writes no record for the same value).
                    if (quotas[at].Value.Equals(value)) continue;
                    quotas[at] = new StoredClientQuota(change.Entity, change.Key, value);
                }
                else quotas.Add(new StoredClientQuota(change.Entity, change.Key, value));
                changed++;
                LogClientQuotaChanged(change.Entity, change.Key, change.Value);
            }
            if (changed == 0) return ControllerChangeResult.Stored;
            State.ClientQuotaVersion++;
            return await TryCommitAsync(metadataChanged: false) ? ControllerChangeResult.Stored : new ControllerChangeResult(ErrorCode.NotController, StaleWriteMessage);
        });
    }

    public Task<ClientQuotaSnapshot> GetClientQuotas()
    {
        var image = _image;
        return Task.FromResult(new ClientQuotaSnapshot(image.ClientQuotaVersion, image.ClientQuotas));
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Client quota of {Entity}: {Key} = {Value} (null: removed)")]
    private partial void LogClientQuotaChanged(ClientQuotaEntity entity, string key, double? value);
}
