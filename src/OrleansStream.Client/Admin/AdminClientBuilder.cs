using OrleansStream.Client.Admin;

namespace OrleansStream.Client;

/// <summary>Builds an <see cref="IAdminClient"/> over an Orleans cluster client.</summary>
public sealed class AdminClientBuilder(IClusterClient clusterClient, AdminClientConfig? config = null)
{
    private TimeProvider _time = TimeProvider.System;

    public AdminClientBuilder(IClusterClient clusterClient, IEnumerable<KeyValuePair<string, string>> config)
        : this(clusterClient, new AdminClientConfig(config)) { }

    internal AdminClientBuilder SetTimeProvider(TimeProvider time)
    {
        _time = time;
        return this;
    }

    public IAdminClient Build() => new AdminClient(clusterClient, config ?? new AdminClientConfig(), _time);
}
