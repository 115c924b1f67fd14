using System.Collections.Concurrent;
using System.Net;
using Microsoft.Extensions.Options;

namespace OrleansStream.Server.Kafka.Quotas;

/// <summary>
/// Kafka's <c>ConnectionQuotas</c> for the broker's own settings, every listener together (they all serve clients;
/// replication is not a Kafka connection here): <c>max.connection.creation.rate</c> (KIP-612), <c>max.connections</c>
/// and <c>max.connections.per.ip</c>.
/// An IP's dynamic <c>connection_creation_rate</c> is measured by <see cref="ClientQuotaManager"/>, which holds the
/// quotas the controller stores.
/// </summary>
public sealed class ConnectionQuotas
{
    private readonly int _maxConnectionCreationRate;
    private readonly int _maxConnections;
    private readonly int _maxConnectionsPerIp;
    private readonly TimeProvider _time;
    private readonly QuotaSensor _creationRate = new();
    // Kafka's acceptor records and waits under one lock, so each connection's throttle is reckoned after the wait of
    // the one before it: connections over the rate are let in one at a time, at the rate.
    private readonly SemaphoreSlim _acceptor = new(1, 1);
    private readonly ConcurrentDictionary<IPAddress, int> _connectionsPerIp = new();
    // max.connections' slots; null without the limit (Kafka's default), so nothing is counted then.
    private readonly SemaphoreSlim? _slots;

    public ConnectionQuotas(IOptions<BrokerOptions> options, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(options);
        _maxConnectionCreationRate = options.Value.MaxConnectionCreationRate;
        _maxConnectionsPerIp = options.Value.MaxConnectionsPerIp;
        _maxConnections = options.Value.MaxConnections;
        if (_maxConnections != int.MaxValue) _slots = new SemaphoreSlim(_maxConnections, _maxConnections);
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

    /// <summary>
    /// Kafka's <c>waitForConnectionSlot</c> for <c>max.connections</c>: true at once while the broker has fewer Kafka
    /// connections, else the new connection waits unread until one closes (Kafka's acceptor blocks; it is not refused).
    /// A connection that got a slot gives it back with <see cref="ReleaseConnectionSlot"/> when it ends. False when the
    /// connection closed while it waited.
    /// </summary>
    public async ValueTask<bool> WaitForConnectionSlotAsync(CancellationToken closed)
    {
        if (_slots is null) return true;
        if (_slots.Wait(0)) return true;
        try
        {
            await _slots.WaitAsync(closed);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    public void ReleaseConnectionSlot() => _slots?.Release();

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
