using Microsoft.Extensions.Options;

namespace OrleansStream.Server.Security;

/// <summary>Kafka's <c>ssl.client.auth</c>: whether the gateway asks clients for a certificate.</summary>
public enum SslClientAuth
{
    /// <summary>Clients connect with TLS and no certificate of their own.</summary>
    None,

    /// <summary>A client may present a certificate; one it presents must be trusted.</summary>
    Requested,

    /// <summary>Only clients holding a trusted certificate reach the gateway (mutual TLS).</summary>
    Required,
}

/// <summary>
/// TLS between silos and on the gateway, bound from <c>OrleansStream:Tls</c>. Off while
/// <see cref="CertificatePath"/> is empty (the embedded single node); with it, every silo-to-silo connection is
/// mutual TLS and the gateway speaks TLS only.
/// </summary>
public sealed class BrokerTlsOptions
{
    public const string SectionName = "OrleansStream:Tls";

    /// <summary>
    /// The silo's certificate and key: a PKCS#12 file (binary, or base64 as a Key Vault certificate mounted by
    /// Container Apps) or a PEM file. Silos present it to each other and to clients; it serves both server and
    /// client authentication.
    /// </summary>
    public string? CertificatePath { get; set; }

    /// <summary>The PEM private key when <see cref="CertificatePath"/> is a PEM certificate without its key.</summary>
    public string? KeyPath { get; set; }

    /// <summary>Password of the PKCS#12 file or of an encrypted PEM key.</summary>
    public string? CertificatePassword { get; set; }

    /// <summary>
    /// PEM bundle of the authorities whose certificates silos and clients may present. A silo always accepts a
    /// certificate with the key of its own, so silos sharing one certificate (a self-signed one from Key Vault) need
    /// none; empty trusts nothing else (never the system's roots).
    /// </summary>
    public string? CaPath { get; set; }

    /// <summary>
    /// Optional allow-list of client certificates (SHA-1 thumbprints, comma separated): a client certificate issued by
    /// an authority of <see cref="CaPath"/> is accepted only when it, or one of its issuers, is listed.
    /// </summary>
    public string? AllowedThumbprints { get; set; }

    /// <summary>Whether the gateway requires client certificates (Kafka's <c>ssl.client.auth</c>, default none).</summary>
    public SslClientAuth ClientAuth { get; set; } = SslClientAuth.None;

    /// <summary>Limit of one TLS handshake.</summary>
    public TimeSpan HandshakeTimeout { get; set; } = TimeSpan.FromSeconds(10);

    public bool Enabled => !string.IsNullOrWhiteSpace(CertificatePath);

}

public sealed class BrokerTlsOptionsValidator : IValidateOptions<BrokerTlsOptions>
{
    public ValidateOptionsResult Validate(string? name, BrokerTlsOptions options)
    {
        List<string>? failures = null;
        void Fail(string message) => (failures ??= []).Add(message);
        void MustExist(string key, string? path)
        {
            if (!string.IsNullOrWhiteSpace(path) && !File.Exists(path))
                Fail($"{BrokerTlsOptions.SectionName}:{key} '{path}' does not exist.");
        }

        if (!options.Enabled)
        {
            if (!string.IsNullOrWhiteSpace(options.KeyPath) || !string.IsNullOrWhiteSpace(options.CaPath)
                || !string.IsNullOrWhiteSpace(options.AllowedThumbprints) || options.ClientAuth != SslClientAuth.None)
                Fail($"{BrokerTlsOptions.SectionName}: KeyPath, CaPath, AllowedThumbprints and ClientAuth need CertificatePath (TLS is off without a certificate).");
            return failures is null ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
        }
        MustExist(nameof(options.CertificatePath), options.CertificatePath);
        MustExist(nameof(options.KeyPath), options.KeyPath);
        MustExist(nameof(options.CaPath), options.CaPath);
        if (!Enum.IsDefined(options.ClientAuth))
            Fail($"{BrokerTlsOptions.SectionName}:ClientAuth must be None, Requested or Required, not '{options.ClientAuth}'.");
        if (options.HandshakeTimeout <= TimeSpan.Zero)
            Fail($"{BrokerTlsOptions.SectionName}:HandshakeTimeout must be positive, not {options.HandshakeTimeout}.");
        return failures is null ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
