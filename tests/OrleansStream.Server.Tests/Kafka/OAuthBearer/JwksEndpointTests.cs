using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using OrleansStream.Server.Kafka.Security.OAuthBearer;
using OrleansStream.TestKit;

namespace OrleansStream.Server.Tests.Kafka.OAuthBearer;

/// <summary>
/// A JWKS served over HTTP by a listener started here, as Kafka's <c>RefreshingHttpsJwks</c> keeps it: fetched at start,
/// refetched every refresh interval of the (fake) clock, and sooner, once a minute at most, for a kid not held.
/// </summary>
public sealed class JwksEndpointTests : IAsyncLifetime
{
    private static readonly TestJwt Old = new("RS256", "old");
    private static readonly TestJwt New = new("ES256", "new");

    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 1, 12, 0, 0, TimeSpan.Zero));
    private readonly TestHttpServer _http;
    private readonly string _url;
    private volatile string _jwks = TestJwt.Set(Old);
    private volatile int _status = 200;
    private VerificationKeys? _keys;

    public JwksEndpointTests()
    {
        _http = TestHttpServer.Start(_ => TestHttpResponse.Json(_jwks, _status));
        _url = _http.Url + "/jwks/keys.json";
    }

    private int Requests => _http.Requests.Count;

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public async ValueTask DisposeAsync()
    {
        if (_keys is not null) await _keys.DisposeAsync();
        await _http.DisposeAsync();
    }

    private async Task<JwsAccessTokenValidator> StartAsync(long refreshMs = 3_600_000)
    {
        var options = new OAuthBearerOptions { JwksEndpointUrl = _url, JwksEndpointRefreshMs = refreshMs, JwksEndpointRetryBackoffMaxMs = 0 };
        _keys = new VerificationKeys(options, _time, NullLogger.Instance);
        await _keys.StartAsync(TestContext.Current.CancellationToken);
        return new JwsAccessTokenValidator(options, _keys, _time, NullLogger.Instance);
    }

    private string Token(TestJwt key) => key.Sign(TestJwt.Claims("alice", _time.GetUtcNow(), TimeSpan.FromHours(1)));

    [Fact]
    public async Task The_keys_are_fetched_at_start()
    {
        var validator = await StartAsync();

        Assert.Equal("alice", validator.Validate(Token(Old)).Token?.PrincipalName);
        Assert.Equal(1, Requests);
    }

    [Fact]
    public async Task A_JWKS_that_cannot_be_fetched_at_start_fails_the_start()
    {
        _status = 500;

        await Assert.ThrowsAsync<HttpRequestException>(() => StartAsync());
    }

    [Fact]
    public async Task A_token_of_a_new_kid_is_refused_while_the_refetch_it_asked_for_runs_then_accepted()
    {
        var validator = await StartAsync();
        _jwks = TestJwt.Set(Old, New);

        var first = validator.Validate(Token(New));
        await Eventually.WaitUntilAsync(() => validator.Validate(Token(New)).Token is not null, "the refetched JWKS holds the new key");

        Assert.Null(first.Token);
        // The start's fetch and the one the new kid asked for; the tokens of the wait were not let ask again.
        Assert.Equal(2, Requests);
    }

    [Fact]
    public async Task A_kid_not_held_asks_for_a_refetch_at_most_once_a_minute()
    {
        await StartAsync();

        var first = _keys!.MaybeExpediteRefresh("ghost");
        var again = _keys.MaybeExpediteRefresh("ghost");
        var other = _keys.MaybeExpediteRefresh("phantom");
        _time.Advance(TimeSpan.FromSeconds(59));
        var beforeAMinute = _keys.MaybeExpediteRefresh("ghost");
        _time.Advance(TimeSpan.FromSeconds(1));
        var afterAMinute = _keys.MaybeExpediteRefresh("ghost");
        var tooLong = _keys.MaybeExpediteRefresh(new string('k', 1001));

        Assert.Equal((true, false, true, false, true, false), (first, again, other, beforeAMinute, afterAMinute, tooLong));
        await Eventually.WaitUntilAsync(() => Requests >= 2, "the refetch asked for ran");
    }

    [Fact]
    public async Task The_keys_are_refetched_every_refresh_interval()
    {
        await StartAsync(refreshMs: 60_000);
        _jwks = TestJwt.Set(New);

        await Eventually.WaitUntilAsync(() =>
        {
            _time.Advance(TimeSpan.FromSeconds(60));
            return _keys!.Keys is [{ KeyId: "new" }];
        }, "the scheduled refresh fetched the rotated JWKS");

        Assert.True(Requests >= 2);
    }

    [Fact]
    public async Task A_failed_refresh_keeps_the_keys_held()
    {
        var validator = await StartAsync(refreshMs: 60_000);
        _status = 503;

        await Eventually.WaitUntilAsync(() =>
        {
            _time.Advance(TimeSpan.FromSeconds(60));
            return Requests >= 3;
        }, "two scheduled refreshes failed");

        Assert.NotNull(validator.Validate(Token(Old)).Token);
    }
}
