using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using OrleansStream.Protocol.Sasl;
using OrleansStream.Server.Kafka.Security.OAuthBearer;
using OrleansStream.TestKit;

namespace OrleansStream.Server.Tests.Kafka.OAuthBearer;

/// <summary>Kafka's default, development-only validator: unsigned tokens, their claims checked against a fake clock.</summary>
public sealed class UnsecuredJwsValidatorTests
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 1, 12, 0, 0, TimeSpan.Zero));

    private UnsecuredJwsValidator Validator(UnsecuredValidatorOptions? options = null) =>
        new(options ?? new UnsecuredValidatorOptions { Enabled = true }, _time, NullLogger.Instance);

    private JsonObject Claims(string subject = "alice") => TestJwt.Claims(subject, _time.GetUtcNow(), TimeSpan.FromMinutes(10));

    [Fact]
    public void An_unsigned_token_names_its_principal_scope_and_expiry()
    {
        var claims = Claims();
        claims["scope"] = new JsonArray("read", " write ", " ");

        var token = Validator().Validate(TestJwt.Unsecured(claims)).Token;

        Assert.Equal("alice", token!.PrincipalName);
        Assert.Equal(["read", "write"], token.Scope.Order());
        Assert.Equal(_time.GetUtcNow().AddMinutes(10).ToUnixTimeMilliseconds(), token.LifetimeMs);
    }

    [Fact]
    public void The_token_librdkafka_builds_by_default_is_valid_with_its_fractional_times()
    {
        // librdkafka's unsecured token for principal=fubar at 1 s after the epoch: {"sub":"fubar","iat":1.000,"exp":3601.000}.
        var validator = new UnsecuredJwsValidator(new UnsecuredValidatorOptions { Enabled = true }, new FakeTimeProvider(DateTimeOffset.FromUnixTimeSeconds(2)), NullLogger.Instance);

        var token = validator.Validate("eyJhbGciOiJub25lIn0.eyJzdWIiOiJmdWJhciIsImlhdCI6MS4wMDAsImV4cCI6MzYwMS4wMDB9.").Token;

        Assert.Equal(("fubar", 3_601_000L, 1_000L), (token!.PrincipalName, token.LifetimeMs, token.StartTimeMs));
    }

    [Fact]
    public void A_signed_token_is_refused()
    {
        using var key = new TestJwt("ES256", "k");

        var result = Validator().Validate(key.Sign(Claims()));

        Assert.Equal((null, "Unsecured JWS must have 'none' for an algorithm"), (result.Token, result.Reason));
    }

    [Fact]
    public void An_expired_token_is_refused_after_the_allowable_skew()
    {
        var validator = Validator(new UnsecuredValidatorOptions { Enabled = true, AllowableClockSkewMs = 1000 });
        var token = TestJwt.Unsecured(Claims());

        _time.Advance(TimeSpan.FromMinutes(10).Add(TimeSpan.FromMilliseconds(999)));
        var withinSkew = validator.Validate(token);
        _time.Advance(TimeSpan.FromMilliseconds(1));
        var expired = validator.Validate(token);

        Assert.NotNull(withinSkew.Token);
        Assert.StartsWith("The indicated time", expired.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void A_token_issued_in_the_future_is_refused()
    {
        var claims = Claims();
        claims["iat"] = _time.GetUtcNow().AddSeconds(5).ToUnixTimeSeconds();

        Assert.StartsWith("The Issued At value", Validator().Validate(TestJwt.Unsecured(claims)).Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void A_token_without_the_required_scope_is_insufficient_scope()
    {
        var validator = Validator(new UnsecuredValidatorOptions { Enabled = true, RequiredScope = "kafka.read kafka.write" });
        var claims = Claims();
        claims["scope"] = "kafka.read";
        var partial = validator.Validate(TestJwt.Unsecured(claims));
        claims["scope"] = new JsonArray("kafka.write", "kafka.read");

        Assert.Equal((OAuthBearerValidation.InsufficientScope, "kafka.read kafka.write"), (partial.ErrorStatus, partial.ErrorScope));
        Assert.NotNull(validator.Validate(TestJwt.Unsecured(claims)).Token);
    }

    [Theory]
    [InlineData("sub", "Required claim missing: sub")]
    [InlineData("exp", "No expiration time in JWT")]
    public void A_missing_claim_is_refused(string claim, string reason)
    {
        var claims = Claims();
        claims.Remove(claim);

        Assert.Equal(reason, Validator().Validate(TestJwt.Unsecured(claims)).Reason);
    }

    [Fact]
    public void Another_principal_claim_may_be_named()
    {
        var claims = Claims();
        claims["azp"] = "app-1";

        Assert.Equal("app-1", Validator(new UnsecuredValidatorOptions { Enabled = true, PrincipalClaimName = "azp" }).Validate(TestJwt.Unsecured(claims)).Token!.PrincipalName);
    }

    [Theory]
    [InlineData("a..b")]
    [InlineData("a.b")]
    [InlineData("e30.e30.e30.")]
    public void A_malformed_token_is_refused(string token) =>
        Assert.Null(Validator().Validate(token).Token);
}
