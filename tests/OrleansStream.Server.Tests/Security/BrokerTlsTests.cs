using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Orleans.Connections.Security;
using Orleans.Runtime;
using OrleansStream.Security;
using OrleansStream.Server.Security;
using OrleansStream.TestKit;

namespace OrleansStream.Server.Tests.Security;

public sealed class BrokerTlsTests : IDisposable
{
    private readonly TestCertificates _certificates = new();

    public void Dispose() => _certificates.Dispose();

    private static X509Certificate2 Public(string pemPath) => X509Certificate2.CreateFromPem(File.ReadAllText(pemPath).Split("-----BEGIN PRIVATE KEY-----")[0]);

    private static bool Accepts(TlsOptions options, string pemPath) =>
        options.RemoteCertificateValidation!(Public(pemPath), null, SslPolicyErrors.RemoteCertificateChainErrors);

    private static void AssertJudges(TlsOptions options, string accepted, string refused)
    {
        Assert.True(Accepts(options, accepted), $"refused {accepted}");
        Assert.False(Accepts(options, refused), $"accepted {refused}");
    }

    [Fact]
    public void Silos_accept_their_own_certificate_and_those_of_the_authority_and_refuse_another_authoritys()
    {
        var (silo, gateway) = BrokerTls.Create(new BrokerTlsOptions
        {
            CertificatePath = _certificates.ServerPath,
            CaPath = _certificates.CaPath,
            ClientAuth = SslClientAuth.Required,
        });

        Assert.Equal(RemoteCertificateMode.RequireCertificate, silo.RemoteCertificateMode);
        Assert.Equal(RemoteCertificateMode.RequireCertificate, gateway.RemoteCertificateMode);
        Assert.Equal(_certificates.ServerThumbprint, silo.LocalCertificate!.Thumbprint);
        AssertJudges(silo, accepted: _certificates.ServerPath, refused: _certificates.WrongClientPath);
        AssertJudges(gateway, accepted: _certificates.ClientPath, refused: _certificates.WrongClientPath);
    }

    [Fact]
    public void Without_an_authority_only_the_clusters_own_certificate_is_accepted()
    {
        var (silo, gateway) = BrokerTls.Create(new BrokerTlsOptions { CertificatePath = _certificates.ServerPath, ClientAuth = SslClientAuth.Requested });

        Assert.Equal(RemoteCertificateMode.AllowCertificate, gateway.RemoteCertificateMode);
        AssertJudges(silo, accepted: _certificates.ServerPath, refused: _certificates.ClientPath);
        AssertJudges(gateway, accepted: _certificates.ServerPath, refused: _certificates.ClientPath);
    }

    [Fact]
    public void The_thumbprint_allow_list_limits_the_clients_an_authority_issued()
    {
        var client = Public(_certificates.ClientPath);
        var listed = BrokerTls.Create(new BrokerTlsOptions
        {
            CertificatePath = _certificates.ServerPath, CaPath = _certificates.CaPath, ClientAuth = SslClientAuth.Required,
            AllowedThumbprints = $"0000, {client.Thumbprint.ToLowerInvariant()}",
        }).Gateway;
        var other = BrokerTls.Create(new BrokerTlsOptions
        {
            CertificatePath = _certificates.ServerPath, CaPath = _certificates.CaPath, ClientAuth = SslClientAuth.Required,
            AllowedThumbprints = "00:11:22",
        });

        Assert.True(Accepts(listed, _certificates.ClientPath));
        Assert.False(Accepts(other.Gateway, _certificates.ClientPath));
        // Silos are judged by the authority alone: the list names clients.
        Assert.True(Accepts(other.Silo, _certificates.ClientPath));
    }

    [Fact]
    public void Without_ClientAuth_the_gateway_asks_no_certificate_and_TLS_is_off_without_a_certificate()
    {
        var (_, gateway) = BrokerTls.Create(new BrokerTlsOptions { CertificatePath = _certificates.ServerPath });
        Assert.Equal(RemoteCertificateMode.NoCertificate, gateway.RemoteCertificateMode);
        Assert.False(new BrokerTlsOptions().Enabled);
    }

    [Fact]
    public void A_client_pinning_the_self_signed_silo_certificate_accepts_it_and_no_other()
    {
        // The deployment's clients trust the Key Vault certificate's public part and skip the name check.
        using var key = RSA.Create(2048);
        var request = new CertificateRequest("CN=orleansstream-silo", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1"), new Oid("1.3.6.1.5.5.7.3.2")], false));
        using var silo = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
        const SslPolicyErrors Errors = SslPolicyErrors.RemoteCertificateChainErrors | SslPolicyErrors.RemoteCertificateNameMismatch;

        Assert.Null(new PeerCertificatePolicy([silo], null).Refusal(silo, null, Errors));
        Assert.Contains("does not name this host", new PeerCertificatePolicy([silo], null, checkName: true).Refusal(silo, null, Errors));
        Assert.NotNull(new PeerCertificatePolicy([silo], null).Refusal(Public(_certificates.ServerPath), null, Errors));
    }

    [Fact]
    public void A_pkcs12_file_binary_or_base64_as_Key_Vault_mounts_it_loads_with_its_password()
    {
        var base64 = Path.Combine(_certificates.Directory, "client.pfx.b64");
        File.WriteAllText(base64, Convert.ToBase64String(File.ReadAllBytes(_certificates.ClientPfxPath)));

        using var binary = TlsCertificates.LoadCertificate(_certificates.ClientPfxPath, password: TestCertificates.PfxPassword);
        using var mounted = TlsCertificates.LoadCertificate(base64, password: TestCertificates.PfxPassword);

        Assert.True(binary.HasPrivateKey);
        Assert.Equal(binary.Thumbprint, mounted.Thumbprint);
    }

    [Fact]
    public void A_wrong_password_or_a_file_without_a_key_fails_naming_the_section()
    {
        var wrongPassword = Assert.Throws<OrleansConfigurationException>(() => BrokerTls.Create(new BrokerTlsOptions
        {
            CertificatePath = _certificates.ClientPfxPath, CertificatePassword = "wrong",
        }));
        var noKey = Assert.Throws<OrleansConfigurationException>(() => BrokerTls.Create(new BrokerTlsOptions { CertificatePath = _certificates.CaPath }));

        Assert.StartsWith("OrleansStream:Tls:", wrongPassword.Message, StringComparison.Ordinal);
        Assert.StartsWith("OrleansStream:Tls:", noKey.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_validator_names_missing_files_and_settings_that_need_a_certificate()
    {
        var validator = new BrokerTlsOptionsValidator();

        var missing = validator.Validate(null, new BrokerTlsOptions { CertificatePath = "/nonexistent/silo.pfx" });
        var orphan = validator.Validate(null, new BrokerTlsOptions { ClientAuth = SslClientAuth.Required });
        var ok = validator.Validate(null, new BrokerTlsOptions { CertificatePath = _certificates.ServerPath, CaPath = _certificates.CaPath });

        Assert.Contains("OrleansStream:Tls:CertificatePath '/nonexistent/silo.pfx' does not exist.", missing.Failures!);
        Assert.True(orphan.Failed);
        Assert.True(ok.Succeeded);
    }
}
