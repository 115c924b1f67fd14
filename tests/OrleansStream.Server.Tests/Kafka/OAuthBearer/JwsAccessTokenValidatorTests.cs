using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using OrleansStream.Protocol.Sasl;
using OrleansStream.Server.Kafka.Security.OAuthBearer;
using OrleansStream.TestKit;

namespace OrleansStream.Server.Tests.Kafka.OAuthBearer;

/// <summary>
/// KIP-768's signed tokens: a JWS verified against the keys of a <c>file:</c> JWKS made here, then its claims against a
/// fake clock, as Kafka's <c>ValidatorAccessTokenValidator</c> checks them.
/// </summary>
public sealed class JwsAccessTokenValidatorTests : IAsyncLifetime
{
    private static readonly string[] Algorithms = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"];

    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 1, 12, 0, 0, TimeSpan.Zero));
    private readonly string _jwksPath = Path.Combine(Path.GetTempPath(), $"jwks-{Guid.NewGuid():N}.json");
    // Made once: RSA key generation is slow.
    private static readonly Dictionary<string, TestJwt> Keys = Algorithms.ToDictionary(a => a, a => new TestJwt(a, "key-" + a));
    private readonly List<VerificationKeys> _sources = [];

    public async ValueTask InitializeAsync() => await File.WriteAllTextAsync(_jwksPath, TestJwt.Set([.. Keys.Values]));

    public async ValueTask DisposeAsync()
    {
        foreach (var source in _sources) await source.DisposeAsync();
        File.Delete(_jwksPath);
    }

    private async Task<JwsAccessTokenValidator> ValidatorAsync(Action<OAuthBearerOptions>? configure = null)
    {
        var options = new OAuthBearerOptions { JwksEndpointUrl = new Uri(_jwksPath).AbsoluteUri };
        configure?.Invoke(options);
        var keys = new VerificationKeys(options, _time, NullLogger.Instance);
        _sources.Add(keys);
        await keys.StartAsync(TestContext.Current.CancellationToken);
        return new JwsAccessTokenValidator(options, keys, _time, NullLogger.Instance);
    }

    private JsonObject Claims(string subject = "alice", int lifetimeSeconds = 600) => TestJwt.Claims(subject, _time.GetUtcNow(), TimeSpan.FromSeconds(lifetimeSeconds));

    public static TheoryData<string> AllAlgorithms => [.. Algorithms];

    [Theory]
    [MemberData(nameof(AllAlgorithms))]
    public async Task A_token_signed_with_a_key_of_the_JWKS_is_valid_and_names_its_subject_and_expiry(string algorithm)
    {
        var validator = await ValidatorAsync();
        var claims = Claims();

        var result = validator.Validate(Keys[algorithm].Sign(claims));

        Assert.Null(result.Reason);
        Assert.Equal("alice", result.Token!.PrincipalName);
        Assert.Equal(_time.GetUtcNow().AddSeconds(600).ToUnixTimeMilliseconds(), result.Token.LifetimeMs);
        Assert.Equal(_time.GetUtcNow().ToUnixTimeMilliseconds(), result.Token.StartTimeMs);
    }

    [Fact]
    public async Task A_token_signed_by_another_key_under_a_known_kid_is_refused()
    {
        var validator = await ValidatorAsync();
        using var stranger = new TestJwt("RS256", "key-RS256");

        var result = validator.Validate(stranger.Sign(Claims()));

        Assert.Equal((null, OAuthBearerValidation.InvalidToken, "JWS signature is invalid"), (result.Token, result.ErrorStatus, result.Reason));
    }

    [Fact]
    public async Task A_tampered_payload_is_refused()
    {
        var validator = await ValidatorAsync();
        var token = Keys["ES256"].Sign(Claims("alice"));
        var parts = token.Split('.');
        var tampered = parts[0] + "." + TestJwt.Part(Claims("admin")) + "." + parts[2];

        Assert.Equal("JWS signature is invalid", validator.Validate(tampered).Reason);
        Assert.NotNull(validator.Validate(token).Token);
    }

    [Fact]
    public async Task An_unknown_kid_is_refused()
    {
        var validator = await ValidatorAsync();

        var result = validator.Validate(Keys["RS256"].Sign(Claims(), keyId: "rotated-away"));

        Assert.Null(result.Token);
        Assert.StartsWith("Unable to find a suitable verification key for JWS w/ kid rotated-away", result.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_key_whose_curve_does_not_match_the_algorithm_is_not_used()
    {
        var validator = await ValidatorAsync();
        // An ES384 signature under the kid of the P-256 key.
        var result = validator.Validate(Keys["ES384"].Sign(Claims(), keyId: "key-ES256"));

        Assert.StartsWith("Unable to find a suitable verification key", result.Reason, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("none")]
    [InlineData("HS256")]
    public async Task An_unsigned_or_HMAC_token_is_refused(string algorithm)
    {
        var validator = await ValidatorAsync();
        var header = TestJwt.Part(new JsonObject { ["alg"] = algorithm, ["kid"] = "key-RS256" });

        var result = validator.Validate(header + "." + TestJwt.Part(Claims()) + ".");

        Assert.Null(result.Token);
        Assert.Contains($"'{algorithm}'", result.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_token_expires_at_exp_plus_the_clock_skew()
    {
        var validator = await ValidatorAsync(o => o.ClockSkewSeconds = 30);
        var token = Keys["RS256"].Sign(Claims(lifetimeSeconds: 60));

        _time.Advance(TimeSpan.FromSeconds(89));
        var withinSkew = validator.Validate(token);
        _time.Advance(TimeSpan.FromSeconds(1));
        var expired = validator.Validate(token);

        Assert.NotNull(withinSkew.Token);
        Assert.Null(expired.Token);
        Assert.StartsWith("The JWT is no longer valid", expired.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_token_not_valid_before_a_later_time_is_refused_until_then()
    {
        var validator = await ValidatorAsync(o => o.ClockSkewSeconds = 0);
        var claims = Claims();
        claims["nbf"] = _time.GetUtcNow().AddSeconds(10).ToUnixTimeSeconds();
        var token = Keys["ES256"].Sign(claims);

        var early = validator.Validate(token);
        _time.Advance(TimeSpan.FromSeconds(10));

        Assert.StartsWith("The JWT is not yet valid", early.Reason, StringComparison.Ordinal);
        Assert.NotNull(validator.Validate(token).Token);
    }

    [Theory]
    [InlineData("exp", "No Expiration Time (exp) claim present.")]
    [InlineData("iat", "No Issued At (iat) claim present.")]
    [InlineData("sub", "sub value must be non-null")]
    public async Task A_required_claim_missing_is_refused(string claim, string reason)
    {
        var validator = await ValidatorAsync();
        var claims = Claims();
        claims.Remove(claim);

        Assert.Equal(reason, validator.Validate(Keys["RS256"].Sign(claims)).Reason);
    }

    [Fact]
    public async Task A_blank_subject_is_refused_and_another_subject_claim_may_name_the_principal()
    {
        var blank = await ValidatorAsync();
        var byAppId = await ValidatorAsync(o => o.SubClaimName = "oid");
        var claims = Claims("  ");
        claims["oid"] = "5f0c-app";
        var token = Keys["RS256"].Sign(claims);

        Assert.Equal("sub value must not contain only whitespace", blank.Validate(token).Reason);
        Assert.Equal("5f0c-app", byAppId.Validate(token).Token!.PrincipalName);
    }

    [Fact]
    public async Task The_issuer_must_be_the_expected_one()
    {
        var validator = await ValidatorAsync(o => o.ExpectedIssuer = "https://login.microsoftonline.com/tenant/v2.0");
        var claims = Claims();
        claims["iss"] = "https://login.microsoftonline.com/other/v2.0";
        var wrong = Keys["RS256"].Sign(claims);
        claims["iss"] = "https://login.microsoftonline.com/tenant/v2.0";
        var right = Keys["RS256"].Sign(claims);

        Assert.StartsWith("Issuer (iss) claim value (https://login.microsoftonline.com/other/v2.0) doesn't match", validator.Validate(wrong).Reason, StringComparison.Ordinal);
        Assert.NotNull(validator.Validate(right).Token);
    }

    [Theory]
    [InlineData("\"api://kafka\"", true)]
    [InlineData("[\"api://other\",\"api://kafka\"]", true)]
    [InlineData("\"api://other\"", false)]
    [InlineData(null, false)]
    public async Task The_audience_must_name_one_expected(string? audience, bool valid)
    {
        var validator = await ValidatorAsync(o => o.ExpectedAudience = "api://kafka, api://kafka-2");
        var claims = Claims();
        if (audience is not null) claims["aud"] = JsonNode.Parse(audience);

        var result = validator.Validate(Keys["PS256"].Sign(claims));

        Assert.Equal(valid, result.Token is not null);
    }

    [Theory]
    [InlineData("\"kafka.read kafka.write\"", new[] { "kafka.read kafka.write" })]
    [InlineData("[\"kafka.read\",\" kafka.write \"]", new[] { "kafka.read", "kafka.write" })]
    [InlineData(null, new string[0])]
    public async Task The_scope_claim_is_a_string_or_an_array(string? scope, string[] expected)
    {
        var validator = await ValidatorAsync(o => o.ScopeClaimName = "scp");
        var claims = Claims();
        if (scope is not null) claims["scp"] = JsonNode.Parse(scope);

        var token = validator.Validate(Keys["RS512"].Sign(claims)).Token;

        Assert.Equal(expected.Order(), token!.Scope.Order());
    }

    [Fact]
    public async Task A_scope_given_twice_is_refused()
    {
        var validator = await ValidatorAsync();
        var claims = Claims();
        claims["scope"] = new JsonArray("a", "a");

        Assert.Equal("scope value must not contain duplicates - a already present", validator.Validate(Keys["RS256"].Sign(claims)).Reason);
    }

    [Theory]
    [InlineData("not-a-jwt")]
    [InlineData("a.b.c.d")]
    [InlineData("!!.e30.")]
    [InlineData("")]
    public async Task A_token_that_is_not_a_JWS_is_refused(string token)
    {
        var validator = await ValidatorAsync();

        var result = validator.Validate(token);

        Assert.Equal((null, OAuthBearerValidation.InvalidToken), (result.Token, result.ErrorStatus));
    }
}
