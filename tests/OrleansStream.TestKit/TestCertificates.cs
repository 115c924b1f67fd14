using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace OrleansStream.TestKit;

/// <summary>
/// Certificates made at test time (none is committed), written as PEM files (certificate and key in one file) under
/// <see cref="Directory"/>: an authority, a certificate for 127.0.0.1/localhost that silos use for both ends,
/// a client certificate it issued, and a client certificate issued by another authority, which must be refused.
/// </summary>
public sealed class TestCertificates : IDisposable
{
    private static readonly Oid ServerAuth = new("1.3.6.1.5.5.7.3.1");
    private static readonly Oid ClientAuth = new("1.3.6.1.5.5.7.3.2");

    public TestCertificates()
    {
        System.IO.Directory.CreateDirectory(Directory);
        using var ca = CreateAuthority("CN=OrleansStream Test CA");
        using var otherCa = CreateAuthority("CN=Some Other CA");
        CaPath = Write("ca.pem", ca, withKey: false);
        OtherCaPath = Write("other-ca.pem", otherCa, withKey: false);
        using var server = Issue(ca, "CN=localhost", [ServerAuth, ClientAuth], loopbackNames: true);
        ServerPath = Write("server.pem", server, withKey: true);
        using var client = Issue(ca, "CN=orleansstream-client", [ClientAuth], loopbackNames: false);
        ClientPath = Write("client.pem", client, withKey: true);
        ClientPfxPath = Path.Combine(Directory, "client.pfx");
        File.WriteAllBytes(ClientPfxPath, client.Export(X509ContentType.Pkcs12, PfxPassword));
        using var wrong = Issue(otherCa, "CN=wrong-client", [ClientAuth], loopbackNames: false);
        WrongClientPath = Write("wrong-client.pem", wrong, withKey: true);
        ServerThumbprint = server.Thumbprint;
    }

    public const string PfxPassword = "test-password";

    public string Directory { get; } = Path.Combine(Path.GetTempPath(), "orleansstream-certs", Guid.NewGuid().ToString("N"));

    public string CaPath { get; }

    public string OtherCaPath { get; }

    /// <summary>Certificate and key for 127.0.0.1 and localhost, for server and client authentication.</summary>
    public string ServerPath { get; }

    public string ServerThumbprint { get; }

    /// <summary>A client certificate issued by <see cref="CaPath"/>'s authority.</summary>
    public string ClientPath { get; }

    /// <summary>The same client certificate as PKCS#12, opened with <see cref="PfxPassword"/>.</summary>
    public string ClientPfxPath { get; }

    /// <summary>A client certificate issued by <see cref="OtherCaPath"/>'s authority: a gateway trusting only <see cref="CaPath"/> refuses it.</summary>
    public string WrongClientPath { get; }

    private static X509Certificate2 CreateAuthority(string subject)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        return request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
    }

    private static X509Certificate2 Issue(X509Certificate2 issuer, string subject, Oid[] usages, bool loopbackNames)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        var usageCollection = new OidCollection();
        foreach (var usage in usages) usageCollection.Add(usage);
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(usageCollection, false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(issuer, true, false));
        if (loopbackNames)
        {
            var names = new SubjectAlternativeNameBuilder();
            names.AddIpAddress(IPAddress.Loopback);
            names.AddDnsName("localhost");
            request.CertificateExtensions.Add(names.Build());
        }
        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7F;
        using var issued = request.Create(issuer, DateTimeOffset.UtcNow.AddHours(-1), DateTimeOffset.UtcNow.AddDays(7), serial);
        return issued.CopyWithPrivateKey(key);
    }

    private string Write(string name, X509Certificate2 certificate, bool withKey)
    {
        var path = Path.Combine(Directory, name);
        var pem = certificate.ExportCertificatePem();
        if (withKey) pem += "\n" + certificate.GetECDsaPrivateKey()!.ExportPkcs8PrivateKeyPem();
        File.WriteAllText(path, pem + "\n");
        return path;
    }

    public void Dispose()
    {
        try { System.IO.Directory.Delete(Directory, recursive: true); } catch (IOException) { }
    }
}
