using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace OrleansStream.Security;

/// <summary>
/// The certificate files the broker and the clients read: one loader for the local certificate and one trust rule
/// for the other side's, so a silo, a gateway and a client judge certificates alike.
/// </summary>
public static class TlsCertificates
{
    /// <summary>
    /// The local certificate with its private key, from a PKCS#12 file (<c>.pfx</c>/<c>.p12</c>, binary or base64 as
    /// an Azure Key Vault certificate's secret holds it) or a PEM file with the key inside or in
    /// <paramref name="keyPath"/>. <paramref name="password"/> opens the PKCS#12 file or an encrypted PEM key.
    /// </summary>
    public static X509Certificate2 LoadCertificate(string path, string? keyPath = null, string? password = null)
    {
        var bytes = File.ReadAllBytes(path);
        X509Certificate2 certificate;
        if (IsPem(bytes))
        {
            using var pem = string.IsNullOrEmpty(password)
                ? X509Certificate2.CreateFromPemFile(path, string.IsNullOrEmpty(keyPath) ? null : keyPath)
                : X509Certificate2.CreateFromEncryptedPemFile(path, password, string.IsNullOrEmpty(keyPath) ? null : keyPath);
            // A PEM key is ephemeral; SslStream needs it as a stored key on some platforms, so it goes through PKCS#12.
            certificate = X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
        }
        else
        {
            if (!string.IsNullOrEmpty(keyPath))
                throw new CryptographicException($"'{path}' is a PKCS#12 file: it holds its own key, so no key file is read.");
            certificate = X509CertificateLoader.LoadPkcs12(IsBase64(bytes) ? Convert.FromBase64String(Encoding.ASCII.GetString(bytes)) : bytes, password);
        }
        if (!certificate.HasPrivateKey)
        {
            certificate.Dispose();
            throw new CryptographicException($"'{path}' holds no private key for its certificate.");
        }
        return certificate;
    }

    /// <summary>Every certificate of a PEM bundle (or of one DER certificate): the authorities a peer's chain must end in.</summary>
    public static X509Certificate2Collection LoadAuthorities(string path)
    {
        var collection = new X509Certificate2Collection();
        if (IsPem(File.ReadAllBytes(path))) collection.ImportFromPemFile(path);
        else collection.Add(X509CertificateLoader.LoadCertificateFromFile(path));
        if (collection.Count == 0) throw new CryptographicException($"'{path}' holds no certificate.");
        return collection;
    }

    /// <summary>Thumbprints separated by commas, semicolons or spaces; colons inside one are ignored, case too.</summary>
    public static HashSet<string> ParseThumbprints(string? text)
    {
        var set = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        if (string.IsNullOrWhiteSpace(text)) return set;
        foreach (var part in text.Split([',', ';', ' '], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            set.Add(part.Replace(":", "", StringComparison.Ordinal));
        return set;
    }

    private static bool IsPem(byte[] bytes) =>
        Encoding.ASCII.GetString(bytes, 0, Math.Min(bytes.Length, 64)).TrimStart().StartsWith("-----BEGIN", StringComparison.Ordinal);

    private static bool IsBase64(byte[] bytes)
    {
        foreach (var b in bytes)
            if (!(char.IsAsciiLetterOrDigit((char)b) || b is (byte)'+' or (byte)'/' or (byte)'=' or (byte)'\r' or (byte)'\n')) return false;
        return bytes.Length > 0;
    }
}

/// <summary>
/// Which certificates the other side may present. A broker (<paramref name="own"/> set) accepts a certificate with its
/// own certificate's key (every silo of a deployment may share one, and a renewal that keeps the key stays trusted
/// across silos that have not restarted yet) and certificates issued by one of <see cref="Authorities"/>; without
/// authorities nothing else. A client (no own certificate) trusts the system's roots when it names no authority.
/// When <see cref="Thumbprints"/> lists any, a certificate issued by an authority is accepted only if it, or one of
/// its issuers, is listed. Names are checked only when <see cref="CheckName"/> is set (a client checking its
/// gateway); silos and gateways know their peers by address only.
/// </summary>
public sealed class PeerCertificatePolicy(
    X509Certificate2Collection? authorities, IReadOnlySet<string>? thumbprints, bool checkName = false, X509Certificate2? own = null)
{
    public X509Certificate2Collection Authorities { get; } = authorities ?? [];

    public IReadOnlySet<string> Thumbprints { get; } = thumbprints ?? new HashSet<string>();

    public bool CheckName { get; } = checkName;

    /// <summary>Why <paramref name="certificate"/> is refused, or null when it is accepted.</summary>
    public string? Refusal(X509Certificate2 certificate, X509Chain? presented, SslPolicyErrors errors)
    {
        if (CheckName && (errors & SslPolicyErrors.RemoteCertificateNameMismatch) != 0)
            return $"certificate '{certificate.Subject}' does not name this host";
        if (own is not null && certificate.GetPublicKey().AsSpan().SequenceEqual(own.GetPublicKey())) return null;
        if (own is not null && Authorities.Count == 0)
            return $"certificate '{certificate.Subject}' does not have this cluster's key and no authority is trusted";
        using var chain = new X509Chain();
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        if (Authorities.Count > 0)
        {
            chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            chain.ChainPolicy.CustomTrustStore.AddRange(Authorities);
        }
        if (presented is not null)
            foreach (var element in presented.ChainElements)
                if (!element.Certificate.Equals(certificate)) chain.ChainPolicy.ExtraStore.Add(element.Certificate);
        if (!chain.Build(certificate))
        {
            var status = chain.ChainStatus.Length > 0 ? chain.ChainStatus[0].StatusInformation.Trim() : "untrusted";
            return $"certificate '{certificate.Subject}' is not issued by a trusted authority ({status})";
        }
        if (Thumbprints.Count == 0) return null;
        foreach (var element in chain.ChainElements)
            if (Thumbprints.Contains(element.Certificate.Thumbprint)) return null;
        return $"certificate '{certificate.Subject}' ({certificate.Thumbprint}) is not on the allowed thumbprint list";
    }

    public bool Accepts(X509Certificate2 certificate, X509Chain? presented, SslPolicyErrors errors) =>
        Refusal(certificate, presented, errors) is null;
}
