using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.Options;
using Orleans.Runtime;
using OrleansStream.Protocol.Sasl;
using OrleansStream.Server.Kafka;
using OrleansStream.Server.Kafka.Security;
using OrleansStream.Server.Security;
using OrleansStream.TestKit;

namespace OrleansStream.Server.Tests.Kafka;

/// <summary>The listeners' security settings: protocol map, SASL users and their stored credentials, TLS options.</summary>
public sealed class ListenerSecurityTests : IDisposable
{
    private readonly TestCertificates _certificates = new();

    public void Dispose() => _certificates.Dispose();

    [Fact]
    public void Listener_names_map_to_security_protocols_by_name_or_by_listener_security_protocol_map()
    {
        var byName = KafkaListeners.Bound(new BrokerOptions { Listeners = "PLAINTEXT://:9092,SASL_SSL://:9093,ssl://:9094" });
        var mapped = KafkaListeners.Bound(new BrokerOptions
        {
            Listeners = "CLIENT://:9093,INTERNAL://:9092",
            ListenerSecurityProtocolMap = "CLIENT:SASL_SSL, INTERNAL:SASL_PLAINTEXT",
        });

        Assert.Equal([KafkaSecurityProtocol.Plaintext, KafkaSecurityProtocol.SaslSsl, KafkaSecurityProtocol.Ssl], byName.Select(l => l.SecurityProtocol));
        Assert.Equal([(true, true), (false, true)], mapped.Select(l => (l.UsesTls, l.RequiresSasl)));
    }

