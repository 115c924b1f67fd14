using System.Diagnostics.Metrics;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using OrleansStream.Protocol;
using OrleansStream.Protocol.Sasl;
using OrleansStream.Server.Diagnostics;
using OrleansStream.Server.Kafka.Security;

namespace OrleansStream.Server.Tests.Kafka;

/// <summary>One connection's SASL state: Kafka's answers and when the connection closes, and the failure counter.</summary>
public sealed class SaslServerAuthenticatorTests : IDisposable
{
    private readonly ServiceProvider _services = new ServiceCollection().AddOrleansStreamMetrics().BuildServiceProvider();
    private readonly MeterListener _listener = new();
    private readonly List<string?> _failures = [];
    private readonly List<string?> _reauthentications = [];
    private readonly SaslCredentialStore _credentials = new(Options.Create(new SaslOptions
    {
        EnabledMechanisms = "PLAIN,SCRAM-SHA-512",
        Users = { ["alice"] = new SaslUserOptions { Password = "alice-secret" } },
    }));

    public SaslServerAuthenticatorTests()
    {
        var metrics = _services.GetRequiredService<OrleansStreamMetrics>();
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (ReferenceEquals(instrument.Meter, metrics.Meter) && instrument.Name is "orleansstream.kafka.authentication.failures" or "orleansstream.kafka.reauthentications")
                listener.EnableMeasurementEvents(instrument);
        };
        _listener.SetMeasurementEventCallback<long>((instrument, _, tags, _) =>
        {
            var counted = instrument.Name == "orleansstream.kafka.reauthentications" ? _reauthentications : _failures;
            foreach (var tag in tags) if (tag.Key == "mechanism") lock (counted) counted.Add(tag.Value as string);
        });
        _listener.Start();
    }

    public void Dispose()
    {
        _listener.Dispose();
        _services.Dispose();
    }

    private readonly FakeTimeProvider _time = new(DateTimeOffset.UnixEpoch.AddDays(1));

    private SaslServerAuthenticator NewConnection(long connectionsMaxReauthMs = 0) => NewConnection(_ => connectionsMaxReauthMs);

    private SaslServerAuthenticator NewConnection(Func<string, long> connectionsMaxReauthMs) =>
        new(_credentials, _services.GetRequiredService<OrleansStreamMetrics>(), _time, connectionsMaxReauthMs);

    private static ReadOnlySpan<byte> Alice => "\0alice\0alice-secret"u8;

    [Fact]
    public void A_PLAIN_exchange_authenticates_and_a_second_SaslAuthenticate_is_IllegalSaslState_on_an_open_connection()
    {
        var sasl = NewConnection();

        var handshake = sasl.Handshake("PLAIN", 1, out var closeAfterHandshake);
        var authenticate = sasl.Authenticate("\0alice\0alice-secret"u8, out var closeAfterAuthenticate);
        var again = sasl.Authenticate("\0alice\0alice-secret"u8, out var closeAfterAgain);

        Assert.Equal((ErrorCode.None, false), (handshake.Error, closeAfterHandshake));
        Assert.Equal(["PLAIN", "SCRAM-SHA-512"], handshake.Mechanisms);
        Assert.Equal((ErrorCode.None, false, true, "alice"), (authenticate.Error, closeAfterAuthenticate, sasl.IsAuthenticated, sasl.User));
        Assert.Equal((ErrorCode.IllegalSaslState, false), (again.Error, closeAfterAgain));
        Assert.Empty(_failures);
    }

    [Fact]
    public void A_wrong_password_is_SaslAuthenticationFailed_closes_and_is_counted_by_mechanism()
    {
        var sasl = NewConnection();
        sasl.Handshake("PLAIN", 1, out _);

        var answer = sasl.Authenticate("\0alice\0wrong"u8, out var close);

        Assert.Equal((ErrorCode.SaslAuthenticationFailed, PlainSaslServer.InvalidCredentials, true), (answer.Error, answer.ErrorMessage, close));
        Assert.False(sasl.IsAuthenticated);
        Assert.Equal(["PLAIN"], _failures);
    }

    [Theory]
    [InlineData("SCRAM-SHA-256", "mechanism not enabled")]
    [InlineData("GSSAPI", "mechanism not served")]
    public void A_mechanism_not_enabled_is_UnsupportedSaslMechanism_and_closes(string mechanism, string why)
    {
        var answer = NewConnection().Handshake(mechanism, 1, out var close);

        Assert.True((ErrorCode.UnsupportedSaslMechanism, true) == (answer.Error, close), why);
    }

    [Fact]
    public void Steps_out_of_order_are_IllegalSaslState_and_close()
    {
        var early = NewConnection().Authenticate("\0alice\0alice-secret"u8, out var closeEarly);
        var twice = NewConnection();
        twice.Handshake("PLAIN", 1, out _);
        var second = twice.Handshake("PLAIN", 1, out var closeTwice);

        Assert.Equal((ErrorCode.IllegalSaslState, true), (early.Error, closeEarly));
        Assert.Equal((ErrorCode.IllegalSaslState, true), (second.Error, closeTwice));
    }

    [Fact]
    public void After_SaslHandshake_v0_the_tokens_come_bare_until_the_exchange_completes()
    {
        var sasl = NewConnection();
        sasl.Handshake("SCRAM-SHA-512", 0, out _);

        var awaiting = sasl.AwaitsRawToken;
        var first = sasl.EvaluateRawToken("n,,n=alice,r=abc"u8);
        var stillAwaiting = sasl.AwaitsRawToken;
        var final = sasl.EvaluateRawToken(Encoding.UTF8.GetBytes($"c=biws,r=abc{Encoding.UTF8.GetString(first.Challenge).Split(',')[0][5..]},p=AAAA"));

        Assert.True(awaiting && stillAwaiting);
        Assert.Equal(SaslOutcome.Continue, first.Outcome);
        Assert.Equal(SaslOutcome.Failed, final.Outcome);
        Assert.False(sasl.AwaitsRawToken);
        Assert.Equal(["SCRAM-SHA-512"], _failures);
    }

    [Fact]
    public void Without_a_session_lifetime_a_session_never_expires_and_SaslHandshake_after_it_is_IllegalSaslState_on_an_open_connection()
    {
        var sasl = NewConnection();
        sasl.Handshake("PLAIN", 1, out _);
        var authenticate = sasl.Authenticate(Alice, out _);
        _time.Advance(TimeSpan.FromDays(365));

        var handshake = sasl.Handshake("PLAIN", 1, out var close);

        Assert.Equal(0, authenticate.SessionLifetimeMs);
        Assert.False(sasl.SessionExpired);
        Assert.Equal((ErrorCode.IllegalSaslState, false), (handshake.Error, close));
        Assert.True(sasl.IsAuthenticated && !sasl.IsReauthenticating && sasl.Allows(ApiKey.Metadata));
    }

    /// <summary>KIP-368: the session lasts connections.max.reauth.ms from the end of the exchange; a request after it closes.</summary>
    [Fact]
    public void With_connections_max_reauth_ms_the_session_lifetime_is_answered_and_the_session_expires_after_it()
    {
        var sasl = NewConnection(connectionsMaxReauthMs: 5000);
        sasl.Handshake("PLAIN", 1, out _);
        _time.Advance(TimeSpan.FromSeconds(3));
        var authenticate = sasl.Authenticate(Alice, out _);

        Assert.Equal((ErrorCode.None, 5000L), (authenticate.Error, authenticate.SessionLifetimeMs));
        _time.Advance(TimeSpan.FromMilliseconds(5000));
        Assert.False(sasl.SessionExpired);
        _time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.True(sasl.SessionExpired);
    }

    /// <summary>
    /// Kafka's <c>listener.name.L.M.connections.max.reauth.ms</c> and <c>listener.name.L.connections.max.reauth.ms</c>
    /// (SaslChannelBuilder): a session's limit is its listener's for its mechanism, else its listener's, else the broker's.
    /// </summary>
    [Fact]
    public void The_session_lifetime_is_the_listener_and_mechanism_limit_before_the_listener_limit_before_the_broker_limit()
    {
        var broker = new BrokerOptions
        {
            Listeners = "PLAINTEXT://127.0.0.1:9092,SASL_PLAINTEXT://127.0.0.1:9093,SASL_SSL://127.0.0.1:9094",
            ConnectionsMaxReauthMs = 9000,
            ListenerConnectionsMaxReauthMs = { ["sasl_plaintext.plain"] = 1000, ["SASL_PLAINTEXT"] = 3000 },
        };
        var sasl = NewConnection(mechanism => broker.ConnectionsMaxReauthMsFor("SASL_PLAINTEXT", mechanism));
        sasl.Handshake("PLAIN", 1, out _);

        var authenticate = sasl.Authenticate(Alice, out _);

        Assert.Equal((ErrorCode.None, 1000L), (authenticate.Error, authenticate.SessionLifetimeMs));
        Assert.Equal(3000, broker.ConnectionsMaxReauthMsFor("SASL_PLAINTEXT", "SCRAM-SHA-512"));
        Assert.Equal(9000, broker.ConnectionsMaxReauthMsFor("SASL_SSL", "PLAIN"));
        Assert.True(new BrokerOptionsValidator().Validate(null, broker).Succeeded);
    }

    [Fact]
    public void A_listener_limit_for_no_listener_or_no_mechanism_or_below_zero_is_refused_at_start()
    {
        var broker = new BrokerOptions
        {
            Listeners = "PLAINTEXT://127.0.0.1:9092,SASL_SSL://127.0.0.1:9094",
            ListenerConnectionsMaxReauthMs = { ["EXTERNAL"] = 1000, ["SASL_SSL.GSSAPI"] = 1000, ["SASL_SSL.SCRAM-SHA-256"] = -1 },
        };

        var failures = new BrokerOptionsValidator().Validate(null, broker).Failures;

        Assert.Equal([
            "OrleansStream:ListenerConnectionsMaxReauthMs:EXTERNAL names no listener of OrleansStream:Listeners.",
            "OrleansStream:ListenerConnectionsMaxReauthMs:SASL_SSL.GSSAPI: 'GSSAPI' is not a SASL mechanism this broker serves (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER).",
            "OrleansStream:ListenerConnectionsMaxReauthMs:SASL_SSL.SCRAM-SHA-256 must not be negative, not -1.",
        ], failures);
    }

    [Fact]
    public void Re_authentication_with_the_same_mechanism_and_user_renews_the_session_on_the_same_connection()
    {
        var sasl = NewConnection(connectionsMaxReauthMs: 5000);
        sasl.Handshake("PLAIN", 1, out _);
        sasl.Authenticate(Alice, out _);
        _time.Advance(TimeSpan.FromMilliseconds(4000));

        var handshake = sasl.Handshake("PLAIN", 1, out var closeAfterHandshake);
        var during = (sasl.IsAuthenticated, sasl.IsReauthenticating, sasl.Allows(ApiKey.Metadata), sasl.Allows(ApiKey.ApiVersions), sasl.Allows(ApiKey.SaslAuthenticate), sasl.User);
        _time.Advance(TimeSpan.FromMilliseconds(2000));
        var expiredDuring = sasl.SessionExpired;
        var authenticate = sasl.Authenticate(Alice, out var closeAfterAuthenticate);

        Assert.Equal((ErrorCode.None, false), (handshake.Error, closeAfterHandshake));
        Assert.Equal((true, true, false, false, true, "alice"), during);
        Assert.False(expiredDuring);
        Assert.Equal((ErrorCode.None, false, 5000L), (authenticate.Error, closeAfterAuthenticate, authenticate.SessionLifetimeMs));
        Assert.True(sasl.IsAuthenticated && !sasl.IsReauthenticating && sasl.Allows(ApiKey.Metadata));
        Assert.Equal(["PLAIN"], _reauthentications);
        // The new session runs from the re-authentication: 5 s after it, not after the first.
        _time.Advance(TimeSpan.FromMilliseconds(5000));
        Assert.False(sasl.SessionExpired);
        _time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.True(sasl.SessionExpired);
    }

    [Fact]
    public void A_second_re_authentication_within_a_second_is_IllegalSaslState_and_the_connection_stays()
    {
        var sasl = NewConnection(connectionsMaxReauthMs: 60_000);
        sasl.Handshake("PLAIN", 1, out _);
        sasl.Authenticate(Alice, out _);
        sasl.Handshake("PLAIN", 1, out _);
        sasl.Authenticate(Alice, out _);
        _time.Advance(TimeSpan.FromMilliseconds(999));

        var tooSoon = sasl.Handshake("PLAIN", 1, out var closeTooSoon);
        _time.Advance(TimeSpan.FromMilliseconds(1));
        var later = sasl.Handshake("PLAIN", 1, out var closeLater);

        Assert.Equal((ErrorCode.IllegalSaslState, false), (tooSoon.Error, closeTooSoon));
        Assert.Equal((ErrorCode.None, false), (later.Error, closeLater));
        Assert.True(sasl.IsReauthenticating);
    }

    [Fact]
    public void Re_authentication_as_another_user_fails_and_closes()
    {
        var credentials = new SaslCredentialStore(Options.Create(new SaslOptions
        {
            EnabledMechanisms = "PLAIN",
            Users = { ["alice"] = new SaslUserOptions { Password = "alice-secret" }, ["bob"] = new SaslUserOptions { Password = "bob-secret" } },
        }));
        var sasl = new SaslServerAuthenticator(credentials, _services.GetRequiredService<OrleansStreamMetrics>(), _time, _ => 5000);
        sasl.Handshake("PLAIN", 1, out _);
        sasl.Authenticate(Alice, out _);
        sasl.Handshake("PLAIN", 1, out _);

        var answer = sasl.Authenticate("\0bob\0bob-secret"u8, out var close);

        Assert.Equal((ErrorCode.SaslAuthenticationFailed, true), (answer.Error, close));
        Assert.Equal("Cannot change principals during re-authentication from User.alice: User.bob", answer.ErrorMessage);
        Assert.False(sasl.IsAuthenticated);
        Assert.Equal(["PLAIN"], _failures);
        Assert.Empty(_reauthentications);
    }

    [Fact]
    public void Re_authentication_with_another_mechanism_is_accepted_at_the_handshake_and_fails_at_the_first_token()
    {
        var sasl = NewConnection(connectionsMaxReauthMs: 5000);
        sasl.Handshake("PLAIN", 1, out _);
        sasl.Authenticate(Alice, out _);

        var handshake = sasl.Handshake("SCRAM-SHA-512", 1, out var closeAfterHandshake);
        var answer = sasl.Authenticate("n,,n=alice,r=abc"u8, out var close);

        Assert.Equal((ErrorCode.None, false), (handshake.Error, closeAfterHandshake));
        Assert.Equal((ErrorCode.SaslAuthenticationFailed, true), (answer.Error, close));
        Assert.Equal("SASL mechanism 'SCRAM-SHA-512' requested by client is not supported for re-authentication of mechanism 'PLAIN'", answer.ErrorMessage);
        Assert.False(sasl.IsAuthenticated);
    }

    [Fact]
    public void A_wrong_password_at_re_authentication_fails_and_closes()
    {
        var sasl = NewConnection(connectionsMaxReauthMs: 5000);
        sasl.Handshake("PLAIN", 1, out _);
        sasl.Authenticate(Alice, out _);
        sasl.Handshake("PLAIN", 1, out _);

        var answer = sasl.Authenticate("\0alice\0wrong"u8, out var close);

        Assert.Equal((ErrorCode.SaslAuthenticationFailed, PlainSaslServer.InvalidCredentials, true), (answer.Error, answer.ErrorMessage, close));
        Assert.False(sasl.IsAuthenticated || sasl.Allows(ApiKey.Metadata));
    }
}
