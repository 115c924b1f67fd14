using System.Diagnostics.Metrics;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
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
            if (ReferenceEquals(instrument.Meter, metrics.Meter) && instrument.Name == "orleansstream.kafka.authentication.failures")
                listener.EnableMeasurementEvents(instrument);
        };
        _listener.SetMeasurementEventCallback<long>((_, _, tags, _) =>
        {
            foreach (var tag in tags) if (tag.Key == "mechanism") lock (_failures) _failures.Add(tag.Value as string);
        });
        _listener.Start();
    }

    public void Dispose()
    {
        _listener.Dispose();
        _services.Dispose();
    }

    private SaslServerAuthenticator NewConnection() => new(_credentials, _services.GetRequiredService<OrleansStreamMetrics>());

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
}