    [Theory]
    [InlineData("CLIENT://:9093", null, "listener CLIENT://:9093 has no security protocol")]
    [InlineData("CLIENT://:9093", "CLIENT:KERBEROS", "'CLIENT:KERBEROS' is not NAME:PROTOCOL")]
    [InlineData("PLAINTEXT://:9093", "SSL:SSL", "listener PLAINTEXT://:9093 has no security protocol")]
    [InlineData("PLAINTEXT://:9092,SSL://:9092", null, "binds port 9092 twice")]
    public void Bad_listener_security_settings_fail_validation_naming_the_setting(string listeners, string? map, string failure)
    {
        var result = new BrokerOptionsValidator().Validate(null, new BrokerOptions { Listeners = listeners, ListenerSecurityProtocolMap = map });

        Assert.True(result.Failed);
        Assert.Contains(failure, result.FailureMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void A_password_becomes_salted_credentials_for_both_mechanisms_and_a_given_credential_is_kept_as_given()
    {
        var given = ScramMechanism.Sha512.CreateCredential("bob-secret", 8192);
        var store = new SaslCredentialStore(Options.Create(new SaslOptions
        {
            EnabledMechanisms = "SCRAM-SHA-512, PLAIN",
            Users =
            {
                ["alice"] = new SaslUserOptions { Password = "alice-secret" },
                ["bob"] = new SaslUserOptions { ScramSha512 = given.Format() },
            },
        }));

        var alice256 = store.Find("alice", ScramMechanism.Sha256)!;
        var alice512 = store.Find("alice", ScramMechanism.Sha512)!;

        Assert.Equal(["SCRAM-SHA-512", "PLAIN"], store.EnabledMechanisms);
        Assert.Equal((4096, 4096), (alice256.Iterations, alice512.Iterations));
        Assert.True(ScramMechanism.Sha256.Matches(alice256, "alice-secret"u8));
        Assert.True(ScramMechanism.Sha512.Matches(alice512, "alice-secret"u8));
        Assert.NotEqual(alice256.Salt, alice512.Salt);
        Assert.Equal(given.Format(), store.Find("bob", ScramMechanism.Sha512)!.Format());
        Assert.Null(store.Find("bob", ScramMechanism.Sha256));
        Assert.Null(store.Find("carol", ScramMechanism.Sha512));
    }

    /// <summary>
    /// Credentials stored at the controller (AlterUserScramCredentials) replace the configuration's for their user and
    /// mechanism, a stored removal hides a configured one, and an older snapshot arriving late changes nothing.
    /// </summary>
    [Fact]
    public void Stored_credentials_replace_and_removals_hide_the_configured_ones()
    {
        var store = new SaslCredentialStore(Options.Create(new SaslOptions { Users = { ["alice"] = new SaslUserOptions { Password = "alice-secret" } } }));
        var rotated = ScramMechanism.Sha512.CreateCredential("alice-rotated", 8192);
        var dave = ScramMechanism.Sha256.CreateCredential("dave-secret");
        Assert.False(store.Loaded.IsCompleted);

        store.Apply(new ScramCredentialSnapshot(3, [
            StoredScramCredential.Of("alice", ScramMechanism.Sha512, rotated),
            StoredScramCredential.Removal("alice", ScramMechanism.Sha256.Name),
            StoredScramCredential.Of("dave", ScramMechanism.Sha256, dave)]));

        Assert.True(store.Loaded.IsCompleted);
        Assert.Equal(3, store.Version);
        Assert.True(ScramMechanism.Sha512.Matches(store.Find("alice", ScramMechanism.Sha512)!, "alice-rotated"u8));
        Assert.Null(store.Find("alice", ScramMechanism.Sha256));
        Assert.True(store.IsConfigured("alice", ScramMechanism.Sha256));
        Assert.Equal([(ScramMechanism.Sha512, 8192)], store.Credentials("alice"));
        Assert.Equal(["alice", "dave"], store.UserNames());

        store.Apply(new ScramCredentialSnapshot(2, []));
        Assert.Equal(3, store.Version);
        Assert.NotNull(store.Find("dave", ScramMechanism.Sha256));

        store.Apply(new ScramCredentialSnapshot(4, []));
        Assert.True(ScramMechanism.Sha256.Matches(store.Find("alice", ScramMechanism.Sha256)!, "alice-secret"u8));
        Assert.Null(store.Find("dave", ScramMechanism.Sha256));
        Assert.Equal(["alice"], store.UserNames());
    }

    [Theory]
    [InlineData("GSSAPI", null, "'GSSAPI' is not a SASL mechanism this broker serves")]
    [InlineData("PLAIN", "salt=AAAA,stored_key=AAAA,server_key=AAAA,iterations=4096", "OrleansStream:Sasl:Users:alice:ScramSha256: SCRAM-SHA-256 keys are 32 bytes")]
    public void Bad_sasl_settings_fail_validation_naming_the_setting(string mechanisms, string? credential, string failure)
    {
        var options = new SaslOptions { EnabledMechanisms = mechanisms, Users = { ["alice"] = new SaslUserOptions { Password = "x", ScramSha256 = credential } } };

        var result = new SaslOptionsValidator(Options.Create(new BrokerOptions())).Validate(null, options);

        Assert.Contains(failure, result.FailureMessage, StringComparison.Ordinal);
    }

    /// <summary>
    /// Users may be created at run time through a listener without SASL, so only a broker whose every listener asks for
    /// SASL needs a configured user.
    /// </summary>
    [Fact]
    public void Only_a_broker_whose_every_listener_asks_for_SASL_needs_a_configured_user()
    {
        var onlySasl = Options.Create(new BrokerOptions { Listeners = "SASL_SSL://:9093,SASL_PLAINTEXT://:9094" });
        var withPlaintext = Options.Create(new BrokerOptions { Listeners = "PLAINTEXT://:9092,SASL_SSL://:9093" });

        var refused = new SaslOptionsValidator(onlySasl).Validate(null, new SaslOptions());
        var taken = new SaslOptionsValidator(withPlaintext).Validate(null, new SaslOptions());

        Assert.Contains("Every listener of OrleansStream:Listeners asks for SASL (SASL_SSL://:9093), but OrleansStream:Sasl:Users names no user",
            refused.FailureMessage, StringComparison.Ordinal);
        Assert.True(taken.Succeeded);
    }

    [Fact]
    public void TLS_listeners_use_the_broker_certificate_and_ssl_client_auth_and_need_one()
    {
        var tls = new BrokerTlsOptions { CertificatePath = _certificates.ServerPath, CaPath = _certificates.CaPath };

        var required = BrokerTls.ForKafkaListeners(tls, SslClientAuth.Required);
        var none = BrokerTls.ForKafkaListeners(tls, SslClientAuth.None);
        var missing = Assert.Throws<OrleansConfigurationException>(() => BrokerTls.ForKafkaListeners(new BrokerTlsOptions(), SslClientAuth.None));

        Assert.Equal(_certificates.ServerThumbprint, required.ServerCertificate!.Thumbprint);
        Assert.Equal((ClientCertificateMode.RequireCertificate, ClientCertificateMode.NoCertificate),
            (required.ClientCertificateMode, none.ClientCertificateMode));
        Assert.Contains("OrleansStream:Tls:CertificatePath", missing.Message, StringComparison.Ordinal);
    }
}
