using Microsoft.Extensions.Options;
using Orleans.Configuration;

namespace OrleansStream.Server;

/// <summary>This silo's broker id: the configured <see cref="BrokerOptions.BrokerId"/>, else the silo name.</summary>
public sealed class BrokerIdentity(IOptions<BrokerOptions> options, IOptions<SiloOptions> silo)
{
    public string BrokerId { get; } = string.IsNullOrWhiteSpace(options.Value.BrokerId) ? silo.Value.SiloName : options.Value.BrokerId;
}
