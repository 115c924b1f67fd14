using System.Collections.Concurrent;
using System.Net;
using Microsoft.Extensions.Options;

namespace OrleansStream.Server.Kafka.Quotas;

/// <summary>
/// Kafka's <c>ConnectionQuotas</c> for the broker's own settings: <c>max.connection.creation.rate</c> (KIP-612, every
/// listener: they all serve clients, replication is not a Kafka connection here) and <c>max.connections.per.ip</c>.
/// An IP's dynamic <c>connection_creation_rate</c> is measured by <see cref="ClientQuotaManager"/>, which holds the
/// quotas the controller stores.
/// </summary>
public sealed class ConnectionQuotas
{
    private readonly int _maxConnectionCreationRate;
    private readonly int _maxConnectionsPerIp;
    private readonly TimeProvider _time;
    private readonly QuotaSensor _creationRate = new();
    // Kafka's acceptor records and waits under one lock, so each connection's throttle is reckoned after the wait of
    // the one before it: connections over the rate are let in one at a time, at the rate.
    private readonly SemaphoreSlim _acceptor = new(1, 1);
    private readonly ConcurrentDictionary<IPAddress, int> _connectionsPerIp = new();

    public ConnectionQuotas(IOptions<BrokerOptions> options, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(options);
        _maxConnectionCreationRate = options.Value.MaxConnectionCreationRate;
        _maxConnectionsPerIp = options.Value.MaxConnectionsPerIp;
        _time = time;
    }

    public int MaxConnectionsPerIp => _maxConnectionsPerIp;

    /// <summary>
    /// Kafka's <c>waitForConnectionSlot</c> for the broker-wide rate: records the new connection and, when that takes
    /// the rate over <c>max.connection.creation.rate</c>, holds it unread for the throttle time, and every connection
    /// after it behind it, as Kafka's acceptor blocks. Returns how long this connection was held (0 without the rate
    /// set, Kafka's default: nothing is measured then).
    /// </summary>
    public async ValueTask<int> WaitForCreationSlotAsync(CancellationToken closed)
    {
        if (_maxConnectionCreationRate == int.MaxValue) return 0;
        var started = _time.GetTimestamp();
        await _acceptor.WaitAsync(closed);
        try
        {
            var throttleMs = _creationRate.RecordAndGetThrottleTimeMs(1, _maxConnectionCreationRate, _time.GetUtcNow().ToUnixTimeMilliseconds());
            if (throttleMs > 0) await Task.Delay(TimeSpan.FromMilliseconds(throttleMs), _time, closed);
        }
        finally
        {
            _acceptor.Release();
        }
        return (int)_time.GetElapsedTime(started).TotalMilliseconds;
    }

    /// <summary>Counts a connection from <paramref name="address"/>; false (not counted) when it would be over <c>max.connections.per.ip</c>.</summary>
    public bool TryAddConnection(IPAddress address)
    {
        while (true)
        {
            var current = _connectionsPerIp.GetValueOrDefault(address);
            if (current >= _maxConnectionsPerIp) return false;
            if (current == 0 ? _connectionsPerIp.TryAdd(address, 1) : _connectionsPerIp.TryUpdate(address, current + 1, current)) return true;
        }
    }

    public void RemoveConnection(IPAddress address)
    {
        while (true)
        {
            var current = _connectionsPerIp[address];
            if (current == 1 ? _connectionsPerIp.TryRemove(new KeyValuePair<IPAddress, int>(address, 1)) : _connectionsPerIp.TryUpdate(address, current - 1, current)) return;
        }
    }
}
