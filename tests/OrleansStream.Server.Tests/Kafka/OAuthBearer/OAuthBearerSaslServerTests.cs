using System.Diagnostics.Metrics;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using OrleansStream.Protocol.Sasl;
using OrleansStream.Server.Diagnostics;
using OrleansStream.Server.Kafka.Security;
using OrleansStream.Server.Kafka.Security.OAuthBearer;
using OrleansStream.TestKit;

namespace OrleansStream.Server.Tests.Kafka.OAuthBearer;

/// <summary>
/// The OAUTHBEARER exchange as Kafka's <c>OAuthBearerSaslServer</c> runs it, with the unsecured validator: a valid token
/// completes at once; an invalid one is answered with the JSON error and fails at the client's ^A; and the options that
/// turn it on.
/// </summary>
public sealed class OAuthBearerSaslServerTests : IDisposable
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 1, 12, 0, 0, TimeSpan.Zero));
    private readonly ServiceProvider _services = new ServiceCollection().AddOrleansStreamMetrics().BuildServiceProvider();

    public void Dispose() => _services.Dispose();

    private OAuthBearerSaslServer Server(string? requiredScope = null) =>
        new(new UnsecuredJwsValidator(new UnsecuredValidatorOptions { Enabled = true, RequiredScope = requiredScope }, _time, NullLogger.Instance));

    private string Token(string subject = "alice") => TestJwt.Unsecured(TestJwt.Claims(subject, _time.GetUtcNow(), TimeSpan.FromMinutes(5)));

    private static byte[] Initial(string token, string authorizationId = "", string extensions = "") =>
        Encoding.UTF8.GetBytes($"n,{(authorizationId.Length > 0 ? "a=" + authorizationId : "")},\u0001auth=Bearer {token}\u0001{extensions}\u0001");

    [Fact]
    public void A_valid_token_completes_with_an_empty_challenge_and_its_subject_and_expiry()
    {
        var server = Server();

        var step = server.Evaluate(Initial(Token(), extensions: "traceId=42\u0001"));

        Assert.Equal((SaslOutcome.Complete, 0), (step.Outcome, step.Challenge.Length));
        Assert.Equal("alice", server.User);
        Assert.Equal(_time.GetUtcNow().AddMinutes(5).ToUnixTimeMilliseconds(), server.CredentialExpiresAtMs);
        Assert.Equal("42", server.Extensions["traceId"]);
    }

    [Fact]
    public void An_invalid_token_is_answered_with_the_JSON_error_and_fails_with_it_at_the_client_s_kvsep()
    {
        var server = Server();

        var first = server.Evaluate(Initial("not.a.jwt"));
        var second = server.Evaluate([0x01]);

        Assert.Equal((SaslOutcome.Continue, "{\"status\":\"invalid_token\"}"), (first.Outcome, Encoding.UTF8.GetString(first.Challenge)));
        Assert.Equal((SaslOutcome.Failed, "{\"status\":\"invalid_token\"}"), (second.Outcome, second.Error));
        Assert.Null(server.CredentialExpiresAtMs);
    }

    [Fact]
    public void An_expired_token_is_refused_the_same_way()
    {
        var server = Server();
        var token = Token();
        _time.Advance(TimeSpan.FromMinutes(6));

        Assert.Equal(SaslOutcome.Continue, server.Evaluate(Initial(token)).Outcome);
        Assert.Equal(SaslOutcome.Failed, server.Evaluate([0x01]).Outcome);
        Assert.Null(server.User);
    }

    [Fact]
    public void A_missing_scope_is_answered_insufficient_scope_with_the_scope_required()
    {
        var step = Server(requiredScope: "kafka").Evaluate(Initial(Token()));

        Assert.Equal("{\"status\":\"insufficient_scope\", \"scope\":\"kafka\"}", Encoding.UTF8.GetString(step.Challenge));
    }

    [Fact]
    public void An_authorization_id_other_than_the_principal_is_refused_and_the_principal_s_own_accepted()
    {
        var other = Server().Evaluate(Initial(Token(), authorizationId: "admin"));
        var own = Server().Evaluate(Initial(Token(), authorizationId: "alice"));

        Assert.Equal((SaslOutcome.Failed, "Authentication failed: Client requested an authorization id (admin) that is different from the token's principal name (alice)"),
            (other.Outcome, other.Error));
        Assert.Equal(SaslOutcome.Complete, own.Outcome);
    }

    [Theory]
    [InlineData("n,,\u0001auth=Bearer x\u0001")]
    [InlineData("\u0001")]
    public void A_malformed_initial_response_fails_with_Kafka_s_generic_message(string message)
    {
        var step = Server().Evaluate(Encoding.UTF8.GetBytes(message));

        Assert.Equal((SaslOutcome.Failed, "Authentication failed during authentication due to invalid credentials with SASL mechanism OAUTHBEARER"), (step.Outcome, step.Error));
    }

    /// <summary>Odd initial responses (random byte changes to a signed and an unsigned one): each step answers, none throws.</summary>
    [Fact]
    public async Task Mutated_initial_responses_are_answered_or_refused_and_never_throw()
    {
        using var key = new TestJwt("ES256", "k");
        var jwks = Path.GetTempFileName();
        await File.WriteAllTextAsync(jwks, TestJwt.Set(key), TestContext.Current.CancellationToken);
        var options = new OAuthBearerOptions { JwksEndpointUrl = new Uri(jwks).AbsoluteUri };
        await using var keys = new VerificationKeys(options, _time, NullLogger.Instance);
        await keys.StartAsync(TestContext.Current.CancellationToken);
        File.Delete(jwks);
        IOAuthBearerValidator[] validators = [new JwsAccessTokenValidator(options, keys, _time, NullLogger.Instance),
            new UnsecuredJwsValidator(new UnsecuredValidatorOptions { Enabled = true }, _time, NullLogger.Instance)];
        var claims = TestJwt.Claims("alice", _time.GetUtcNow(), TimeSpan.FromMinutes(5));
        claims["scope"] = new JsonArray("a", "b");
        var messages = new[] { Initial(key.Sign(claims), "alice", "traceId=1\u0001"), Initial(TestJwt.Unsecured(claims)) };
        var random = new Random(7628);
        var outcomes = new HashSet<SaslOutcome>();

        for (var i = 0; i < 4000; i++)
        {
            var message = (byte[])messages[i % 2].Clone();
            for (var changes = random.Next(1, 4); changes > 0; changes--)
                message[random.Next(message.Length)] = random.Next(3) switch { 0 => (byte)random.Next(256), 1 => (byte)'.', _ => (byte)'=' };
            var server = new OAuthBearerSaslServer(validators[i % 2]);
            var step = server.Evaluate(message);
            outcomes.Add(step.Outcome);
            if (step.Outcome == SaslOutcome.Continue) Assert.Equal(SaslOutcome.Failed, server.Evaluate([0x01]).Outcome);
        }

        Assert.Equal([SaslOutcome.Continue, SaslOutcome.Complete, SaslOutcome.Failed], outcomes.Order());
    }

    [Fact]
    public void Through_the_authenticator_a_refused_token_is_SaslAuthenticationFailed_counted_under_OAUTHBEARER()
    {
        var failures = new List<string?>();
        var metrics = _services.GetRequiredService<OrleansStreamMetrics>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (ReferenceEquals(instrument.Meter, metrics.Meter) && instrument.Name == "orleansstream.kafka.authentication.failures") l.EnableMeasurementEvents(instrument);
        };
        listener.SetMeasurementEventCallback<long>((_, _, tags, _) =>
        {
            foreach (var tag in tags) if (tag.Key == "mechanism") failures.Add(tag.Value as string);
        });
        listener.Start();
        var credentials = new SaslCredentialStore(Options.Create(new SaslOptions { EnabledMechanisms = "OAUTHBEARER" }));
        var validator = new UnsecuredJwsValidator(new UnsecuredValidatorOptions { Enabled = true }, _time, NullLogger.Instance);
        var sasl = new SaslServerAuthenticator(credentials, metrics, _time, _ => 0, validator);

        var handshake = sasl.Handshake("OAUTHBEARER", 1, out var closeAfterHandshake);
        var challenge = sasl.Authenticate(Initial("e30.e30."), out var closeAfterToken);
        var refused = sasl.Authenticate([0x01], out var closeAfterKvsep);

        Assert.Equal((ErrorCode.None, false), (handshake.Error, closeAfterHandshake));
        Assert.Equal((ErrorCode.None, false), (challenge.Error, closeAfterToken));
        Assert.Equal((ErrorCode.SaslAuthenticationFailed, "{\"status\":\"invalid_token\"}", true), (refused.Error, refused.ErrorMessage, closeAfterKvsep));
        Assert.Equal(["OAUTHBEARER"], failures);
    }

    /// <summary>KIP-368: the token's <c>exp</c> bounds the session, shorter than <c>connections.max.reauth.ms</c> or not.</summary>
    [Theory]
    [InlineData(0, 300_000)]
    [InlineData(60_000, 60_000)]
    [InlineData(600_000, 300_000)]
    public void The_token_s_expiry_is_the_session_lifetime_unless_connections_max_reauth_ms_is_shorter(long maxReauthMs, long lifetimeMs)
    {
        var credentials = new SaslCredentialStore(Options.Create(new SaslOptions { EnabledMechanisms = "OAUTHBEARER" }));
        var validator = new UnsecuredJwsValidator(new UnsecuredValidatorOptions { Enabled = true }, _time, NullLogger.Instance);
        var sasl = new SaslServerAuthenticator(credentials, _services.GetRequiredService<OrleansStreamMetrics>(), _time, _ => maxReauthMs, validator);

        sasl.Handshake("OAUTHBEARER", 1, out _);
        var authenticated = sasl.Authenticate(Initial(Token()), out var close);

        Assert.Equal((ErrorCode.None, false, "alice"), (authenticated.Error, close, sasl.User));
        Assert.Equal(lifetimeMs, authenticated.SessionLifetimeMs);
    }

    [Fact]
    public void Without_a_validator_OAUTHBEARER_is_not_served_even_if_named()
    {
        var credentials = new SaslCredentialStore(Options.Create(new SaslOptions { EnabledMechanisms = "PLAIN,OAUTHBEARER" }));
        var sasl = new SaslServerAuthenticator(credentials, _services.GetRequiredService<OrleansStreamMetrics>(), _time, _ => 0);

        Assert.Equal(ErrorCode.UnsupportedSaslMechanism, sasl.Handshake("OAUTHBEARER", 1, out _).Error);
    }

    [Fact]
    public void OAUTHBEARER_is_not_enabled_by_default_and_enabling_it_needs_a_JWKS_or_unsecured_tokens()
    {
        static ValidateOptionsResult Validate(string mechanisms, OAuthBearerOptions options) =>
            new OAuthBearerOptionsValidator(Options.Create(new SaslOptions { EnabledMechanisms = mechanisms })).Validate(null, options);
        var jwks = Path.GetTempFileName();
        try
        {
            Assert.DoesNotContain("OAUTHBEARER", new SaslOptions().Mechanisms());
            Assert.True(Validate(new SaslOptions().EnabledMechanisms, new OAuthBearerOptions()).Succeeded);
            var neither = Validate("PLAIN,OAUTHBEARER", new OAuthBearerOptions());
            Assert.Contains("neither OrleansStream:Sasl:OAuthBearer:JwksEndpointUrl", neither.FailureMessage, StringComparison.Ordinal);
            Assert.True(Validate("OAUTHBEARER", new OAuthBearerOptions { JwksEndpointUrl = new Uri(jwks).AbsoluteUri }).Succeeded);
            Assert.True(Validate("OAUTHBEARER", new OAuthBearerOptions { JwksEndpointUrl = "https://login.microsoftonline.com/common/discovery/v2.0/keys" }).Succeeded);
            Assert.True(Validate("OAUTHBEARER", new OAuthBearerOptions { Unsecured = { Enabled = true } }).Succeeded);
            Assert.False(Validate("OAUTHBEARER", new OAuthBearerOptions { JwksEndpointUrl = "https://idp/keys", Unsecured = { Enabled = true } }).Succeeded);
            Assert.Contains("does not exist", Validate("OAUTHBEARER", new OAuthBearerOptions { JwksEndpointUrl = "file:///no/such/jwks.json" }).FailureMessage, StringComparison.Ordinal);
            Assert.Contains("absolute https:, http: or file: URL", Validate("OAUTHBEARER", new OAuthBearerOptions { JwksEndpointUrl = "ftp://idp/keys" }).FailureMessage, StringComparison.Ordinal);
            // A broker whose every listener asks for SASL needs no configured user when OAUTHBEARER lets clients in.
            var onlySasl = new SaslOptionsValidator(Options.Create(new BrokerOptions { Listeners = "SASL_PLAINTEXT://:9094" }));
            Assert.True(onlySasl.Validate(null, new SaslOptions { EnabledMechanisms = "OAUTHBEARER" }).Succeeded);
            Assert.False(onlySasl.Validate(null, new SaslOptions { EnabledMechanisms = "PLAIN" }).Succeeded);
            Assert.Contains("Invalid scope value", Validate("OAUTHBEARER", new OAuthBearerOptions { Unsecured = { Enabled = true, RequiredScope = "a \"b\"" } }).FailureMessage, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(jwks);
        }
    }
}
