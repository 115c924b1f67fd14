using System.Net;
using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Orleans.Connections.Security;
using OrleansStream.Security;

namespace OrleansStream.Client.Connection;

/// <summary>TLS to the gateways from Kafka's <c>ssl.*</c> keys: the client's certificate, if any, and how the gateway's is judged.</summary>
internal sealed class GatewayTls(X509Certificate2? clientCertificate, PeerCertificatePolicy policy)
{
    public X509Certificate2? ClientCertificate { get; } = clientCertificate;

    public PeerCertificatePolicy Policy { get; } = policy;

    /// <summary>Null for <c>security.protocol=plaintext</c>; fails with <see cref="ErrorCode.InvalidConfig"/> naming the key at fault.</summary>
    public static GatewayTls? From(Config config)
    {
        if ((config.SecurityProtocol ?? SecurityProtocol.Plaintext) != SecurityProtocol.Ssl)
        {
            foreach (var (key, _) in config)
                Config.Require(!key.StartsWith("ssl.", StringComparison.Ordinal), key, "needs security.protocol=ssl");
            return null;
        }
        Config.Require(config.SslKeystoreLocation is null || config.SslCertificateLocation is null, "ssl.keystore.location",
            "and ssl.certificate.location are two ways to give the client's certificate: set one");
        Config.Require(config.SslKeyLocation is null || config.SslCertificateLocation is not null, "ssl.key.location", "needs ssl.certificate.location");
        var checkName = (config.SslEndpointIdentificationAlgorithm ?? SslEndpointIdentificationAlgorithm.Https) == SslEndpointIdentificationAlgorithm.Https;
        X509Certificate2Collection? authorities = null;
        if (config.SslCaLocation is { } ca) authorities = Load("ssl.ca.location", () => TlsCertificates.LoadAuthorities(ca));
        X509Certificate2? certificate = null;
        if (config.SslKeystoreLocation is { } keystore)
            certificate = Load("ssl.keystore.location", () => TlsCertificates.LoadCertificate(keystore, null, config.SslKeystorePassword));
        else if (config.SslCertificateLocation is { } pem)
            certificate = Load("ssl.certificate.location", () => TlsCertificates.LoadCertificate(pem, config.SslKeyLocation, config.SslKeyPassword));
        return new GatewayTls(certificate, new PeerCertificatePolicy(authorities, null, checkName));
    }

    /// <summary>Orleans' client TLS middleware; the address dialled is the name the gateway's certificate must carry.</summary>
    public void Configure(TlsOptions options)
    {
        options.LocalCertificate = ClientCertificate;
        options.ClientCertificateMode = ClientCertificate is null ? RemoteCertificateMode.NoCertificate : RemoteCertificateMode.RequireCertificate;
        options.RemoteCertificateMode = RemoteCertificateMode.RequireCertificate;
        options.RemoteCertificateValidation = Policy.Accepts;
        options.OnAuthenticateAsClient = static (context, authentication) =>
        {
            if (context.RemoteEndPoint is IPEndPoint remote) authentication.TargetHost = remote.Address.ToString();
        };
    }

    /// <summary>
    /// A handshake with <paramref name="gateway"/> for the bootstrap probe: null when it succeeded, else why not. TLS 1.2,
    /// because there the gateway judges the client's certificate within the handshake (TLS 1.3 refuses only afterwards).
    /// </summary>
    public async Task<string?> HandshakeAsync(Stream transport, IPEndPoint gateway, CancellationToken cancellationToken)
    {
        string? refusal = null;
        var options = new SslClientAuthenticationOptions
        {
            TargetHost = gateway.Address.ToString(),
            EnabledSslProtocols = SslProtocols.Tls12,
            CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
            ClientCertificates = ClientCertificate is null ? null : [ClientCertificate],
            RemoteCertificateValidationCallback = (_, certificate, chain, errors) =>
            {
                if (certificate is null) refusal = "the gateway presented no certificate";
                else refusal = Policy.Refusal(certificate as X509Certificate2 ?? X509CertificateLoader.LoadCertificate(certificate.GetRawCertData()), chain, errors);
                return refusal is null;
            },
        };
        var ssl = new SslStream(transport, leaveInnerStreamOpen: true);
        await using (ssl.ConfigureAwait(false))
        {
            try
            {
                await ssl.AuthenticateAsClientAsync(options, cancellationToken).ConfigureAwait(false);
                return null;
            }
            catch (Exception e) when (e is AuthenticationException or IOException)
            {
                return $"SSL handshake failed: {refusal ?? (ClientCertificate is null ? e.Message + " (no client certificate configured)" : e.Message)}";
            }
        }
    }

    private static T Load<T>(string key, Func<T> load)
    {
        try
        {
            return load();
        }
        catch (Exception e) when (e is CryptographicException or IOException or UnauthorizedAccessException)
        {
            throw new OrleansStreamException(ErrorCode.InvalidConfig, $"'{key}' cannot be loaded: {e.Message}");
        }
    }
}
