using Microsoft.Extensions.Logging;

namespace OrleansStream.Server.Kafka.Security.OAuthBearer;

/// <summary>
/// The identity provider's verification keys from <c>sasl.oauthbearer.jwks.endpoint.url</c>, as Kafka's
/// <c>JwksFileVerificationKeyResolver</c> and <c>RefreshingHttpsJwks</c> keep them: a <c>file:</c> JWKS is read once at
/// start; an HTTP one is fetched at start, then again every <c>refresh.ms</c> in the background (a failed fetch is tried
/// again with a growing backoff and keeps the keys held), and sooner when a token names a key id not held, at most once
/// a minute for each such id. Nothing here waits on the network for a request: a token whose key is not held yet is
/// refused while the fetch it asked for runs.
/// </summary>
public sealed partial class VerificationKeys : IAsyncDisposable
{
    internal const int MissingKeyIdCacheMaxEntries = 16;
    internal const long MissingKeyIdCacheInFlightMs = 60_000;
    internal const int MissingKeyIdMaxKeyLength = 1000;

    private readonly Uri _url;
    private readonly OAuthBearerOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly HttpClient? _http;
    private readonly Dictionary<string, long> _missingKeyIds = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stopping = new();
    private volatile IReadOnlyList<JsonWebKey> _keys = [];
    private int _refreshing;
    private Task? _scheduled;

    public VerificationKeys(OAuthBearerOptions options, TimeProvider time, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        _url = new Uri(options.JwksEndpointUrl!, UriKind.Absolute);
        _time = time;
        _logger = logger;
        if (!_url.IsFile) _http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
    }

    /// <summary>The keys held now.</summary>
    public IReadOnlyList<JsonWebKey> Keys => _keys;

    public string Location => _url.ToString();

    /// <summary>
    /// Reads the keys the first time and, for an HTTP JWKS, starts the scheduled refresh. Throws (an
    /// <see cref="IOException"/>, <see cref="HttpRequestException"/> or <see cref="FormatException"/>) when the JWKS
    /// cannot be read, as Kafka's broker fails to start then.
    /// </summary>
    public async Task StartAsync(CancellationToken ct)
    {
        _keys = await ReadAsync(ct);
        LogLoaded(Location, _keys.Count);
        if (_http is not null) _scheduled = Task.Run(ScheduleAsync, CancellationToken.None);
    }

    /// <summary>
    /// Asks for a fetch now because a token named <paramref name="keyId"/>, which no key held has; at most once per
    /// <see cref="MissingKeyIdCacheInFlightMs"/> for an id. False when nothing was asked (a file JWKS, an id asked for
    /// lately, or one too long to be real).
    /// </summary>
    public bool MaybeExpediteRefresh(string keyId)
    {
        if (_http is null || keyId.Length > MissingKeyIdMaxKeyLength) return false;
        var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        lock (_missingKeyIds)
        {
            if (_missingKeyIds.TryGetValue(keyId, out var nextCheck) && nextCheck > now) return false;
            _missingKeyIds[keyId] = now + MissingKeyIdCacheInFlightMs;
            if (_missingKeyIds.Count > MissingKeyIdCacheMaxEntries)
            {
                string? oldest = null;
                foreach (var (id, at) in _missingKeyIds)
                    if (oldest is null || at < _missingKeyIds[oldest]) oldest = id;
                _missingKeyIds.Remove(oldest!);
            }
        }
        _ = Task.Run(RefreshAsync, CancellationToken.None);
        return true;
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        if (_scheduled is { } scheduled) await scheduled.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _http?.Dispose();
    }

    private async Task ScheduleAsync()
    {
        var interval = TimeSpan.FromMilliseconds(_options.JwksEndpointRefreshMs);
        while (!_stopping.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(interval, _time, _stopping.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            await RefreshAsync();
        }
    }

    private async Task RefreshAsync()
    {
        // One refresh at a time; a request for another while one runs is served by it.
        if (Interlocked.CompareExchange(ref _refreshing, 1, 0) != 0) return;
        try
        {
            var backoff = Math.Max(_options.JwksEndpointRetryBackoffMs, 1);
            var waited = 0L;
            for (var attempt = 1; ; attempt++)
            {
                try
                {
                    var keys = await ReadAsync(_stopping.Token);
                    lock (_missingKeyIds)
                        foreach (var key in keys)
                            if (key.KeyId is { } id) _missingKeyIds.Remove(id);
                    _keys = keys;
                    LogRefreshed(Location, keys.Count);
                    break;
                }
                catch (Exception e) when (e is HttpRequestException or IOException or FormatException or TaskCanceledException && !_stopping.IsCancellationRequested)
                {
                    if (waited >= _options.JwksEndpointRetryBackoffMaxMs)
                    {
                        LogRefreshFailed(e, Location, attempt);
                        break;
                    }
                    var wait = Math.Min(backoff, _options.JwksEndpointRetryBackoffMaxMs - waited);
                    await Task.Delay(TimeSpan.FromMilliseconds(wait), _time, _stopping.Token);
                    waited += wait;
                    backoff = Math.Min(backoff * 2, _options.JwksEndpointRetryBackoffMaxMs);
                }
            }
        }
        catch (Exception) when (_stopping.IsCancellationRequested)
        {
            // Stopping: the client may be gone.
        }
        finally
        {
            Volatile.Write(ref _refreshing, 0);
        }
    }

    private async Task<IReadOnlyList<JsonWebKey>> ReadAsync(CancellationToken ct)
    {
        if (_http is null) return JsonWebKey.ParseSet(await File.ReadAllBytesAsync(_url.LocalPath, ct));
        using var response = await _http.GetAsync(_url, ct);
        response.EnsureSuccessStatusCode();
        return JsonWebKey.ParseSet(await response.Content.ReadAsByteArrayAsync(ct));
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "OAUTHBEARER: read {Count} verification keys from {Location}")]
    private partial void LogLoaded(string location, int count);

    [LoggerMessage(Level = LogLevel.Debug, Message = "OAUTHBEARER: refreshed the JWKS of {Location}: {Count} verification keys")]
    private partial void LogRefreshed(string location, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "OAUTHBEARER: the JWKS refresh of {Location} failed after {Attempts} tries; the keys held stay")]
    private partial void LogRefreshFailed(Exception e, string location, int attempts);
}
